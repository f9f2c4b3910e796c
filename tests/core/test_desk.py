"""The desk (the order router's pure decisions): what it asks the router to do, action by action, for signals,
venue events, fills, exits, stop amends, entry timeouts, the kill switch and safe mode."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from crocbot.core.desk import Action, Desk, Emit, EntryTTL, Note, Record, StartTimer
from crocbot.core.messages import (
    ClosedTrade,
    CommandRejected,
    ExitReason,
    ExitRequest,
    OrderAmended,
    OrderIntent,
    OrderPurpose,
    OrderStatus,
    OrderType,
    Position,
    PositionChanged,
    PositionClosed,
    PositionOpened,
    PositionSide,
    SafeModeChanged,
    Side,
    StopAmendRequest,
    StopKind,
    TradeContext,
)
from crocbot.core.messages.commands import Amend, Cancel, Submit
from crocbot.core.messages.journal import (
    EntryBrackets,
    RecordPositionChanged,
    RecordPositionClosed,
    RecordPositionOpened,
    RecordStop,
    SaveState,
)
from crocbot.core.money import fmt
from crocbot.core.reconcile import NEVER_SENT
from tests.core.desk_support import (
    ETH,
    QTY,
    SOL,
    SYMBOL,
    T0,
    D,
    Opened,
    at,
    event,
    exit_intent,
    fill,
    make_desk,
    saves,
    send,
    sent,
    signal,
    stop_intent,
)

S = OrderStatus
SELL = Side.SELL


def position(
    opened: Opened,
    *,
    qty: Decimal = QTY,
    entry: str | Decimal = "100",
    stop: str = "98",
    stop_live: bool = True,
    initial_stop: str = "98",
    symbol: str = SYMBOL,
) -> Position:
    return Position(
        opened.position_id,
        symbol,
        PositionSide.LONG,
        qty,
        D(entry),
        D(stop),
        at(2),
        take_profit=D("106"),
        stop_live=stop_live,
        initial_stop=D(initial_stop),
    )


def entry_acked(desk: Desk) -> str:
    """A signal's limit entry, journaled, sent and acknowledged; returns its client id."""
    entry = sent(desk.on_signal(signal(), T0), OrderPurpose.ENTRY)
    desk.submitted(entry.cl_ord_id, T0)
    assert desk.on_order_event(event(entry.cl_ord_id, S.ACKED, at(1), order_id="OE1"), at(1)) == []
    return entry.cl_ord_id


# -- a. signals ----------------------------------------------------------------------------------------------


def test_a_signal_sends_a_risk_sized_limit_entry_and_starts_its_ttl() -> None:
    desk = make_desk()
    actions = desk.on_signal(signal(), T0)
    entry = sent(actions, OrderPurpose.ENTRY)
    position_id = "p" + entry.cl_ord_id[3:]
    assert entry.cl_ord_id.startswith("cbe")
    assert actions == [
        *send(
            OrderIntent(
                cl_ord_id=entry.cl_ord_id,
                symbol=SYMBOL,
                side=Side.BUY,
                order_type=OrderType.LIMIT,
                qty=D("15.68381430"),  # 50 USD of risk over 3.188 USD per unit, down to 1e-8
                purpose=OrderPurpose.ENTRY,
                ts=T0,
                limit_price=D("100.00"),
            ),
            position_id,
            "ema_trend: fast above slow",
            # journaled with the entry: a restart can protect it, and the trade log names strategy and planned entry
            EntryBrackets(D("98"), D("106"), "ema_trend", D("100")),
        ),
        StartTimer(30.0, EntryTTL(entry.cl_ord_id, 1)),
    ]
    state = desk.positions[position_id]
    assert (state.qty, state.stop, state.initial_stop, state.take_profit, state.entry_cl_ord_id) == (
        D("0"),
        D("98"),
        D("98"),
        D("106"),
        entry.cl_ord_id,
    )
    assert desk.by_symbol == {SYMBOL: position_id}
    assert desk.orders[entry.cl_ord_id].status is S.CREATED
    assert desk.risk.day == T0.date()  # the signal started the risk day
    assert desk.risk.day_start_equity == D("10000")


def test_the_limit_price_is_on_the_price_grid_and_never_above_the_signal() -> None:
    desk = make_desk()
    assert sent(desk.on_signal(signal("100.009"), T0), OrderPurpose.ENTRY).limit_price == D("100.00")


def test_the_limit_price_is_a_multiple_of_a_tick_that_is_not_a_power_of_ten() -> None:
    nickel = dataclasses.replace(SOL, price_increment=D("0.05"))
    desk = make_desk(instruments=(nickel,))
    limit = sent(desk.on_signal(signal("100.07"), T0), OrderPurpose.ENTRY).limit_price
    assert limit == D("100.05")  # quantize(0.05) alone would keep 100.07, which Kraken refuses
    assert limit is not None
    assert limit % D("0.05") == 0


def test_a_market_entry_has_no_price_and_no_ttl() -> None:
    desk = make_desk(entry_order="market")
    actions = desk.on_signal(signal(), T0)
    entry = sent(actions, OrderPurpose.ENTRY)
    assert [type(a) for a in actions] == [Record, Submit]  # journaled, sent, and no TTL timer
    assert (entry.order_type, entry.limit_price, entry.qty) == (OrderType.MARKET, None, QTY)


def test_a_second_signal_for_the_same_symbol_does_nothing() -> None:
    desk = make_desk()
    desk.on_signal(signal(), T0)
    assert desk.on_signal(signal("101", "99", "107", ts=at(5)), at(5)) == []
    assert len(desk.orders) == 1
    opened = Opened.make(make_desk())
    assert opened.desk.on_signal(signal(ts=at(9)), at(9)) == []


def test_a_short_signal_is_only_noted() -> None:
    desk = make_desk()
    actions = desk.on_signal(signal("100", "102", "94", side=PositionSide.SHORT), T0)
    assert actions == [Note("INFO", "short signal ignored: spot trading is long only", SYMBOL)]
    assert (desk.orders, desk.positions, desk.by_symbol) == ({}, {}, {})


def test_a_signal_for_an_instrument_not_traded_is_noted() -> None:
    desk = make_desk()
    actions = desk.on_signal(signal(symbol="XRP/USD"), T0)
    assert actions == [Note("WARNING", "signal for XRP/USD, which crocbot does not trade", "XRP/USD")]
    assert desk.orders == {}


