"""The router's side of a reconciliation: its books for the comparison, and the plan carried out.

Kept apart from `crocbot.actors.router` (which mixes it in) because it is the one part of the router that runs
only at start-up and on the reconciler's periodic runs. The plan (`crocbot.core.reconcile`) says what the books
must learn; here the fills are journaled and booked (orders the journal lost are taken back first,
`crocbot.core.desk_adopt`), the venue's word on orders is applied, what the venue never heard of is taken off the
books, crocbot's own resting stops are taken back as protection, and what is still foreign is dealt with by
policy. Only then is the router ready for entries.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from crocbot.actors.messages import ApplyReconciliation, BooksSnapshot, VenueRequest
from crocbot.core.desk import Desk
from crocbot.core.desk_adopt import ADOPTED, VenueStop, adopt_filled, adopt_stop, purpose_of, stop_adopted
from crocbot.core.desk_types import Action, CancelOrder
from crocbot.core.messages import OrderAmended, OrderEvent, OrderPurpose, OrderStatus
from crocbot.core.messages.journal import RecordAmend, RecordEvent, RecordFill
from crocbot.core.reconcile import NOT_AT_VENUE, BookOrder, BooksView, ForeignOrderPolicy, Plan, VenueOrder
from crocbot.kraken.instruments import Instrument
from crocbot.ops.metrics import Metrics
from crocbot.venues.protocol import Cancel

__all__ = ["ReconcilingRouter", "BooksSnapshot", "ApplyReconciliation"]

_FOREIGN_HALT = "venue orders unknown to the journal"


class ReconcilingRouter:
    """Mixed into `Router`, which provides what is declared here."""

    _instruments: dict[str, Instrument]
    _metrics: Metrics
    _stale_entries: list[tuple[str, str]]
    _ready: bool
    services: Any
    clock: Any

    @property
    def desk(self) -> Desk:
        raise NotImplementedError

    def _run(self, actions: list[Action]) -> None:
        raise NotImplementedError

    def _ask(self, message: object) -> Any:
        raise NotImplementedError

    def _books(self) -> BooksView:
        desk = self.desk
        orders = tuple(
            BookOrder(o.cl_ord_id, o.symbol, o.purpose, o.status, o.intent.ts, o.qty, o.limit_price, o.trigger_price)
            for o in desk.orders.values()
            if o.is_open
        )
        ledger = desk.ledger
        holdings = {ledger.quote: ledger.cash}
        for symbol, instrument in self._instruments.items():
            holdings[instrument.base] = holdings.get(instrument.base, Decimal(0)) + ledger.position(symbol)
        return BooksView(orders, frozenset(), ledger.unbooked(), holdings)

    def _apply(self, message: ApplyReconciliation) -> list[str]:
        desk, plan, now = self.desk, message.plan, self.clock.now()
        done: list[str] = []
        for amended in plan.amended:  # first: a fill booked against the old size would over-fill the order
            order = desk.orders.get(amended.cl_ord_id)
            if order is None or not order.is_open:
                continue
            self._ask(RecordAmend(amended))
            self._run(desk.on_amended(amended, now))
            done.append(f"{order.purpose} {amended.cl_ord_id}: amended as the venue confirmed ({_terms(amended)})")
        stops = _resting_stops(plan.foreign)
        adopted = self._book_fills(plan, stops, now)
        if plan.fills:
            done.append(f"booked {len(plan.fills)} fills ({len(plan.backfilled)} backfilled into the journal)")
        if adopted:
            done.append(f"took back {len(adopted)} orders the journal had lost: {', '.join(sorted(adopted))}")
        for event in plan.events:
            order = desk.orders.get(event.cl_ord_id)
            if order is None:
                continue
            self._ask(RecordEvent(event))  # the journal learns the venue's word even where a fill said it already
            if order.is_open:
                self._run(desk.on_order_event(event, now))
            done.append(f"{order.purpose} {event.cl_ord_id}: {event.status} ({event.reason})")
        for cl_ord_id in plan.not_at_venue:
            order = desk.orders.get(cl_ord_id)
            if order is None or not order.is_open:
                continue
            if order.purpose is OrderPurpose.STOP:
                desk.stop_cancels.add(cl_ord_id)  # protect the position again rather than leave it
            event = OrderEvent(cl_ord_id, OrderStatus.CANCELLED, now, reason=NOT_AT_VENUE)
            self._ask(RecordEvent(event))
            self._run(desk.on_order_event(event, now))
            done.append(f"{order.purpose} {cl_ord_id}: unknown to the venue, taken off the books")
        for stop in stops.values():  # crocbot's own resting stops for positions that have no stop order
            if stop.cl_ord_id not in adopted and (actions := adopt_stop(desk, stop, now)) is not None:
                self._run(actions)
                adopted.add(stop.cl_ord_id)
                done.append(f"stop {stop.cl_ord_id}: taken back as the protection of its {stop.symbol} position")
        if message.startup:
            for cl_ord_id, symbol in self._stale_entries:  # their TTL and chase died with the old process
                order = desk.orders.get(cl_ord_id)
                if order is not None and order.is_open:
                    self._run([CancelOrder(cl_ord_id, symbol)])
                    done.append(f"entry {cl_ord_id}: cancelled (its timers died with the old process)")
            self._stale_entries = []
            self._run(desk.resume(now))  # every open position protected and announced
        foreign = tuple(o for o in plan.foreign if o.cl_ord_id not in adopted)
        done += self._foreign(foreign, message.policy, now)
        self._ready = True
        return done

    def _book_fills(self, plan: Plan, stops: Mapping[str, VenueStop], now: datetime) -> set[str]:
        """Journal and book the plan's fills, oldest first; an order of crocbot's that the journal lost (restored
        from an older backup) is taken back first (`crocbot.core.desk_adopt`). Returns the ids taken back."""
        desk = self.desk
        lost: dict[str, Decimal] = {}
        for fill in plan.fills:
            if fill.cl_ord_id not in desk.orders:
                lost[fill.cl_ord_id] = lost.get(fill.cl_ord_id, Decimal(0)) + fill.qty
        adopted: set[str] = set()
        stop_to_record: set[str] = set()  # positions opened by an adopted entry under an adopted venue stop
        for fill in plan.fills:
            if fill.cl_ord_id in lost and fill.cl_ord_id not in adopted:
                stop = stops.get(fill.symbol) if purpose_of(fill.cl_ord_id) is OrderPurpose.ENTRY else None
                actions = adopt_filled(desk, fill, lost[fill.cl_ord_id], now, stop=stop)
                if actions is not None:
                    self._run(actions)
                    adopted.add(fill.cl_ord_id)
                    if stop is not None and stop.cl_ord_id in desk.orders:
                        adopted.add(stop.cl_ord_id)
                        stop_to_record.add(desk.orders[fill.cl_ord_id].position_id or "")
            order = desk.orders.get(fill.cl_ord_id)
            backfilled = fill.fill_id in plan.backfilled
            answer = self._ask(RecordFill(fill, order.position_id if order is not None else None, backfilled))
            if backfilled:
                self._metrics.inc("crocbot_fills_backfilled_total")
            if not desk.ledger.booked(fill.fill_id, journaled=answer is False):  # as `Router.handle` books a Fill
                self._run(desk.on_fill(fill, now))
            if order is not None and order.position_id in stop_to_record:
                stop_to_record.discard(order.position_id)
                self._run(stop_adopted(desk, order.position_id))
        for cl_ord_id in sorted(adopted):
            order = desk.orders[cl_ord_id]
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
                self._ask(RecordEvent(event))
        return adopted

    def _foreign(self, foreign: tuple[VenueOrder, ...], policy: ForeignOrderPolicy, now: datetime) -> list[str]:
        if policy is ForeignOrderPolicy.HALT:  # halted while they are there; a later run that finds none resumes
            self._run(self.desk.set_safe(_FOREIGN_HALT, bool(foreign), now))
        if not foreign:
            return []
        ids = ", ".join(f"{o.cl_ord_id or o.order_id} ({o.symbol})" for o in foreign)
        if policy is ForeignOrderPolicy.CANCEL:
            commands = tuple(Cancel(o.cl_ord_id or o.order_id, o.symbol, now) for o in foreign)
            for command in commands:  # charged to the pair's trading counter like the desk's own
                self.desk.sending(CancelOrder(command.cl_ord_id, command.symbol), now)
            self.services.bus.publish(VenueRequest(commands))
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
