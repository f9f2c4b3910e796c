"""The desk when the venue is late, refuses, or says the unexpected, and when the router starts again: fills the
order record cannot take, confirmations for orders already done, amends in flight, entry timers before the ack,
exits that end without filling, and carrying on after a rebuild from the journal."""

from __future__ import annotations

import pytest

from crocbot.core.desk import Commit, Emit, EntryTTL, FillSeen, Record, StartTimer, Submitted
from crocbot.core.messages import (
    CommandRejected,
    ExitRequest,
    OrderAmended,
    OrderPurpose,
    OrderStatus,
    PositionChanged,
    PositionClosed,
    Side,
    StopAmendRequest,
    StopKind,
)
from crocbot.core.messages.commands import Amend, Cancel, Submit
from crocbot.core.messages.journal import RecordAmend, RecordEvent, RecordFill, RecordPositionChanged, RecordStop
from crocbot.core.reconcile import NEVER_SENT, ForeignOrderPolicy, Plan
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
    exit_working,
    fill,
    logged,
    make_desk,
    only_journaled,
    opened_with_stop,
    partly_filled,
    protected_again,
    restored,
    saves,
    seen,
    send,
    sent,
    signal,
    started,
    stop_sent,
)

S = OrderStatus
SELL = Side.SELL


# -- fills the order's own record refuses --------------------------------------------------------------------


def test_a_fill_after_the_exit_was_cancelled_is_booked_and_the_new_stop_follows_it() -> None:
    opened = Opened.make()
    desk = opened.desk
    exit_ = opened.exit_requested()
    desk.on(event(opened.stop, S.CANCELLED, at(11)), at(11))
    desk.on(FillSeen(fill("X1", exit_, "5", "99", "0.2", side=SELL, ts=at(12)), journaled=False), at(12))
    stop = sent(
        desk.on(event(exit_, S.CANCELLED, at(12), reason="Insufficient liquidity"), at(12)),
        OrderPurpose.STOP,
    )
    # the venue's cancel overtook a last fill of the exit
    last = fill("X2", exit_, "3", "98.9", "0.1", side=SELL, ts=at(13))
    late = desk.on(seen(last), at(13))
    rest = QTY - 8
    assert decided(late) == committed(
        [
            Record(RecordFill(last, opened.position_id, False)),
            Record(RecordPositionChanged(opened.position_id, rest, D("100"))),
            Emit(PositionChanged(announced(opened.position_id, qty=rest, stop_live=False))),
            Amend(stop.cl_ord_id, SYMBOL, at(13), qty=rest),
            *saves(desk),
        ]
    )
    assert logged(late) == [("CRITICAL", SYMBOL)]
    assert (desk.ledger.position(SYMBOL), opened.position.qty) == (rest, rest)
    # not booked twice: offered to the journal again (which keeps one of each), nothing more
    assert desk.on(seen(last), at(14)) == [Commit((RecordFill(last, opened.position_id, False),))]
    assert desk.ledger.position(SYMBOL) == rest


def test_a_late_fill_that_closes_the_position_after_its_exit_was_cancelled_closes_it() -> None:
    opened = Opened.make()
    desk = opened.desk
    exit_ = opened.exit_requested()
    desk.on(event(opened.stop, S.CANCELLED, at(11)), at(11))
    stop = sent(desk.on(event(exit_, S.CANCELLED, at(12)), at(12)), OrderPurpose.STOP)
    desk.on(Submitted(stop.cl_ord_id), at(12))
    late = desk.on(seen(fill("X1", exit_, QTY, "99", "0.6", side=SELL, ts=at(13))), at(13))
    assert logged(late)[0] == ("CRITICAL", SYMBOL)  # a fill on an order that had ended: booked, and loudly
    commands = [a for a in late if isinstance(a, Submit | Amend | Cancel)]
    assert commands == [Cancel(stop.cl_ord_id, SYMBOL, at(13))]  # the stop placed again is not needed any more
    assert any(isinstance(a, Emit) and isinstance(a.message, PositionClosed) for a in late)
    assert opened.position.closed
    assert desk.by_symbol == {}


