"""Messages between the trading actors: position lifecycle, stop and exit requests, feed and safety state."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from crocbot.core.checks import InvalidMessage, positive, symbol, utc
from crocbot.core.messages.market import Candle, Timeframe
from crocbot.core.messages.positions import Position, StopKind
from crocbot.core.messages.trades import ClosedTrade, ExitReason

__all__ = [
    "PositionOpened",
    "PositionChanged",
    "PositionClosed",
    "ExitRequest",
    "StopAmendRequest",
    "FeedHealth",
    "InstrumentStatusChanged",
    "SafeModeChanged",
    "StartupReconciled",
    "StartupReconciling",
    "VenueCatchUp",
    "ReconcileRequest",
    "ATRUpdate",
    "CandleHistory",
    "CandleHistoryWanted",
]


@dataclass(frozen=True, slots=True)
class PositionOpened:
    """A position exists (its first entry fill), with the stop its protective order carries or will carry."""

    position: Position


@dataclass(frozen=True, slots=True)
class PositionChanged:
    """Quantity or stop of an open position changed (more entry fills, a partial exit, a tighter stop)."""

    position: Position


@dataclass(frozen=True, slots=True)
class PositionClosed:
    position_id: str
    symbol: str
    ts: datetime
    trade: ClosedTrade | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "ts", utc(self.ts, "ts"))


@dataclass(frozen=True, slots=True)
class ExitRequest:
    """Close a position now (a local stop check, a take-profit, the kill switch, an operator)."""

    position_id: str
    symbol: str
    reason: str
    ts: datetime
    kind: ExitReason | None = None  # None: the stop level was reached (the trade log names the stop's kind)

    def __post_init__(self) -> None:
        if not self.reason:
            raise InvalidMessage("an exit needs a reason")
        symbol(self.symbol)
        object.__setattr__(self, "ts", utc(self.ts, "ts"))


@dataclass(frozen=True, slots=True)
class StopAmendRequest:
    """Move a position's protective stop to `stop` (the router checks that it only tightens)."""

    position_id: str
    symbol: str
    stop: Decimal
    kind: StopKind
    ts: datetime

    def __post_init__(self) -> None:
        positive(self.stop, "stop")
        object.__setattr__(self, "ts", utc(self.ts, "ts"))


@dataclass(frozen=True, slots=True)
class InstrumentStatusChanged:
    """Kraken changed a traded symbol's status (`online`, `cancel_only`, `post_only`, `limit_only`, `reduce_only`,
    `maintenance`, `delisted`, ...): what the venue will accept for it changed with it."""

    symbol: str
    status: str
    previous: str
    ts: datetime

    def __post_init__(self) -> None:
        symbol(self.symbol, "symbol")
        if not self.status or not self.previous:
            raise InvalidMessage(f"{self.symbol}: an instrument status is a name, got {self.status!r}")
        object.__setattr__(self, "ts", utc(self.ts, "ts"))


@dataclass(frozen=True, slots=True)
class FeedHealth:
    """Market data is fresh (connected, every book in sync) or not, and why."""

    fresh: bool
    reason: str
    ts: datetime
    connected: bool = True
    out_of_sync: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "ts", utc(self.ts, "ts"))


@dataclass(frozen=True, slots=True)
class SafeModeChanged:
    """No new entries while `reasons` is not empty; exits and stops keep working."""

    on: bool
    reasons: tuple[str, ...]
    ts: datetime

    def __post_init__(self) -> None:
        object.__setattr__(self, "ts", utc(self.ts, "ts"))


@dataclass(frozen=True, slots=True)
class StartupReconciling:
    """The money path (re)started: not ready to trade until `StartupReconciled` follows."""

    ts: datetime

    def __post_init__(self) -> None:
        object.__setattr__(self, "ts", utc(self.ts, "ts"))


@dataclass(frozen=True, slots=True)
class ReconcileRequest:
    """Anyone may ask for a reconciliation now (e.g. after the private feed reconnected)."""

    reason: str
    ts: datetime

    def __post_init__(self) -> None:
        object.__setattr__(self, "ts", utc(self.ts, "ts"))


@dataclass(frozen=True, slots=True)
class StartupReconciled:
    """The bot's books agree with the venue after a start (until then it is not ready to trade)."""

    summary: str
    ts: datetime

    def __post_init__(self) -> None:
        object.__setattr__(self, "ts", utc(self.ts, "ts"))


@dataclass(frozen=True, slots=True)
class VenueCatchUp:
    """The paper venue is judging its resting orders against the prints it missed while crocbot was down (`done`
    False: its orders and the market wait, so the bot is not ready), or has finished (`done` True)."""

    done: bool
    summary: str
    ts: datetime

    def __post_init__(self) -> None:
        object.__setattr__(self, "ts", utc(self.ts, "ts"))


@dataclass(frozen=True, slots=True)
class ATRUpdate:
    """The latest average true range of a symbol's candles, for trailing stops."""

    symbol: str
    atr: Decimal
    ts: datetime


@dataclass(frozen=True, slots=True)
class CandleHistoryWanted:
    """A (re)started consumer of candles asks for the history so far: the candle buffer answers with one
    `CandleHistory` per symbol it has candles for (a crashed strategy must not sit cold for its warm-up)."""

    ts: datetime


@dataclass(frozen=True, slots=True)
class CandleHistory:
    """Closed candles of one symbol, oldest first: the REST backfill at start, or the buffer's whole history when a
    consumer asks for it (`CandleHistoryWanted`)."""

    symbol: str
    timeframe: Timeframe
    candles: tuple[Candle, ...]