def test_no_entry_while_the_kill_switch_is_tripped() -> None:
    desk = make_desk()
    desk.risk.roll_day(T0, D("10000"))
    loss = ClosedTrade(
        "ETH/USD:x", "ETH/USD", PositionSide.LONG, D("1"), D("1000"), D("690"), D("0"), D("-310"), T0, T0
    )
    desk.risk.on_trade_closed(loss, now=T0, equity=D("9690"))
    assert desk.risk.kill_switch_tripped
    actions = desk.on_signal(signal(ts=at(1)), at(1))
    assert actions == [
        Note("INFO", "entry refused: kill switch tripped for 2026-01-05: no new entries until 00:00 UTC", SYMBOL)
    ]
    assert (desk.orders, desk.by_symbol) == ({}, {})


def test_no_entry_in_safe_mode() -> None:
    desk = make_desk()
    desk.set_safe("market data not fresh", True, T0)
    actions = desk.on_signal(signal(), T0)
    assert actions == [
        Note(
            "INFO",
            "entry refused: safe mode (market data not fresh): no new entries, exits and stops carry on",
            SYMBOL,
        )
    ]
    assert (desk.orders, desk.by_symbol) == ({}, {})


def test_a_working_entry_counts_against_the_open_position_limit() -> None:
    desk = make_desk(max_open_positions=1)
    desk.on_signal(signal(symbol="ETH/USD"), T0)  # not filled yet
    actions = desk.on_signal(signal(), T0)
    assert actions == [
        Note("INFO", "entry refused: 1 positions are open, the maximum is 1: no new entry on SOL/USD", SYMBOL)
    ]


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
    stop = sent(desk.on_fill(fill("F1", entry, "10", "100", "0.4", ts=at(2)), at(2)), OrderPurpose.STOP)
    desk.submitted(stop.cl_ord_id, at(2))
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
    desk.on_fill(fill("F1", entry, "10", "100", "0.4", ts=at(2)), at(2))
    cash = desk.ledger.cash
    assert desk.on_fill(fill("F1", entry, "10", "100", "0.4", ts=at(2)), at(3)) == []
    assert (desk.ledger.cash, desk.ledger.position(SYMBOL)) == (cash, D("10"))


# -- c. the stop goes live -----------------------------------------------------------------------------------


def test_an_acked_stop_is_live_recorded_and_announced() -> None:
    desk = make_desk()
    entry = entry_acked(desk)
    position_id = desk.by_symbol[SYMBOL]
    stop = sent(desk.on_fill(fill("F1", entry, QTY, "100", "0.62", ts=at(2)), at(2)), OrderPurpose.STOP)
    desk.submitted(stop.cl_ord_id, at(2))
    actions = desk.on_order_event(event(stop.cl_ord_id, S.ACKED, at(3), order_id="OS1"), at(3))
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
    assert actions == [
        Record(RecordStop(position_id, D("98"), StopKind.INITIAL, at(3), stop.cl_ord_id)),
        Emit(PositionChanged(live)),
    ]
    assert desk.positions[position_id].stop_live is True
    assert desk.orders[stop.cl_ord_id].venue_id == "OS1"
    assert desk.on_order_event(event(stop.cl_ord_id, S.ACKED, at(4)), at(4)) == []  # a repeat changes nothing


# -- d. exits ------------------------------------------------------------------------------------------------


def _open_in_two_fills() -> tuple[Desk, str, str]:
    desk = make_desk()
    entry = entry_acked(desk)
    stop = sent(desk.on_fill(fill("F1", entry, "10", "100", "0.4", ts=at(2)), at(2)), OrderPurpose.STOP)
    desk.submitted(stop.cl_ord_id, at(2))
    desk.on_fill(fill("F2", entry, "5.68381430", "100.2", "0.23", ts=at(3)), at(3))
    desk.on_order_event(event(stop.cl_ord_id, S.ACKED, at(4)), at(4))
    return desk, desk.by_symbol[SYMBOL], stop.cl_ord_id


def test_an_exit_cancels_the_stop_first_then_sells_at_market_and_the_close_is_booked_with_fees() -> None:
    desk, position_id, stop = _open_in_two_fills()
    request = ExitRequest(position_id, SYMBOL, "take profit", at(10), ExitReason.TAKE_PROFIT)
    actions = desk.on_exit_request(request, at(10))
    exit_ = sent(actions, OrderPurpose.EXIT)
    assert exit_.cl_ord_id.startswith("cbx")
    assert actions == [
        Note("INFO", f"exit {position_id}: take profit", SYMBOL),
        Cancel(stop, SYMBOL, at(10)),
        # the exit goes out only once the venue confirms the stop's cancel
        *send(exit_intent(exit_.cl_ord_id, QTY, at(10)), position_id, "exit: take profit", after_cancels=(stop,)),
    ]
    assert desk.positions[position_id].exiting is True
    assert desk.on_exit_request(ExitRequest(position_id, SYMBOL, "again", at(11)), at(11)) == []
    desk.submitted(exit_.cl_ord_id, at(10))
    assert desk.on_order_event(event(stop, S.CANCELLED, at(11)), at(11)) == []  # expected while exiting
    closing = desk.on_fill(fill("X1", exit_.cl_ord_id, QTY, "104", "0.65", side=SELL, ts=at(12)), at(12))
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
    assert closing[1:] == [
        Record(RecordPositionClosed(position_id, at(12), trade, context)),
        Emit(PositionClosed(position_id, SYMBOL, at(12), trade)),
        *saves(desk),
    ]
    assert isinstance(closing[0], Note)
    assert (closing[0].level, closing[0].symbol) == ("INFO", SYMBOL)  # the close, for a trader to read
    assert not any(isinstance(a, Submit | Amend | Cancel) for a in closing)
    assert desk.ledger.cash == D("10060.318494340")
    assert desk.positions[position_id].closed
    assert desk.by_symbol == {}
    assert desk.risk.daily_realized == D("60.318494340")
    # the symbol is free again
    assert sent(desk.on_signal(signal(ts=at(20)), at(20)), OrderPurpose.ENTRY).symbol == SYMBOL


def test_a_close_before_the_stop_cancel_is_confirmed_cancels_the_stop_again() -> None:
    desk, position_id, stop = _open_in_two_fills()
    exit_ = sent(desk.on_exit_request(ExitRequest(position_id, SYMBOL, "manual", at(10)), at(10)), OrderPurpose.EXIT)
    desk.submitted(exit_.cl_ord_id, at(10))
    closing = desk.on_fill(fill("X1", exit_.cl_ord_id, QTY, "104", "0.65", side=SELL, ts=at(12)), at(12))
    assert closing[0] == Cancel(stop, SYMBOL, at(12))
    assert [type(a) for a in closing[1:]] == [Note, Record, Emit, Record, Record]


def test_an_exit_request_for_an_unknown_or_closed_position_does_nothing() -> None:
    opened = Opened.make()
    assert opened.desk.on_exit_request(ExitRequest("nope", SYMBOL, "manual", at(9)), at(9)) == []
    desk = make_desk()
    desk.on_signal(signal(), T0)
    position_id = desk.by_symbol[SYMBOL]
    assert desk.on_exit_request(ExitRequest(position_id, SYMBOL, "no fill yet", at(9)), at(9)) == []


