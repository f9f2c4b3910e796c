"""The records of the trade log: a fill's line, a closed trade's line, and which of their fields are money and times.

A fill line keeps the venue's figures exactly: an independent FIFO recomputation of the realised P&L reads them. A
trade line shows its averages at the instrument's price decimals and money at its quote currency's places (USD in
cents, as `crocbot status` and the demo show it: `235.58`, not `235.5776343317068574164862663`), and says why the
trade closed, which strategy opened it, the signal's intended entry and the entry's slippage from it, and the
equity after it. The journal keeps the exact figures of every trade.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from crocbot.core.messages import ClosedTrade, Fill, Liquidity, PositionSide, Side, TradeContext

__all__ = ["MONEY_FIELDS", "TIME_FIELDS", "fill_record", "fill_from_record", "trade_record"]

# Field types of the two record kinds, so a reader can give back Decimals and datetimes, not strings.
MONEY_FIELDS: dict[str, frozenset[str]] = {
    "fill": frozenset({"qty", "price", "fee"}),
    "trade": frozenset(
        {
            "qty",
            "entry_price",
            "exit_price",
            "fees",
            "realized_pnl",
            "r_multiple",
            "initial_risk",
            "intended_entry",
            "entry_slippage",
            "equity_after",
        }
    ),
}
TIME_FIELDS: dict[str, frozenset[str]] = {
    "fill": frozenset({"ts"}),
    "trade": frozenset({"opened_at", "closed_at"}),
}


def fill_record(fill: Fill, *, position_id: str | None, backfilled: bool = False) -> dict[str, Any]:
    """A fill's line; `backfilled` ones (learnt from the venue's history, or logged after a crash) say so."""
    extra: dict[str, Any] = {"backfilled": True} if backfilled else {}
    return {
        "type": "fill",
        "ts": fill.ts,
        "fill_id": fill.fill_id,
        "cl_ord_id": fill.cl_ord_id,
        "order_id": fill.order_id,
        "symbol": fill.symbol,
        "side": fill.side.value,
        "qty": fill.qty,
        "price": fill.price,
        "fee": fill.fee,
        "fee_currency": fill.fee_currency,
        "liquidity": fill.liquidity.value,
        "position_id": position_id,
        **extra,
    }


def fill_from_record(record: Mapping[str, Any]) -> Fill:
    """A fill line (as `TradeLog.read` returns it) as a `Fill` again; InvalidMessage/KeyError if it is not one."""
    return Fill(
        fill_id=str(record["fill_id"]),
        cl_ord_id=str(record["cl_ord_id"]),
        order_id=str(record["order_id"]),
        symbol=str(record["symbol"]),
        side=Side(record["side"]),
        qty=record["qty"],
        price=record["price"],
        fee=record["fee"],
        fee_currency=str(record["fee_currency"]),
        liquidity=Liquidity(record["liquidity"]),
        ts=record["ts"],
    )


_R_PLACES = Decimal("0.01")  # an R multiple to the hundredth is all a trader compares


def trade_record(trade: ClosedTrade, context: TradeContext | None = None) -> dict[str, Any]:
    """A closed trade's line; with its `context` (as the desk gives it), rounded to the instrument's precisions and
    with the exit reason, strategy, intended entry, entry slippage and equity after the trade. Without one (a
    caller that knows no instrument), the exact figures."""
    if context is None:
        return _figures(trade, _exact, _exact, trade.r_multiple)
    price, money = _places(context.price_precision), _places(context.money_precision)
    r_multiple = trade.r_multiple
    record = _figures(trade, price, money, None if r_multiple is None else r_multiple.quantize(_R_PLACES))
    intended = context.intended_entry
    slippage = None
    if intended is not None:
        # positive: the entry cost more than the signal planned (a long paid more, a short got less)
        worse = trade.entry_price - intended if trade.side is PositionSide.LONG else intended - trade.entry_price
        slippage = price(worse)
    record.update(
        exit_reason=context.exit_reason.value,
        exit_detail=context.exit_detail,
        strategy=context.strategy,
        intended_entry=None if intended is None else price(intended),
        entry_slippage=slippage,
        equity_after=money(context.equity_after),
    )
    return record


_Round = Callable[[Decimal], Decimal]


def _figures(trade: ClosedTrade, price: _Round, money: _Round, r_multiple: Decimal | None) -> dict[str, Any]:
    return {
        "type": "trade",
        "trade_id": trade.trade_id,
        "symbol": trade.symbol,
        "side": trade.side.value,
        "qty": trade.qty,
        "entry_price": price(trade.entry_price),
        "exit_price": price(trade.exit_price),
        "fees": money(trade.fees),
        "realized_pnl": money(trade.realized_pnl),
        "r_multiple": r_multiple,
        "opened_at": trade.opened_at,
        "closed_at": trade.closed_at,
        "initial_risk": None if trade.initial_risk is None else money(trade.initial_risk),
    }


def _exact(value: Decimal) -> Decimal:
    return value


def _places(decimals: int) -> _Round:
    unit = Decimal(1).scaleb(-decimals)
    return lambda value: value.quantize(unit, rounding=ROUND_HALF_EVEN)
