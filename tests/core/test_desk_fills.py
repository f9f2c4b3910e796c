"""Fills: an entry fill opens and protects the position (a worse fill tightens the stop, a fill through it exits at
once); the unexpected (unknown orders, over-fills, impossible events) is booked and said (`crocbot.core.desk.fills`)."""

from __future__ import annotations

import dataclasses

import pytest

from crocbot.core.desk import ANOMALY, Action, Commit, Desk, Emit, FillSeen, Record, Submitted
from crocbot.core.messages import (
    Fill,
    OrderAmended,
    OrderPurpose,
    OrderStatus,
    Position,
    PositionChanged,
    PositionClosed,
    PositionSide,
    SafeModeChanged,
    Side,
    StopAmendRequest,
    StopKind,
)
from crocbot.core.messages.commands import Amend, Cancel, Submit
from crocbot.core.messages.journal import (
    RecordAmend,
    RecordEvent,
    RecordFill,
    RecordPositionChanged,
    RecordPositionOpened,
    RecordStop,
)
from crocbot.core.money import fmt
from tests.core.desk_support import (
    QTY,
    SOL,
    SYMBOL,
    T0,
    D,
    Opened,
    at,
    committed,
    decided,
    entry_acked,
    entry_sent,
    event,
    exit_intent,
    fail_safe_desk,
    fill,
    journaled,
    logged,
    make_desk,
    opened_and_exited,
    opened_with_stop,
    partly_filled,
    saves,
    seen,
    send,
    sent,
    signal,
    stop_sent,
)

S = OrderStatus
SELL = Side.SELL


# -- b. entry fills ------------------------------------------------------------------------------------------


def test_the_first_entry_fill_opens_the_position_and_places_its_stop_for_the_filled_qty() -> None:
    desk = make_desk()
    entry = entry_acked(desk)
    position_id = desk.by_symbol[SYMBOL]
    first = fill("F1", entry, "10", "100", "0.4", ts=at(2))
    actions = desk.on(seen(first), at(2))
    stop = sent(actions, OrderPurpose.STOP)
    assert stop.cl_ord_id.startswith("cbs")
    assert (stop.qty, stop.trigger_price) == (D("10"), D("98"))
    assert actions == opened_with_stop(desk, first, position_id, stop.cl_ord_id)
    assert desk.ledger.to_state()["cash"] == "8999.6"  # 10000 - 1000 - 0.4
    assert desk.ledger.to_state()["positions"][SYMBOL]["initial_risk"] == "20"  # 10 * (100 - 98)
    state = desk.positions[position_id]
    assert (state.qty, state.entry_price, state.stop_order, state.stop_live) == (
        D("10"),
        D("100"),
        stop.cl_ord_id,
        False,
    )
    assert desk.orders[entry].status is S.PARTIALLY_FILLED


def test_a_second_entry_fill_resizes_the_stop() -> None:
    desk = make_desk()
    position_id, entry, stop = stop_sent(desk, "10", "0.4")
    second = fill("F2", entry, "5.68381430", "100.2", "0.23", ts=at(3))
    actions = desk.on(seen(second), at(3))
    average = (D("1000") + D("5.68381430") * D("100.2")) / QTY  # 1569.518192860 / 15.68381430
    assert average == D("100.0724799999704153599931364")
    changed = Position(
        position_id, SYMBOL, PositionSide.LONG, QTY, average, D("98"), at(2), take_profit=D("106"), initial_stop=D("98")
    )
    assert actions == committed(
        [
            Record(RecordFill(second, position_id, False)),
            Record(RecordPositionChanged(position_id, QTY, average)),
            Emit(PositionChanged(changed)),
            Amend(stop, SYMBOL, at(3), qty=QTY),
            *saves(desk),
        ]
    )
    assert desk.ledger.to_state()["cash"] == "8429.851807140"
    assert desk.orders[entry].status is S.FILLED