def test_a_stop_fill_closes_the_position() -> None:
    opened = Opened.make()
    desk = opened.desk
    actions = desk.on_fill(fill("S1", opened.stop, QTY, "98", "0.61", side=SELL, ts=at(10)), at(10))
    record = actions[2]
    assert isinstance(record, Record)
    closed = record.message
    assert isinstance(closed, RecordPositionClosed)
    trade = closed.trade
    assert isinstance(trade, ClosedTrade)
    # -2 * 15.68381430 - (0.62 + 0.61)
    assert trade.realized_pnl == D("-32.59762860")
    assert closed.context is not None
    assert closed.context.exit_reason is ExitReason.STOP
    assert actions[1:3] == [
        Note("INFO", "SOL/USD cooling down until 2026-01-05 09:15:10 UTC after a loss of 32.60 USD", SYMBOL),
        Record(RecordPositionClosed(opened.position_id, at(10), trade, closed.context)),
    ]
    assert actions[3:] == [Emit(PositionClosed(opened.position_id, SYMBOL, at(10), trade)), *saves(desk)]


# -- e. the stop vanishes ------------------------------------------------------------------------------------


def test_a_stop_cancelled_by_the_venue_means_an_immediate_exit() -> None:
    opened = Opened.make()
    desk = opened.desk
    actions = desk.on_order_event(event(opened.stop, S.CANCELLED, at(10), reason="EOrder:Canceled by system"), at(10))
    why = f"protective stop {opened.stop} cancelled (EOrder:Canceled by system)"
    exit_ = sent(actions, OrderPurpose.EXIT)
    assert actions == [
        Note("CRITICAL", f"{why}: exiting the position", SYMBOL),
        *send(exit_intent(exit_.cl_ord_id, QTY, at(10)), opened.position_id, f"exit: {why}"),
    ]
    assert (opened.position.stop_order, opened.position.stop_live, opened.position.exiting) == (None, False, True)


def test_a_stop_rejected_by_the_venue_means_an_immediate_exit() -> None:
    desk = make_desk()
    entry = entry_acked(desk)
    position_id = desk.by_symbol[SYMBOL]
    stop = sent(desk.on_fill(fill("F1", entry, QTY, "100", "0.62", ts=at(2)), at(2)), OrderPurpose.STOP)
    desk.submitted(stop.cl_ord_id, at(2))
    actions = desk.on_order_event(event(stop.cl_ord_id, S.REJECTED, at(3), reason="EOrder:Insufficient funds"), at(3))
    why = f"protective stop {stop.cl_ord_id} rejected (EOrder:Insufficient funds)"
    exit_ = sent(actions, OrderPurpose.EXIT)
    assert actions == [
        Note("CRITICAL", f"{why}: exiting the position", SYMBOL),
        *send(exit_intent(exit_.cl_ord_id, QTY, at(3)), position_id, f"exit: {why}"),
    ]


def test_a_stop_that_was_never_sent_because_crocbot_died_is_placed_again_not_exited() -> None:
    """Reconciliation closes a journaled stop the venue never got as REJECTED (NEVER_SENT): the venue refused
    nothing, so the position is protected again; an exit would pay fees and slippage for a crash of crocbot's."""
    desk = make_desk()
    entry = entry_acked(desk)
    position_id = desk.by_symbol[SYMBOL]
    stop = sent(desk.on_fill(fill("F1", entry, QTY, "100", "0.62", ts=at(2)), at(2)), OrderPurpose.STOP)
    desk.submitted(stop.cl_ord_id, at(2))

    actions = desk.on_order_event(event(stop.cl_ord_id, S.REJECTED, at(9), reason=NEVER_SENT), at(9))

    again = sent(actions, OrderPurpose.STOP)
    assert (again.qty, again.trigger_price) == (QTY, D(98))
    assert not [a for a in actions if isinstance(a, Submit) and a.intent.purpose is OrderPurpose.EXIT]
    position = desk.positions[position_id]
    assert (position.stop_order, position.refusals, position.exiting) == (again.cl_ord_id, 0, False)


def test_an_exit_that_was_never_sent_is_no_refusal_and_leaves_the_position_protected() -> None:
    opened = Opened.make()
    desk, position = opened.desk, opened.position
    exit_ = sent(desk.on_exit_request(ExitRequest(opened.position_id, SYMBOL, "test", at(5)), at(5)), OrderPurpose.EXIT)
    desk.submitted(exit_.cl_ord_id, at(5))

    actions = desk.on_order_event(event(exit_.cl_ord_id, S.REJECTED, at(9), reason=NEVER_SENT), at(9))

    assert actions[0] == Note("WARNING", f"exit {exit_.cl_ord_id} rejected: {NEVER_SENT}", SYMBOL)
    assert (position.refusals, position.exiting) == (0, False)


def test_a_stop_that_could_not_be_journaled_means_an_immediate_exit() -> None:
    desk = make_desk()
    entry = entry_acked(desk)
    stop = sent(desk.on_fill(fill("F1", entry, QTY, "100", "0.62", ts=at(2)), at(2)), OrderPurpose.STOP)
    actions = desk.not_sent(stop.cl_ord_id, at(2), "journal failed: disk full")
    assert actions[0] == Note(
        "CRITICAL",
        f"protective stop {stop.cl_ord_id} rejected (journal failed: disk full): exiting the position",
        SYMBOL,
    )
    assert sent(actions, OrderPurpose.EXIT).qty == QTY


# -- f. the exit fails ---------------------------------------------------------------------------------------


def test_a_rejected_exit_after_the_stop_was_cancelled_places_the_stop_again() -> None:
    opened = Opened.make()
    desk = opened.desk
    exit_ = sent(
        desk.on_exit_request(ExitRequest(opened.position_id, SYMBOL, "manual", at(10)), at(10)), OrderPurpose.EXIT
    )
    desk.submitted(exit_.cl_ord_id, at(10))
    assert desk.on_order_event(event(opened.stop, S.CANCELLED, at(11)), at(11)) == []
    actions = desk.on_order_event(
        event(exit_.cl_ord_id, S.REJECTED, at(12), reason="EOrder:Insufficient funds"), at(12)
    )
    stop = sent(actions, OrderPurpose.STOP)
    assert stop.cl_ord_id != opened.stop
    assert actions == [
        Note("ERROR", f"exit {exit_.cl_ord_id} rejected: EOrder:Insufficient funds", SYMBOL),
        *send(stop_intent(stop.cl_ord_id, QTY, "98", at(12)), opened.position_id, "protective stop at 98"),
        Emit(PositionChanged(position(opened, stop_live=False))),
    ]
    assert (opened.position.exiting, opened.position.exit_orders, opened.position.stop_order) == (
        False,
        [],
        stop.cl_ord_id,
    )
    # the SL manager may ask again
    assert sent(
        desk.on_exit_request(ExitRequest(opened.position_id, SYMBOL, "retry", at(13)), at(13)), OrderPurpose.EXIT
    )


