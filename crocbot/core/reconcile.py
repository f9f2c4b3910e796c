"""Reconciliation: the bot's books against the venue's, as a pure comparison.

After a crash, a kill -9 or a lost connection the venue is the truth about orders and fills; the journal is the
truth about intent (why an order exists, which position it protects). `reconcile` compares the two and says
what the books must learn: fills the books lack (oldest first), the final state of orders the books still hold
open, orders the venue has never heard of, and open venue orders the books do not know. It decides nothing
about policy; the router and the reconciler actor carry the plan out.

`grace` keeps a periodic run from reporting what is merely in flight: a venue fact younger than `grace` may
still be on its way to the router through the live feed, so it is left alone (a start-up run uses 0).

Balances: a paper account is crocbot's alone, so its balances must equal the books'. A live account may hold coins
that are not crocbot's (the trader's own, in the same assets), so there the books need only be covered (the
inventory fence, `crocbot.core.fence`): a gap is reported when what is free at the venue (balance minus what open
orders hold) plus what crocbot's own open orders hold is below what the books hold; extra coins are no gap.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum

from crocbot.core.checks import utc
from crocbot.core.messages import Fill, OrderAmended, OrderEvent, OrderPurpose, OrderStatus, Side
from crocbot.core.money import ONE, ZERO
from crocbot.core.symbols import split_v2

__all__ = [
    "VenueOrder",
    "VenueView",
    "BookOrder",
    "BooksView",
    "ForeignOrderPolicy",
    "Plan",
    "reconcile",
    "NEVER_SENT",
    "NOT_AT_VENUE",
    "own_holds",
]

NEVER_SENT = "not at the venue: crocbot stopped after journaling it and before sending it"
NOT_AT_VENUE = "the venue does not know this order"

# journaled; the venue's answer never reached the books
_WAITING = (OrderStatus.CREATED, OrderStatus.SUBMITTED, OrderStatus.UNKNOWN)
_VENUE_ENDED = (OrderStatus.FILLED, OrderStatus.CANCELLED, OrderStatus.EXPIRED, OrderStatus.REJECTED)
# An order the running router sent (SUBMITTED) may take this long to reach the venue before it counts as lost, even
# in a start-up run: a start-up run of the reconciler alone (after a crash of an actor started after the router)
# meets the router's orders in flight.
_IN_FLIGHT = timedelta(seconds=30)
# What a venue holds for an open buy beyond its price: the fee it will charge (Kraken reserves the taker fee, at
# most 0.40% on its lowest tier). Counting crocbot's own buy holds a little high can hide a shortfall of at most
# this fraction of its open buys; counting them low would report a gap where there is none, on every run.
_BUY_HOLD_FEE = Decimal("0.005")


class ForeignOrderPolicy(StrEnum):
    """What to do with an open venue order the journal does not know (a manual order, or one whose intent a
    restored journal lost)."""

    ADOPT = "adopt"  # leave it working, list it in the report
    CANCEL = "cancel"  # cancel it
    HALT = "halt"  # leave it, alert, and halt entries until a person has looked


@dataclass(frozen=True, slots=True)
class VenueOrder:
    """One order as the venue reports it."""

    cl_ord_id: str | None
    order_id: str
    symbol: str
    status: OrderStatus  # ACKED or PARTIALLY_FILLED while open; FILLED, CANCELLED, EXPIRED or REJECTED after
    filled: Decimal
    avg_price: Decimal | None
    ts: datetime  # its last change at the venue
    # Its terms, where the venue says (an order crocbot's journal lost can be taken back with them).
    side: Side | None = None
    order_type: str = ""  # Kraken's: market, limit, stop-loss, ...
    qty: Decimal | None = None
    trigger_price: Decimal | None = None
    limit_price: Decimal | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "ts", utc(self.ts, "ts"))

    @property
    def is_open(self) -> bool:
        return self.status in (OrderStatus.ACKED, OrderStatus.PARTIALLY_FILLED)


@dataclass(frozen=True, slots=True)
class VenueView:
    """What the venue says: its open orders and the closed ones it was asked about, its fills since a time, and
    its balances."""

    orders: tuple[VenueOrder, ...]
    fills: tuple[Fill, ...]
    balances: Mapping[str, Decimal]
    as_of: datetime
    # Client ids of orders the venue has received and not yet acted on (in its latency window, or held while it
    # catches up with the market): on their way, neither lost nor never sent.
    pending: frozenset[str] = frozenset()
    # True when the account may hold coins that are not crocbot's (live): the books need only be covered by what is
    # free (`balances` minus `held`, what open orders hold) plus what crocbot's own open orders hold.
    shared: bool = False
    held: Mapping[str, Decimal] = field(default_factory=dict)  # asset -> amount open orders hold (shared only)

    def __post_init__(self) -> None:
        object.__setattr__(self, "as_of", utc(self.as_of, "as_of"))


@dataclass(frozen=True, slots=True)
class BookOrder:
    """One order the books hold open."""

    cl_ord_id: str
    symbol: str
    purpose: OrderPurpose
    status: OrderStatus
    sent_at: datetime
    # Its terms as the books know them (the intent's, or the last amend they heard of); None: not compared.
    qty: Decimal | None = None
    limit_price: Decimal | None = None
    trigger_price: Decimal | None = None


@dataclass(frozen=True, slots=True)
class BooksView:
    """What the books say: open orders, fills journaled, the journaled fills the ledger has not booked (a crash came
    between the two; every other journaled fill is booked, see `crocbot.core.ledger`), and the holdings the ledger
    implies (base asset per symbol and the quote cash)."""

    orders: tuple[BookOrder, ...]
    journaled_fills: frozenset[str]
    unbooked_fills: frozenset[str]
    holdings: Mapping[str, Decimal] = field(default_factory=dict)  # asset -> amount
    # asset -> how far the venue's balance may be from the books' by rounding alone: Kraken rounds each order's cost
    # to its pair's decimals (half a unit at most), the books keep it exact
    rounding: Mapping[str, Decimal] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Plan:
    fills: tuple[Fill, ...] = ()  # for the books, oldest first
    backfilled: frozenset[str] = frozenset()  # those of `fills` the journal lacks (the rest are only unbooked)
    events: tuple[OrderEvent, ...] = ()  # the venue's final word on orders the books hold open
    amended: tuple[OrderAmended, ...] = ()  # terms the venue confirmed that the books never heard of
    not_at_venue: tuple[str, ...] = ()  # acknowledged orders the venue does not know (cl_ord_ids)
    foreign: tuple[VenueOrder, ...] = ()  # open at the venue, unknown to the books
    # (asset, books, venue) where they differ; for a shared account, where the venue's figure (free plus crocbot's
    # own holds) is below the books'
    balance_gaps: tuple[tuple[str, Decimal, Decimal], ...] = ()
    shared: bool = False  # the venue's account may hold coins that are not crocbot's (see `VenueView.shared`)

    @property
    def clean(self) -> bool:
        return not (self.fills or self.events or self.amended or self.not_at_venue or self.foreign)

    def summary(self) -> str:
        if self.clean and not self.balance_gaps:
            return "books agree with the venue"
        parts = []
        if self.fills:
            parts.append(f"{len(self.fills)} fills to book ({len(self.backfilled)} new to the journal)")
        if self.events:
            parts.append(f"{len(self.events)} order states from the venue")
        if self.amended:
            parts.append(f"{len(self.amended)} amends the books missed")
        if self.not_at_venue:
            parts.append(f"{len(self.not_at_venue)} orders unknown to the venue ({', '.join(self.not_at_venue)})")
        if self.foreign:
            ids = ", ".join(o.cl_ord_id or o.order_id for o in self.foreign)
            parts.append(f"{len(self.foreign)} venue orders unknown to the books ({ids})")
        for asset, books, venue in self.balance_gaps:
            if self.shared:
                parts.append(f"{asset}: books {books:f}, only {venue:f} free for crocbot at the venue")
            else:
                parts.append(f"{asset}: books {books:f}, venue {venue:f}")
        return "; ".join(parts)


def reconcile(
    books: BooksView, venue: VenueView, *, recorded: Sequence[Fill] = (), grace: timedelta = timedelta(0)
) -> Plan:
    """`recorded`: fills the journal or the trade log hold, which the venue may no longer list (a venue keeps a
    bounded history); any of them the journal lacks is in the plan too, and so is every one the books name unbooked
    (however old: they are journaled facts, not news that may still be on its way)."""
    settled = venue.as_of - grace
    fills = sorted(
        (
            f
            for f in (*venue.fills, *recorded)
            if f.fill_id in books.unbooked_fills or (f.ts <= settled and f.fill_id not in books.journaled_fills)
        ),
        key=lambda f: (f.ts, f.fill_id),
    )
    unique: dict[str, Fill] = {}
    for fill in fills:  # stable sort: the venue's copy of a fill comes before the journal's or the log's
        unique.setdefault(fill.fill_id, fill)
    fills = list(unique.values())
    by_id = {o.cl_ord_id: o for o in venue.orders if o.cl_ord_id}
    events: list[OrderEvent] = []
    amended: list[OrderAmended] = []
    not_at_venue: list[str] = []
    for order in books.orders:
        seen = by_id.get(order.cl_ord_id)
        if seen is None:
            if order.sent_at > settled or order.cl_ord_id in venue.pending:
                continue
            if order.status is OrderStatus.SUBMITTED and order.sent_at > venue.as_of - _IN_FLIGHT:
                continue  # sent by the running router a moment ago (a restored order is UNKNOWN): on its way
            if order.status in _WAITING:
                events.append(OrderEvent(order.cl_ord_id, OrderStatus.REJECTED, venue.as_of, reason=NEVER_SENT))
            else:
                not_at_venue.append(order.cl_ord_id)
            continue
        if seen.ts > settled:
            continue
        if seen.is_open and (change := _amended(order, seen)) is not None:
            amended.append(change)
        status = None
        if seen.status in _VENUE_ENDED:
            status = seen.status
        elif order.status in _WAITING:
            status = OrderStatus.ACKED  # it reached the venue; its fills (if any) come with `fills`
        if status is not None:
            events.append(
                OrderEvent(
                    order.cl_ord_id,
                    status,
                    seen.ts,
                    order_id=seen.order_id,
                    filled_qty=seen.filled,
                    avg_price=seen.avg_price,
                    reason="reconciled with the venue",
                )
            )
    open_ids = frozenset(o.cl_ord_id for o in books.orders)
    foreign = tuple(
        o
        for o in venue.orders
        if o.is_open and o.ts <= settled and (o.cl_ord_id is None or o.cl_ord_id not in open_ids)
    )
    in_flight = any(f.ts > settled for f in venue.fills)  # balances already include it; the books not yet
    return Plan(
        fills=tuple(fills),
        backfilled=frozenset(f.fill_id for f in fills if f.fill_id not in books.journaled_fills),
        events=tuple(events),
        amended=tuple(amended),
        not_at_venue=tuple(not_at_venue),
        foreign=foreign,
        balance_gaps=() if fills or in_flight else _balance_gaps(books, venue),
        shared=venue.shared,
    )


def _amended(order: BookOrder, seen: VenueOrder) -> OrderAmended | None:
    """The venue's terms where they differ from the books' (an amend confirmed while crocbot was dying)."""
    pairs = (
        ("qty", order.qty, seen.qty),
        ("limit_price", order.limit_price, seen.limit_price),
        ("trigger_price", order.trigger_price, seen.trigger_price),
    )
    terms = {name: venue for name, books, venue in pairs if books is not None and venue is not None and books != venue}
    return OrderAmended(order.cl_ord_id, seen.ts, **terms) if terms else None


def _balance_gaps(books: BooksView, venue: VenueView) -> tuple[tuple[str, Decimal, Decimal], ...]:
    # Only the assets the books hold: a real account may hold others that are none of crocbot's business.
    if not venue.shared:
        return tuple(
            (asset, amount, venue.balances.get(asset, ZERO))
            for asset, amount in sorted(books.holdings.items())
            if abs(amount - venue.balances.get(asset, ZERO)) > books.rounding.get(asset, ZERO)
        )
    own = own_holds(venue.orders, frozenset(o.cl_ord_id for o in books.orders))
    gaps = []
    for asset, amount in sorted(books.holdings.items()):
        covered = venue.balances.get(asset, ZERO) - venue.held.get(asset, ZERO) + own.get(asset, ZERO)
        if covered < amount - books.rounding.get(asset, ZERO):
            gaps.append((asset, amount, covered))
    return tuple(gaps)


def own_holds(orders: Sequence[VenueOrder], own: frozenset[str]) -> dict[str, Decimal]:
    """What crocbot's open orders among `orders` (those whose client ids are in `own`) hold, by asset: a sell its
    unfilled base, a buy its unfilled quote at its limit (or trigger) price plus the fee a venue reserves."""
    held: dict[str, Decimal] = {}
    for order in orders:
        if not order.is_open or order.cl_ord_id not in own or order.qty is None or order.side is None:
            continue
        base, quote = split_v2(order.symbol)
        remaining = max(order.qty - order.filled, ZERO)
        if order.side is Side.SELL:
            held[base] = held.get(base, ZERO) + remaining
            continue
        price = order.limit_price if order.limit_price is not None else order.trigger_price
        if price is not None:  # a market buy holds nothing: it executes as it arrives
            held[quote] = held.get(quote, ZERO) + remaining * price * (ONE + _BUY_HOLD_FEE)
    return held
