"""Exits: the stop is cancelled first and the position sold once that is confirmed; an exit that fails leaves the
position protected again (`crocbot.core.desk.exits`)."""

from __future__ import annotations

from crocbot.core.desk import Commit, Desk, Emit, FillSeen, Note, Record, Submitted
from crocbot.core.messages import (
    HELD_BACK,
    ClosedTrade,
    CommandRejected,
    ExitReason,
    ExitRequest,
    OrderPurpose,
    OrderStatus,
    Position,
    PositionChanged,
    PositionClosed,
    PositionSide,
    Side,
    TradeContext,
)
from crocbot.core.messages.commands import Amend, Cancel, Submit
from crocbot.core.messages.journal import (
    RecordEvent,
    RecordFill,
    RecordPositionChanged,
    RecordPositionClosed,
    SaveState,
)
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
    event,
    exit_intent,
    fill,
    journaled,
    logged,
    make_desk,
    partly_filled,
    protected_again,
    saves,
    seen,
    send,
    sent,
    signal,
    stop_sent,
)

S = OrderStatus
SELL = Side.SELL


# -- d. exits ------------------------------------------------------------------------------------------------


def _open_in_two_fills() -> tuple[Desk, str, str]:
    desk = make_desk()
    _, entry, stop = stop_sent(desk, "10", "0.4")
    desk.on(FillSeen(fill("F2", entry, "5.68381430", "100.2", "0.23", ts=at(3)), journaled=False), at(3))
    desk.on(event(stop, S.ACKED, at(4)), at(4))
    return desk, desk.by_symbol[SYMBOL], stop


def test_an_exit_cancels_the_stop_first_then_sells_at_market_and_the_close_is_booked_with_fees() -> None:
    desk, position_id, stop = _open_in_two_fills()
    request = ExitRequest(position_id, SYMBOL, "take profit", at(10), ExitReason.TAKE_PROFIT)
    actions = desk.on(request, at(10))
    exit_ = sent(actions, OrderPurpose.EXIT)
    assert exit_.cl_ord_id.startswith("cbx")
    assert decided(actions) == committed(
        [
            Cancel(stop, SYMBOL, at(10)),
            *send(exit_intent(exit_.cl_ord_id, QTY, at(10)), position_id, "exit: take profit", after_cancels=(stop,)),
        ]
    )
    assert logged(actions) == [("INFO", SYMBOL)]
    assert desk.positions[position_id].exiting is True
    assert desk.on(ExitRequest(position_id, SYMBOL, "again", at(11)), at(11)) == []
    desk.on(Submitted(exit_.cl_ord_id), at(10))
    cancelled = event(stop, S.CANCELLED, at(11))
    assert desk.on(cancelled, at(11)) == [Commit((RecordEvent(cancelled),))]  # journaled, and expected while exiting
    sold = fill("X1", exit_.cl_ord_id, QTY, "104", "0.65", side=SELL, ts=at(12))
    closing = desk.on(seen(sold), at(12))
    # gross: 10 * (104 - 100) + 5.68381430 * (104 - 100.2) = 40 + 21.598494340; fees 0.40 + 0.23 + 0.65 = 1.28
    trade = ClosedTrade(
        trade_id="SOL/USD:F1",
        symbol=SYMBOL,
        side=PositionSide.LONG,
        qty=QTY,
        entry_price=D("1569.518192860") / QTY,
        exit_price=D("104"),
        fees=D("1.28"),
        realized_pnl=D("60.318494340"),
        opened_at=at(2),
        closed_at=at(12),
        initial_risk=QTY * (D("1569.518192860") / QTY - D("98")),
    )
    instrument = desk.instruments[SYMBOL]
    context = TradeContext(
        ExitReason.TAKE_PROFIT,
        "ema_trend",
        D("100"),
        desk.equity(),
        instrument.price_precision,
        2,  # the quote currency's places: USD in cents
        "take profit",
    )
    assert decided(closing) == committed(
        [
            Record(RecordFill(sold, position_id, False)),
            Record(RecordPositionClosed(position_id, at(12), trade, context)),
            Emit(PositionClosed(position_id, SYMBOL, at(12), trade)),
            *saves(desk),
        ]
    )
    assert logged(closing) == [("INFO", SYMBOL)]  # the close, for a trader to read
    assert not any(isinstance(a, Submit | Amend | Cancel) for a in closing)
    assert desk.ledger.cash == D("10060.318494340")
    assert desk.positions[position_id].closed
    assert desk.by_symbol == {}
    assert desk.risk.daily_realized == D("60.318494340")
    # the symbol is free again
    assert sent(desk.on(signal(ts=at(20)), at(20)), OrderPurpose.ENTRY).symbol == SYMBOL


