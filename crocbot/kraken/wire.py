"""Kraken-level messages the codec produces besides the core market messages (acks, status, private reports)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from crocbot.core.messages.market import BookView as BookView  # re-exported for the router until the desk package lands

__all__ = [
    "ChannelHeartbeat",
    "Pong",
    "SystemStatus",
    "Ack",
    "InstrumentUpdate",
    "ExecutionReport",
    "Executions",
    "BalanceEntry",
    "Balances",
    "Malformed",
    "ConnectionState",
    "BookResync",
    "CHANNEL_HEARTBEAT",
]


@dataclass(frozen=True, slots=True)
class ChannelHeartbeat:
    """The WS `heartbeat` channel: sent by Kraken about once a second when nothing else flows; its absence means a
    stale connection. Not the supervisor's liveness probe (`crocbot.actors.protocol.Heartbeat`)."""


CHANNEL_HEARTBEAT = ChannelHeartbeat()


@dataclass(frozen=True, slots=True)
class Pong:
    req_id: int | None
    time_in: datetime | None = None
    time_out: datetime | None = None


@dataclass(frozen=True, slots=True)
class SystemStatus:
    system: str  # online | maintenance | cancel_only | post_only
    api_version: str = ""
    connection_id: int | None = None
    version: str = ""


@dataclass(frozen=True, slots=True)
class Ack:
    """A response to a request: subscribe, unsubscribe, add_order, amend_order, cancel_order, ...

    `error` is a single string on WS v2 (REST uses a list). A rejected subscribe may have no `result`; correlate
    it by `req_id`, and by `symbol` when Kraken puts one at the top level.
    """

    method: str
    success: bool
    req_id: int | None = None
    channel: str | None = None
    symbol: str | None = None
    error: str | None = None
    result: Mapping[str, Any] | None = None
    results: tuple[Mapping[str, Any], ...] = ()  # batch responses carry a list
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class InstrumentUpdate:
    snapshot: bool
    assets: tuple[Mapping[str, Any], ...]
    pairs: tuple[Mapping[str, Any], ...]


@dataclass(frozen=True, slots=True)
class ExecutionReport:
    """One entry of the private `executions` channel. Updates are sparse: absent fields are None."""

    exec_type: str
    order_id: str
    ts: datetime
    cl_ord_id: str | None = None
    order_userref: int | None = None
    exec_id: str | None = None
    trade_id: int | None = None
    order_status: str | None = None
    symbol: str | None = None
    side: str | None = None
    order_type: str | None = None
    order_qty: Decimal | None = None
    limit_price: Decimal | None = None
    trigger_price: Decimal | None = None
    last_qty: Decimal | None = None
    last_price: Decimal | None = None
    liquidity_ind: str | None = None  # m (maker) | t (taker)
    cost: Decimal | None = None
    cum_qty: Decimal | None = None
    cum_cost: Decimal | None = None
    avg_price: Decimal | None = None
    fees: tuple[tuple[str, Decimal], ...] = ()
    reason: str | None = None
    amended: bool | None = None
    ratecount: int | None = None  # the pair's trading counter now (subscribed with `ratecounter: true`)


@dataclass(frozen=True, slots=True)
class Executions:
    snapshot: bool
    reports: tuple[ExecutionReport, ...]
    sequence: int | None = None


@dataclass(frozen=True, slots=True)
class BalanceEntry:
    asset: str
    balance: Decimal
    asset_class: str = "currency"
    amount: Decimal | None = None  # updates: the ledger movement
    fee: Decimal | None = None
    ledger_type: str | None = None
    ref_id: str | None = None


@dataclass(frozen=True, slots=True)
class Balances:
    snapshot: bool
    entries: tuple[BalanceEntry, ...]
    sequence: int | None = None


@dataclass(frozen=True, slots=True)
class Malformed:
    """A frame that could not be used; counted and logged, never raised."""

    reason: str
    frame: str = field(default="")


@dataclass(frozen=True, slots=True)
class ConnectionState:
    """A WS connection came up, went down, or gave up for good (close code 1008, or stopped)."""

    name: str
    state: str  # connected | disconnected | terminal
    reason: str
    ts: datetime


@dataclass(frozen=True, slots=True)
class BookResync:
    """A book's checksum failed (or its connection dropped): it is out of use until a fresh snapshot."""

    symbol: str
    reason: str
