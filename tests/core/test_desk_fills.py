"""Fills: an entry fill opens and protects the position (a worse fill tightens the stop, a fill through it exits at
once); the unexpected (unknown orders, over-fills, impossible events) is booked and said (`crocbot.core.desk.fills`)."""

from __future__ import annotations

import dataclasses

import pytest

from crocbot.core.desk import Action, Desk, Emit, FillSeen, Note, Record, Submitted
from crocbot.core.messages import (
    OrderAmended,
    OrderPurpose,
    OrderStatus,
    Position,
    PositionChanged,
    PositionClosed,
    PositionOpened,
    PositionSide,
    Side,
    StopAmendRequest,
    StopKind,
)
from crocbot.core.messages.commands import Amend, Cancel, Submit
from crocbot.core.messages.journal import (
    RecordPositionChanged,
    RecordPositionOpened,
    RecordStop,
    SaveState,
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
    decided,
    entry_acked,
    event,
    exit_intent,
    fill,
    logged,
    make_desk,
    saves,
    send,
    sent,
    signal,
    stop_intent,
)

S = OrderStatus
SELL = Side.SELL


# -- b. entry fills ------------------------------------------------------------------------------------------


def test_the_first_entry_fill_opens_the_position_and_places_its_stop_for_the_filled_qty() -> None:
    desk = make_desk()
    entry = entry_acked(desk)
    position_id = desk.by_symbol[SYMBOL]
    actions = desk.on_fill(fill("F1", entry, "10", "100", "0.4", ts=at(2)), at(2))
    stop = sent(actions, OrderPurpose.STOP)
    opened = Position(
        position_id,
        SYMBOL,
        PositionSide.LONG,
        D("10"),
        D("100"),
        D("98"),
        at(2),
        take_profit=D("106"),
        initial_stop=D("98"),
    )
    assert stop.cl_ord_id.startswith("cbs")
    assert actions == [
        Record(RecordPositionOpened(opened)),
        Emit(PositionOpened(opened)),
        *send(stop_intent(stop.cl_ord_id, D("10"), "98", at(2)), position_id, "protective stop at 98"),
        *saves(desk),
    ]
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
    entry = entry_acked(desk)
    position_id = desk.by_symbol[SYMBOL]
    stop = sent(
        desk.on(FillSeen(fill("F1", entry, "10", "100", "0.4", ts=at(2)), journaled=False), at(2)), OrderPurpose.STOP
    )
    desk.on(Submitted(stop.cl_ord_id), at(2))
    actions = desk.on_fill(fill("F2", entry, "5.68381430", "100.2", "0.23", ts=at(3)), at(3))
    average = (D("1000") + D("5.68381430") * D("100.2")) / QTY  # 1569.518192860 / 15.68381430
    assert average == D("100.0724799999704153599931364")
    changed = Position(
        position_id, SYMBOL, PositionSide.LONG, QTY, average, D("98"), at(2), take_profit=D("106"), initial_stop=D("98")
    )
    assert actions == [
        Record(RecordPositionChanged(position_id, QTY, average)),
        Emit(PositionChanged(changed)),
        Amend(stop.cl_ord_id, SYMBOL, at(3), qty=QTY),
        *saves(desk),
    ]
    assert desk.ledger.to_state()["cash"] == "8429.851807140"
    assert desk.orders[entry].status is S.FILLED


def test_a_replayed_fill_does_nothing() -> None:
    desk = make_desk()
    entry = entry_acked(desk)
    desk.on(FillSeen(fill("F1", entry, "10", "100", "0.4", ts=at(2)), journaled=False), at(2))
    cash = desk.ledger.cash
    assert desk.on_fill(fill("F1", entry, "10", "100", "0.4", ts=at(2)), at(3)) == []
    assert (desk.ledger.cash, desk.ledger.position(SYMBOL)) == (cash, D("10"))


# -- i. an entry filled worse than planned -------------------------------------------------------------------