def test_a_replayed_fill_does_nothing() -> None:
    desk = make_desk()
    entry = entry_acked(desk)
    first = fill("F1", entry, "10", "100", "0.4", ts=at(2))
    desk.on(seen(first), at(2))
    cash = desk.ledger.cash
    # the ledger knows it: the fill is offered to the journal again (which keeps one of each), nothing more
    assert desk.on(seen(first), at(3)) == [Commit((RecordFill(first, desk.by_symbol[SYMBOL], False),))]
    assert (desk.ledger.cash, desk.ledger.position(SYMBOL)) == (cash, D("10"))


# -- i. an entry filled worse than planned -------------------------------------------------------------------


def test_a_worse_fill_tightens_the_stop_to_what_the_risk_allows() -> None:
    desk = make_desk(entry_order="market")
    entry = entry_sent(desk)
    position_id = desk.by_symbol[SYMBOL]
    worse = fill("F1", entry.cl_ord_id, QTY, "103", "0.65", ts=at(2))
    actions = desk.on(seen(worse), at(2))
    # at 98 the worst case is 15.68381430 * (5 + 201 * 0.006) = 97.33 USD > 0.95 % of 9999.35 = 94.99 USD;
    # the widest stop within it: (103 * 1.006 - 94.99 / 15.68381430) / 0.994 = 98.150.. -> up to 98.16
    stop = sent(actions, OrderPurpose.STOP)
    assert decided(actions) == opened_with_stop(desk, worse, position_id, stop.cl_ord_id, stop="98.16")
    assert logged(actions) == [("WARNING", SYMBOL)]
    assert desk.ledger.to_state()["positions"][SYMBOL]["initial_risk"] == "75.9096612120"  # QTY * (103 - 98.16)


def _worse_second_fill(desk: Desk) -> tuple[str, str, Fill, list[Action]]:
    """10 filled at 100 with its stop acked, then the rest of the entry at 110; returns position, stop, the second
    fill and its actions."""
    position_id, entry, stop = partly_filled(desk)
    second = fill("F2", entry, "5.68381430", "110", "0.25", ts=at(4))
    return position_id, stop, second, desk.on(seen(second), at(4))


def test_a_worse_second_fill_amends_the_live_stop_and_takes_the_tighter_level_once_confirmed() -> None:
    desk = make_desk()
    position_id, stop, second, actions = _worse_second_fill(desk)
    # average 1625.219573 / 15.68381430 = 103.624; widest stop (103.624 * 1.006 - 6.0568) / 0.994 -> 98.79
    average = D("1625.219573") / QTY

    def announced(stop_price: str, initial: str) -> Position:
        return Position(
            position_id,
            SYMBOL,
            PositionSide.LONG,
            QTY,
            average,
            D(stop_price),
            at(2),
            take_profit=D("106"),
            stop_live=True,
            initial_stop=D(initial),
        )

    assert decided(actions) == committed(
        [
            Record(RecordFill(second, position_id, False)),
            Record(RecordPositionChanged(position_id, QTY, average)),
            Emit(PositionChanged(announced("98", "98"))),
            Amend(stop, SYMBOL, at(4), qty=QTY, trigger_price=D("98.79")),
            *saves(desk),
        ]
    )
    assert logged(actions) == [("WARNING", SYMBOL)]
    state = desk.positions[position_id]
    assert (state.stop, state.initial_stop, state.pending_stop) == (D("98"), D("98"), (D("98.79"), StopKind.INITIAL))
    # R counts on the tighter stop at once: 15.68381430 * (103.624.. - 98.79)
    assert desk.ledger.to_state()["positions"][SYMBOL]["initial_risk"] == fmt(QTY * (average - D("98.79")))
    amended = OrderAmended(stop, at(5), qty=QTY, trigger_price=D("98.79"))
    assert desk.on(amended, at(5)) == [
        Commit((RecordAmend(amended), RecordStop(position_id, D("98.79"), StopKind.INITIAL, at(5), stop))),
        Emit(PositionChanged(announced("98.79", "98.79"))),
    ]
    assert (state.stop, state.initial_stop, state.stop_kind, state.pending_stop) == (
        D("98.79"),
        D("98.79"),
        StopKind.INITIAL,
        None,
    )