def test_a_late_fill_for_an_entry_given_up_opens_the_position_after_all() -> None:
    desk = make_desk()
    entry = entry_acked(desk)
    position_id = desk.by_symbol[SYMBOL]
    desk.on(event(entry, S.CANCELLED, at(120), reason="User requested"), at(120))
    assert desk.by_symbol == {}
    late = fill("F1", entry, QTY, "100", "0.62", ts=at(121))
    actions = desk.on(seen(late), at(121))
    stop = sent(actions, OrderPurpose.STOP)
    assert decided(actions) == opened_with_stop(desk, late, position_id, stop.cl_ord_id)
    assert logged(actions) == [("CRITICAL", SYMBOL)]
    assert desk.by_symbol == {SYMBOL: position_id}
    assert desk.positions[position_id].open


# -- confirmations and refusals ------------------------------------------------------------------------------


def test_an_amend_confirmed_after_the_order_ended_is_only_noted() -> None:
    """Found by the live multi-day scenario (issue 14), where it was an ERROR on a healthy path: live the amend's
    answer comes back on its call and the order's reports on the executions feed, so an entry that filled at its
    chased price is reported filled before its amend is confirmed. Nothing is left to change."""
    desk = make_desk()
    entry = entry_acked(desk)
    desk.on(FillSeen(fill("F1", entry, QTY, "100", "0.62", ts=at(2)), journaled=False), at(2))
    late = OrderAmended(entry, at(3), limit_price=D("100.05"))
    got = desk.on(late, at(3))
    assert decided(got) == only_journaled(late)
    assert logged(got) == [("INFO", SYMBOL)]
    assert desk.orders[entry].limit_price == D("100.00")


def test_a_stop_amend_confirmed_after_the_stop_filled_is_only_noted() -> None:
    opened = Opened.make()
    desk = opened.desk
    desk.on(FillSeen(fill("S1", opened.stop, QTY, "98", "0.61", side=SELL, ts=at(10)), journaled=False), at(10))
    late = OrderAmended(opened.stop, at(11), trigger_price=D("99"))
    got = desk.on(late, at(11))
    assert decided(got) == only_journaled(late)
    assert logged(got) == [("INFO", SYMBOL)]


def test_a_size_only_confirmation_leaves_the_trigger_amend_pending() -> None:
    opened = Opened.make()
    desk = opened.desk
    desk.on_mark(SYMBOL, D("103"))
    request = StopAmendRequest(opened.position_id, SYMBOL, D("100"), StopKind.BREAKEVEN, at(20))
    assert desk.on(request, at(20)) == [Amend(opened.stop, SYMBOL, at(20), trigger_price=D("100"))]
    amended = OrderAmended(opened.stop, at(21), qty=QTY)
    assert desk.on(amended, at(21)) == only_journaled(amended)
    assert opened.position.pending_stop == (D("100"), StopKind.BREAKEVEN)
    # a venue that reports the whole order repeats the trigger it still has
    amended = OrderAmended(opened.stop, at(21), qty=QTY, trigger_price=D("98"))
    assert desk.on(amended, at(21)) == only_journaled(amended)
    assert (opened.position.stop, opened.position.pending_stop) == (D("98"), (D("100"), StopKind.BREAKEVEN))
    again = StopAmendRequest(opened.position_id, SYMBOL, D("101"), StopKind.TRAILING, at(22))
    assert desk.on(again, at(22)) == []  # still one in flight
    amended = OrderAmended(opened.stop, at(23), trigger_price=D("100"))
    assert desk.on(amended, at(23)) == committed(
        [
            Record(RecordAmend(amended)),
            Record(RecordStop(opened.position_id, D("100"), StopKind.BREAKEVEN, at(23), opened.stop)),
            Emit(PositionChanged(announced(opened.position_id, stop="100"))),
            Amend(opened.stop, SYMBOL, at(23), trigger_price=D("101")),  # the wish that waited for it
        ]
    )
    assert opened.position.pending_stop == (D("101"), StopKind.TRAILING)


