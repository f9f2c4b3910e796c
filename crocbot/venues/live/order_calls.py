"""Kraken's order calls for `VenueCalls` (`crocbot.actors.venue.calls.OrderCalls`): the private WS first, REST
when it is down, one transport per order at a time.

Each call runs in a gateway worker with the call's deadline. The private WS (`WsTrading`) carries an order whenever
it is connected; REST (`KrakenApi`, `asset_class=tokenized_asset` and the amend's `pair` for xStocks) carries it
while the WS is down. An order is never worked on two transports at once: once a call on one transport has left
its outcome open (no answer by the deadline, a dropped connection), the order is looked up over REST by its
`cl_ord_id` before a call on the other transport touches it; on the same transport Kraken orders the requests itself.
- A refusal (Kraken's answer no, its error string) raises `VenueRefusal`; an open outcome raises something else, and
  `VenueCalls` reports the order `UNKNOWN` or the command `CommandUnknown`. Nothing is ever sent twice here.
- `query` resolves an order by `cl_ord_id` over REST (`OpenOrders`, then `ClosedOrders`, both filtered by it; never
  `QueryOrders`, which takes Kraken's txids only).
- A cancel's answer does not say how much the order had filled; its `canceled` execution report does (`cum_qty`).
  The cancel waits briefly for that report (it usually comes first) and reports it as the event's `filled_qty`, so
  an exit can be sized from what the stop left; when no report came, the order is looked up over REST instead.
Fills and status changes reach the router from the `executions` channel (`ExecutionFeed`). A placed order's ACKED
goes the same way (`ExecutionFeed.acked`), not as the call's event: Kraken sends an order's reports before its
answer, and an ACKED sent after the fills would move a filled order back. A cancel's CANCELLED is the call's event
(`VenueCalls` waits for it before an exit that replaces the order); the channel's own is then a repeat.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import TypeVar

from loguru import logger

from crocbot.actors.gateway import Deadline
from crocbot.actors.venue.calls import VenueRefusal
from crocbot.core.clock import Clock
from crocbot.core.messages import OrderAmended, OrderEvent, OrderIntent, OrderLookedUp, OrderStatus, OrderType
from crocbot.kraken.endpoints import KrakenApi
from crocbot.kraken.errors import KrakenError
from crocbot.kraken.rest_types import AddOrderRequest, OrderInfo
from crocbot.ops import failpoints
from crocbot.venues.live.feed import ExecutionFeed
from crocbot.venues.live.ws_orders import (
    WsNotConnected,
    WsRefusal,
    WsTrading,
    WsUnknown,
    kraken_deadline,
    refusal_or_unknown,
)
from crocbot.venues.protocol import Amend, Cancel, Query, VenueEvent

__all__ = ["KrakenOrderCalls", "OutcomeUnknown", "REST", "WS"]

T = TypeVar("T")
WS, REST = "ws", "rest"
_CANCEL_REPORT_WAIT = 1.0  # seconds a cancel waits for the order's `canceled` report (cum_qty)
_KEEP_ROUTES = 10_000
_REST_MIN_AHEAD = 2.0  # REST AddOrder/AmendOrder `deadline`: "min now() + 2 seconds" (Kraken's OpenAPI spec)
# REST order status -> crocbot's (`open` split by whether anything filled)
_REST_STATUS = {
    "pending": OrderStatus.SUBMITTED,
    "closed": OrderStatus.FILLED,
    "canceled": OrderStatus.CANCELLED,
    "expired": OrderStatus.EXPIRED,
}


class OutcomeUnknown(Exception):
    """The call may have taken effect: the order is to be looked up by its client id, never sent again."""


@dataclass(slots=True)
class _Route:
    transport: str  # WS | REST: the one the order was last worked on
    in_doubt: bool = False  # a call on it has not answered (yet, or ever)


class KrakenOrderCalls:
    def __init__(
        self,
        ws: WsTrading | None,
        api: KrakenApi,
        feed: ExecutionFeed,
        *,
        clock: Clock,
        wall: Callable[[], datetime] | None = None,
    ) -> None:
        """`wall`: the wall clock Kraken's engine `deadline` is set by (Kraken's time, not the event clock)."""
        self._wall = wall or (lambda: datetime.now(UTC))
        self._ws = ws
        self._api = api
        self._feed = feed
        self._clock = clock
        self._lock = threading.Lock()
        self._routes: OrderedDict[str, _Route] = OrderedDict()

    # -- OrderCalls -----------------------------------------------------------------------------------

    def submit(self, intent: OrderIntent, deadline: Deadline) -> Sequence[VenueEvent]:
        self._feed.expect(intent.cl_ord_id)
        if self._ws_up():
            self._charge(intent.symbol, "add", None, deadline)
            self._start(intent.cl_ord_id, WS)
            try:
                order_id = self._over_ws(lambda ws: ws.add_order(intent, deadline.remaining()), intent.cl_ord_id)
            except WsNotConnected:
                pass  # nothing went out: REST carries it (the counter's charge stands: the model errs on the safe side)
            else:
                failpoints.hit("venue.after_ws_ack")  # crash tests: on the venue's book, not acted on
                self._api.rest.note_order(intent.cl_ord_id, order_id)
                self._feed.acked(intent.cl_ord_id, order_id, self._clock.now())
                return []
        self._start(intent.cl_ord_id, REST)
        request = AddOrderRequest(
            intent.symbol,
            intent.side,
            intent.order_type,
            intent.qty,
            intent.cl_ord_id,
            limit_price=intent.limit_price,
            trigger_price=intent.trigger_price,
            post_only=intent.post_only,
        )
        placement = self._over_rest(
            lambda: self._api.place_order(
                request, deadline=self._rest_deadline(deadline), engine_deadline=self._engine_deadline(deadline)
            )
        )
        if placement.status != "placed":
            raise OutcomeUnknown(f"AddOrder {intent.cl_ord_id}: {placement.error}; not found by cl_ord_id yet")
        self._settled(intent.cl_ord_id)
        if placement.txid:
            self._feed.acked(intent.cl_ord_id, placement.txid, self._clock.now())
        return []

    def amend(self, amend: Amend, deadline: Deadline) -> Sequence[VenueEvent]:
        cl_ord_id = amend.cl_ord_id
        xstock = self._api.is_xstock(amend.symbol)
        if self._transport_for(cl_ord_id, deadline) == WS:
            self._charge(amend.symbol, "amend", cl_ord_id, deadline)
            self._over_ws(
                lambda ws: ws.amend_order(
                    cl_ord_id=cl_ord_id,
                    timeout=deadline.remaining(),
                    qty=amend.qty,
                    limit_price=amend.limit_price,
                    trigger_price=amend.trigger_price,
                    symbol=amend.symbol if xstock else None,  # Kraken needs it for xStocks only
                ),
                cl_ord_id,
            )
            self._api.rest.note_order(cl_ord_id)  # an amended order is young again for the counter
        else:
            self._over_rest(
                lambda: self._api.amend_order(
                    symbol=amend.symbol,
                    cl_ord_id=cl_ord_id,
                    qty=amend.qty,
                    limit_price=amend.limit_price,
                    trigger_price=amend.trigger_price,
                    deadline=self._rest_deadline(deadline),
                    engine_deadline=self._engine_deadline(deadline),
                )
            )
        self._settled(cl_ord_id)
        now = self._clock.now()
        return [OrderAmended(cl_ord_id, now, amend.qty, amend.limit_price, amend.trigger_price)]

    def cancel(self, cancel: Cancel, deadline: Deadline) -> Sequence[VenueEvent]:
        cl_ord_id = cancel.cl_ord_id
        transport = self._transport_for(cl_ord_id, deadline)
        if transport == WS:
            self._charge(cancel.symbol, "cancel", cl_ord_id, deadline)
            (answer,) = self._over_ws(
                lambda ws: ws.cancel_order(deadline.remaining(), cl_ord_ids=[cl_ord_id]), cl_ord_id
            )
            if not answer.success:
                failure = refusal_or_unknown(answer.error or "cancel_order refused without an error text")
                if isinstance(failure, WsRefusal):
                    self._settled(cl_ord_id)
                    raise VenueRefusal(failure.code)
                raise OutcomeUnknown(str(failure))
        else:
            self._over_rest(
                lambda: self._api.cancel_order(
                    symbol=cancel.symbol, cl_ord_id=cl_ord_id, deadline=self._rest_deadline(deadline)
                )
            )
        self._settled(cl_ord_id)
        filled, order_id = self._filled_when_cancelled(cl_ord_id, deadline)
        return [OrderEvent(cl_ord_id, OrderStatus.CANCELLED, self._clock.now(), order_id, filled)]

    def _filled_when_cancelled(self, cl_ord_id: str, deadline: Deadline) -> tuple[Decimal, str | None]:
        """How much a cancelled order had filled: its `canceled` report's `cum_qty`, else REST's `vol_exec`, else
        (REST failing too) the last total a report gave, said loudly."""
        order = self._feed.wait_ended(cl_ord_id, min(_CANCEL_REPORT_WAIT, deadline.remaining()))
        if order is not None and order.ended:
            return order.cum_qty, order.order_id
        try:
            found = self._lookup(cl_ord_id, deadline)
        except (VenueRefusal, OutcomeUnknown) as error:
            known = order.cum_qty if order is not None else Decimal(0)
            logger.warning(
                "cancel of {}: no report and no lookup ({}); taking {} filled from the last report",
                cl_ord_id,
                error,
                known,
            )
            return known, order.order_id if order is not None else None
        return (found.filled, found.txid) if found is not None else (Decimal(0), None)

    def query(self, query: Query, deadline: Deadline) -> OrderLookedUp:
        found = self._lookup(query.cl_ord_id, deadline)
        now = self._clock.now()
        if found is None:
            return OrderLookedUp(query.cl_ord_id, now, None)
        status = _REST_STATUS.get(found.status)
        if status is None:  # open
            status = OrderStatus.PARTIALLY_FILLED if found.filled > 0 else OrderStatus.ACKED
        limit, trigger = found.limit_price, None
        if found.order_type in _TRIGGERED:
            # REST's `descr.price` is a stop's trigger; its limit (price2) is not in `OrderInfo`
            limit, trigger = None, found.limit_price
        return OrderLookedUp(query.cl_ord_id, now, status, found.qty, found.filled, limit, trigger)

    # -- transports -----------------------------------------------------------------------------------

    def _ws_up(self) -> bool:
        return self._ws is not None and self._ws.connected

    def _transport_for(self, cl_ord_id: str, deadline: Deadline) -> str:
        """The transport for a call on an existing order: the WS while it is up; REST otherwise. A change of
        transport waits until the order's state is known: if a call on the other one left it open, the order is
        looked up first (the lookup itself settles it)."""
        wanted = WS if self._ws_up() else REST
        with self._lock:
            route = self._routes.get(cl_ord_id)
            doubtful = route is not None and route.in_doubt and route.transport != wanted
        if doubtful:
            self._lookup(cl_ord_id, deadline)
        self._start(cl_ord_id, wanted)
        return wanted

    def _charge(self, symbol: str, action: str, cl_ord_id: str | None, deadline: Deadline) -> None:
        """Kraken's per-pair trading counter is one for REST and WS: a WS call is charged to the same model as a REST
        one, and waits for budget, so that `EOrder:Rate limit exceeded` is never earned."""
        rest = self._api.rest
        cost = rest.order_cost(action, cl_ord_id)
        pair = self._api.pair(symbol)
        self._over_rest(lambda: rest.charge_trading(pair, cost, deadline=self._rest_deadline(deadline), method=action))

    def _start(self, cl_ord_id: str, transport: str) -> None:
        with self._lock:
            self._routes[cl_ord_id] = _Route(transport, in_doubt=True)
            self._routes.move_to_end(cl_ord_id)
            while len(self._routes) > _KEEP_ROUTES:
                self._routes.popitem(last=False)

    def _settled(self, cl_ord_id: str) -> None:
        with self._lock:
            route = self._routes.get(cl_ord_id)
            if route is not None:
                route.in_doubt = False

    def _over_ws(self, call: Callable[[WsTrading], T], cl_ord_id: str) -> T:
        assert self._ws is not None
        try:
            return call(self._ws)
        except WsRefusal as refusal:
            self._settled(cl_ord_id)
            raise VenueRefusal(refusal.code) from None
        except WsNotConnected:
            self._settled(cl_ord_id)  # nothing was sent
            raise
        except WsUnknown as error:
            raise OutcomeUnknown(str(error)) from None

    @staticmethod
    def _over_rest(call: Callable[[], T]) -> T:
        try:
            return call()
        except KrakenError as error:
            if error.unknown_outcome:
                raise OutcomeUnknown(str(error)) from None
            raise VenueRefusal(error.code) from None

    def _lookup(self, cl_ord_id: str, deadline: Deadline) -> OrderInfo | None:
        found = self._over_rest(lambda: self._api.find_order(cl_ord_id, deadline=self._rest_deadline(deadline)))
        self._settled(cl_ord_id)
        return found

    def _engine_deadline(self, deadline: Deadline) -> str:
        """Kraken's engine rejects the order after this rather than place it late: an order whose call crocbot
        gave up on must not surprise it long after (it is looked up by its client id meanwhile)."""
        return kraken_deadline(self._wall(), deadline.remaining(), minimum=_REST_MIN_AHEAD)

    def _rest_deadline(self, deadline: Deadline) -> float:
        """The call's deadline on the REST client's own clock."""
        return self._api.rest.clock.monotonic() + deadline.remaining()


_TRIGGERED = frozenset(str(t) for t in OrderType if t.needs_trigger_price)
