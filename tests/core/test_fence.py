"""The inventory fence (issue 11, part 1): no sell may exceed what crocbot holds minus what its other open sells
already commit (`crocbot.core.fence`, applied by the desk to every order and amend before the router sends it)."""

from __future__ import annotations

from decimal import Decimal

from crocbot.core.desk import Action, FillSeen, NotSent
from crocbot.core.fence import OpenSell, fence_breach
from crocbot.core.messages import ExitRequest, OrderPurpose, OrderStatus, Side, StopAmendRequest, StopKind
from crocbot.core.messages.commands import Amend, Cancel, Submit
from tests.core.desk_support import (
    QTY,
    SYMBOL,
    T0,
    D,
    Opened,
    at,
    entry_acked,
    fill,
    logged,
    make_desk,
    partly_filled,
    restored,
    seen,
    sent,
    signal,
    started,
)


def test_a_sell_within_what_is_held_and_not_committed_passes() -> None:
    sells = [OpenSell("stop", D("0.4"))]
    assert fence_breach("BTC/USD", "x", D("0.6"), held=D(1), open_sells=sells) is None


def test_a_sell_beyond_what_is_held_minus_the_other_sells_is_a_breach_that_names_the_figures() -> None:
    sells = [OpenSell("stop", D("0.4"))]
    breach = fence_breach("BTC/USD", "x", D("0.7"), held=D(1), open_sells=sells)
    assert breach is not None
    assert "0.7" in breach
    assert "0.4" in breach


def test_the_orders_an_exit_waits_to_see_cancelled_do_not_count_against_it() -> None:
    sells = [OpenSell("stop", D(1))]
    assert fence_breach("BTC/USD", "x", D(1), held=D(1), open_sells=sells, after_cancels=("stop",)) is None
    assert fence_breach("BTC/USD", "x", D(1), held=D(1), open_sells=sells) is not None


def test_nothing_held_means_no_sell_at_all() -> None:
    assert fence_breach("BTC/USD", "x", D("0.00000001"), held=D(0), open_sells=()) is not None
    assert fence_breach("BTC/USD", "x", D("0.00000001"), held=D(-1), open_sells=()) is not None


def _unknown_sale(qty: Decimal | str, seconds: float) -> FillSeen:
    """Coins sold by an order crocbot does not know (by hand, say): booked, so crocbot holds that much less."""
    return seen(fill("FX", "cbxzzzzzzzzzzzz", qty, "100", "0.4", side=Side.SELL, ts=at(seconds)))


def _commands(actions: list[Action]) -> list[Action]:
    return [a for a in actions if isinstance(a, Submit | Amend | Cancel)]


def test_the_desks_own_exit_behind_its_stop_passes_the_fence() -> None:
    opened = Opened.make()
    actions = opened.desk.on(ExitRequest(opened.position_id, SYMBOL, "manual", at(10)), at(10))
    assert sent(actions, OrderPurpose.EXIT).qty == QTY
    assert opened.desk.take_fenced() == 0


def test_an_exit_beside_a_stop_that_holds_the_coins_would_sell_them_twice_and_is_refused() -> None:
    desk = make_desk()
    entry = entry_acked(desk)
    # its stop handed out and not yet reported sent, so the exit cannot go behind its cancel
    desk.on(seen(fill("F1", entry, QTY, "100", "0.62", ts=at(2))), at(2))
    actions = desk.on(ExitRequest(desk.by_symbol[SYMBOL], SYMBOL, "manual", at(3)), at(3))
    assert _commands(actions) == []
    assert desk.take_fenced() == 1
    assert ("CRITICAL", SYMBOL) in logged(actions)


def test_a_stop_grown_beyond_what_is_held_is_refused() -> None:
    # The entry's second fill grew the position to 15.68381430; the stop's size amend died with the process. After
    # the restart the desk amends the stop to the whole position (as `test_desk_edges` shows) but 1 SOL was sold
    # meanwhile by an order crocbot does not know: a stop of the whole position would sell more than is held.
    old = make_desk()
    _, entry, stop = partly_filled(old)
    old.on(seen(fill("F2", entry, QTY - 10, "100", "0.25", ts=at(4))), at(4))
    old.on(_unknown_sale("1", 5), at(5))
    desk = restored(old)
    assert desk.orders[stop].remaining == D(10)

    actions = started(desk, at(100))

    assert not [a for a in _commands(actions) if isinstance(a, Amend) and a.qty is not None]
    assert desk.take_fenced() == 1


def test_a_sell_of_coins_no_longer_held_is_refused() -> None:
    opened = Opened.make()
    opened.desk.on(_unknown_sale(QTY, 9), at(9))  # the books' position is still open: its coins are gone
    actions = opened.desk.on(ExitRequest(opened.position_id, SYMBOL, "manual", at(10)), at(10))
    assert not [a for a in _commands(actions) if isinstance(a, Submit)]
    assert opened.desk.take_fenced() == 1


def test_buys_and_amends_of_price_alone_are_not_fenced() -> None:
    desk = make_desk()
    assert sent(desk.on(signal(), T0), OrderPurpose.ENTRY).side is Side.BUY  # nothing held: any sell would be refused
    opened = Opened.make()
    opened.desk.on(_unknown_sale("1", 9), at(9))  # the stop now covers more than is held
    opened.desk.on_mark(SYMBOL, D("103"))
    request = StopAmendRequest(opened.position_id, SYMBOL, D("99"), StopKind.TRAILING, at(10))
    assert opened.desk.on(request, at(10)) == [Amend(opened.stop, SYMBOL, at(10), trigger_price=D("99"))]
    assert (desk.take_fenced(), opened.desk.take_fenced()) == (0, 0)


def test_a_refused_exit_keeps_its_stop_uncancelled_and_counts_as_a_refusal() -> None:
    opened = Opened.make()
    desk = opened.desk
    actions = desk.on(ExitRequest(opened.position_id, SYMBOL, "manual", at(10)), at(10))
    exit_ = sent(actions, OrderPurpose.EXIT)
    (send,) = [a for a in actions if isinstance(a, Submit)]

    refused = desk.on(NotSent(send, "inventory fence: test"), at(10))

    assert desk.orders[exit_.cl_ord_id].status is OrderStatus.REJECTED
    assert opened.position.stop_order == opened.stop  # still the position's stop: its cancel never went out
    assert opened.position.refusals == 1
    assert not [a for a in refused if isinstance(a, Submit)]  # no second stop beside the one still resting
    assert opened.stop not in desk.stop_cancels
