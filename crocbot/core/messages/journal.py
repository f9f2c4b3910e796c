"""What the persistence actor is asked to record: each is durable once the ask returns."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from crocbot.core.messages.orders import Fill, OrderAmended, OrderEvent, OrderIntent
from crocbot.core.messages.positions import Position, StopKind
from crocbot.core.messages.trades import ClosedTrade, TradeContext

__all__ = [
    "EntryBrackets",
    "RecordIntent",
    "RecordEvent",
    "RecordAmend",
    "RecordFill",
    "RecordPositionOpened",
    "RecordPositionChanged",
    "RecordStop",
    "RecordPositionClosed",
    "SaveState",
    "LoadState",
    "JournalRecord",
    "RecordBatch",
    "KnownFill",
]


@dataclass(frozen=True, slots=True)
class EntryBrackets:
    """What an entry's position will be protected by; journaled with the entry, so a fill that arrives after a
    restart (or only through reconciliation) still opens a position with its stop."""

    initial_stop: Decimal
    take_profit: Decimal | None
    strategy: str = ""
    entry: Decimal | None = None  # the signal's entry price, which the trade log measures the entry's slippage from


@dataclass(frozen=True, slots=True)
class RecordIntent:
    intent: OrderIntent
    position_id: str | None
    reason: str = ""
    brackets: EntryBrackets | None = None


@dataclass(frozen=True, slots=True)
class RecordEvent:
    event: OrderEvent


@dataclass(frozen=True, slots=True)
class RecordAmend:
    amended: OrderAmended


@dataclass(frozen=True, slots=True)
class RecordFill:
    """Journal and trade-log a fill; answers True if it was new, False for a replay already recorded."""

    fill: Fill
    position_id: str | None
    backfilled: bool = False  # learnt from the venue by reconciliation, not from its live feed


@dataclass(frozen=True, slots=True)
class RecordPositionOpened:
    position: Position


@dataclass(frozen=True, slots=True)
class RecordPositionChanged:
    position_id: str
    qty: Decimal
    entry_price: Decimal


@dataclass(frozen=True, slots=True)
class RecordStop:
    position_id: str
    stop: Decimal
    kind: StopKind
    ts: datetime
    stop_cl_ord_id: str | None


@dataclass(frozen=True, slots=True)
class RecordPositionClosed:
    position_id: str
    ts: datetime
    trade: ClosedTrade | None
    context: TradeContext | None = None  # for the trade log's line (the journal keeps the exact figures)


@dataclass(frozen=True, slots=True)
class SaveState:
    key: str
    value: dict[str, Any]


@dataclass(frozen=True, slots=True)
class LoadState:
    key: str


# What `RecordBatch` carries: every record that changes the journal.
JournalRecord = (
    RecordIntent
    | RecordEvent
    | RecordAmend
    | RecordFill
    | RecordPositionOpened
    | RecordPositionChanged
    | RecordStop
    | RecordPositionClosed
    | SaveState
)


@dataclass(frozen=True, slots=True)
class RecordBatch:
    """Journal `records` in one transaction: one durable commit for all of them, or none of them (then the asker
    keeps the whole batch, as it keeps a single record). Answers a tuple with each record's own answer, in order
    (a `RecordFill`'s True for a new fill and False for a replay). Trade-log lines follow the commit, as they do for
    a single record; one event's records go as one batch, so an event costs one fsync, not one per record."""

    records: tuple[JournalRecord, ...]


@dataclass(frozen=True, slots=True)
class KnownFill:
    """Ask: has the journal recorded this fill already? A read (no commit), so that the router can decide whether
    to book a fill before it journals the fill together with what booking it changed."""

    fill_id: str
