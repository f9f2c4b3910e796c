"""The conversions between the journal's rows and messages (an order and a position come back as
`crocbot.core.journaled`'s `JournaledOrder` and `JournaledPosition`).

Every value read back is rebuilt through its message constructor, so a row that no longer makes sense fails
loudly here rather than deep inside a trading decision. The one exception is a position whose stop has moved
to or past its entry (breakeven, profit lock): `Position` keeps its initial stop beside the current one.
"""

from __future__ import annotations

import dataclasses
import json
import sqlite3
from collections.abc import Callable
from decimal import Decimal
from enum import Enum
from typing import Any, NamedTuple

from crocbot.core.journaled import JournaledOrder, JournaledPosition
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
from crocbot.store.codec import (
    dec_text,
    opt_dec_text,
    opt_text_dec,
    opt_text_ts,
    opt_ts_text,
    text_dec,
    text_ts,
    ts_text,
)

__all__ = [
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


# How a record's fields are stored: one `_Column` a column, in the table's order, read and written by the same
# table so that a column added to one direction cannot be forgotten in the other.
_Codec = tuple[Callable[[Any], Any], Callable[[Any], Any]]  # (field value -> column value, and back)


def _same(value: Any) -> Any:
    return value


_PLAIN: _Codec = (_same, _same)
_DEC: _Codec = (dec_text, text_dec)
_OPT_DEC: _Codec = (opt_dec_text, opt_text_dec)
_TS: _Codec = (ts_text, text_ts)
_OPT_TS: _Codec = (opt_ts_text, opt_text_ts)
_FLAG: _Codec = (int, bool)
_BRACKETS: _Codec = (brackets_text, text_brackets)


def _enum(kind: type[Enum]) -> _Codec:
    return (lambda member: member.value, kind)


class _Column(NamedTuple):
    name: str  # the column's
    codec: _Codec
    field: str = ""  # the dataclass field's, when not the column's

    @property
    def attr(self) -> str:
        return self.field or self.name


def _params(record: object, columns: tuple[_Column, ...]) -> dict[str, Any]:
    return {col.name: col.codec[0](getattr(record, col.attr)) for col in columns}


def _values(row: sqlite3.Row, columns: tuple[_Column, ...]) -> dict[str, Any]:
    return {col.attr: col.codec[1](row[col.name]) for col in columns}


_INTENT = (
    _Column("cl_ord_id", _PLAIN),
    _Column("symbol", _PLAIN),
    _Column("side", _enum(Side)),
    _Column("order_type", _enum(OrderType)),
    _Column("qty", _DEC),
    _Column("purpose", _enum(OrderPurpose)),
    _Column("limit_price", _OPT_DEC),
    _Column("trigger_price", _OPT_DEC),
    _Column("post_only", _FLAG),
    _Column("intent_ts", _TS, field="ts"),
)
_ORDER_STATE = (  # a `JournaledOrder`'s own fields, beside its intent
    _Column("position_id", _PLAIN),
    _Column("reason", _PLAIN),
    _Column("status", _enum(OrderStatus)),
    _Column("order_id", _PLAIN),
    _Column("filled_qty", _DEC),
    _Column("avg_price", _OPT_DEC),
    _Column("updated_at", _TS),
    _Column("amended_qty", _OPT_DEC),
    _Column("amended_limit", _OPT_DEC),
    _Column("amended_trigger", _OPT_DEC),
    _Column("brackets", _BRACKETS),
)
_EVENT = (
    _Column("cl_ord_id", _PLAIN),
    _Column("status", _enum(OrderStatus)),
    _Column("ts", _TS),
    _Column("order_id", _PLAIN),
    _Column("filled_qty", _DEC),
    _Column("avg_price", _OPT_DEC),
    _Column("reason", _PLAIN),
)
_FILL = (
    _Column("fill_id", _PLAIN),
    _Column("cl_ord_id", _PLAIN),
    _Column("order_id", _PLAIN),
    _Column("symbol", _PLAIN),
    _Column("side", _enum(Side)),
    _Column("qty", _DEC),
    _Column("price", _DEC),
    _Column("fee", _DEC),
    _Column("fee_currency", _PLAIN),
    _Column("liquidity", _enum(Liquidity)),
    _Column("ts", _TS),
)
_POSITION = (
    _Column("position_id", _PLAIN),
    _Column("symbol", _PLAIN),
    _Column("side", _enum(PositionSide)),
    _Column("qty", _DEC),
    _Column("entry_price", _DEC),
    _Column("initial_stop", _DEC),
    _Column("stop_price", _DEC),
    _Column("stop_kind", _enum(StopKind)),
    _Column("stop_cl_ord_id", _PLAIN),
    _Column("take_profit", _OPT_DEC),
    _Column("opened_at", _TS),
    _Column("closed_at", _OPT_TS),
    _Column("trade_id", _PLAIN),
    _Column("realized_pnl", _OPT_DEC),
)
_TRADE = (
    _Column("trade_id", _PLAIN),
    _Column("symbol", _PLAIN),
    _Column("side", _enum(PositionSide)),
    _Column("qty", _DEC),
    _Column("entry_price", _DEC),
    _Column("exit_price", _DEC),
    _Column("fees", _DEC),
    _Column("realized_pnl", _DEC),
    _Column("opened_at", _TS),
    _Column("closed_at", _TS),
    _Column("initial_risk", _OPT_DEC),
)


def intent_params(intent: OrderIntent, position_id: str | None, reason: str) -> dict[str, Any]:
    return {**_params(intent, _INTENT), "position_id": position_id, "reason": reason}


def order_from_row(row: sqlite3.Row) -> JournaledOrder:
    return JournaledOrder(intent=OrderIntent(**_values(row, _INTENT)), **_values(row, _ORDER_STATE))


def event_from_row(row: sqlite3.Row) -> OrderEvent:
    return OrderEvent(**_values(row, _EVENT))


def fill_params(fill: Fill) -> dict[str, Any]:
    return _params(fill, _FILL)


def fill_from_row(row: sqlite3.Row) -> Fill:
    return Fill(**_values(row, _FILL))


def position_from_row(row: sqlite3.Row) -> JournaledPosition:
    return JournaledPosition(**_values(row, _POSITION))


def trade_params(trade: ClosedTrade, position_id: str | None) -> dict[str, Any]:
    return {**_params(trade, _TRADE), "position_id": position_id}


def trade_from_row(row: sqlite3.Row) -> ClosedTrade:
    return ClosedTrade(**_values(row, _TRADE))