def test_a_rejected_exit_with_the_stop_still_there_keeps_it_and_places_it_again_once_its_cancel_lands() -> None:
    opened = Opened.make()
    desk = opened.desk
    exit_ = sent(
        desk.on_exit_request(ExitRequest(opened.position_id, SYMBOL, "manual", at(10)), at(10)), OrderPurpose.EXIT
    )
    desk.submitted(exit_.cl_ord_id, at(10))
    actions = desk.on_order_event(event(exit_.cl_ord_id, S.REJECTED, at(11), reason="EGeneral:Internal error"), at(11))
    assert actions == [
        Note("ERROR", f"exit {exit_.cl_ord_id} rejected: EGeneral:Internal error", SYMBOL),
        Emit(PositionChanged(position(opened))),
    ]
    assert opened.position.exiting is False
    # The cancel sent with the exit then lands. The venue did not take the stop away, the desk did, for an exit
    # that failed: the position is protected again rather than sold into the market that refused the exit.
    landed = desk.on_order_event(event(opened.stop, S.CANCELLED, at(12)), at(12))
    stop = sent(landed, OrderPurpose.STOP)
    assert landed == [
        Note("WARNING", f"stop {opened.stop} cancelled for an exit that failed: placing it again", SYMBOL),
        *send(stop_intent(stop.cl_ord_id, QTY, "98", at(12)), opened.position_id, "protective stop at 98"),
        Emit(PositionChanged(position(opened, stop_live=False))),
    ]
    assert (opened.position.stop_order, opened.position.exiting) == (stop.cl_ord_id, False)


def test_a_stop_cancel_the_venue_refused_is_not_taken_for_the_desks_own() -> None:
    opened = Opened.make()
    desk = opened.desk
    exit_ = sent(
        desk.on_exit_request(ExitRequest(opened.position_id, SYMBOL, "manual", at(10)), at(10)), OrderPurpose.EXIT
    )
    desk.submitted(exit_.cl_ord_id, at(10))
    desk.on_command_rejected(CommandRejected(opened.stop, "cancel", "EGeneral:Internal error", at(11)), at(11))
    desk.on_order_event(event(exit_.cl_ord_id, S.REJECTED, at(11), reason="EGeneral:Internal error"), at(11))
    # the stop is still there; should the venue drop it later, that is a vanished stop
    landed = desk.on_order_event(event(opened.stop, S.CANCELLED, at(20), reason="EOrder:Canceled by system"), at(20))
    assert landed[0] == Note(
        "CRITICAL", f"protective stop {opened.stop} cancelled (EOrder:Canceled by system): exiting the position", SYMBOL
    )
    assert sent(landed, OrderPurpose.EXIT).qty == QTY


def test_an_exit_cancelled_for_lack_of_liquidity_is_a_failed_exit_too() -> None:
    # A market order the book cannot fill is cancelled (Kraken, and the paper venue). Left `exiting`, the
    # position would have no stop and would ignore every later exit request.
    opened = Opened.make()
    desk = opened.desk
    exit_ = sent(
        desk.on_exit_request(ExitRequest(opened.position_id, SYMBOL, "manual", at(10)), at(10)), OrderPurpose.EXIT
    )
    desk.submitted(exit_.cl_ord_id, at(10))
    desk.on_order_event(event(opened.stop, S.CANCELLED, at(11)), at(11))
    desk.on_fill(fill("X1", exit_.cl_ord_id, "5", "99", "0.2", side=SELL, ts=at(12)), at(12))
    actions = desk.on_order_event(event(exit_.cl_ord_id, S.CANCELLED, at(12), reason="no liquidity"), at(12))
    stop = sent(actions, OrderPurpose.STOP)
    rest = QTY - 5
    assert actions == [
        Note("ERROR", f"exit {exit_.cl_ord_id} cancelled: no liquidity", SYMBOL),
        *send(stop_intent(stop.cl_ord_id, rest, "98", at(12)), opened.position_id, "protective stop at 98"),
        Emit(PositionChanged(position(opened, qty=rest, stop_live=False))),
    ]
    assert opened.position.exiting is False


def test_an_exit_that_leaves_base_behind_exits_the_rest() -> None:
    # An entry fill raced the exit: the exit sold what the desk knew of, and the rest would sit unprotected.
    desk = make_desk()
    entry = entry_acked(desk)
    position_id = desk.by_symbol[SYMBOL]
    stop = sent(desk.on_fill(fill("F1", entry, "10", "100", "0.4", ts=at(2)), at(2)), OrderPurpose.STOP)
    desk.submitted(stop.cl_ord_id, at(2))
    desk.on_order_event(event(stop.cl_ord_id, S.ACKED, at(3)), at(3))
    leaving = desk.on_exit_request(ExitRequest(position_id, SYMBOL, "manual", at(10)), at(10))
    exit_ = sent(leaving, OrderPurpose.EXIT)
    assert leaving[1:3] == [Cancel(entry, SYMBOL, at(10)), Cancel(stop.cl_ord_id, SYMBOL, at(10))]  # then the exit
    assert exit_.qty == D("10")
    desk.submitted(exit_.cl_ord_id, at(10))
    desk.on_fill(fill("F2", entry, "5.68381430", "100.2", "0.23", ts=at(11)), at(11))  # the race
    desk.on_order_event(event(stop.cl_ord_id, S.CANCELLED, at(11)), at(11))
    desk.on_order_event(event(entry, S.CANCELLED, at(11)), at(11))
    actions = desk.on_fill(fill("X1", exit_.cl_ord_id, "10", "101", "0.4", side=SELL, ts=at(12)), at(12))
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
    assert actions == [
        Record(RecordPositionChanged(position_id, rest, average)),
        Emit(PositionChanged(left)),
        Note("WARNING", f"{why}: exiting the rest", SYMBOL),
        *send(exit_intent(again.cl_ord_id, rest, at(12)), position_id, f"exit: {why}"),
        *saves(desk),
    ]
    desk.submitted(again.cl_ord_id, at(12))
    closing = desk.on_fill(fill("X2", again.cl_ord_id, rest, "101", "0.23", side=SELL, ts=at(13)), at(13))
    assert isinstance(closing[1], Record)
    assert isinstance(closing[1].message, RecordPositionClosed)
    assert desk.ledger.position(SYMBOL) == 0


# -- g. stop amends ------------------------------------------------------------------------------------------


