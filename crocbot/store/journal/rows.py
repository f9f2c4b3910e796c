"""What the journal hands back (`JournalOrder`, `JournalPosition`) and the conversions between rows and messages.

Every value read back is rebuilt through its message constructor, so a row that no longer makes sense fails
loudly here rather than deep inside a trading decision. The one exception is a position whose stop has moved
to or past its entry (breakeven, profit lock): `Position` keeps its initial stop beside the current one.
"""

from __future__ import annotations

import dataclasses
import json
import sqlite3
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from crocbot.core.messages import (
    ClosedTrade,
    Fill,
    Liquidity,
    OrderEvent,
    OrderIntent,
    OrderPurpose,
    OrderStatus,
    OrderType,
    Position,
    PositionSide,
    Side,
    StopKind,
)
from crocbot.core.messages.journal import EntryBrackets
from crocbot.store.codec import dec_text, opt_dec_text, opt_text_dec, opt_text_ts, text_dec, text_ts, ts_text

__all__ = [
    "JournalOrder",
    "JournalPosition",
    "intent_params",
    "brackets_text",
    "order_from_row",
    "event_from_row",
    "fill_params",
    "fill_from_row",
    "position_from_row",
    "position_with_stop",
    "trade_params",
    "trade_from_row",
]


@dataclass(frozen=True, slots=True)
class JournalOrder:
    """An order as journaled: the intent, whom it belongs to, and its latest known state at the venue."""

    intent: OrderIntent
    position_id: str | None
    reason: str
    status: OrderStatus
    order_id: str | None
    filled_qty: Decimal
    avg_price: Decimal | None
    updated_at: datetime
    amended_qty: Decimal | None = None
    amended_limit: Decimal | None = None
    amended_trigger: Decimal | None = None
    brackets: EntryBrackets | None = None  # an entry's stop and take-profit, journaled with it

    @property
    def qty(self) -> Decimal:
        """The order's size now (an amend may have changed the intent's)."""
        return self.amended_qty if self.amended_qty is not None else self.intent.qty

    @property
    def limit_price(self) -> Decimal | None:
        return self.amended_limit if self.amended_limit is not None else self.intent.limit_price

    @property
    def trigger_price(self) -> Decimal | None:
        return self.amended_trigger if self.amended_trigger is not None else self.intent.trigger_price

    @property
    def cl_ord_id(self) -> str:
        return self.intent.cl_ord_id

    @property
    def symbol(self) -> str:
        return self.intent.symbol

    @property
    def is_open(self) -> bool:
        return not self.status.is_terminal


@dataclass(frozen=True, slots=True)
class JournalPosition:
    """A position, open or closed, with its current stop; `closed_at` and `realized_pnl` are set once closed
    (`realized_pnl` only when the close came with a `ClosedTrade`)."""

    position_id: str
    symbol: str
    side: PositionSide
    qty: Decimal
    entry_price: Decimal
    initial_stop: Decimal
    stop_price: Decimal
    stop_kind: StopKind
    stop_cl_ord_id: str | None
    take_profit: Decimal | None
    opened_at: datetime
    closed_at: datetime | None = None
    trade_id: str | None = None
    realized_pnl: Decimal | None = None

    @property
    def is_open(self) -> bool:
        return self.closed_at is None

    def as_position(self) -> Position:
        """The `Position` message with the current stop as `stop_price`."""
        return Position(
            position_id=self.position_id,
            symbol=self.symbol,
            side=self.side,
            qty=self.qty,
            entry_price=self.entry_price,
            stop_price=self.stop_price,
            opened_at=self.opened_at,
            take_profit=self.take_profit,
            initial_stop=self.initial_stop,
        )


def position_with_stop(position: Position, stop: Decimal) -> Position:
    """`position` with `stop` as its current stop (its initial stop is kept, so a moved stop is valid)."""
    return dataclasses.replace(position, stop_price=stop, initial_stop=position.initial_stop)


def brackets_text(brackets: EntryBrackets | None) -> str | None:
    if brackets is None:
        return None
    return json.dumps(
        {
            "initial_stop": dec_text(brackets.initial_stop),
            "take_profit": opt_dec_text(brackets.take_profit),
            "strategy": brackets.strategy,
            **({} if brackets.entry is None else {"entry": dec_text(brackets.entry)}),
        },
        sort_keys=True,
    )


def text_brackets(text: str | None) -> EntryBrackets | None:
    if not text:
        return None
    doc = json.loads(text)
    return EntryBrackets(
        text_dec(doc["initial_stop"]),
        opt_text_dec(doc.get("take_profit")),
        str(doc["strategy"]),
        opt_text_dec(doc.get("entry")),  # absent in rows written before it was kept
    )


def intent_params(intent: OrderIntent, position_id: str | None, reason: str) -> dict[str, Any]:
    return {
        "cl_ord_id": intent.cl_ord_id,
        "symbol": intent.symbol,
        "side": intent.side.value,
        "order_type": intent.order_type.value,
        "qty": dec_text(intent.qty),
        "purpose": intent.purpose.value,
        "limit_price": opt_dec_text(intent.limit_price),
        "trigger_price": opt_dec_text(intent.trigger_price),
        "post_only": int(intent.post_only),
        "intent_ts": ts_text(intent.ts),
        "position_id": position_id,
        "reason": reason,
    }