def test_a_worse_second_fill_overtakes_a_trigger_amend_in_flight() -> None:
    desk = make_desk()
    position_id, entry, stop = partly_filled(desk)
    desk.on_mark(SYMBOL, D("101"))
    trail = StopAmendRequest(position_id, SYMBOL, D("98.5"), StopKind.TRAILING, at(4))
    assert desk.on(trail, at(4)) == [Amend(stop, SYMBOL, at(4), trigger_price=D("98.5"))]
    actions = desk.on(seen(fill("F2", entry, "5.68381430", "110", "0.25", ts=at(5))), at(5))
    # marked at 101 the equity is 41 USD lower than at cost, so the risk allows a little less than 98.79
    assert Amend(stop, SYMBOL, at(5), qty=QTY, trigger_price=D("98.81")) in actions
    state = desk.positions[position_id]
    assert state.pending_stop == (D("98.81"), StopKind.INITIAL)
    # the older amend is confirmed first: taken, while the newer one is still awaited
    older = OrderAmended(stop, at(6), qty=D("10"), trigger_price=D("98.5"))
    assert desk.on(older, at(6))[0] == Commit(
        (RecordAmend(older), RecordStop(position_id, D("98.5"), StopKind.TRAILING, at(6), stop))
    )
    assert (state.stop, state.pending_stop) == (D("98.5"), (D("98.81"), StopKind.INITIAL))
    newer = OrderAmended(stop, at(7), qty=QTY, trigger_price=D("98.81"))
    assert desk.on(newer, at(7))[0] == Commit(
        (RecordAmend(newer), RecordStop(position_id, D("98.81"), StopKind.INITIAL, at(7), stop))
    )
    state = desk.positions[position_id]  # afresh: a type checker keeps what the assertions above narrowed
    assert (state.stop, state.initial_stop, state.pending_stop) == (D("98.81"), D("98.81"), None)


def test_a_trigger_amend_in_flight_tighter_than_the_worse_fill_needs_is_kept() -> None:
    desk = make_desk()
    position_id, entry, stop = partly_filled(desk)
    desk.on_mark(SYMBOL, D("101"))
    desk.on(StopAmendRequest(position_id, SYMBOL, D("99.5"), StopKind.BREAKEVEN, at(4)), at(4))
    actions = desk.on(seen(fill("F2", entry, "5.68381430", "110", "0.25", ts=at(5))), at(5))
    assert Amend(stop, SYMBOL, at(5), qty=QTY, trigger_price=D("99.5")) in actions  # never looser than asked
    assert desk.positions[position_id].pending_stop == (D("99.5"), StopKind.BREAKEVEN)


def test_a_worse_fill_that_no_stop_can_cover_exits_at_once() -> None:
    desk = fail_safe_desk()
    entry = entry_sent(desk, signal("100", "99.99", "110"))
    qty = D("78.51629006")  # 95 USD over 0.01 + 199.99 * 0.006 = 1.20994 USD per unit
    assert entry.qty == qty
    position_id = desk.by_symbol[SYMBOL]
    worse = fill("F1", entry.cl_ord_id, qty, "101", "0.8", ts=at(2))
    actions = desk.on(seen(worse), at(2))
    # even a stop at 101 costs 2 * 101 * 0.006 * 78.51629006 = 95.16 USD in fees and slippage > 94.99 USD
    reason = (
        "SOL/USD: fail-safe: a long stop at 99.99 on 78.51629006 SOL from 101 could lose 173.99 USD, more than 95 % "
        "of the max loss per trade (94.99 USD); no stop keeps it within"
    )
    exit_ = sent(actions, OrderPurpose.EXIT)
    assert decided(actions) == opened_and_exited(
        desk, worse, position_id, exit_.cl_ord_id, reason, stop="99.99", take_profit="110"
    )
    assert logged(actions) == [("CRITICAL", SYMBOL)]
    assert desk.positions[position_id].stop_order is None