def _amend(opened: Opened, stop: str, seconds: float = 20, kind: StopKind = StopKind.BREAKEVEN) -> list[Action]:
    request = StopAmendRequest(opened.position_id, SYMBOL, D(stop), kind, at(seconds))
    return opened.desk.on_stop_amend(request, at(seconds))


def test_a_tighter_stop_below_the_market_is_amended_and_confirmed() -> None:
    opened = Opened.make()
    opened.desk.on_mark(SYMBOL, D("103"))
    assert _amend(opened, "100") == [Amend(opened.stop, SYMBOL, at(20), trigger_price=D("100"))]
    assert opened.position.pending_stop == (D("100"), StopKind.BREAKEVEN)
    assert opened.position.stop == D("98")  # only once the venue confirms
    assert _amend(opened, "101", 21) == []  # one amend in flight at a time
    actions = opened.desk.on_amended(OrderAmended(opened.stop, at(22), trigger_price=D("100")), at(22))
    assert actions == [
        Record(RecordStop(opened.position_id, D("100"), StopKind.BREAKEVEN, at(22), opened.stop)),
        Emit(PositionChanged(position(opened, stop="100"))),
        Amend(opened.stop, SYMBOL, at(22), trigger_price=D("101")),  # the wish that waited goes once this one ended
    ]
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
    entry = entry_acked(desk)
    position_id = desk.by_symbol[SYMBOL]
    stop = sent(desk.on_fill(fill("F1", entry, QTY, "100", "0.62", ts=at(2)), at(2)), OrderPurpose.STOP)
    desk.submitted(stop.cl_ord_id, at(2))
    request = StopAmendRequest(position_id, SYMBOL, D("99"), StopKind.TRAILING, at(3))
    assert desk.on_stop_amend(request, at(3)) == []  # not acked yet
    opened = Opened.make()
    opened.desk.on_exit_request(ExitRequest(opened.position_id, SYMBOL, "manual", at(10)), at(10))
    assert _amend(opened, "99", 11) == []


def test_a_refused_amend_clears_the_pending_stop() -> None:
    opened = Opened.make()
    _amend(opened, "99")
    refused = CommandRejected(opened.stop, "amend", "EOrder:Invalid price", at(21))
    assert opened.desk.on_command_rejected(refused, at(21)) == [
        Note("WARNING", f"amend of {opened.stop} refused: EOrder:Invalid price", SYMBOL)
    ]
    assert opened.position.pending_stop is None
    assert _amend(opened, "99", 22) == [Amend(opened.stop, SYMBOL, at(22), trigger_price=D("99"))]


def test_a_cancel_of_an_order_already_gone_is_only_informational() -> None:
    desk = make_desk()
    refused = CommandRejected("cbsgone", "cancel", "EOrder:Invalid order", T0)
    assert desk.on_command_rejected(refused, T0) == [
        Note("INFO", "cancel of cbsgone refused: EOrder:Invalid order", None)
    ]


def test_an_amend_confirmed_without_a_pending_request_is_taken_as_trailing() -> None:
    opened = Opened.make()
    actions = opened.desk.on_amended(OrderAmended(opened.stop, at(22), trigger_price=D("99.5")), at(22))
    assert actions[0] == Record(RecordStop(opened.position_id, D("99.5"), StopKind.TRAILING, at(22), opened.stop))
    assert opened.desk.on_amended(OrderAmended(opened.stop, at(23), trigger_price=D("99.5")), at(23)) == []


# -- h. entry timeouts ---------------------------------------------------------------------------------------


def test_a_resting_entry_is_chased_up_to_max_repositions_then_cancelled() -> None:
    desk = make_desk()
    entry = entry_acked(desk)
    # 100 * 1.0005 = 100.05; 100.05 * 1.0005 = 100.100025 -> 100.11; 100.11 * 1.0005 = 100.160055 -> 100.17
    for attempt, price in ((1, "100.05"), (2, "100.11"), (3, "100.17")):
        actions = desk.on_entry_ttl(EntryTTL(entry, attempt), at(30 * attempt))
        assert actions == [
            Amend(entry, SYMBOL, at(30 * attempt), limit_price=D(price)),
            StartTimer(30.0, EntryTTL(entry, attempt + 1)),
        ]
        assert desk.orders[entry].limit_price != D(price)  # not before the venue confirms it
        ts = at(30 * attempt + 1)
        assert desk.on_amended(OrderAmended(entry, ts, limit_price=D(price)), ts) == []
        assert desk.orders[entry].limit_price == D(price)
    assert desk.on_entry_ttl(EntryTTL(entry, 4), at(120)) == [Cancel(entry, SYMBOL, at(120))]
    gone = desk.on_order_event(event(entry, S.CANCELLED, at(121), reason="User requested"), at(121))
    assert gone == [Note("INFO", f"entry {entry} cancelled (User requested): no position", SYMBOL)]
    assert desk.by_symbol == {}


def test_a_chase_that_would_break_the_fail_safe_cancels_instead() -> None:
    desk = make_desk(chase_step="0.02")
    entry = entry_acked(desk)
    assert desk.on_entry_ttl(EntryTTL(entry, 1), at(30))[0] == Amend(entry, SYMBOL, at(30), limit_price=D("102.00"))
    desk.on_amended(OrderAmended(entry, at(31), limit_price=D("102.00")), at(31))
    # 102 * 1.02 = 104.04: 15.68381430 * (6.04 + 202.04 * 0.006) = 113.74 USD > 95 USD
    assert desk.on_entry_ttl(EntryTTL(entry, 2), at(60)) == [
        Note(
            "INFO",
            f"entry {entry} not chased further: SOL/USD: fail-safe: a long stop at 98 on 15.68381430 SOL from 104.04 "
            "could lose 113.74 USD, more than 95 % of the max loss per trade (95.00 USD); the widest stop within it "
            "is 99.21",
            SYMBOL,
        ),
        Cancel(entry, SYMBOL, at(60)),
    ]


def test_a_zero_chase_step_still_moves_one_tick() -> None:
    desk = make_desk(chase_step="0")
    entry = entry_acked(desk)
    assert desk.on_entry_ttl(EntryTTL(entry, 1), at(30))[0] == Amend(entry, SYMBOL, at(30), limit_price=D("100.01"))


def test_a_partly_filled_entry_is_chased_and_its_cancel_keeps_the_position() -> None:
    desk = make_desk()
    entry = entry_acked(desk)
    desk.on_fill(fill("F1", entry, "10", "100", "0.4", ts=at(2)), at(2))
    assert desk.on_entry_ttl(EntryTTL(entry, 1), at(30))[0] == Amend(entry, SYMBOL, at(30), limit_price=D("100.05"))
    assert desk.on_order_event(event(entry, S.CANCELLED, at(31)), at(31)) == []
    assert desk.positions[desk.by_symbol[SYMBOL]].open