def test_a_close_before_the_stop_cancel_is_confirmed_cancels_the_stop_again() -> None:
    desk, position_id, stop = _open_in_two_fills()
    exit_ = sent(desk.on(ExitRequest(position_id, SYMBOL, "manual", at(10)), at(10)), OrderPurpose.EXIT)
    desk.on(Submitted(exit_.cl_ord_id), at(10))
    closing = desk.on(seen(fill("X1", exit_.cl_ord_id, QTY, "104", "0.65", side=SELL, ts=at(12))), at(12))
    assert [type(a) for a in closing] == [Commit, Cancel, Note, Emit]
    assert closing[1] == Cancel(stop, SYMBOL, at(12))
    assert [type(r) for r in journaled(closing)] == [RecordFill, RecordPositionClosed, SaveState, SaveState]


def test_an_exit_request_for_an_unknown_or_closed_position_does_nothing() -> None:
    opened = Opened.make()
    assert opened.desk.on(ExitRequest("nope", SYMBOL, "manual", at(9)), at(9)) == []
    desk = make_desk()
    desk.on(signal(), T0)
    position_id = desk.by_symbol[SYMBOL]
    assert desk.on(ExitRequest(position_id, SYMBOL, "no fill yet", at(9)), at(9)) == []


def test_a_stop_fill_closes_the_position() -> None:
    opened = Opened.make()
    desk = opened.desk
    stopped = fill("S1", opened.stop, QTY, "98", "0.61", side=SELL, ts=at(10))
    actions = desk.on(seen(stopped), at(10))
    (closed,) = [r for r in journaled(actions) if isinstance(r, RecordPositionClosed)]
    trade = closed.trade
    assert isinstance(trade, ClosedTrade)
    # -2 * 15.68381430 - (0.62 + 0.61)
    assert trade.realized_pnl == D("-32.59762860")
    assert closed.context is not None
    assert closed.context.exit_reason is ExitReason.STOP
    assert decided(actions) == committed(
        [
            Record(RecordFill(stopped, opened.position_id, False)),
            Record(RecordPositionClosed(opened.position_id, at(10), trade, closed.context)),
            Emit(PositionClosed(opened.position_id, SYMBOL, at(10), trade)),
            *saves(desk),
        ]
    )
    assert logged(actions) == [("INFO", SYMBOL), ("INFO", SYMBOL)]  # the close, and the cool-down after a loss
    assert desk.risk.state().cooldowns == {SYMBOL: at(10 + 15 * 60)}


# -- f. the exit fails ---------------------------------------------------------------------------------------


def test_a_rejected_exit_after_the_stop_was_cancelled_places_the_stop_again() -> None:
    opened = Opened.make()
    desk = opened.desk
    exit_ = opened.exit_requested(10)
    cancelled = event(opened.stop, S.CANCELLED, at(11))
    assert desk.on(cancelled, at(11)) == [Commit((RecordEvent(cancelled),))]
    rejected = event(exit_, S.REJECTED, at(12), reason="EOrder:Insufficient funds")
    actions = desk.on(rejected, at(12))
    stop = sent(actions, OrderPurpose.STOP)
    assert stop.cl_ord_id != opened.stop
    assert decided(actions) == protected_again(rejected, opened.position_id, stop.cl_ord_id)
    assert logged(actions) == [("ERROR", SYMBOL)]
    assert (opened.position.exiting, opened.position.exit_orders, opened.position.stop_order) == (
        False,
        [],
        stop.cl_ord_id,
    )
    # the SL manager may ask again (once the router has sent the new stop)
    desk.on(Submitted(stop.cl_ord_id), at(12))
    assert sent(desk.on(ExitRequest(opened.position_id, SYMBOL, "retry", at(13)), at(13)), OrderPurpose.EXIT)


def test_a_rejected_exit_with_the_stop_still_there_keeps_it_and_places_it_again_once_its_cancel_lands() -> None:
    opened = Opened.make()
    desk = opened.desk
    exit_ = opened.exit_requested(10)
    rejected = event(exit_, S.REJECTED, at(11), reason="EGeneral:Internal error")
    actions = desk.on(rejected, at(11))
    assert decided(actions) == [Commit((RecordEvent(rejected),)), Emit(PositionChanged(announced(opened.position_id)))]
    assert logged(actions) == [("ERROR", SYMBOL)]
    assert opened.position.exiting is False
    # The cancel sent with the exit then lands. The venue did not take the stop away, the desk did, for an exit
    # that failed: the position is protected again rather than sold into the market that refused the exit.
    cancelled = event(opened.stop, S.CANCELLED, at(12))
    landed = desk.on(cancelled, at(12))
    stop = sent(landed, OrderPurpose.STOP)
    assert decided(landed) == protected_again(cancelled, opened.position_id, stop.cl_ord_id)
    assert logged(landed) == [("WARNING", SYMBOL)]
    assert (opened.position.stop_order, opened.position.exiting) == (stop.cl_ord_id, False)


def test_a_stop_cancel_the_venue_refused_is_not_taken_for_the_desks_own() -> None:
    opened = Opened.make()
    desk = opened.desk
    exit_ = opened.exit_requested(10)
    desk.on(CommandRejected(opened.stop, "cancel", "EGeneral:Internal error", at(11)), at(11))
    desk.on(event(exit_, S.REJECTED, at(11), reason="EGeneral:Internal error"), at(11))
    # the stop is still there; should the venue drop it later, that is a vanished stop
    landed = desk.on(event(opened.stop, S.CANCELLED, at(20), reason="EOrder:Canceled by system"), at(20))
    assert logged(landed)[0] == ("CRITICAL", SYMBOL)
    assert sent(landed, OrderPurpose.EXIT).qty == QTY