@pytest.mark.parametrize(("price", "stop"), [("97.5", "97.49"), ("98", "97.99")])
def test_an_entry_filled_at_or_through_the_stop_is_opened_with_a_stop_below_it_and_exited(
    price: str, stop: str
) -> None:
    # The market is already past the stop: the position is journaled (so it is known and protected after a crash)
    # with a stop one tick below the fill, which `Position` can describe, and it is sold at once.
    desk = make_desk(entry_order="market")
    entry = entry_sent(desk)
    position_id = desk.by_symbol[SYMBOL]
    through = fill("F1", entry.cl_ord_id, QTY, price, "0.6", ts=at(2))
    actions = desk.on(seen(through), at(2))
    exit_ = sent(actions, OrderPurpose.EXIT)
    why = f"entry filled through the stop at {price}"
    assert decided(actions) == opened_and_exited(desk, through, position_id, exit_.cl_ord_id, why, stop=stop)
    assert logged(actions) == [("CRITICAL", SYMBOL)]
    state = desk.positions[position_id]
    assert (state.exiting, state.stop_order, state.stop, state.initial_stop) == (True, None, D(stop), D(stop))
    assert desk.ledger.to_state()["positions"][SYMBOL]["initial_risk"] is None  # no R for a trade never protected
    closing = desk.on(seen(fill("X1", exit_.cl_ord_id, QTY, "97", "0.6", side=SELL, ts=at(3))), at(3))
    assert [type(a.message) for a in closing if isinstance(a, Emit)] == [PositionClosed]


def test_the_stop_set_below_a_fill_through_it_is_on_a_tick_grid_that_is_not_a_power_of_ten() -> None:
    nickel = dataclasses.replace(SOL, price_increment=D("0.05"))
    desk = make_desk(entry_order="market", instruments=(nickel,))
    entry = entry_sent(desk)
    actions = desk.on(seen(fill("F1", entry.cl_ord_id, entry.qty, "97.52", "0.6", ts=at(2))), at(2))
    (opened,) = [r for r in journaled(actions) if isinstance(r, RecordPositionOpened)]
    assert opened.position.stop_price == D("97.45")  # 97.47 down to the 0.05 grid
    assert sent(actions, OrderPurpose.EXIT).qty == entry.qty


def test_a_second_entry_fill_that_drags_the_average_through_the_stop_exits() -> None:
    desk = make_desk()
    position_id, entry, stop = stop_sent(desk, "10", "0.4")
    desk.on(event(stop, S.ACKED, at(2)), at(2))
    second = fill("F2", entry, "5.68381430", "90", "0.2", ts=at(3))
    actions = desk.on(seen(second), at(3))
    # average (1000 + 5.68381430 * 90) / 15.68381430 = 96.3759..: under the stop at 98; one tick below, floored
    average = (D("1000") + D("5.68381430") * D("90")) / QTY
    assert D("96.37") < average < D("96.38")
    left = Position(
        position_id,
        SYMBOL,
        PositionSide.LONG,
        QTY,
        average,
        D("96.36"),
        at(2),
        take_profit=D("106"),
        stop_live=True,
        initial_stop=D("96.36"),
    )
    exit_ = sent(actions, OrderPurpose.EXIT)
    why = f"entry filled through the stop at {average}"
    assert decided(actions) == committed(
        [
            Record(RecordFill(second, position_id, False)),
            Record(RecordPositionChanged(position_id, QTY, average)),
            Emit(PositionChanged(left)),
            Cancel(stop, SYMBOL, at(3)),
            *send(exit_intent(exit_.cl_ord_id, QTY, at(3)), position_id, f"exit: {why}", after_cancels=(stop,)),
            *saves(desk),
        ]
    )
    assert logged(actions) == [("CRITICAL", SYMBOL)]