def test_an_entry_ttl_after_the_fill_or_for_an_unknown_order_does_nothing() -> None:
    desk = make_desk()
    entry = entry_acked(desk)
    desk.on_fill(fill("F1", entry, QTY, "100", "0.62", ts=at(2)), at(2))
    assert desk.on_entry_ttl(EntryTTL(entry, 1), at(30)) == []
    assert desk.on_entry_ttl(EntryTTL("cbenope", 1), at(30)) == []


def test_an_entry_rejected_by_the_venue_frees_the_symbol() -> None:
    desk = make_desk()
    entry = sent(desk.on_signal(signal(), T0), OrderPurpose.ENTRY)
    desk.submitted(entry.cl_ord_id, T0)
    actions = desk.on_order_event(event(entry.cl_ord_id, S.REJECTED, at(1), reason="EOrder:Insufficient funds"), at(1))
    assert actions == [
        Note("WARNING", f"entry {entry.cl_ord_id} rejected (EOrder:Insufficient funds): no position", SYMBOL)
    ]
    assert desk.by_symbol == {}


def test_an_entry_that_could_not_be_journaled_is_never_sent() -> None:
    desk = make_desk()
    entry = sent(desk.on_signal(signal(), T0), OrderPurpose.ENTRY)
    actions = desk.not_sent(entry.cl_ord_id, T0, "journal failed: disk full")
    assert actions == [
        Note("WARNING", f"entry {entry.cl_ord_id} rejected (journal failed: disk full): no position", SYMBOL)
    ]
    assert (desk.orders[entry.cl_ord_id].status, desk.by_symbol) == (S.REJECTED, {})


# -- i. an entry filled worse than planned -------------------------------------------------------------------


def test_a_worse_fill_tightens_the_stop_to_what_the_risk_allows() -> None:
    desk = make_desk(entry_order="market")
    entry = sent(desk.on_signal(signal(), T0), OrderPurpose.ENTRY)
    position_id = desk.by_symbol[SYMBOL]
    desk.submitted(entry.cl_ord_id, T0)
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
    assert actions == [
        Note("WARNING", "entry filled worse than planned; stop tightened to 98.16", SYMBOL),
        Record(RecordPositionOpened(opened)),
        Emit(PositionOpened(opened)),
        *send(stop_intent(stop.cl_ord_id, QTY, "98.16", at(2)), position_id, "protective stop at 98.16"),
        *saves(desk),
    ]
    assert desk.ledger.to_state()["positions"][SYMBOL]["initial_risk"] == "75.9096612120"  # QTY * (103 - 98.16)


def _worse_second_fill(desk: Desk) -> tuple[str, str, list[Action]]:
    """10 filled at 100 with its stop acked, then the rest of the entry at 110; returns position, stop, actions."""
    entry = entry_acked(desk)
    position_id = desk.by_symbol[SYMBOL]
    stop = sent(desk.on_fill(fill("F1", entry, "10", "100", "0.4", ts=at(2)), at(2)), OrderPurpose.STOP)
    desk.submitted(stop.cl_ord_id, at(2))
    desk.on_order_event(event(stop.cl_ord_id, S.ACKED, at(3)), at(3))
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

    assert actions == [
        Note("WARNING", "entry filled worse than planned; stop tightened to 98.79", SYMBOL),
        Record(RecordPositionChanged(position_id, QTY, average)),
        Emit(PositionChanged(announced("98", "98"))),  # the venue has not moved the stop yet
        Amend(stop, SYMBOL, at(4), qty=QTY, trigger_price=D("98.79")),
        *saves(desk),
    ]
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
    stop = sent(desk.on_fill(fill("F1", entry, "10", "100", "0.4", ts=at(2)), at(2)), OrderPurpose.STOP).cl_ord_id
    desk.submitted(stop, at(2))
    desk.on_order_event(event(stop, S.ACKED, at(3)), at(3))
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
    assert (state.stop, state.initial_stop, state.pending_stop) == (D("98.81"), D("98.81"), None)


def test_a_trigger_amend_in_flight_tighter_than_the_worse_fill_needs_is_kept() -> None:
    desk = make_desk()
    entry = entry_acked(desk)
    position_id = desk.by_symbol[SYMBOL]
    stop = sent(desk.on_fill(fill("F1", entry, "10", "100", "0.4", ts=at(2)), at(2)), OrderPurpose.STOP).cl_ord_id
    desk.submitted(stop, at(2))
    desk.on_order_event(event(stop, S.ACKED, at(3)), at(3))
    desk.on_mark(SYMBOL, D("101"))
    desk.on_stop_amend(StopAmendRequest(position_id, SYMBOL, D("99.5"), StopKind.BREAKEVEN, at(4)), at(4))
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
    entry = sent(desk.on_signal(signal("100", "99.99", "110"), T0), OrderPurpose.ENTRY)
    qty = D("78.51629006")  # 95 USD over 0.01 + 199.99 * 0.006 = 1.20994 USD per unit
    assert entry.qty == qty
    position_id = desk.by_symbol[SYMBOL]
    desk.submitted(entry.cl_ord_id, T0)
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
    assert actions == [
        Note("CRITICAL", f"{reason}; no stop fits the risk limit, exiting", SYMBOL),
        Record(RecordPositionOpened(opened)),
        Emit(PositionOpened(opened)),
        *send(exit_intent(exit_.cl_ord_id, qty, at(2)), position_id, f"exit: {reason}"),
        *saves(desk),
    ]
    assert desk.positions[position_id].stop_order is None


@pytest.mark.parametrize(("price", "stop"), [("97.5", "97.49"), ("98", "97.99")])
def test_an_entry_filled_at_or_through_the_stop_is_opened_with_a_stop_below_it_and_exited(
    price: str, stop: str
) -> None:
    # The market is already past the stop: the position is journaled (so it is known and protected after a crash)
    # with a stop one tick below the fill, which `Position` can describe, and it is sold at once.
    desk = make_desk(entry_order="market")
    entry = sent(desk.on_signal(signal(), T0), OrderPurpose.ENTRY)
    position_id = desk.by_symbol[SYMBOL]
    desk.submitted(entry.cl_ord_id, T0)
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
    assert actions == [
        Note(
            "CRITICAL",
            f"entry {price} is at or through the stop 98: the market is already past it; stop recorded at "
            f"{stop}, exiting at once",
            SYMBOL,
        ),
        Record(RecordPositionOpened(opened)),
        Emit(PositionOpened(opened)),
        *send(exit_intent(exit_.cl_ord_id, QTY, at(2)), position_id, f"exit: entry filled through the stop at {price}"),
        *saves(desk),
    ]
    state = desk.positions[position_id]
    assert (state.exiting, state.stop_order, state.stop, state.initial_stop) == (True, None, D(stop), D(stop))
    assert desk.ledger.to_state()["positions"][SYMBOL]["initial_risk"] is None  # no R for a trade never protected
    closing = desk.on_fill(fill("X1", exit_.cl_ord_id, QTY, "97", "0.6", side=SELL, ts=at(3)), at(3))
    assert isinstance(closing[-3], Emit)
    assert isinstance(closing[-3].message, PositionClosed)


