"""The order commands: one vocabulary from the desk that decides them to the venue that carries them out.

The desk (`crocbot.core.desk`) emits them, the router passes them on unchanged in a `VenueRequest`, and every venue
(`crocbot.venues.protocol`) takes them. What only the journal needs (an order's position, why it was sent, an
entry's brackets) travels in the journal records that go ahead of them (`RecordIntent`), not in a second command
type.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from crocbot.core.messages.orders import OrderIntent

__all__ = ["Submit", "Amend", "Cancel", "Query", "VenueCommand"]


@dataclass(frozen=True, slots=True)
class Submit:
    """Place the order. Its intent is journaled (durably, for an entry) before it goes out."""

    intent: OrderIntent
    # Sent only once the venue confirms these orders' cancels (the stops an exit replaces): never beside them.
    after_cancels: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Amend:
    cl_ord_id: str
    symbol: str
    ts: datetime
    qty: Decimal | None = None  # the order's new total, what it has filled included (Kraken's amend)
    limit_price: Decimal | None = None
    trigger_price: Decimal | None = None


@dataclass(frozen=True, slots=True)
class Cancel:
    cl_ord_id: str
    symbol: str
    ts: datetime


@dataclass(frozen=True, slots=True)
class Query:
    """Ask for an order's current terms: the answer is an `OrderLookedUp` (after a cancel or amend whose outcome is
    unknown)."""

    cl_ord_id: str
    symbol: str
    ts: datetime


VenueCommand = Submit | Amend | Cancel | Query