def test_an_exit_cancelled_for_lack_of_liquidity_is_a_failed_exit_too() -> None:
    # A market order the book cannot fill is cancelled (Kraken, and the paper venue). Left `exiting`, the
    # position would have no stop and would ignore every later exit request.
    opened = Opened.make()
    desk = opened.desk
    exit_ = opened.exit_requested(10)
    desk.on(event(opened.stop, S.CANCELLED, at(11)), at(11))
    desk.on(FillSeen(fill("X1", exit_, "5", "99", "0.2", side=SELL, ts=at(12)), journaled=False), at(12))
    cancelled = event(exit_, S.CANCELLED, at(12), reason="no liquidity")
    actions = desk.on(cancelled, at(12))
    stop = sent(actions, OrderPurpose.STOP)
    rest = QTY - 5
    assert decided(actions) == protected_again(cancelled, opened.position_id, stop.cl_ord_id, qty=rest)
    assert logged(actions) == [("ERROR", SYMBOL)]
    assert opened.position.exiting is False


def test_an_exit_that_leaves_base_behind_exits_the_rest() -> None:
    # An entry fill raced the exit: the exit sold what the desk knew of, and the rest would sit unprotected.
    desk = make_desk()
    position_id, entry, stop = partly_filled(desk)
    leaving = desk.on(ExitRequest(position_id, SYMBOL, "manual", at(10)), at(10))
    exit_ = sent(leaving, OrderPurpose.EXIT)
    commands = [a for a in leaving if isinstance(a, Cancel | Submit)]
    assert commands[:2] == [Cancel(entry, SYMBOL, at(10)), Cancel(stop, SYMBOL, at(10))]  # then the exit
    assert len(commands) == 3
    assert exit_.qty == D("10")
    desk.on(Submitted(exit_.cl_ord_id), at(10))
    desk.on(FillSeen(fill("F2", entry, "5.68381430", "100.2", "0.23", ts=at(11)), journaled=False), at(11))  # the race
    desk.on(event(stop, S.CANCELLED, at(11)), at(11))
    desk.on(event(entry, S.CANCELLED, at(11)), at(11))
    first_sale = fill("X1", exit_.cl_ord_id, "10", "101", "0.4", side=SELL, ts=at(12))
    actions = desk.on(seen(first_sale), at(12))
    rest = D("5.68381430")
    again = sent(actions, OrderPurpose.EXIT)
    why = f"exit {exit_.cl_ord_id} filled but 5.68381430 is still open"
    average = D("1569.518192860") / QTY  # a partial exit leaves the position's average entry as it was
    left = Position(
        position_id,
        SYMBOL,
        PositionSide.LONG,
        rest,
        average,
        D("98"),
        at(2),
        take_profit=D("106"),
        initial_stop=D("98"),
        exiting=True,  # announced while the exit is still in flight
    )
    assert decided(actions) == committed(
        [
            Record(RecordFill(first_sale, position_id, False)),
            Record(RecordPositionChanged(position_id, rest, average)),
            Emit(PositionChanged(left)),
            *send(exit_intent(again.cl_ord_id, rest, at(12)), position_id, f"exit: {why}"),
            *saves(desk),
        ]
    )
    assert logged(actions) == [("WARNING", SYMBOL)]
    desk.on(Submitted(again.cl_ord_id), at(12))
    closing = desk.on(seen(fill("X2", again.cl_ord_id, rest, "101", "0.23", side=SELL, ts=at(13))), at(13))
    assert [type(r) for r in journaled(closing)] == [RecordFill, RecordPositionClosed, SaveState, SaveState]
    assert desk.ledger.position(SYMBOL) == 0


def test_an_exit_held_back_because_its_stop_sold_part_first_sells_what_is_left_and_never_oversells() -> None:
    """Live, a stop may sell part of the position between the exit's decision and its cancel landing; the venue then
    holds the exit back (`HELD_BACK`), since it was sized for the whole position. The desk books the stop's fill and
    sends the exit again for exactly what is left: no sell beyond it."""
    opened = Opened.make()
    desk = opened.desk
    exit_ = opened.exit_requested(10)
    part = D("5")
    desk.on(FillSeen(fill("SP1", opened.stop, part, "98", "0.2", side=SELL, ts=at(11)), journaled=False), at(11))
    desk.on(event(opened.stop, S.CANCELLED, at(11), filled_qty=part), at(11))
    actions = desk.on(event(exit_, S.CANCELLED, at(12), reason=HELD_BACK), at(12))

    (again,) = [a for a in actions if isinstance(a, Submit)]
    assert (again.intent.purpose, again.intent.qty, again.after_cancels) == (OrderPurpose.EXIT, QTY - part, ())
    assert desk.ledger.position(SYMBOL) == QTY - part
    assert logged(actions) == [("WARNING", SYMBOL)]