def test_the_stop_set_below_a_fill_through_it_is_on_a_tick_grid_that_is_not_a_power_of_ten() -> None:
    nickel = dataclasses.replace(SOL, price_increment=D("0.05"))
    desk = make_desk(entry_order="market", instruments=(nickel,))
    entry = sent(desk.on_signal(signal(), T0), OrderPurpose.ENTRY)
    desk.submitted(entry.cl_ord_id, T0)
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
    stop = sent(desk.on_fill(fill("F1", entry, "10", "100", "0.4", ts=at(2)), at(2)), OrderPurpose.STOP).cl_ord_id
    desk.submitted(stop, at(2))
    desk.on_order_event(event(stop, S.ACKED, at(2)), at(2))
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
    assert actions == [
        Note(
            "CRITICAL",
            f"entry {average} is at or through the stop 98: the market is already past it; stop recorded at "
            "96.36, exiting at once",
            SYMBOL,
        ),
        Record(RecordPositionChanged(position_id, QTY, average)),
        Emit(PositionChanged(left)),
        Cancel(stop, SYMBOL, at(3)),
        *send(exit_intent(exit_.cl_ord_id, QTY, at(3)), position_id, f"exit: {why}", after_cancels=(stop,)),
        *saves(desk),
    ]


# the widest stop within 0.95 % of 9999.40: (price * 1.006 - 94.9943 / 15.68381430) / 0.994, up to the tick
@pytest.mark.parametrize(("price", "stop"), [("106", "101.19"), ("106.5", "101.70")])
def test_an_entry_filled_at_or_beyond_the_take_profit_drops_the_take_profit_and_carries_on(
    price: str, stop: str
) -> None:
    desk = make_desk(entry_order="market")
    entry = sent(desk.on_signal(signal(), T0), OrderPurpose.ENTRY)
    position_id = desk.by_symbol[SYMBOL]
    desk.submitted(entry.cl_ord_id, T0)
    actions = desk.on_fill(fill("F1", entry.cl_ord_id, QTY, price, "0.6", ts=at(2)), at(2))
    placed = sent(actions, OrderPurpose.STOP)
    opened = Position(
        position_id, SYMBOL, PositionSide.LONG, QTY, D(price), D(stop), at(2), take_profit=None, initial_stop=D(stop)
    )
    assert actions == [
        Note(
            "WARNING",
            f"entry {price}: hitting the take-profit 106 would not pay for the round trip's fees and slippage: "
            "take-profit dropped",
            SYMBOL,
        ),
        Note("WARNING", f"entry filled worse than planned; stop tightened to {stop}", SYMBOL),
        Record(RecordPositionOpened(opened)),
        Emit(PositionOpened(opened)),
        *send(stop_intent(placed.cl_ord_id, QTY, stop, at(2)), position_id, f"protective stop at {stop}"),
        *saves(desk),
    ]
    assert desk.positions[position_id].take_profit is None
    assert not desk.positions[position_id].exiting


# -- j. the kill switch --------------------------------------------------------------------------------------


def _two_positions(*, flatten: bool = False) -> tuple[Opened, Opened]:
    desk = make_desk(flatten_on_kill_switch=flatten)
    return Opened.make(desk), Opened.make(desk, symbol=ETH.symbol, tag="e")


def test_a_loss_that_trips_the_kill_switch_flattens_the_other_positions_when_configured() -> None:
    sol, eth = _two_positions(flatten=True)
    desk = sol.desk
    actions = desk.on_fill(fill("S1", sol.stop, QTY, "80", "0.5", side=SELL, ts=at(10)), at(10))
    trade = ClosedTrade(
        trade_id="SOL/USD:F1",
        symbol=SYMBOL,
        side=PositionSide.LONG,
        qty=QTY,
        entry_price=D("100"),
        exit_price=D("80"),
        fees=D("1.12"),
        realized_pnl=D("-314.79628600"),  # -20 * 15.68381430 - 0.62 - 0.5
        opened_at=at(2),
        closed_at=at(10),
        initial_risk=D("31.36762860"),
    )
    exit_ = sent(actions, OrderPurpose.EXIT)
    eth_qty = eth.position.qty
    context = closed_context(actions)
    assert actions[1:] == [
        Note("INFO", "SOL/USD cooling down until 2026-01-05 09:15:10 UTC after a loss of 314.80 USD", SYMBOL),
        Note(
            "WARNING",
            "kill switch tripped: daily loss 314.80 USD >= 3 % of 10000.00 USD; no new entries until 00:00 UTC",
            SYMBOL,
        ),
        Note("WARNING", "flatten_on_kill_switch is set: open positions are to be closed", SYMBOL),
        Record(RecordPositionClosed(sol.position_id, at(10), trade, context)),
        Emit(PositionClosed(sol.position_id, SYMBOL, at(10), trade)),
        Cancel(eth.stop, ETH.symbol, at(10)),
        *send(
            exit_intent(exit_.cl_ord_id, eth_qty, at(10), symbol=ETH.symbol),
            eth.position_id,
            "exit: kill switch",
            after_cancels=(eth.stop,),
        ),
        *saves(desk),
    ]
    assert desk.risk.kill_switch_tripped
    assert eth.position.exiting
    assert desk.risk.state().to_state()["kill_day"] == "2026-01-05"


def closed_context(actions: list[Action]) -> TradeContext | None:
    closes = [a.message for a in actions if isinstance(a, Record) and isinstance(a.message, RecordPositionClosed)]
    assert len(closes) == 1
    return closes[0].context


def test_a_kill_switch_without_flatten_leaves_the_other_positions_alone() -> None:
    sol, eth = _two_positions()
    actions = sol.desk.on_fill(fill("S1", sol.stop, QTY, "80", "0.5", side=SELL, ts=at(10)), at(10))
    assert not any(isinstance(a, Submit | Cancel) for a in actions)
    assert [a.text for a in actions if isinstance(a, Note)][1:] == [
        "SOL/USD cooling down until 2026-01-05 09:15:10 UTC after a loss of 314.80 USD",
        "kill switch tripped: daily loss 314.80 USD >= 3 % of 10000.00 USD; no new entries until 00:00 UTC",
    ]
    assert sol.desk.risk.kill_switch_tripped
    assert not eth.position.exiting