def order_from_row(row: sqlite3.Row) -> JournalOrder:
    intent = OrderIntent(
        cl_ord_id=row["cl_ord_id"],
        symbol=row["symbol"],
        side=Side(row["side"]),
        order_type=OrderType(row["order_type"]),
        qty=text_dec(row["qty"]),
        purpose=OrderPurpose(row["purpose"]),
        ts=text_ts(row["intent_ts"]),
        limit_price=opt_text_dec(row["limit_price"]),
        trigger_price=opt_text_dec(row["trigger_price"]),
        post_only=bool(row["post_only"]),
    )
    return JournalOrder(
        intent=intent,
        position_id=row["position_id"],
        reason=row["reason"],
        status=OrderStatus(row["status"]),
        order_id=row["order_id"],
        filled_qty=text_dec(row["filled_qty"]),
        avg_price=opt_text_dec(row["avg_price"]),
        updated_at=text_ts(row["updated_at"]),
        amended_qty=opt_text_dec(row["amended_qty"]),
        amended_limit=opt_text_dec(row["amended_limit"]),
        amended_trigger=opt_text_dec(row["amended_trigger"]),
        brackets=text_brackets(row["brackets"]),
    )


def event_from_row(row: sqlite3.Row) -> OrderEvent:
    return OrderEvent(
        cl_ord_id=row["cl_ord_id"],
        status=OrderStatus(row["status"]),
        ts=text_ts(row["ts"]),
        order_id=row["order_id"],
        filled_qty=text_dec(row["filled_qty"]),
        avg_price=opt_text_dec(row["avg_price"]),
        reason=row["reason"],
    )


def fill_params(fill: Fill) -> dict[str, Any]:
    return {
        "fill_id": fill.fill_id,
        "cl_ord_id": fill.cl_ord_id,
        "order_id": fill.order_id,
        "symbol": fill.symbol,
        "side": fill.side.value,
        "qty": dec_text(fill.qty),
        "price": dec_text(fill.price),
        "fee": dec_text(fill.fee),
        "fee_currency": fill.fee_currency,
        "liquidity": fill.liquidity.value,
        "ts": ts_text(fill.ts),
    }


def fill_from_row(row: sqlite3.Row) -> Fill:
    return Fill(
        fill_id=row["fill_id"],
        cl_ord_id=row["cl_ord_id"],
        order_id=row["order_id"],
        symbol=row["symbol"],
        side=Side(row["side"]),
        qty=text_dec(row["qty"]),
        price=text_dec(row["price"]),
        fee=text_dec(row["fee"]),
        fee_currency=row["fee_currency"],
        liquidity=Liquidity(row["liquidity"]),
        ts=text_ts(row["ts"]),
    )


def position_from_row(row: sqlite3.Row) -> JournalPosition:
    return JournalPosition(
        position_id=row["position_id"],
        symbol=row["symbol"],
        side=PositionSide(row["side"]),
        qty=text_dec(row["qty"]),
        entry_price=text_dec(row["entry_price"]),
        initial_stop=text_dec(row["initial_stop"]),
        stop_price=text_dec(row["stop_price"]),
        stop_kind=StopKind(row["stop_kind"]),
        stop_cl_ord_id=row["stop_cl_ord_id"],
        take_profit=opt_text_dec(row["take_profit"]),
        opened_at=text_ts(row["opened_at"]),
        closed_at=opt_text_ts(row["closed_at"]),
        trade_id=row["trade_id"],
        realized_pnl=opt_text_dec(row["realized_pnl"]),
    )


def trade_params(trade: ClosedTrade, position_id: str | None) -> dict[str, Any]:
    return {
        "trade_id": trade.trade_id,
        "position_id": position_id,
        "symbol": trade.symbol,
        "side": trade.side.value,
        "qty": dec_text(trade.qty),
        "entry_price": dec_text(trade.entry_price),
        "exit_price": dec_text(trade.exit_price),
        "fees": dec_text(trade.fees),
        "realized_pnl": dec_text(trade.realized_pnl),
        "opened_at": ts_text(trade.opened_at),
        "closed_at": ts_text(trade.closed_at),
        "initial_risk": opt_dec_text(trade.initial_risk),
    }


def trade_from_row(row: sqlite3.Row) -> ClosedTrade:
    return ClosedTrade(
        trade_id=row["trade_id"],
        symbol=row["symbol"],
        side=PositionSide(row["side"]),
        qty=text_dec(row["qty"]),
        entry_price=text_dec(row["entry_price"]),
        exit_price=text_dec(row["exit_price"]),
        fees=text_dec(row["fees"]),
        realized_pnl=text_dec(row["realized_pnl"]),
        opened_at=text_ts(row["opened_at"]),
        closed_at=text_ts(row["closed_at"]),
        initial_risk=opt_text_dec(row["initial_risk"]),
    )