# the widest stop within 0.95 % of 9999.40: (price * 1.006 - 94.9943 / 15.68381430) / 0.994, up to the tick
@pytest.mark.parametrize(("price", "stop"), [("106", "101.19"), ("106.5", "101.70")])
def test_an_entry_filled_at_or_beyond_the_take_profit_drops_the_take_profit_and_carries_on(
    price: str, stop: str
) -> None:
    desk = make_desk(entry_order="market")
    entry = entry_sent(desk)
    position_id = desk.by_symbol[SYMBOL]
    beyond = fill("F1", entry.cl_ord_id, QTY, price, "0.6", ts=at(2))
    actions = desk.on(seen(beyond), at(2))
    placed = sent(actions, OrderPurpose.STOP)
    assert decided(actions) == opened_with_stop(
        desk, beyond, position_id, placed.cl_ord_id, stop=stop, take_profit=None
    )
    assert logged(actions) == [("WARNING", SYMBOL), ("WARNING", SYMBOL)]
    assert desk.positions[position_id].take_profit is None
    assert not desk.positions[position_id].exiting


# -- l. the unexpected ---------------------------------------------------------------------------------------


def test_a_fill_for_an_unknown_order_is_critical_still_booked_and_halts_entries() -> None:
    desk = make_desk()
    unknown = fill("FX", "cbezzzzzzzzzzzz", "2", "100", "0.8")
    actions = desk.on(seen(unknown), T0)
    assert logged(actions) == [("CRITICAL", SYMBOL), ("WARNING", SYMBOL)]  # the fill, then safe mode on
    # journaled for no position, entries halted until a person has looked, and the books saved; nothing else
    halted = Emit(SafeModeChanged(True, (ANOMALY,), T0))
    assert decided(actions) == committed([Record(RecordFill(unknown, None, False)), halted, *saves(desk)])
    assert not [a for a in desk.on(signal(ts=at(1)), at(1)) if isinstance(a, Submit)]
    assert desk.ledger.position(SYMBOL) == D("2")
    assert desk.ledger.cash == D("9799.2")  # 10000 - 200 - 0.8
    assert desk.ledger.has_fill("FX")


def test_an_over_fill_is_critical_booked_and_the_stop_follows_the_books() -> None:
    desk = make_desk()
    position_id, entry, stop = stop_sent(desk, "10", "0.4")
    over = fill("F2", entry, "6", "100", "0.24", ts=at(3))
    actions = desk.on(seen(over), at(3))
    grown = Position(
        position_id,
        SYMBOL,
        PositionSide.LONG,
        D("16"),
        D("100"),
        D("98"),
        at(2),
        take_profit=D("106"),
        initial_stop=D("98"),
    )
    assert decided(actions) == committed(
        [
            Record(RecordFill(over, position_id, False)),
            Record(RecordPositionChanged(position_id, D("16"), D("100"))),
            Emit(PositionChanged(grown)),
            Amend(stop, SYMBOL, at(3), qty=D("16")),
            *saves(desk),
        ]
    )
    assert logged(actions) == [("CRITICAL", SYMBOL)]
    assert desk.orders[entry].filled == D("10")  # the order's own record could not take it
    assert desk.ledger.position(SYMBOL) == D("16")
    assert desk.positions[position_id].qty == D("16")
    # a replay of the refused fill is not booked twice
    cash = desk.ledger.cash
    assert desk.on(seen(over), at(4)) == [Commit((RecordFill(over, position_id, False),))]  # for the journal alone
    assert (desk.ledger.cash, desk.ledger.position(SYMBOL)) == (cash, D("16"))


