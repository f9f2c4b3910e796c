"""Protection: the stop goes live, a stop that vanishes means an exit (or is placed again when crocbot never sent it),
and the SL manager's tighter stops go out as amends confirmed by the venue (`crocbot.core.desk.protection`)."""

from __future__ import annotations

import pytest

from crocbot.core.desk import Action, Commit, Emit, FillSeen, Note, NotSent, Record
from crocbot.core.messages import (
    CommandRejected,
    ExitRequest,
    OrderAmended,
    OrderPurpose,
    OrderStatus,
    Position,
    PositionChanged,
    PositionSide,
    Side,
    StopAmendRequest,
    StopKind,
)
from crocbot.core.messages.commands import Amend, Submit
from crocbot.core.messages.journal import (
    RecordAmend,
    RecordEvent,
    RecordStop,
)
from crocbot.core.reconcile import NEVER_SENT
from tests.core.desk_support import (
    QTY,
    SYMBOL,
    T0,
    D,
    Opened,
    announced,
    at,
    committed,
    decided,
    entry_acked,
    event,
    exit_intent,
    fill,
    journaled,
    logged,
    make_desk,
    send,
    sent,
    stop_sent,
)

S = OrderStatus
SELL = Side.SELL


# -- c. the stop goes live -----------------------------------------------------------------------------------


def test_an_acked_stop_is_live_recorded_and_announced() -> None:
    desk = make_desk()
    position_id, _, stop = stop_sent(desk)
    ack = event(stop, S.ACKED, at(3), order_id="OS1")
    actions = desk.on(ack, at(3))
    live = Position(
        position_id,
        SYMBOL,
        PositionSide.LONG,
        QTY,
        D("100"),
        D("98"),
        at(2),
        take_profit=D("106"),
        stop_live=True,
        initial_stop=D("98"),
    )
    assert actions == committed(
        [
            Record(RecordEvent(ack)),
            Record(RecordStop(position_id, D("98"), StopKind.INITIAL, at(3), stop)),
            Emit(PositionChanged(live)),
        ]
    )
    assert desk.positions[position_id].stop_live is True
    assert desk.orders[stop].venue_id == "OS1"
    again = event(stop, S.ACKED, at(4))
    assert desk.on(again, at(4)) == [Commit((RecordEvent(again),))]  # a repeat changes nothing but the journal


# -- e. the stop vanishes ------------------------------------------------------------------------------------


def test_a_stop_cancelled_by_the_venue_means_an_immediate_exit() -> None:
    opened = Opened.make()
    desk = opened.desk
    gone = event(opened.stop, S.CANCELLED, at(10), reason="EOrder:Canceled by system")
    actions = desk.on(gone, at(10))
    why = f"protective stop {opened.stop} cancelled (EOrder:Canceled by system)"
    exit_ = sent(actions, OrderPurpose.EXIT)
    assert decided(actions) == committed(
        [
            Record(RecordEvent(gone)),
            *send(exit_intent(exit_.cl_ord_id, QTY, at(10)), opened.position_id, f"exit: {why}"),
        ]
    )
    assert logged(actions) == [("CRITICAL", SYMBOL)]
    assert (opened.position.stop_order, opened.position.stop_live, opened.position.exiting) == (None, False, True)


def test_a_stop_rejected_by_the_venue_means_an_immediate_exit() -> None:
    desk = make_desk()
    position_id, _, stop = stop_sent(desk)
    rejected = event(stop, S.REJECTED, at(3), reason="EOrder:Insufficient funds")
    actions = desk.on(rejected, at(3))
    why = f"protective stop {stop} rejected (EOrder:Insufficient funds)"
    exit_ = sent(actions, OrderPurpose.EXIT)
    assert decided(actions) == committed(
        [Record(RecordEvent(rejected)), *send(exit_intent(exit_.cl_ord_id, QTY, at(3)), position_id, f"exit: {why}")]
    )
    assert logged(actions) == [("CRITICAL", SYMBOL)]


def test_a_stop_that_was_never_sent_because_crocbot_died_is_placed_again_not_exited() -> None:
    """Reconciliation closes a journaled stop the venue never got as REJECTED (NEVER_SENT): the venue refused
    nothing, so the position is protected again; an exit would pay fees and slippage for a crash of crocbot's."""
    desk = make_desk()
    position_id, _, stop = stop_sent(desk)

    actions = desk.on(event(stop, S.REJECTED, at(9), reason=NEVER_SENT), at(9))

    again = sent(actions, OrderPurpose.STOP)
    assert (again.qty, again.trigger_price) == (QTY, D(98))
    assert not [a for a in actions if isinstance(a, Submit) and a.intent.purpose is OrderPurpose.EXIT]
    position = desk.positions[position_id]
    assert (position.stop_order, position.refusals, position.exiting) == (again.cl_ord_id, 0, False)


def test_an_exit_that_was_never_sent_is_no_refusal_and_leaves_the_position_protected() -> None:
    opened = Opened.make()
    desk, position = opened.desk, opened.position
    exit_ = opened.exit_requested(5, "test")

    actions = desk.on(event(exit_, S.REJECTED, at(9), reason=NEVER_SENT), at(9))

    assert isinstance(actions[1], Note)  # first after the journal's commit
    assert logged(actions)[0] == ("WARNING", SYMBOL)
    assert (position.refusals, position.exiting) == (0, False)