def test_a_worse_fill_tightens_the_stop_to_what_the_risk_allows() -> None:
    desk = make_desk(entry_order="market")
    entry = sent(desk.on(signal(), T0), OrderPurpose.ENTRY)
    position_id = desk.by_symbol[SYMBOL]
    desk.on(Submitted(entry.cl_ord_id), T0)
    actions = desk.on_fill(fill("F1", entry.cl_ord_id, QTY, "103", "0.65", ts=at(2)), at(2))
    # at 98 the worst case is 15.68381430 * (5 + 201 * 0.006) = 97.33 USD > 0.95 % of 9999.35 = 94.99 USD;
    # the widest stop within it: (103 * 1.006 - 94.99 / 15.68381430) / 0.994 = 98.150.. -> up to 98.16
    stop = sent(actions, OrderPurpose.STOP)
    opened = Position(
        position_id,
        SYMBOL,
        PositionSide.LONG,
        QTY,
        D("103"),
        D("98.16"),
        at(2),
        take_profit=D("106"),
        initial_stop=D("98.16"),
    )
    assert decided(actions) == [
        Record(RecordPositionOpened(opened)),
        Emit(PositionOpened(opened)),
        *send(stop_intent(stop.cl_ord_id, QTY, "98.16", at(2)), position_id, "protective stop at 98.16"),
        *saves(desk),
    ]
    assert logged(actions) == [("WARNING", SYMBOL)]
    assert desk.ledger.to_state()["positions"][SYMBOL]["initial_risk"] == "75.9096612120"  # QTY * (103 - 98.16)


def _worse_second_fill(desk: Desk) -> tuple[str, str, list[Action]]:
    """10 filled at 100 with its stop acked, then the rest of the entry at 110; returns position, stop, actions."""
    entry = entry_acked(desk)
    position_id = desk.by_symbol[SYMBOL]
    stop = sent(
        desk.on(FillSeen(fill("F1", entry, "10", "100", "0.4", ts=at(2)), journaled=False), at(2)), OrderPurpose.STOP
    )
    desk.on(Submitted(stop.cl_ord_id), at(2))
    desk.on(event(stop.cl_ord_id, S.ACKED, at(3)), at(3))
    return position_id, stop.cl_ord_id, desk.on_fill(fill("F2", entry, "5.68381430", "110", "0.25", ts=at(4)), at(4))


