"""The desk's own events: its timers, and what the router did with its orders or heard of a fill."""

from __future__ import annotations

from dataclasses import dataclass

from crocbot.core.messages import (
    ActorEscalated,
    BreakerStateChanged,
    CommandRejected,
    CommandUnknown,
    ExitRequest,
    FeedHealth,
    Fill,
    InstrumentStatusChanged,
    OrderAmended,
    OrderEvent,
    OrderLookedUp,
    Signal,
    StopAmendRequest,
    VenueAnomaly,
)
from crocbot.core.messages.commands import Amend, Submit

__all__ = ["EntryTTL", "StopBudgetDue", "LookupDue", "Submitted", "NotSent", "FillSeen", "DeskEvent"]


@dataclass(frozen=True, slots=True)
class EntryTTL:
    """A resting entry's time is up: reprice it (attempt <= max) or cancel it."""

    cl_ord_id: str
    attempt: int


@dataclass(frozen=True, slots=True)
class StopBudgetDue:
    """Timer: the trading counter of `symbol` should have room again for the stop amends waiting for it."""

    symbol: str


@dataclass(frozen=True, slots=True)
class ProtectionDue:
    """Timer: ask Kraken again to protect (or exit) a position whose stop or exit it refused for a halt."""

    position_id: str


@dataclass(frozen=True, slots=True)
class LookupDue:
    """Timer: ask the venue again for the terms of an order whose last lookup got no answer."""

    cl_ord_id: str


@dataclass(frozen=True, slots=True)
class Submitted:
    """Event: the router sent this order (its intent is journaled, or waits for the journal: a stop or an exit)."""

    cl_ord_id: str


@dataclass(frozen=True, slots=True)
class NotSent:
    """Event: the router did not send `command` (its intent could not be journaled)."""

    command: Submit | Amend
    why: str


@dataclass(frozen=True, slots=True)
class FillSeen:
    """Event: a fill from the venue (live, or found by reconciliation: `backfilled` when the venue's history brought
    it). `journaled`: the journal held it before it came this time (`KnownFill`)."""

    fill: Fill
    journaled: bool
    backfilled: bool = False


# What the desk's `on` takes: what happened at the venue, what the strategies and the SL manager want, its own timers,
# what the router did with its orders, and the health of what it depends on (market data, breakers, supervisors,
# a venue's fill it cannot square with its orders).
DeskEvent = (
    FillSeen
    | OrderEvent
    | OrderAmended
    | CommandRejected
    | CommandUnknown
    | OrderLookedUp
    | Signal
    | ExitRequest
    | StopAmendRequest
    | EntryTTL
    | StopBudgetDue
    | LookupDue
    | ProtectionDue
    | Submitted
    | NotSent
    | FeedHealth
    | BreakerStateChanged
    | ActorEscalated
    | VenueAnomaly
    | InstrumentStatusChanged
)
