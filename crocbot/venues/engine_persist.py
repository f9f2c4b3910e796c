"""Saving and restoring a matching engine's account: balances, open orders, id sequence, last prints.

The paper venue persists its account so that a restart finds the same balances, holds and resting orders
(closed orders and fills are the journal's business, not the engine's, and are not kept). Plain JSON-able
data: Decimals and datetimes as strings.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields
from datetime import datetime
from decimal import Decimal
from typing import Any

from crocbot.core.clock import Clock
from crocbot.core.messages import Side
from crocbot.core.money import fmt
from crocbot.kraken.instruments import Instrument
from crocbot.venues.engine import MatchingEngine
from crocbot.venues.engine_state import OrderState

__all__ = ["engine_to_state", "engine_from_state", "prune_history", "STATE_VERSION"]

STATE_VERSION = 1
_DECIMALS = {"qty", "limit_price", "trigger_price", "cum_qty", "cum_cost", "fee_quote", "queue_ahead"}
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
    ledger = engine._ledger
    ids = engine._ids
    version, internal, gauss = ids._rng.getstate()
    return {
        "version": STATE_VERSION,
        "balances": {asset: fmt(amount) for asset, amount in ledger.balances().items()},
        "seq": engine._seq,
        "priority": engine._priority,
        "ids": {"rng": [version, list(internal), gauss], "trade_id": ids._trade_id},
        "last": {symbol: [fmt(price), ts.isoformat()] for symbol, (price, ts) in engine._last.items()},
        "open_orders": [{f.name: _encode(f.name, getattr(o, f.name)) for f in fields(o)} for o in ledger.open.values()],
    }


def engine_from_state(
    state: Mapping[str, Any], instruments: Mapping[str, Instrument], *, clock: Clock, max_open_orders: int = 60
) -> MatchingEngine:
    if state.get("version") != STATE_VERSION:
        raise ValueError(f"paper account state version {state.get('version')!r}; this crocbot reads {STATE_VERSION}")
    balances = {asset: Decimal(amount) for asset, amount in state["balances"].items()}
    engine = MatchingEngine(instruments, balances, clock=clock, max_open_orders=max_open_orders)
    engine._seq = int(state["seq"])
    engine._priority = int(state["priority"])
    version, internal, gauss = state["ids"]["rng"]
    engine._ids._rng.setstate((version, tuple(internal), gauss))
    engine._ids._trade_id = int(state["ids"]["trade_id"])
    engine._last = {s: (Decimal(p), datetime.fromisoformat(t)) for s, (p, t) in state["last"].items()}
    for row in state["open_orders"]:
        order = OrderState(**{f.name: _decode(f.name, row.get(f.name), instruments) for f in fields(OrderState)})
        engine._ledger.accept(order)
    return engine


def prune_history(engine: MatchingEngine, *, keep_fills: int = 1000) -> None:
    """Drop closed orders and all but the last fills: an engine that runs for weeks must not grow without end."""
    ledger = engine._ledger
    ledger.orders = {oid: o for oid, o in ledger.orders.items() if o.order_id in ledger.open}
    if len(ledger.fills) > keep_fills:
        del ledger.fills[: len(ledger.fills) - keep_fills]