def test_an_event_for_an_unknown_order_is_a_warning() -> None:
    desk = make_desk()
    got = desk.on(event("cbxnope", S.ACKED), T0)
    assert decided(got) == []
    assert logged(got) == [("WARNING", None)]


def test_an_impossible_event_is_an_error_and_changes_nothing() -> None:
    desk = make_desk()
    entry = sent(desk.on(signal(), T0), OrderPurpose.ENTRY)  # created, never submitted
    ack = event(entry.cl_ord_id, S.ACKED, at(1))
    got = desk.on(ack, at(1))
    assert decided(got) == [Commit((RecordEvent(ack),))]  # the venue's word journaled, and nothing decided
    assert logged(got) == [("ERROR", SYMBOL)]
    assert desk.orders[entry.cl_ord_id].status is S.CREATED


def test_equity_and_exposure_follow_the_marks() -> None:
    opened = Opened.make()
    desk = opened.desk
    assert desk.equity() == D("9999.38")  # no mark yet: valued at cost, minus the 0.62 fee
    desk.on_mark(SYMBOL, D("102"))
    assert desk.equity() == D("10000") - D("0.62") + QTY * 2
    assert desk.exposure() == {SYMBOL: QTY * D("102")}


def test_a_venue_that_refuses_the_stop_and_the_exit_again_and_again_is_not_hammered() -> None:
    # The account does not hold what the books say (e.g. the coins were sold behind crocbot's back): every stop
    # and every exit is refused. Three refusals in a row and the desk stops sending, halts entries and says so.
    desk = make_desk()
    entry = entry_acked(desk)
    stop = sent(
        desk.on(FillSeen(fill("F1", entry, QTY, "100", "0.62", ts=at(2)), journaled=False), at(2)), OrderPurpose.STOP
    )
    refused, t, sends = stop, 3.0, 0
    while True:
        desk.on(Submitted(refused.cl_ord_id), at(t))
        actions = desk.on(event(refused.cl_ord_id, S.REJECTED, at(t), reason="EOrder:Insufficient funds"), at(t))
        orders = [a for a in actions if isinstance(a, Submit)]
        if not orders:
            break
        sends += 1
        assert sends < 10, "the desk keeps sending orders the venue refuses"
        (refused,) = [a.intent for a in orders]
        t += 1
    assert sends == 2  # exit, stop again; the third refusal ends it
    assert ("CRITICAL", SYMBOL) in logged(actions)
    assert desk.risk.safe_reasons == ("a position the venue refuses to protect",)


def test_entries_resume_once_the_position_the_desk_gave_up_on_is_closed() -> None:
    """Found by the live kill -9 harness: the halt for a position nothing protects stayed on after it had closed (a
    stop that rested on the venue after all filled), until a restart; nothing was left to protect."""
    desk = make_desk()
    entry = entry_acked(desk)
    stop = sent(
        desk.on(FillSeen(fill("F1", entry, QTY, "100", "0.62", ts=at(2)), journaled=False), at(2)), OrderPurpose.STOP
    )
    refused, t = stop, 3.0
    for _ in range(10):
        desk.on(Submitted(refused.cl_ord_id), at(t))
        actions = desk.on(event(refused.cl_ord_id, S.REJECTED, at(t), reason="EOrder:Insufficient funds"), at(t))
        orders = [a for a in actions if isinstance(a, Submit)]
        if not orders:
            break
        (refused,) = [a.intent for a in orders]
        t += 1
    halted = desk.risk.safe_reasons
    # the last stop, reported refused, rested on the venue after all (a lost answer) and filled
    sold = fill("F9", refused.cl_ord_id, QTY, "99", "0.6", side=Side.SELL, ts=at(20))
    closed = desk.on(FillSeen(sold, journaled=False), at(20))

    assert halted == ("a position the venue refuses to protect",)
    assert desk.risk.safe_reasons == ()
    assert SafeModeChanged(False, (), at(20)) in [a.message for a in closed if isinstance(a, Emit)]
