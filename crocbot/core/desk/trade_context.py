"""Why a trade closed, and the trade log's account of it: worked out by the desk when the closing fill is booked.

The exit reason comes from the order that made the position flat: a stop names the stop's kind when it filled
(initial, trailing, breakeven, profit lock), a take-profit order says so, and a market exit says what it was sent
for (a take-profit or stop level the SL manager saw reached, the kill switch, a strategy). An exit the desk did not
send in this process (sent before a restart, or adopted from the venue) is reconciliation's.
"""

from __future__ import annotations

from decimal import Decimal

from crocbot.core.desk.state import PositionState
from crocbot.core.instrument import Instrument
from crocbot.core.messages import ClosedTrade, ExitReason, OrderPurpose, StopKind, TradeContext
from crocbot.core.money import quote_places
from crocbot.core.order_state import TrackedOrder

__all__ = ["exit_reason", "trade_context", "trade_summary"]

_STOP_KINDS = {
    StopKind.INITIAL: ExitReason.STOP,
    StopKind.TRAILING: ExitReason.TRAILING,
    StopKind.BREAKEVEN: ExitReason.BREAKEVEN,
    StopKind.PROFIT_LOCK: ExitReason.PROFIT_LOCK,
}


def exit_reason(position: PositionState, order: TrackedOrder) -> tuple[ExitReason, str]:
    """(why `order`'s fill closed `position`, the exit's own words when it has any)."""
    purpose = order.purpose
    if purpose is OrderPurpose.STOP:
        return _STOP_KINDS[position.stop_kind], ""
    if purpose is OrderPurpose.TAKE_PROFIT:
        return ExitReason.TAKE_PROFIT, ""
    if purpose is OrderPurpose.EXIT and position.exiting:
        return position.exit_reason or _STOP_KINDS[position.stop_kind], position.exit_detail
    return ExitReason.RECONCILIATION, f"{purpose} {order.cl_ord_id} not sent by this process"


def trade_context(
    position: PositionState, order: TrackedOrder, instrument: Instrument, equity_after: Decimal
) -> TradeContext:
    reason, detail = exit_reason(position, order)
    return TradeContext(
        exit_reason=reason,
        strategy=position.strategy,
        intended_entry=position.intended_entry,
        equity_after=equity_after,
        price_precision=instrument.price_precision,
        money_precision=quote_places(instrument.quote),
        exit_detail=detail,
    )


def trade_summary(trade: ClosedTrade, context: TradeContext, quote: str) -> str:
    """The INFO line a trader reads when a trade closes, at the instrument's precisions."""
    price, money = context.price_precision, context.money_precision
    pnl = trade.realized_pnl
    return (
        f"{trade.side} closed ({context.exit_reason}): {trade.qty:f} from {trade.entry_price:.{price}f} to "
        f"{trade.exit_price:.{price}f}, P&L {pnl:+.{money}f} {quote} after {trade.fees:.{money}f} fees; "
        f"equity {context.equity_after:.{money}f} {quote}"
    )