def test_only_a_refused_amend_of_the_stop_clears_the_pending_stop() -> None:
    desk = make_desk()
    position_id, entry, stop = partly_filled(desk)
    desk.on_mark(SYMBOL, D("101"))
    desk.on(StopAmendRequest(position_id, SYMBOL, D("99"), StopKind.TRAILING, at(20)), at(20))
    state = desk.positions[position_id]
    refused_chase = CommandRejected(entry, "amend", "EOrder:Invalid price", at(21))
    got = desk.on(refused_chase, at(21))
    assert decided(got) == []
    assert logged(got) == [("WARNING", SYMBOL)]
    assert state.pending_stop == (D("99"), StopKind.TRAILING)
    desk.on(CommandRejected(stop, "cancel", "EGeneral:Internal error", at(22)), at(22))
    assert state.pending_stop == (D("99"), StopKind.TRAILING)
    desk.on(CommandRejected(stop, "amend", "EOrder:Invalid price", at(23)), at(23))
    assert state.pending_stop is None


def test_a_stop_placed_again_takes_the_level_of_the_amend_that_was_in_flight() -> None:
    opened = Opened.make()
    desk = opened.desk
    desk.on_mark(SYMBOL, D("103"))
    desk.on(StopAmendRequest(opened.position_id, SYMBOL, D("100"), StopKind.BREAKEVEN, at(9)), at(9))
    exit_ = opened.exit_requested()
    desk.on(event(opened.stop, S.CANCELLED, at(11)), at(11))
    rejected = event(exit_, S.REJECTED, at(12), reason="EOrder:Insufficient funds")
    actions = desk.on(rejected, at(12))
    stop = sent(actions, OrderPurpose.STOP)
    assert decided(actions) == protected_again(rejected, opened.position_id, stop.cl_ord_id, stop="100")
    assert logged(actions) == [("ERROR", SYMBOL)]
    state = opened.position
    assert (state.pending_stop, state.stop_kind, state.stop_order) == (None, StopKind.BREAKEVEN, stop.cl_ord_id)
    # the SL manager may tighten the new stop once it is live
    desk.on(Submitted(stop.cl_ord_id), at(12))
    desk.on(event(stop.cl_ord_id, S.ACKED, at(13)), at(13))
    request = StopAmendRequest(opened.position_id, SYMBOL, D("101"), StopKind.TRAILING, at(14))
    assert desk.on(request, at(14)) == [Amend(stop.cl_ord_id, SYMBOL, at(14), trigger_price=D("101"))]


# -- entry timers --------------------------------------------------------------------------------------------


def test_an_entry_ttl_before_the_ack_waits_for_it() -> None:
    desk = make_desk()
    entry = sent(desk.on(signal(), T0), OrderPurpose.ENTRY).cl_ord_id
    desk.on(Submitted(entry), T0)
    assert desk.on(EntryTTL(entry, 2), at(30)) == [StartTimer(30.0, EntryTTL(entry, 2))]
    desk.on(event(entry, S.UNKNOWN, at(31)), at(31))  # the send timed out: looked up, not resent
    assert desk.on(EntryTTL(entry, 2), at(60)) == [StartTimer(30.0, EntryTTL(entry, 2))]
    desk.on(event(entry, S.ACKED, at(61)), at(61))
    assert desk.on(EntryTTL(entry, 2), at(90)) == [
        Amend(entry, SYMBOL, at(90), limit_price=D("100.05")),
        StartTimer(30.0, EntryTTL(entry, 3)),
    ]


def test_a_chased_price_is_the_orders_only_once_the_venue_confirms_it() -> None:
    desk = make_desk()
    entry = entry_acked(desk)
    assert desk.on(EntryTTL(entry, 1), at(30))[0] == Amend(entry, SYMBOL, at(30), limit_price=D("100.05"))
    order = desk.orders[entry]
    assert (order.limit_price, order.amends) == (D("100.00"), 0)
    amended = OrderAmended(entry, at(31), limit_price=D("100.05"))
    assert desk.on(amended, at(31)) == only_journaled(amended)
    assert (order.limit_price, order.amends) == (D("100.05"), 1)


def test_an_entry_ttl_while_the_position_is_exiting_cancels_the_entry() -> None:
    desk = make_desk()
    position_id, entry, _ = partly_filled(desk)
    leaving = desk.on(ExitRequest(position_id, SYMBOL, "manual", at(10)), at(10))
    assert Cancel(entry, SYMBOL, at(10)) in leaving
    # the entry's cancel has not landed when its timer fires: it is not chased
    assert desk.on(EntryTTL(entry, 1), at(30)) == [Cancel(entry, SYMBOL, at(30))]


