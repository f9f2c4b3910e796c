"""The one protocol between the order router and a venue (paper or live).

The router sends commands; the venue answers with events: `OrderEvent`s and `Fill`s (core messages), plus an
`OrderAmended` when an amend took effect and a `CommandRejected` when a cancel or an amend did not (the order
itself is unchanged then). A rejected order (`OrderEvent` with status rejected) carries Kraken's error string
as its reason. A venue never raises for a business outcome.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Protocol

from crocbot.core.messages import CommandRejected, Fill, OrderAmended, OrderEvent, OrderIntent

__all__ = [
    "Submit",
    "Amend",
    "Cancel",
    "VenueCommand",
    "OrderAmended",
    "CommandRejected",
    "VenueEvent",
    "Venue",
]


@dataclass(frozen=True, slots=True)
class Submit:
    intent: OrderIntent


@dataclass(frozen=True, slots=True)
class Amend:
    cl_ord_id: str
    symbol: str
    ts: datetime
    qty: Decimal | None = None
    limit_price: Decimal | None = None
    trigger_price: Decimal | None = None


@dataclass(frozen=True, slots=True)
class Cancel:
    cl_ord_id: str
    symbol: str
    ts: datetime


VenueCommand = Submit | Amend | Cancel


VenueEvent = OrderEvent | Fill | OrderAmended | CommandRejected


class Venue(Protocol):
    def execute(self, command: VenueCommand) -> list[VenueEvent]:
        """Carry out one command; its events, in order."""
        ...
