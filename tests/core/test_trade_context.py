"""Each closed trade tells the trade log why it closed (the stop's kind when it filled, a take-profit, the kill
switch, an exit learnt from the venue), which strategy opened it and the entry its signal planned."""

from __future__ import annotations

import pytest

from crocbot.core.desk import Action, Desk, FillSeen, Submitted
from crocbot.core.messages import (
    ExitReason,
    ExitRequest,
    OrderAmended,
    OrderPurpose,
    OrderStatus,
    Side,
    StopAmendRequest,
    StopKind,
    TradeContext,
)
from crocbot.core.messages.journal import RecordPositionClosed
from tests.core.desk_support import ETH, QTY, SYMBOL, D, Opened, at, event, fill, journaled, make_desk, restored, sent


def context_of(actions: list[Action]) -> TradeContext:
    closes = [r for r in journaled(actions) if isinstance(r, RecordPositionClosed)]
    assert len(closes) == 1, "one close"
    assert closes[0].context is not None
    return closes[0].context


def stop_fills(opened: Opened, price: str) -> list[Action]:
    return opened.desk.on(
        FillSeen(fill("S1", opened.stop, QTY, price, "0.5", side=Side.SELL, ts=at(30)), journaled=False), at(30)
    )


def exit_fills(desk: Desk, position_id: str, request: ExitRequest, *, symbol: str = SYMBOL) -> list[Action]:
    """The exit `request` asks for goes out once its stop is cancelled, and fills."""
    exit_ = sent(desk.on(request, request.ts), OrderPurpose.EXIT)
    return exit_filled(desk, position_id, exit_.cl_ord_id, symbol=symbol)


def exit_filled(desk: Desk, position_id: str, cl_ord_id: str, *, symbol: str = SYMBOL) -> list[Action]:
    stop = desk.positions[position_id].stop_order
    if desk.orders[cl_ord_id].status is OrderStatus.CREATED:
        desk.on(Submitted(cl_ord_id), at(20))
    if stop is not None:
        desk.on(event(stop, OrderStatus.CANCELLED, at(21)), at(21))
    qty = desk.positions[position_id].qty
    return desk.on(
        FillSeen(fill("X1", cl_ord_id, qty, "104", "0.6", side=Side.SELL, symbol=symbol, ts=at(22)), journaled=False),
        at(22),
    )


@pytest.mark.parametrize(
    ("kind", "reason"),
    [
        (StopKind.TRAILING, ExitReason.TRAILING),
        (StopKind.BREAKEVEN, ExitReason.BREAKEVEN),
        (StopKind.PROFIT_LOCK, ExitReason.PROFIT_LOCK),
    ],
)
def test_a_stop_that_fills_names_its_kind_at_the_time(kind: StopKind, reason: ExitReason) -> None:
    opened = Opened.make()
    desk = opened.desk
    desk.on_mark(SYMBOL, D("103"))
    desk.on(StopAmendRequest(opened.position_id, SYMBOL, D("100"), kind, at(20)), at(20))
    desk.on(OrderAmended(opened.stop, at(21), trigger_price=D("100")), at(21))

    context = context_of(stop_fills(opened, "100"))

    assert context.exit_reason is reason
    assert (context.strategy, context.intended_entry) == ("ema_trend", D("100"))
    assert context.equity_after == desk.equity()


def test_the_initial_stop_filling_is_a_stop_exit() -> None:
    assert context_of(stop_fills(Opened.make(), "98")).exit_reason is ExitReason.STOP


def test_a_take_profit_exit_says_so_with_its_own_words() -> None:
    opened = Opened.make()
    request = ExitRequest(
        opened.position_id, SYMBOL, "take-profit 106 reached at 106.1", at(20), ExitReason.TAKE_PROFIT
    )

    context = context_of(exit_fills(opened.desk, opened.position_id, request))

    assert (context.exit_reason, context.exit_detail) == (ExitReason.TAKE_PROFIT, "take-profit 106 reached at 106.1")


def test_an_exit_because_the_price_went_through_a_trailing_stop_names_the_trailing_stop() -> None:
    opened = Opened.make()
    desk = opened.desk
    desk.on_mark(SYMBOL, D("103"))
    desk.on(StopAmendRequest(opened.position_id, SYMBOL, D("100"), StopKind.TRAILING, at(20)), at(20))
    desk.on(OrderAmended(opened.stop, at(21), trigger_price=D("100")), at(21))
    request = ExitRequest(opened.position_id, SYMBOL, "price 99 is through the stop 100", at(22))

    assert context_of(exit_fills(desk, opened.position_id, request)).exit_reason is ExitReason.TRAILING


def test_the_kill_switch_flattening_a_position_is_a_manual_exit() -> None:
    desk = make_desk(flatten_on_kill_switch=True)
    sol, eth = Opened.make(desk), Opened.make(desk, symbol=ETH.symbol, tag="e")
    flattening = stop_fills(sol, "80")  # a loss beyond the daily limit: the kill switch flattens ETH
    exit_ = sent(flattening, OrderPurpose.EXIT)

    context = context_of(exit_filled(desk, eth.position_id, exit_.cl_ord_id, symbol=ETH.symbol))

    assert (context.exit_reason, context.exit_detail) == (ExitReason.MANUAL, "kill switch")


def test_an_exit_sent_before_a_restart_is_reconciliations() -> None:
    opened = Opened.make()
    request = ExitRequest(opened.position_id, SYMBOL, "take profit", at(20), ExitReason.TAKE_PROFIT)
    exit_ = sent(opened.desk.on(request, at(20)), OrderPurpose.EXIT)
    opened.desk.on(Submitted(exit_.cl_ord_id), at(20))
    opened.desk.on(event(opened.stop, OrderStatus.CANCELLED, at(21)), at(21))
    opened.desk.on(event(exit_.cl_ord_id, OrderStatus.ACKED, at(21)), at(21))
    desk = restored(opened.desk)  # what it was for died with the process

    context = context_of(exit_filled(desk, opened.position_id, exit_.cl_ord_id))

    assert context.exit_reason is ExitReason.RECONCILIATION