def test_an_entry_ttl_after_the_position_closed_cancels_the_entry() -> None:
    desk = make_desk()
    position_id, entry, stop = partly_filled(desk)
    desk.on(FillSeen(fill("S1", stop, "10", "98", "0.4", side=SELL, ts=at(10)), journaled=False), at(10))
    assert desk.positions[position_id].closed
    assert desk.on(EntryTTL(entry, 1), at(30)) == [Cancel(entry, SYMBOL, at(30))]


# -- exits that end without filling --------------------------------------------------------------------------


@pytest.mark.parametrize("status", [S.CANCELLED, S.EXPIRED, S.ERROR])
def test_an_exit_partly_filled_then_ended_leaves_the_rest_protected(status: OrderStatus) -> None:
    opened = Opened.make()
    desk = opened.desk
    exit_ = opened.exit_requested()
    assert opened.position.message().exiting
    said = event(opened.stop, S.CANCELLED, at(11))
    assert desk.on(said, at(11)) == only_journaled(said)
    desk.on(FillSeen(fill("X1", exit_, "5", "99", "0.2", side=SELL, ts=at(12)), journaled=False), at(12))
    ended = event(exit_, status, at(13), reason="Insufficient liquidity")
    actions = desk.on(ended, at(13))
    stop = sent(actions, OrderPurpose.STOP)
    rest = QTY - 5
    assert decided(actions) == protected_again(ended, opened.position_id, stop.cl_ord_id, qty=rest)
    assert logged(actions) == [("ERROR", SYMBOL)]
    state = opened.position
    assert (state.exiting, state.exit_orders, state.stop_order, state.qty) == (False, [], stop.cl_ord_id, rest)
    desk.on(Submitted(stop.cl_ord_id), at(13))  # the router sends the new stop
    again = desk.on(ExitRequest(opened.position_id, SYMBOL, "retry", at(14)), at(14))
    assert sent(again, OrderPurpose.EXIT).qty == rest


def test_an_exit_partly_filled_then_cancelled_before_the_stops_cancel_lands_protects_the_rest() -> None:
    opened = Opened.make()
    desk = opened.desk
    exit_ = opened.exit_requested()  # the stop's cancel goes out with it
    partial = desk.on(seen(fill("X1", exit_, "5", "99", "0.2", side=SELL, ts=at(11))), at(11))
    rest = QTY - 5
    assert not any(isinstance(a, Amend) for a in partial)  # no resizing a stop that is being cancelled
    cancelled = event(exit_, S.CANCELLED, at(12), reason="Insufficient liquidity")
    ended = desk.on(cancelled, at(12))
    assert decided(ended) == [
        Commit((RecordEvent(cancelled),)),
        Emit(PositionChanged(announced(opened.position_id, qty=rest))),
    ]
    assert logged(ended) == [("ERROR", SYMBOL)]
    assert opened.position.exiting is False
    # the stop's cancel lands: the desk asked for it, for an exit that failed, so the rest is protected again
    # rather than sold at market into the book that could not take the exit
    stop_cancelled = event(opened.stop, S.CANCELLED, at(13))
    landed = desk.on(stop_cancelled, at(13))
    stop = sent(landed, OrderPurpose.STOP)
    assert decided(landed) == protected_again(stop_cancelled, opened.position_id, stop.cl_ord_id, qty=rest)
    assert logged(landed) == [("WARNING", SYMBOL)]
    assert (opened.position.stop_order, opened.position.qty, opened.position.exiting) == (stop.cl_ord_id, rest, False)


