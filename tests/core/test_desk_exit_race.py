"""One exit per position: an exit races the position's own stop on the venue (issue 11, part 1).

The desk sends an exit only behind the cancel of the stop it replaces (`after_cancels`): the venue places it once
that cancel is confirmed, or holds it back (`HELD_BACK`) when the stop has filled. Both orders of the race, and both
orders in which the venue's reports can reach the desk, end with the position closed by one sale and nothing else
sent.
"""

from __future__ import annotations

from crocbot.core.desk import Action, Emit, FillSeen, Submitted
from crocbot.core.messages import (
    HELD_BACK,
    CommandRejected,
    ExitRequest,
    OrderPurpose,
    OrderStatus,
    OrderType,
    PositionClosed,
    Side,
)
from crocbot.core.messages.commands import Amend, Cancel, Submit
from tests.core.desk_support import QTY, SYMBOL, Opened, at, event, fill, sent

SELL = Side.SELL


def _orders_sent(actions: list[Action]) -> list[Action]:
    return [a for a in actions if isinstance(a, Submit | Cancel | Amend)]


def _exit_asked(opened: Opened) -> Submit:
    actions = opened.desk.on(ExitRequest(opened.position_id, SYMBOL, "price through the stop", at(10)), at(10))
    exit_ = sent(actions, OrderPurpose.EXIT)
    opened.desk.on(Submitted(exit_.cl_ord_id), at(10))
    (send,) = [a for a in actions if isinstance(a, Submit)]
    return send


def _closed(actions: list[Action]) -> bool:
    return any(isinstance(a, Emit) and isinstance(a.message, PositionClosed) for a in actions)


def test_an_exit_goes_out_only_after_the_venue_confirms_its_stops_cancel() -> None:
    opened = Opened.make()
    send = _exit_asked(opened)
    assert send.after_cancels == (opened.stop,)
    assert send.intent.order_type is OrderType.MARKET


def test_the_stop_filled_first_its_fill_closes_the_position_and_the_held_back_exit_sends_nothing() -> None:
    """The paper venue's order of reports: the stop's fill (before the request reached it), the refused cancel,
    the exit held back."""
    opened = Opened.make()
    exit_ = _exit_asked(opened).intent
    desk = opened.desk

    stop_fill = desk.on(
        FillSeen(fill("S1", opened.stop, QTY, "97.9", "0.61", side=SELL, ts=at(10)), journaled=False), at(10)
    )
    assert _closed(stop_fill)
    assert _orders_sent(stop_fill) == []  # no cancel of a market exit, which cannot rest
    refused = desk.on(CommandRejected(opened.stop, "cancel", "EOrder:Invalid order", at(11)), at(11))
    held = desk.on(event(exit_.cl_ord_id, OrderStatus.CANCELLED, at(11), reason=HELD_BACK), at(11))

    assert _orders_sent(refused + held) == []
    assert desk.ledger.position(SYMBOL) == 0
    assert not opened.position.open


def test_the_exit_held_back_before_the_stops_fill_arrives_sends_nothing_and_the_fill_then_closes_it() -> None:
    """A live venue may report the refused cancel and the held-back exit before the stop's own fill."""
    opened = Opened.make()
    exit_ = _exit_asked(opened).intent
    desk = opened.desk

    refused = desk.on(CommandRejected(opened.stop, "cancel", "EOrder:Invalid order", at(11)), at(11))
    held = desk.on(event(exit_.cl_ord_id, OrderStatus.CANCELLED, at(11), reason=HELD_BACK), at(11))
    assert _orders_sent(refused + held) == []  # no second exit, no new stop: the stop is filling
    assert opened.position.exiting is False
    assert opened.position.refusals == 0  # nothing was refused by the exchange

    stop_fill = desk.on(
        FillSeen(fill("S1", opened.stop, QTY, "97.9", "0.61", side=SELL, ts=at(12)), journaled=False), at(12)
    )
    assert _closed(stop_fill)
    assert _orders_sent(stop_fill) == []
    assert desk.ledger.position(SYMBOL) == 0


def test_when_the_exits_cancel_wins_the_exit_closes_the_position_and_no_stop_is_placed_again() -> None:
    opened = Opened.make()
    exit_ = _exit_asked(opened).intent
    desk = opened.desk

    cancelled = desk.on(event(opened.stop, OrderStatus.CANCELLED, at(11)), at(11))
    assert _orders_sent(cancelled) == []
    closing = desk.on(
        FillSeen(fill("X1", exit_.cl_ord_id, QTY, "97.8", "0.61", side=SELL, ts=at(11)), journaled=False), at(11)
    )

    assert _closed(closing)
    assert _orders_sent(closing) == []
    assert desk.ledger.position(SYMBOL) == 0