def test_the_kill_switch_blocks_entries_until_the_next_utc_day() -> None:
    sol, _ = _two_positions()
    desk = sol.desk
    desk.on_fill(fill("S1", sol.stop, QTY, "80", "0.5", side=SELL, ts=at(10)), at(10))
    assert desk.on_signal(signal(ts=at(20)), at(20)) == [
        Note("INFO", "entry refused: kill switch tripped for 2026-01-05: no new entries until 00:00 UTC", SYMBOL)
    ]
    assert desk.on_day_tick(at(3600)) == []  # still the same UTC day
    next_day = datetime(2026, 1, 6, 0, 0, 1, tzinfo=UTC)
    assert desk.on_day_tick(next_day) == [Note("INFO", "a new UTC day: the kill switch is reset"), *saves(desk)]
    state = desk.risk.state().to_state()
    # the new day starts from cash 8116.299524 plus ETH 15.68284190 at its cost of 100
    assert (state["kill_day"], state["day"], state["day_start_equity"]) == (None, "2026-01-06", "9684.58371400")
    assert desk.on_day_tick(next_day) == []
    assert sent(desk.on_signal(signal(ts=next_day), next_day), OrderPurpose.ENTRY).symbol == SYMBOL


def test_a_day_tick_without_a_tripped_kill_switch_does_nothing() -> None:
    desk = make_desk()
    assert desk.on_day_tick(T0) == []
    assert desk.risk.day == T0.date()


# -- k. safe mode --------------------------------------------------------------------------------------------


def test_safe_mode_changes_are_announced_once_each() -> None:
    desk = make_desk()
    assert desk.set_safe("feed stale", True, T0) == [
        Note("WARNING", "safe mode on: feed stale"),
        Emit(SafeModeChanged(True, ("feed stale",), T0)),
    ]
    assert desk.set_safe("feed stale", True, at(1)) == []
    assert desk.set_safe("breaker open", True, at(2)) == [
        Note("WARNING", "safe mode on: feed stale, breaker open"),
        Emit(SafeModeChanged(True, ("feed stale", "breaker open"), at(2))),
    ]
    assert desk.set_safe("feed stale", False, at(3)) == [
        Note("INFO", "safe mode on: breaker open (feed stale cleared)"),
        Emit(SafeModeChanged(True, ("breaker open",), at(3))),
    ]
    assert desk.set_safe("breaker open", False, at(4)) == [
        Note("INFO", "safe mode off: breaker open cleared"),
        Emit(SafeModeChanged(False, (), at(4))),
    ]
    assert desk.set_safe("breaker open", False, at(5)) == []
    assert desk.risk.safe_mode is False


def test_a_safe_mode_line_names_what_the_check_saw_and_whom_it_concerns() -> None:
    desk = make_desk()

    on = desk.set_safe("market data not fresh", True, T0, detail="books out of sync: ETH/USD", symbol="ETH/USD")
    off = desk.set_safe("market data not fresh", False, at(1))

    assert on[0] == Note("WARNING", "safe mode on: market data not fresh (books out of sync: ETH/USD)", "ETH/USD")
    assert off[0] == Note("INFO", "safe mode off: market data not fresh cleared")
    assert desk.risk.safe_reasons == ()


def test_safe_mode_every_start_passes_through_is_told_at_info_and_still_halts_entries() -> None:
    """No market data yet at start is not news: a WARNING on every healthy start teaches the operator to ignore
    the one that matters. Entries are halted all the same."""
    desk = make_desk()

    on = desk.set_safe("market data not fresh", True, T0, detail="not connected: starting", expected=True)

    assert on[0] == Note("INFO", "safe mode on: market data not fresh (not connected: starting)")
    assert desk.risk.safe_mode is True


def test_safe_mode_never_blocks_exits() -> None:
    opened = Opened.make()
    opened.desk.set_safe("feed stale", True, at(5))
    actions = opened.desk.on_exit_request(ExitRequest(opened.position_id, SYMBOL, "manual", at(6)), at(6))
    assert sent(actions, OrderPurpose.EXIT).qty == QTY


# -- l. the unexpected ---------------------------------------------------------------------------------------


def test_a_fill_for_an_unknown_order_is_critical_and_still_booked() -> None:
    desk = make_desk()
    actions = desk.on_fill(fill("FX", "cbezzzzzzzzzzzz", "2", "100", "0.8"), T0)
    assert actions[0] == Note("CRITICAL", "fill FX for unknown order cbezzzzzzzzzzzz", SYMBOL)
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
    stop = sent(desk.on_fill(fill("F1", entry, "10", "100", "0.4", ts=at(2)), at(2)), OrderPurpose.STOP).cl_ord_id
    desk.submitted(stop, at(2))
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
    assert actions == [
        Note(
            "CRITICAL",
            f"order {entry}: fill F2 of 6 over-fills 10 of 15.68381430; booked all the same: the money moved",
            SYMBOL,
        ),
        Record(RecordPositionChanged(position_id, D("16"), D("100"))),
        Emit(PositionChanged(grown)),
        Amend(stop, SYMBOL, at(3), qty=D("16")),
        *saves(desk),
    ]
    assert desk.orders[entry].filled == D("10")  # the order's own record could not take it
    assert desk.ledger.position(SYMBOL) == D("16")
    assert desk.positions[position_id].qty == D("16")
    # a replay of the refused fill is not booked twice
    cash = desk.ledger.cash
    assert desk.on_fill(fill("F2", entry, "6", "100", "0.24", ts=at(3)), at(4)) == []
    assert (desk.ledger.cash, desk.ledger.position(SYMBOL)) == (cash, D("16"))


def test_an_event_for_an_unknown_order_is_a_warning() -> None:
    desk = make_desk()
    assert desk.on_order_event(event("cbxnope", S.ACKED), T0) == [
        Note("WARNING", "venue event acked for unknown order cbxnope")
    ]


def test_an_impossible_event_is_an_error_and_changes_nothing() -> None:
    desk = make_desk()
    entry = sent(desk.on_signal(signal(), T0), OrderPurpose.ENTRY)  # created, never submitted
    assert desk.on_order_event(event(entry.cl_ord_id, S.ACKED, at(1)), at(1)) == [
        Note("ERROR", f"order {entry.cl_ord_id}: created -> acked is not allowed", SYMBOL)
    ]
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
    stop = sent(desk.on_fill(fill("F1", entry, QTY, "100", "0.62", ts=at(2)), at(2)), OrderPurpose.STOP)
    refused, t, sends = stop, 3.0, 0
    while True:
        desk.submitted(refused.cl_ord_id, at(t))
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
    assert any(isinstance(a, Note) and a.level == "CRITICAL" and "refused" in a.text for a in actions)
    assert desk.risk.safe_reasons == ("a position the venue refuses to protect",)