def test_an_entry_fill_racing_an_exit_places_no_stop_and_the_rest_is_exited_after() -> None:
    desk = make_desk()
    position_id, entry, stop = partly_filled(desk)
    exit_ = sent(desk.on(ExitRequest(position_id, SYMBOL, "manual", at(10)), at(10)), OrderPurpose.EXIT).cl_ord_id
    desk.on(Submitted(exit_), at(10))
    said = event(stop, S.CANCELLED, at(11))
    assert desk.on(said, at(11)) == only_journaled(said)
    raced = desk.on(seen(fill("F2", entry, "5.68381430", "100", "0.23", ts=at(12))), at(12))
    assert not any(isinstance(a, Submit | Amend) for a in raced)  # a stop now would hold the exit's base
    assert desk.positions[position_id].stop_order is None
    closing = desk.on(seen(fill("X1", exit_, "10", "101", "0.4", side=SELL, ts=at(13))), at(13))
    assert sent(closing, OrderPurpose.EXIT).qty == D("5.68381430")


def test_an_exit_that_fails_while_another_exit_is_working_leaves_the_position_exiting() -> None:
    # 40 of a 78.51629006 entry at 101 fits the risk with its stop at 99.99; the rest, filled at 101 while the
    # first exit is out, does not fit any stop: a second exit, for all of it.
    desk, position_id, entry, first = exit_working()
    # The second exit sells more than the first leaves unpromised (it already commits 40 of the 78.5 held): the
    # inventory fence refuses it, and it ends, not sent, while the first exit is still working.
    actions = desk.on(seen(fill("F2", entry, "38.51629006", "101", "0.4", ts=at(11))), at(11))
    assert logged(actions) == [("CRITICAL", SYMBOL), ("CRITICAL", SYMBOL), ("ERROR", SYMBOL)]  # no stop; fenced; ended
    assert not [a for a in actions if isinstance(a, Submit | Amend | Cancel)]  # nothing beside the working exit
    state = desk.positions[position_id]
    assert (state.exiting, state.exit_orders) == (True, [first])


def test_the_position_message_says_whether_an_exit_is_in_flight() -> None:
    opened = Opened.make()
    assert opened.position.message().exiting is False
    exit_ = opened.exit_requested()
    assert opened.position.message() == announced(opened.position_id, exiting=True)
    rejected = opened.desk.on(event(exit_, S.REJECTED, at(11), reason="EGeneral:Internal error"), at(11))
    assert rejected[-1] == Emit(PositionChanged(announced(opened.position_id, exiting=False)))


# -- resume after a restart ----------------------------------------------------------------------------------


def test_resume_announces_a_restored_position_whose_stop_is_live() -> None:
    opened = Opened.make()
    desk = restored(opened.desk)
    assert desk.positions[opened.position_id].stop_order == opened.stop
    assert started(desk, at(100)) == [Emit(PositionChanged(announced(opened.position_id)))]


def test_resume_keeps_an_exit_still_in_flight_as_the_positions_exit_and_places_no_stop_beside_it() -> None:
    """Found by the inventory fence (issue 11): the router crashed after sending an exit and its stop's cancel; the
    desk rebuilt from the journal placed a stop (and, once the stop's cancel landed, a second exit) beside the exit
    the venue was about to fill: the coins sold twice."""
    opened = Opened.make()
    exit_ = opened.exit_requested()
    desk = restored(opened.desk)  # the journal still names the stop, whose cancel went out with the exit
    state = desk.positions[opened.position_id]
    assert desk.orders[exit_].status is S.UNKNOWN  # journaled, never answered: it may have reached the venue

    actions = started(desk, at(100))

    assert not [a for a in actions if isinstance(a, Submit | Amend | Cancel)]
    assert (state.exiting, state.exit_orders) == (True, [exit_])
    said = event(opened.stop, S.CANCELLED, at(101))
    assert desk.on(said, at(101)) == only_journaled(said)  # cancelled for the exit
    closing = desk.on(seen(fill("X1", exit_, QTY, "99", "0.6", side=SELL, ts=at(101))), at(101))
    assert not [a for a in closing if isinstance(a, Submit | Amend | Cancel)]
    assert state.closed