def test_a_stop_that_could_not_be_journaled_means_an_immediate_exit() -> None:
    desk = make_desk()
    entry = entry_acked(desk)
    stop = sent(
        desk.on(FillSeen(fill("F1", entry, QTY, "100", "0.62", ts=at(2)), journaled=False), at(2)), OrderPurpose.STOP
    )
    actions = desk.on(NotSent(Submit(stop), "journal failed: disk full"), at(2))
    assert isinstance(actions[1], Note)  # first after the exit's journal commit
    assert logged(actions)[0] == ("CRITICAL", SYMBOL)
    assert sent(actions, OrderPurpose.EXIT).qty == QTY


# -- g. stop amends ------------------------------------------------------------------------------------------


def _amend(opened: Opened, stop: str, seconds: float = 20, kind: StopKind = StopKind.BREAKEVEN) -> list[Action]:
    request = StopAmendRequest(opened.position_id, SYMBOL, D(stop), kind, at(seconds))
    return opened.desk.on(request, at(seconds))


def test_a_tighter_stop_below_the_market_is_amended_and_confirmed() -> None:
    opened = Opened.make()
    opened.desk.on_mark(SYMBOL, D("103"))
    assert _amend(opened, "100") == [Amend(opened.stop, SYMBOL, at(20), trigger_price=D("100"))]
    assert opened.position.pending_stop == (D("100"), StopKind.BREAKEVEN)
    assert opened.position.stop == D("98")  # only once the venue confirms
    assert _amend(opened, "101", 21) == []  # one amend in flight at a time
    confirmed = OrderAmended(opened.stop, at(22), trigger_price=D("100"))
    actions = opened.desk.on(confirmed, at(22))
    assert actions == committed(
        [
            Record(RecordAmend(confirmed)),
            Record(RecordStop(opened.position_id, D("100"), StopKind.BREAKEVEN, at(22), opened.stop)),
            Emit(PositionChanged(announced(opened.position_id, stop="100"))),
            Amend(opened.stop, SYMBOL, at(22), trigger_price=D("101")),  # the wish that waited goes once this one ended
        ]
    )
    state = opened.desk.positions[opened.position_id]
    assert (state.stop, state.stop_kind) == (D("100"), StopKind.BREAKEVEN)
    assert state.pending_stop == (D("101"), StopKind.BREAKEVEN)
    assert opened.desk.orders[opened.stop].trigger_price == D("100")


@pytest.mark.parametrize(
    ("stop", "why"),
    [("97.5", "looser"), ("98", "the same"), ("103", "at the mark"), ("103.5", "above the mark")],
)
def test_a_stop_amend_that_is_not_tighter_or_not_below_the_mark_does_nothing(stop: str, why: str) -> None:
    opened = Opened.make()
    opened.desk.on_mark(SYMBOL, D("103"))
    assert _amend(opened, stop) == [], why
    assert opened.position.pending_stop is None


def test_no_stop_amend_before_the_stop_is_live_or_while_exiting() -> None:
    desk = make_desk()
    position_id, _, _ = stop_sent(desk)
    request = StopAmendRequest(position_id, SYMBOL, D("99"), StopKind.TRAILING, at(3))
    assert desk.on(request, at(3)) == []  # not acked yet
    opened = Opened.make()
    opened.desk.on(ExitRequest(opened.position_id, SYMBOL, "manual", at(10)), at(10))
    assert _amend(opened, "99", 11) == []


def test_a_refused_amend_clears_the_pending_stop() -> None:
    opened = Opened.make()
    _amend(opened, "99")
    refused = CommandRejected(opened.stop, "amend", "EOrder:Invalid price", at(21))
    got = opened.desk.on(refused, at(21))
    assert decided(got) == []
    assert logged(got) == [("WARNING", SYMBOL)]
    assert opened.position.pending_stop is None
    assert _amend(opened, "99", 22) == [Amend(opened.stop, SYMBOL, at(22), trigger_price=D("99"))]


def test_a_cancel_of_an_order_already_gone_is_only_informational() -> None:
    desk = make_desk()
    refused = CommandRejected("cbsgone", "cancel", "EOrder:Invalid order", T0)
    got = desk.on(refused, T0)
    assert decided(got) == []
    assert logged(got) == [("INFO", None)]


def test_an_amend_confirmed_without_a_pending_request_is_taken_as_trailing() -> None:
    opened = Opened.make()
    confirmed = OrderAmended(opened.stop, at(22), trigger_price=D("99.5"))
    actions = opened.desk.on(confirmed, at(22))
    trailing = RecordStop(opened.position_id, D("99.5"), StopKind.TRAILING, at(22), opened.stop)
    assert journaled(actions)[:2] == [RecordAmend(confirmed), trailing]
    again = OrderAmended(opened.stop, at(23), trigger_price=D("99.5"))
    assert opened.desk.on(again, at(23)) == [Commit((RecordAmend(again),))]  # journaled, and nothing else


def test_the_books_allow_the_venue_half_a_cost_unit_of_rounding_per_fill_booked() -> None:
    """Kraken rounds each order's cost to the pair's decimals (5 here); the books keep it exact, so a reconciliation
    allows the venue's cash that far from theirs, and no further."""
    desk = make_desk()
    assert desk.books_view().rounding == {"USD": D(0)}
    stop_sent(desk)  # one fill booked
    assert desk.books_view().rounding == {"USD": D("0.000005")}
