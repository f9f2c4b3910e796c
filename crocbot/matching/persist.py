"""Saving and restoring a matching engine's account: balances, open orders, id sequence, last prints, and its
recent history.

The paper venue persists its account so that a restart finds the same balances, holds and resting orders. It
also keeps what a real venue would still answer about after a crash: the fills and the closed orders of the last
minutes (`RECENT`, at most `RECENT_MAX` of each). The account is saved before the router hears of an event, so
a kill -9 can leave fills and final order states that only the account knows; the reconciler reads them from
here. Older history is the journal's business. Plain JSON-able data: Decimals and datetimes as strings.
Version 1 states (no history) are still read.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from crocbot.core.clock import Clock
from crocbot.core.instrument import Instrument
from crocbot.core.messages import Side
from crocbot.core.money import fmt
from crocbot.matching.engine import MatchingEngine
from crocbot.matching.state import OrderState
from crocbot.matching.types import FillView

__all__ = ["engine_to_state", "engine_from_state", "prune_history", "STATE_VERSION", "RECENT", "RECENT_MAX"]

STATE_VERSION = 2
RECENT = timedelta(minutes=15)
RECENT_MAX = 200
_DECIMALS = {"qty", "limit_price", "trigger_price", "cum_qty", "cum_cost", "fee_quote", "queue_ahead"}
_FILL_DECIMALS = {"price", "qty", "cost", "fee"}
_TIMES = {"opened", "closed"}


def _encode(name: str, value: Any) -> Any:
    if value is None:
        return None
    if name in _DECIMALS:
        return fmt(value)
    if name in _TIMES:
        return value.isoformat()
    if name == "instrument":
        return value.symbol
    if name == "side":
        return str(value)
    if name == "trade_ids":
        return list(value)
    return value


def _decode(name: str, value: Any, instruments: Mapping[str, Instrument]) -> Any:
    if value is None:
        return None
    if name in _DECIMALS:
        return Decimal(value)
    if name in _TIMES:
        return datetime.fromisoformat(value)
    if name == "instrument":
        return instruments[value]
    if name == "side":
        return Side(value)
    if name == "trade_ids":
        return list(value)
    return value


def engine_to_state(engine: MatchingEngine) -> dict[str, Any]:
    account = engine._account
    ids = engine._ids
    version, internal, gauss = ids._rng.getstate()
    return {
        "version": STATE_VERSION,
        "balances": {asset: fmt(amount) for asset, amount in account.balances().items()},
        "seq": engine._seq,
        "priority": engine._priority,
        "ids": {"rng": [version, list(internal), gauss], "trade_id": ids._trade_id},
        "last": {symbol: [fmt(price), ts.isoformat()] for symbol, (price, ts) in engine._last.items()},
        "open_orders": [_order_row(o) for o in account.open.values()],
        "recent": _recent(engine),
    }


def _order_row(order: OrderState) -> dict[str, Any]:
    return {f.name: _encode(f.name, getattr(order, f.name)) for f in fields(order)}


def _recent(engine: MatchingEngine) -> dict[str, Any]:
    account = engine._account
    since = engine._clock.now() - RECENT
    closed = [o for o in account.orders.values() if o.closed is not None and o.closed >= since][-RECENT_MAX:]
    fills = [f for f in account.fills if f.ts >= since][-RECENT_MAX:]
    return {
        "closed_orders": [_order_row(o) for o in closed],
        "fills": [_fill_row(fill) for fill in fills],
    }


def _fill_row(fill: FillView) -> dict[str, Any]:
    row: dict[str, Any] = {}
    for f in fields(fill):
        value = getattr(fill, f.name)
        if f.name in _FILL_DECIMALS:
            value = fmt(value)
        elif f.name == "ts":
            value = value.isoformat()
        elif f.name == "side":
            value = str(value)
        row[f.name] = value
    return row


def _fill(row: Mapping[str, Any]) -> FillView:
    values: dict[str, Any] = {}
    for f in fields(FillView):
        value = row[f.name]
        if f.name in _FILL_DECIMALS:
            value = Decimal(value)
        elif f.name == "ts":
            value = datetime.fromisoformat(value)
        elif f.name == "side":
            value = Side(value)
        values[f.name] = value
    return FillView(**values)


def engine_from_state(
    state: Mapping[str, Any], instruments: Mapping[str, Instrument], *, clock: Clock, max_open_orders: int = 60
) -> MatchingEngine:
    if state.get("version") not in (1, STATE_VERSION):
        raise ValueError(
            f"paper account state version {state.get('version')!r}; this crocbot reads 1 to {STATE_VERSION}"
        )
    balances = {asset: Decimal(amount) for asset, amount in state["balances"].items()}
    engine = MatchingEngine(instruments, balances, clock=clock, max_open_orders=max_open_orders)
    engine._seq = int(state["seq"])
    engine._priority = int(state["priority"])
    version, internal, gauss = state["ids"]["rng"]
    engine._ids._rng.setstate((version, tuple(internal), gauss))
    engine._ids._trade_id = int(state["ids"]["trade_id"])
    engine._last = {s: (Decimal(p), datetime.fromisoformat(t)) for s, (p, t) in state["last"].items()}
    recent = state.get("recent", {})
    for row in recent.get("closed_orders", ()):
        closed = _order(row, instruments)
        engine._account.orders[closed.order_id] = closed
    for row in state["open_orders"]:
        engine._account.accept(_order(row, instruments))
    engine._account.fills.extend(_fill(row) for row in recent.get("fills", ()))
    return engine


def _order(row: Mapping[str, Any], instruments: Mapping[str, Instrument]) -> OrderState:
    return OrderState(**{f.name: _decode(f.name, row.get(f.name), instruments) for f in fields(OrderState)})


def prune_history(engine: MatchingEngine, *, keep_fills: int = 1000) -> None:
    """Drop closed orders and all but the last fills: an engine that runs for weeks must not grow without end."""
    account = engine._account
    account.orders = {oid: o for oid, o in account.orders.items() if o.order_id in account.open}
    if len(account.fills) > keep_fills:
        del account.fills[: len(account.fills) - keep_fills]