def test_a_stop_that_vanished_unfilled_after_the_exit_was_held_back_means_an_exit_now() -> None:
    """The cancel was refused, yet the stop did not fill (it expired on the venue): unprotected, so out at once."""
    opened = Opened.make()
    exit_ = _exit_asked(opened).intent
    desk = opened.desk
    desk.on(CommandRejected(opened.stop, "cancel", "EOrder:Invalid order", at(11)), at(11))
    desk.on(event(exit_.cl_ord_id, OrderStatus.CANCELLED, at(11), reason=HELD_BACK), at(11))

    actions = desk.on(event(opened.stop, OrderStatus.EXPIRED, at(12)), at(12))

    again = sent(actions, OrderPurpose.EXIT)
    (send,) = [a for a in actions if isinstance(a, Submit)]
    assert send.after_cancels == ()  # no stop left to wait for
    assert again.qty == QTY


def test_a_stop_that_ended_unfilled_before_its_exit_was_held_back_means_an_exit_now() -> None:
    """The paper venue's order of reports when the stop triggered into an empty book before the request reached it:
    the stop's end (no liquidity) first, then the refused cancel, then the exit held back. Found by review: the
    position was left with neither a stop nor an exit."""
    opened = Opened.make()
    exit_ = _exit_asked(opened).intent
    desk = opened.desk

    ended = desk.on(event(opened.stop, OrderStatus.CANCELLED, at(10), reason="no liquidity"), at(10))
    refused = desk.on(CommandRejected(opened.stop, "cancel", "EOrder:Invalid order", at(11)), at(11))
    held = desk.on(event(exit_.cl_ord_id, OrderStatus.CANCELLED, at(11), reason=HELD_BACK), at(11))

    assert _orders_sent(ended + refused) == []
    again = sent(held, OrderPurpose.EXIT)
    (send,) = [a for a in held if isinstance(a, Submit)]
    assert (again.qty, send.after_cancels) == (QTY, ())  # nothing left to wait for
    assert opened.position.exiting is True


def test_what_a_stop_left_after_a_part_fill_and_its_end_is_exited_once_the_exit_behind_it_is_held_back() -> None:
    opened = Opened.make()
    exit_ = _exit_asked(opened).intent
    desk = opened.desk

    desk.on(FillSeen(fill("S1", opened.stop, "5", "97.9", "0.2", side=SELL, ts=at(10)), journaled=False), at(10))
    desk.on(event(opened.stop, OrderStatus.CANCELLED, at(10), reason="no liquidity"), at(10))
    held = desk.on(event(exit_.cl_ord_id, OrderStatus.CANCELLED, at(11), reason=HELD_BACK), at(11))

    assert sent(held, OrderPurpose.EXIT).qty == QTY - 5


def test_an_exit_held_back_again_and_again_behind_ended_orders_gives_up_instead_of_looping() -> None:
    """Found by the live crash harness: after a restart, an exit waited on the cancel of orders the venue no longer
    had (refused), was held back, and was sent again at once behind the same cancels, thousands of times a second,
    until the orders' breaker opened. Held back that way as often as the venue may refuse a position's orders, the
    desk stops and halts entries, as for any refusals in a row (`give_up`)."""
    opened = Opened.make()
    exit_ = _exit_asked(opened).intent
    desk = opened.desk
    desk.on(event(opened.stop, OrderStatus.CANCELLED, at(10), reason="no liquidity"), at(10))
    desk.on(CommandRejected(opened.stop, "cancel", "EOrder:Invalid order", at(11)), at(11))

    sent_again = 0
    held = desk.on(event(exit_.cl_ord_id, OrderStatus.CANCELLED, at(11), reason=HELD_BACK), at(11))
    for step in range(10):
        exits = [a for a in held if isinstance(a, Submit)]
        if not exits:
            break
        sent_again += 1
        (again,) = exits
        desk.on(Submitted(again.intent.cl_ord_id), at(12 + step))
        refused = event(again.intent.cl_ord_id, OrderStatus.CANCELLED, at(12 + step), reason=HELD_BACK)
        held = desk.on(refused, at(12 + step))

    assert 1 <= sent_again < 5
    assert desk.risk.safe_reasons == ("a position the venue refuses to protect",)
