"""The desk's side of a reconciliation: its books for the comparison, and the plan applied, as pure code.

The plan (`crocbot.core.reconcile`) says what the books must learn; here the venue's amends are applied first, the
fills are booked (orders the journal lost are taken back first, `crocbot.core.desk.adoption`), the venue's word on
orders is applied, what the venue never heard of is taken off the books, crocbot's own resting stops are taken back
as protection, and what is still foreign is dealt with by policy. At the first one after a start, entries whose
timers died with the old process are cancelled and every open position is protected (`restore.resume`). The router
only asks the journal which of the plan's fills it holds already, and carries the actions out.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal

from crocbot.core.desk.actions import Action, Record
from crocbot.core.desk.adoption import ADOPTED, VenueStop, adopt_filled, adopt_stop, purpose_of, stop_adopted
from crocbot.core.desk.events import FillSeen
from crocbot.core.desk.handling import finish, handle
from crocbot.core.desk.restore import resume
from crocbot.core.desk.safety import set_safe
from crocbot.core.desk.state import Book
from crocbot.core.messages import OrderAmended, OrderEvent, OrderPurpose, OrderStatus
from crocbot.core.messages.commands import Cancel
from crocbot.core.messages.journal import RecordEvent
from crocbot.core.reconcile import NOT_AT_VENUE, BookOrder, BooksView, ForeignOrderPolicy, Plan, VenueOrder

__all__ = ["books_view", "apply_plan"]

FOREIGN_HALT = "venue orders unknown to the journal"


def books_view(book: Book) -> BooksView:
    """The desk's books for a reconciliation (`BooksView` without the journal's fill ids)."""
    orders = tuple(
        BookOrder(o.cl_ord_id, o.symbol, o.purpose, o.status, o.intent.ts, o.qty, o.limit_price, o.trigger_price)
        for o in book.orders.values()
        if o.is_open
    )
    ledger = book.ledger
    holdings = {ledger.quote: ledger.cash}
    for symbol, instrument in book.instruments.items():
        holdings[instrument.base] = holdings.get(instrument.base, Decimal(0)) + ledger.position(symbol)
    # each fill's cost rounded by the venue by half a unit of its pair's cost decimals at most (the coarsest pair's)
    step = max((Decimal(1).scaleb(-i.cost_precision) for i in book.instruments.values()), default=Decimal(0))
    rounding = {ledger.quote: ledger.fills_booked * step / 2}
    return BooksView(orders, frozenset(), ledger.unbooked(), holdings, rounding)


def apply_plan(
    book: Book,
    plan: Plan,
    policy: ForeignOrderPolicy,
    now: datetime,
    *,
    startup: bool,
    journaled: frozenset[str],
) -> tuple[list[Action], list[str]]:
    """The actions that carry `plan` out (each step finished as it is decided, so that the inventory fence sees the
    books as they are at that step), and what was done, one line per kind of change. `journaled`: the plan's fills
    the journal held before (`KnownFill`)."""
    actions: list[Action] = []
    done: list[str] = []
    for amended in plan.amended:  # first: a fill booked against the old size would over-fill the order
        order = book.orders.get(amended.cl_ord_id)
        if order is None or not order.is_open:
            continue
        actions += handle(book, amended, now)
        done.append(f"{order.purpose} {amended.cl_ord_id}: amended as the venue confirmed ({_terms(amended)})")
    stops = _resting_stops(plan.foreign)
    adopted = _book_fills(book, plan, stops, journaled, now, actions)
    if plan.fills:
        done.append(f"booked {len(plan.fills)} fills ({len(plan.backfilled)} backfilled into the journal)")
    if adopted:
        done.append(f"took back {len(adopted)} orders the journal had lost: {', '.join(sorted(adopted))}")
    for event in plan.events:
        order = book.orders.get(event.cl_ord_id)
        if order is None:
            continue
        # the journal learns the venue's word even where a fill said it already
        actions += handle(book, event, now) if order.is_open else finish(book, [Record(RecordEvent(event))], now)
        done.append(f"{order.purpose} {event.cl_ord_id}: {event.status} ({event.reason})")
    for cl_ord_id in plan.not_at_venue:
        order = book.orders.get(cl_ord_id)
        if order is None or not order.is_open:
            continue
        if order.purpose is OrderPurpose.STOP:
            book.stop_cancels.add(cl_ord_id)  # protect the position again rather than leave it
        actions += handle(book, OrderEvent(cl_ord_id, OrderStatus.CANCELLED, now, reason=NOT_AT_VENUE), now)
        done.append(f"{order.purpose} {cl_ord_id}: unknown to the venue, taken off the books")
    for stop in stops.values():  # crocbot's own resting stops for positions that have no stop order
        if stop.cl_ord_id not in adopted and (taken := adopt_stop(book, stop, now)) is not None:
            actions += finish(book, taken, now)
            adopted.add(stop.cl_ord_id)
            done.append(f"stop {stop.cl_ord_id}: taken back as the protection of its {stop.symbol} position")
    if startup:
        for cl_ord_id, symbol in book.take_stale_entries():  # their TTL and chase died with the old process
            order = book.orders.get(cl_ord_id)
            if order is not None and order.is_open:
                actions += finish(book, [Cancel(cl_ord_id, symbol, now)], now)
                done.append(f"entry {cl_ord_id}: cancelled (its timers died with the old process)")
        actions += finish(book, resume(book, now), now)  # every open position protected and announced
    foreign = tuple(o for o in plan.foreign if o.cl_ord_id not in adopted)
    done += _foreign(book, foreign, policy, now, actions)
    return actions, done


def _book_fills(
    book: Book,
    plan: Plan,
    stops: Mapping[str, VenueStop],
    journaled: frozenset[str],
    now: datetime,
    actions: list[Action],
) -> set[str]:
    """Commit and book the plan's fills, oldest first; an order of crocbot's that the journal lost (restored from an
    older backup) is taken back first (`crocbot.core.desk.adoption`). Returns the ids taken back."""
    lost: dict[str, Decimal] = {}
    for fill in plan.fills:
        # A fill the journal holds, or the books booked lately, proves the journal has its order: the books only
        # forgot it once it ended (`Book.forget_settled`). Taking it back would journal its intent a second time.
        known = fill.fill_id in journaled or book.ledger.has_fill(fill.fill_id)
        if fill.cl_ord_id not in book.orders and not known:
            lost[fill.cl_ord_id] = lost.get(fill.cl_ord_id, Decimal(0)) + fill.qty
    adopted: set[str] = set()
    stop_to_record: set[str] = set()  # positions opened by an adopted entry under an adopted venue stop
    for fill in plan.fills:
        if fill.cl_ord_id in lost and fill.cl_ord_id not in adopted:
            stop = stops.get(fill.symbol) if purpose_of(fill.cl_ord_id) is OrderPurpose.ENTRY else None
            taken = adopt_filled(book, fill, lost[fill.cl_ord_id], now, stop=stop)
            if taken is not None:
                actions += finish(book, taken, now)
                adopted.add(fill.cl_ord_id)
                if stop is not None and stop.cl_ord_id in book.orders:
                    adopted.add(stop.cl_ord_id)
                    stop_to_record.add(book.orders[fill.cl_ord_id].position_id or "")
        order = book.orders.get(fill.cl_ord_id)
        seen = FillSeen(fill, journaled=fill.fill_id in journaled, backfilled=fill.fill_id in plan.backfilled)
        actions += handle(book, seen, now)  # as the router books a live fill
        if order is not None and order.position_id in stop_to_record:
            stop_to_record.discard(order.position_id)
            actions += finish(book, stop_adopted(book, order.position_id), now)
    for cl_ord_id in sorted(adopted):
        order = book.orders[cl_ord_id]
        if order.status is OrderStatus.FILLED:
            event = OrderEvent(
                cl_ord_id,
                OrderStatus.FILLED,
                order.updated_at or now,
                order_id=order.venue_id,
                filled_qty=order.filled,
                avg_price=order.avg_price,
                reason=ADOPTED,
            )
            actions += finish(book, [Record(RecordEvent(event))], now)
    return adopted


def _foreign(
    book: Book, foreign: tuple[VenueOrder, ...], policy: ForeignOrderPolicy, now: datetime, actions: list[Action]
) -> list[str]:
    if policy is ForeignOrderPolicy.HALT:  # halted while they are there; a later run that finds none resumes
        actions += finish(book, set_safe(book, FOREIGN_HALT, bool(foreign), now), now)
    if not foreign:
        return []
    ids = ", ".join(f"{o.cl_ord_id or o.order_id} ({o.symbol})" for o in foreign)
    if policy is ForeignOrderPolicy.CANCEL:
        actions += finish(book, [Cancel(o.cl_ord_id or o.order_id, o.symbol, now) for o in foreign], now)
        return [f"cancelled venue orders the journal does not know: {ids}"]
    if policy is ForeignOrderPolicy.HALT:
        return [f"entries halted: venue orders the journal does not know: {ids}"]
    return [f"left working (adopted): venue orders the journal does not know: {ids}"]


def _resting_stops(foreign: tuple[VenueOrder, ...]) -> dict[str, VenueStop]:
    """crocbot's own stop orders resting on the venue that the books do not know, by symbol (one position per
    symbol, so at most one is its protection; with two, neither is taken and both stay foreign)."""
    found: dict[str, list[VenueStop]] = {}
    for order in foreign:
        if purpose_of(order.cl_ord_id) is not OrderPurpose.STOP or not order.order_type.startswith("stop-loss"):
            continue
        if order.cl_ord_id is None or order.side is None or order.qty is None or order.trigger_price is None:
            continue
        left = order.qty - order.filled
        if left > 0:
            stop = VenueStop(
                order.cl_ord_id, order.symbol, order.side, left, order.trigger_price, order.order_id, order.ts
            )
            found.setdefault(order.symbol, []).append(stop)
    return {symbol: stops[0] for symbol, stops in found.items() if len(stops) == 1}


def _terms(amended: OrderAmended) -> str:
    terms = (("qty", amended.qty), ("limit", amended.limit_price), ("trigger", amended.trigger_price))
    return ", ".join(f"{name} {value:f}" for name, value in terms if value is not None)