def test_a_stop_cancelled_for_an_exit_in_flight_before_the_start_up_reconciliation_ends_is_no_stop_lost() -> None:
    """Found by the live crash scenario (issue 14): the router crashed after sending an exit behind its stop's cancel;
    the live venue's executions feed told the rebuilt desk of the cancel before the start-up reconciliation was done
    (`resume`). The desk took it for a lost stop and sent a second exit and a new stop beside the exit in flight;
    the inventory fence refused both, and three refusals put the bot in safe mode."""
    opened = Opened.make()
    exit_ = opened.exit_requested()
    desk = restored(opened.desk)
    said = event(opened.stop, S.CANCELLED, at(100))

    before_resume = desk.on(said, at(100))
    resumed = started(desk, at(101))
    closing = desk.on(seen(fill("X1", exit_, QTY, "99", "0.6", side=SELL, ts=at(102))), at(102))

    assert before_resume == only_journaled(said)  # cancelled for the exit
    assert not [a for a in resumed + closing if isinstance(a, Submit | Amend | Cancel)]
    assert desk.positions.get(opened.position_id) is None or desk.positions[opened.position_id].closed


def test_an_exit_in_flight_at_the_restart_that_fails_leaves_the_position_protected_again() -> None:
    opened = Opened.make()
    exit_ = opened.exit_requested()
    opened.desk.on(event(opened.stop, S.CANCELLED, at(11)), at(11))
    desk = restored(opened.desk)  # the stop's cancel landed before the crash; the exit's answer did not
    state = desk.positions[opened.position_id]
    assert state.stop_order is None
    started(desk, at(100))

    actions = desk.on(event(exit_, S.CANCELLED, at(101), reason="no liquidity"), at(101))

    stop = sent(actions, OrderPurpose.STOP)
    state = desk.positions[opened.position_id]  # afresh: a type checker keeps what the assertions above narrowed
    assert (stop.qty, state.exiting, state.stop_order) == (QTY, False, stop.cl_ord_id)


def test_resume_adopts_a_stop_sent_before_the_journal_named_it() -> None:
    old = make_desk()
    position_id, _, stop = stop_sent(old)
    desk = restored(old, {position_id: None})  # the journal names a position's stop once it is acked
    assert desk.positions[position_id].stop_order is None
    assert started(desk, at(100)) == [Emit(PositionChanged(announced(position_id, stop_live=False)))]
    assert desk.positions[position_id].stop_order == stop
    acked = event(stop, S.ACKED, at(101))
    live = desk.on(acked, at(101))
    assert live[0] == Commit((RecordEvent(acked), RecordStop(position_id, D("98"), StopKind.INITIAL, at(101), stop)))


def test_a_fill_booked_after_a_restart_amends_the_stop_sent_before_the_journal_named_it_not_a_second_one() -> None:
    """Found by the kill -9 soak: an entry's second fill journaled but not booked, its first fill's stop sent but not
    yet acknowledged (so not yet the journal's stop of the position). Reconciliation books the second fill before
    `resume`: a second stop would be refused for the base the first one holds, and the position exited."""
    old = make_desk()
    entry = entry_acked(old)
    position_id = old.by_symbol[SYMBOL]
    half = QTY / 2
    stop = sent(
        old.on(FillSeen(fill("F1", entry, half, "100", "0.31", ts=at(2)), journaled=False), at(2)), OrderPurpose.STOP
    ).cl_ord_id
    old.on(Submitted(stop), at(2))
    desk = restored(old, {position_id: None})
    assert desk.positions[position_id].stop_order is None

    actions = desk.on(seen(fill("F2", entry, QTY - half, "100", "0.31", ts=at(3))), at(50))

    assert not [a for a in actions if isinstance(a, Submit)], actions
    assert Amend(stop, SYMBOL, at(50), qty=QTY) in actions
    assert desk.positions[position_id].stop_order == stop


def test_resume_amends_a_stop_whose_size_amend_was_lost_with_the_process_to_cover_the_whole_position() -> None:
    """Issue 11, part 2 (the 300-trial soak, trial 123): the entry's second fill was booked and journaled, the stop's
    size amend never reached the venue; venue and journal agree on the old size, so reconciliation sees nothing.
    `resume` compares the stop with the position and amends it."""
    old = make_desk()
    _, entry, stop = partly_filled(old)
    grown = old.on(seen(fill("F2", entry, QTY - 10, "100", "0.25", ts=at(4))), at(4))
    assert Amend(stop, SYMBOL, at(4), qty=QTY) in grown  # ... which the process died before sending
    desk = restored(old)
    assert desk.orders[stop].remaining == D(10)

    actions = started(desk, at(100))

    assert Amend(stop, SYMBOL, at(100), qty=QTY) in actions
    assert not [a for a in actions if isinstance(a, Submit)]