def test_a_worse_second_fill_amends_the_live_stop_and_takes_the_tighter_level_once_confirmed() -> None:
    desk = make_desk()
    position_id, stop, actions = _worse_second_fill(desk)
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

    assert decided(actions) == [
        Record(RecordPositionChanged(position_id, QTY, average)),
        Emit(PositionChanged(announced("98", "98"))),
        Amend(stop, SYMBOL, at(4), qty=QTY, trigger_price=D("98.79")),
        *saves(desk),
    ]
    assert logged(actions) == [("WARNING", SYMBOL)]
    state = desk.positions[position_id]
    assert (state.stop, state.initial_stop, state.pending_stop) == (D("98"), D("98"), (D("98.79"), StopKind.INITIAL))
    # R counts on the tighter stop at once: 15.68381430 * (103.624.. - 98.79)
    assert desk.ledger.to_state()["positions"][SYMBOL]["initial_risk"] == fmt(QTY * (average - D("98.79")))
    confirmed = desk.on_amended(OrderAmended(stop, at(5), qty=QTY, trigger_price=D("98.79")), at(5))
    assert confirmed == [
        Record(RecordStop(position_id, D("98.79"), StopKind.INITIAL, at(5), stop)),
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
    entry = entry_acked(desk)
    position_id = desk.by_symbol[SYMBOL]
    stop = sent(
        desk.on(FillSeen(fill("F1", entry, "10", "100", "0.4", ts=at(2)), journaled=False), at(2)), OrderPurpose.STOP
    ).cl_ord_id
    desk.on(Submitted(stop), at(2))
    desk.on(event(stop, S.ACKED, at(3)), at(3))
    desk.on_mark(SYMBOL, D("101"))
    trail = StopAmendRequest(position_id, SYMBOL, D("98.5"), StopKind.TRAILING, at(4))
    assert desk.on_stop_amend(trail, at(4)) == [Amend(stop, SYMBOL, at(4), trigger_price=D("98.5"))]
    actions = desk.on_fill(fill("F2", entry, "5.68381430", "110", "0.25", ts=at(5)), at(5))
    # marked at 101 the equity is 41 USD lower than at cost, so the risk allows a little less than 98.79
    assert Amend(stop, SYMBOL, at(5), qty=QTY, trigger_price=D("98.81")) in actions
    state = desk.positions[position_id]
    assert state.pending_stop == (D("98.81"), StopKind.INITIAL)
    # the older amend is confirmed first: taken, while the newer one is still awaited
    older = desk.on_amended(OrderAmended(stop, at(6), qty=D("10"), trigger_price=D("98.5")), at(6))
    assert older[0] == Record(RecordStop(position_id, D("98.5"), StopKind.TRAILING, at(6), stop))
    assert (state.stop, state.pending_stop) == (D("98.5"), (D("98.81"), StopKind.INITIAL))
    newer = desk.on_amended(OrderAmended(stop, at(7), qty=QTY, trigger_price=D("98.81")), at(7))
    assert newer[0] == Record(RecordStop(position_id, D("98.81"), StopKind.INITIAL, at(7), stop))
    state = desk.positions[position_id]  # afresh: a type checker keeps what the assertions above narrowed
    assert (state.stop, state.initial_stop, state.pending_stop) == (D("98.81"), D("98.81"), None)


def test_a_trigger_amend_in_flight_tighter_than_the_worse_fill_needs_is_kept() -> None:
    desk = make_desk()
    entry = entry_acked(desk)
    position_id = desk.by_symbol[SYMBOL]
    stop = sent(
        desk.on(FillSeen(fill("F1", entry, "10", "100", "0.4", ts=at(2)), journaled=False), at(2)), OrderPurpose.STOP
    ).cl_ord_id
    desk.on(Submitted(stop), at(2))
    desk.on(event(stop, S.ACKED, at(3)), at(3))
    desk.on_mark(SYMBOL, D("101"))
    desk.on(StopAmendRequest(position_id, SYMBOL, D("99.5"), StopKind.BREAKEVEN, at(4)), at(4))
    actions = desk.on_fill(fill("F2", entry, "5.68381430", "110", "0.25", ts=at(5)), at(5))
    assert Amend(stop, SYMBOL, at(5), qty=QTY, trigger_price=D("99.5")) in actions  # never looser than asked
    assert desk.positions[position_id].pending_stop == (D("99.5"), StopKind.BREAKEVEN)


def test_a_worse_fill_that_no_stop_can_cover_exits_at_once() -> None:
    desk = make_desk(
        entry_order="market",
        risk_per_trade=D("0.0095"),
        max_exposure_per_symbol=D(1),
        max_total_exposure=D(1),
        min_stop_cost_multiple=D(0),  # a stop within the round trip's cost, to test the fail-safe alone
    )
    entry = sent(desk.on(signal("100", "99.99", "110"), T0), OrderPurpose.ENTRY)
    qty = D("78.51629006")  # 95 USD over 0.01 + 199.99 * 0.006 = 1.20994 USD per unit
    assert entry.qty == qty
    position_id = desk.by_symbol[SYMBOL]
    desk.on(Submitted(entry.cl_ord_id), T0)
    actions = desk.on_fill(fill("F1", entry.cl_ord_id, qty, "101", "0.8", ts=at(2)), at(2))
    # even a stop at 101 costs 2 * 101 * 0.006 * 78.51629006 = 95.16 USD in fees and slippage > 94.99 USD
    reason = (
        "SOL/USD: fail-safe: a long stop at 99.99 on 78.51629006 SOL from 101 could lose 173.99 USD, more than 95 % "
        "of the max loss per trade (94.99 USD); no stop keeps it within"
    )
    exit_ = sent(actions, OrderPurpose.EXIT)
    opened = Position(
        position_id,
        SYMBOL,
        PositionSide.LONG,
        qty,
        D("101"),
        D("99.99"),
        at(2),
        take_profit=D("110"),
        initial_stop=D("99.99"),
    )
    assert decided(actions) == [
        Record(RecordPositionOpened(opened)),
        Emit(PositionOpened(opened)),
        *send(exit_intent(exit_.cl_ord_id, qty, at(2)), position_id, f"exit: {reason}"),
        *saves(desk),
    ]
    assert logged(actions) == [("CRITICAL", SYMBOL)]
    assert desk.positions[position_id].stop_order is None


@pytest.mark.parametrize(("price", "stop"), [("97.5", "97.49"), ("98", "97.99")])
def test_an_entry_filled_at_or_through_the_stop_is_opened_with_a_stop_below_it_and_exited(
    price: str, stop: str
) -> None:
    # The market is already past the stop: the position is journaled (so it is known and protected after a crash)
    # with a stop one tick below the fill, which `Position` can describe, and it is sold at once.
    desk = make_desk(entry_order="market")
    entry = sent(desk.on(signal(), T0), OrderPurpose.ENTRY)
    position_id = desk.by_symbol[SYMBOL]
    desk.on(Submitted(entry.cl_ord_id), T0)
    actions = desk.on_fill(fill("F1", entry.cl_ord_id, QTY, price, "0.6", ts=at(2)), at(2))
    exit_ = sent(actions, OrderPurpose.EXIT)
    opened = Position(
        position_id,
        SYMBOL,
        PositionSide.LONG,
        QTY,
        D(price),
        D(stop),
        at(2),
        take_profit=D("106"),
        initial_stop=D(stop),
    )
    assert decided(actions) == [
        Record(RecordPositionOpened(opened)),
        Emit(PositionOpened(opened)),
        *send(exit_intent(exit_.cl_ord_id, QTY, at(2)), position_id, f"exit: entry filled through the stop at {price}"),
        *saves(desk),
    ]
    assert logged(actions) == [("CRITICAL", SYMBOL)]
    state = desk.positions[position_id]
    assert (state.exiting, state.stop_order, state.stop, state.initial_stop) == (True, None, D(stop), D(stop))
    assert desk.ledger.to_state()["positions"][SYMBOL]["initial_risk"] is None  # no R for a trade never protected
    closing = desk.on_fill(fill("X1", exit_.cl_ord_id, QTY, "97", "0.6", side=SELL, ts=at(3)), at(3))
    assert isinstance(closing[-3], Emit)
    assert isinstance(closing[-3].message, PositionClosed)


def test_the_stop_set_below_a_fill_through_it_is_on_a_tick_grid_that_is_not_a_power_of_ten() -> None:
    nickel = dataclasses.replace(SOL, price_increment=D("0.05"))
    desk = make_desk(entry_order="market", instruments=(nickel,))
    entry = sent(desk.on(signal(), T0), OrderPurpose.ENTRY)
    desk.on(Submitted(entry.cl_ord_id), T0)
    actions = desk.on_fill(fill("F1", entry.cl_ord_id, entry.qty, "97.52", "0.6", ts=at(2)), at(2))
    opened = actions[1]
    assert isinstance(opened, Record)
    assert isinstance(opened.message, RecordPositionOpened)
    assert opened.message.position.stop_price == D("97.45")  # 97.47 down to the 0.05 grid
    assert sent(actions, OrderPurpose.EXIT).qty == entry.qty


def test_a_second_entry_fill_that_drags_the_average_through_the_stop_exits() -> None:
    desk = make_desk()
    entry = entry_acked(desk)
    position_id = desk.by_symbol[SYMBOL]
    stop = sent(
        desk.on(FillSeen(fill("F1", entry, "10", "100", "0.4", ts=at(2)), journaled=False), at(2)), OrderPurpose.STOP
    ).cl_ord_id
    desk.on(Submitted(stop), at(2))
    desk.on(event(stop, S.ACKED, at(2)), at(2))
    actions = desk.on_fill(fill("F2", entry, "5.68381430", "90", "0.2", ts=at(3)), at(3))
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
    assert decided(actions) == [
        Record(RecordPositionChanged(position_id, QTY, average)),
        Emit(PositionChanged(left)),
        Cancel(stop, SYMBOL, at(3)),
        *send(exit_intent(exit_.cl_ord_id, QTY, at(3)), position_id, f"exit: {why}", after_cancels=(stop,)),
        *saves(desk),
    ]
    assert logged(actions) == [("CRITICAL", SYMBOL)]


# the widest stop within 0.95 % of 9999.40: (price * 1.006 - 94.9943 / 15.68381430) / 0.994, up to the tick
@pytest.mark.parametrize(("price", "stop"), [("106", "101.19"), ("106.5", "101.70")])
def test_an_entry_filled_at_or_beyond_the_take_profit_drops_the_take_profit_and_carries_on(
    price: str, stop: str
) -> None:
    desk = make_desk(entry_order="market")
    entry = sent(desk.on(signal(), T0), OrderPurpose.ENTRY)
    position_id = desk.by_symbol[SYMBOL]
    desk.on(Submitted(entry.cl_ord_id), T0)
    actions = desk.on_fill(fill("F1", entry.cl_ord_id, QTY, price, "0.6", ts=at(2)), at(2))
    placed = sent(actions, OrderPurpose.STOP)
    opened = Position(
        position_id, SYMBOL, PositionSide.LONG, QTY, D(price), D(stop), at(2), take_profit=None, initial_stop=D(stop)
    )
    assert decided(actions) == [
        Record(RecordPositionOpened(opened)),
        Emit(PositionOpened(opened)),
        *send(stop_intent(placed.cl_ord_id, QTY, stop, at(2)), position_id, f"protective stop at {stop}"),
        *saves(desk),
    ]
    assert logged(actions) == [("WARNING", SYMBOL), ("WARNING", SYMBOL)]
    assert desk.positions[position_id].take_profit is None
    assert not desk.positions[position_id].exiting


# -- l. the unexpected ---------------------------------------------------------------------------------------


def test_a_fill_for_an_unknown_order_is_critical_and_still_booked() -> None:
    desk = make_desk()
    actions = desk.on_fill(fill("FX", "cbezzzzzzzzzzzz", "2", "100", "0.8"), T0)
    assert isinstance(actions[0], Note)
    assert logged(actions) == [("CRITICAL", SYMBOL)]
    saved = {a.message.key for a in actions[1:] if isinstance(a, Record) and isinstance(a.message, SaveState)}
    assert saved == {"ledger", "risk"}  # the books are saved, as after any fill
    assert len(actions) == 3
    assert desk.ledger.position(SYMBOL) == D("2")
    assert desk.ledger.cash == D("9799.2")  # 10000 - 200 - 0.8
    assert desk.ledger.has_fill("FX")


def test_an_over_fill_is_critical_booked_and_the_stop_follows_the_books() -> None:
    desk = make_desk()
    entry = entry_acked(desk)
    position_id = desk.by_symbol[SYMBOL]
    stop = sent(
        desk.on(FillSeen(fill("F1", entry, "10", "100", "0.4", ts=at(2)), journaled=False), at(2)), OrderPurpose.STOP
    ).cl_ord_id
    desk.on(Submitted(stop), at(2))
    actions = desk.on_fill(fill("F2", entry, "6", "100", "0.24", ts=at(3)), at(3))
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
    assert decided(actions) == [
        Record(RecordPositionChanged(position_id, D("16"), D("100"))),
        Emit(PositionChanged(grown)),
        Amend(stop, SYMBOL, at(3), qty=D("16")),
        *saves(desk),
    ]
    assert logged(actions) == [("CRITICAL", SYMBOL)]
    assert desk.orders[entry].filled == D("10")  # the order's own record could not take it
    assert desk.ledger.position(SYMBOL) == D("16")
    assert desk.positions[position_id].qty == D("16")
    # a replay of the refused fill is not booked twice
    cash = desk.ledger.cash
    assert desk.on_fill(fill("F2", entry, "6", "100", "0.24", ts=at(3)), at(4)) == []
    assert (desk.ledger.cash, desk.ledger.position(SYMBOL)) == (cash, D("16"))


def test_an_event_for_an_unknown_order_is_a_warning() -> None:
    desk = make_desk()
    got = desk.on_order_event(event("cbxnope", S.ACKED), T0)
    assert decided(got) == []
    assert logged(got) == [("WARNING", None)]


def test_an_impossible_event_is_an_error_and_changes_nothing() -> None:
    desk = make_desk()
    entry = sent(desk.on(signal(), T0), OrderPurpose.ENTRY)  # created, never submitted
    got = desk.on_order_event(event(entry.cl_ord_id, S.ACKED, at(1)), at(1))
    assert decided(got) == []
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
        actions = desk.on_order_event(
            event(refused.cl_ord_id, S.REJECTED, at(t), reason="EOrder:Insufficient funds"), at(t)
        )
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