def test_a_stop_that_sold_its_size_while_an_entry_fill_raced_its_amend_leaves_no_rest_unprotected() -> None:
    """Found by review: a crash print fills 5 more of a resting entry and fires the stop for its 10 before the size
    amend reaches it. The 5 left were shown as protected by a stop that had filled."""
    desk = make_desk()
    position_id, entry, stop = partly_filled(desk)
    grown = desk.on(seen(fill("F2", entry, "5", "97.5", "0.2", ts=at(4))), at(4))
    assert Amend(stop, SYMBOL, at(4), qty=D(15)) in grown  # in flight when the stop fires

    fired = desk.on(seen(fill("S1", stop, "10", "97.9", "0.4", side=SELL, ts=at(4))), at(4))

    position = desk.positions[position_id]
    assert (position.qty, position.stop_order, position.stop_live) == (D(5), None, False)
    rest = sent(fired, OrderPurpose.EXIT)
    assert rest.qty == D(5)


def test_resume_leaves_a_stop_that_covers_the_position_as_it_is() -> None:
    opened = Opened.make()
    actions = started(restored(opened.desk), at(100))
    assert not [a for a in actions if isinstance(a, Submit | Amend | Cancel)]


def test_resume_exits_a_restored_position_it_cannot_describe() -> None:
    opened = Opened.make()
    # as journaled after a scale-in through the stop
    desk = restored(opened.desk, entry_prices={opened.position_id: D("97.5")})
    actions = started(desk, at(100))
    exit_ = sent(actions, OrderPurpose.EXIT)
    assert decided(actions) == committed(
        [
            Cancel(opened.stop, SYMBOL, at(100)),
            *send(
                exit_intent(exit_.cl_ord_id, QTY, at(100)),
                opened.position_id,
                "exit: restored through its stop at 97.5",
                after_cancels=(opened.stop,),
            ),
            Emit(
                PositionChanged(
                    announced(opened.position_id, entry="97.5", stop="97.49", initial_stop="97.49", exiting=True)
                )
            ),
        ]
    )
    assert logged(actions) == [("CRITICAL", SYMBOL)]


def test_resume_leaves_closed_positions_and_unfilled_entries_alone() -> None:
    opened = Opened.make()
    desk = opened.desk
    desk.on(FillSeen(fill("S1", opened.stop, QTY, "98", "0.61", side=SELL, ts=at(10)), journaled=False), at(10))
    desk.on(signal(symbol="ETH/USD", ts=at(11)), at(11))
    assert started(desk, at(100)) == []


def test_an_exit_never_sent_before_a_restart_keeps_the_stop_that_still_rests_as_the_protection() -> None:
    """Found by the 300-trial kill -9 soak: a restart placed a stop whose journal entry the crash lost (it rests on the
    venue); the SL manager's exit was journaled and the process killed before it and its stop's cancel went out.
    At the next start the reconciliation says the exit never reached the venue, and the stop rests. The desk placed a
    second stop beside the resting one, which the inventory fence refused (CRITICAL) and then exited the position:
    the resting stop protects it, and nothing else may sell those coins."""
    old = make_desk()
    position_id, _, stop = stop_sent(old)  # its ack never reached the journal
    exit_ = sent(old.on(ExitRequest(position_id, SYMBOL, "stop", at(10)), at(10)), OrderPurpose.EXIT).cl_ord_id
    old.on(Submitted(exit_), at(10))  # journaled; the kill came before it went out
    desk = restored(old, {position_id: None})  # the journal had not named the stop as the position's yet
    plan = Plan(events=(event(stop, S.ACKED, at(100)), event(exit_, S.REJECTED, at(100), reason=NEVER_SENT)))

    actions, _ = desk.reconcile(plan, ForeignOrderPolicy.ADOPT, at(100), startup=True, journaled=frozenset())

    assert not [a for a in actions if isinstance(a, Submit)]  # no second stop, no exit
    assert [level for level, _ in logged(actions) if level in ("ERROR", "CRITICAL")] == []
    state = desk.positions[position_id]
    assert (state.stop_order, state.stop_live, state.exiting) == (stop, True, False)
