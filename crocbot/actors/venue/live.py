"""The live venue: the router's commands as Kraken calls (`VenueCalls`), and Kraken's private WS for what happened.

The actor owns the private connection's parts for its life: `WsTrading` (orders over the private WS v2, and the
`executions` and `balances` subscriptions), the `ExecutionFeed` that turns execution reports into the venue
protocol's events, and `KrakenOrderCalls` (the WS first, REST while it is down). A restarted actor builds them
afresh: a new connection, a new token, an executions snapshot that tells the new merger what is open.

- The feed's events (`OrderEvent`, `Fill`, `VenueAnomaly`) go on the bus straight from the thread that made them
  (the WS receive thread, or a gateway worker for an order call's ACKED), in the merger's order, as the market feed
  publishes its prints: publishing never blocks.
- Every private reconnect (not the first connect) asks for a reconciliation (`ReconcileRequest`): fills and
  cancels that happened while the connection was down reach the books through it, whatever the new snapshot says.
- A `VenueAnomaly` (a fill beyond an order's quantity) is published and logged critical (by the feed); the desk halts
  entries on it. A fill of an order that is not crocbot's (the trader's own, on a shared account) is logged and never
  booked; one for a crocbot order the books do not know reaches the desk, which books it and halts entries.
Orders go through the orders gateway behind its own breaker ("kraken-orders"), so that a slow private query never
queues ahead of a stop.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from loguru import logger

from crocbot.actors.base import ChildContext
from crocbot.actors.breaker import CircuitBreaker
from crocbot.actors.gateway import Gateway
from crocbot.actors.venue.calls import VenueCalls
from crocbot.actors.venue.in_flight import OrdersInFlight
from crocbot.core.clock import SystemClock
from crocbot.core.desk.adoption import purpose_of
from crocbot.core.messages import PrivateWsHealth, ReconcileRequest
from crocbot.kraken.endpoints import KrakenApi
from crocbot.kraken.wire import ConnectionState, Executions
from crocbot.kraken.ws import WsClient
from crocbot.venues.live import ExecutionFeed, ExecutionsMerger, KrakenOrderCalls, LiveEvent, WsTrading

__all__ = ["LiveVenue"]


def _crocbots(cl_ord_id: str) -> bool:
    return purpose_of(cl_ord_id) is not None


# What `handle` acts on here; the rest goes to `VenueCalls`.
_Handled = ConnectionState


class LiveVenue(VenueCalls):
    def __init__(
        self,
        ctx: ChildContext,
        ws_auth_url: str,
        api: KrakenApi,
        gateway: Gateway,
        *,
        breaker: CircuitBreaker | None = None,
        timeout: float = 5.0,
        ws_options: Mapping[str, Any] | None = None,
        on_client: Callable[[WsClient], None] | None = None,
        in_flight: OrdersInFlight | None = None,
    ) -> None:
        """`ws_auth_url`: Kraken's private WS v2. `api`: the authenticated REST client (tokens, the fallback, the
        lookups). `gateway`, `breaker`: the orders gateway and its breaker. `timeout`: each order call's deadline.
        `ws_options`: the WS client's options (e.g. a test's short `backoff`). `on_client` hears of the private
        connection's client (a lockstep simulation watches its frames). `in_flight`: the process's record of the
        orders handed to the gateway (`OrdersInFlight`), which outlives this instance as the gateway does."""
        # crocbot's client ids say so themselves: a new connection's snapshot of the last fills (after a restart, or
        # this actor's own restart) names orders an earlier instance sent, which are crocbot's all the same
        self._feed = ExecutionFeed(ExecutionsMerger(known=_crocbots), self._deliver)
        # connection health is wall-clock whatever the event clock does
        options: dict[str, Any] = {"clock": SystemClock(), **(ws_options or {})}
        self._ws = WsTrading(ws_auth_url, api.websockets_token, self._on_executions, on_other=self._other, **options)
        super().__init__(
            ctx,
            KrakenOrderCalls(self._ws, api, self._feed, clock=ctx.services.clock),
            gateway,
            breaker=breaker,
            timeout=timeout,
            in_flight=in_flight,
        )
        self._api = api
        self._on_client = on_client
        self._ever_connected = False
        self.reconnects = 0

    @property
    def api(self) -> KrakenApi:
        return self._api

    @property
    def ws(self) -> WsTrading:
        return self._ws

    @property
    def feed(self) -> ExecutionFeed:
        return self._feed

    # -- life -----------------------------------------------------------------------------------------

    def started(self) -> None:
        super().started()
        self.services.bus.publish(PrivateWsHealth(False, "connecting", self.clock.now()))
        if self._on_client is not None:
            self._on_client(self._ws.client)
        self._ws.start()

    def stopping(self) -> None:
        self._ws.stop()

    def crashed(self, error: BaseException) -> None:
        self._ws.stop()

    # -- the receive thread and the gateway workers ---------------------------------------------------

    def _on_executions(self, executions: Executions) -> None:
        """The receive thread: Kraken's own count of each pair's trading counter corrects the model first (crocbot
        models it so as never to earn `Rate limit exceeded`; orders placed elsewhere on the account count too), then
        the reports go to the feed."""
        # a snapshot's rows (a reconnect's) may carry a count from before: only live reports correct the model
        for report in () if executions.snapshot else executions.reports:
            if report.ratecount is not None and report.symbol is not None:
                self._api.rest.observe_trading(self._api.pair(report.symbol), report.ratecount)
        self._feed.on_executions(executions)

    def _deliver(self, event: LiveEvent) -> None:
        """The feed's events, in its order, from whichever thread made them: never blocks."""
        self.services.bus.publish(event)

    def _other(self, message: object) -> None:
        """The WS's other messages (connection states, balances): the states go to the actor, the rest is unused
        (balances reach the books through reconciliation)."""
        if isinstance(message, ConnectionState):
            try:
                self.actor_ref.tell(message)
            except Exception:  # noqa: BLE001 - the actor is stopping; its successor connects afresh
                return

    # -- the actor ------------------------------------------------------------------------------------

    def handle(self, message: _Handled | object) -> Any:
        if isinstance(message, ConnectionState):
            self._connection(message)
            return None
        return super().handle(message)

    def _connection(self, state: ConnectionState) -> None:
        log = logger.bind(actor=self.name)
        up = state.state == "connected"
        why = "connected" if up else f"{state.state}: {state.reason}" if state.reason else state.state
        self.services.bus.publish(PrivateWsHealth(up, why, self.clock.now()))
        if up:
            if self._ever_connected:
                self.reconnects += 1
                log.info("private WS reconnected: asking for a reconciliation")
                self.services.bus.publish(ReconcileRequest("the private WS reconnected", self.clock.now()))
            self._ever_connected = True
        elif state.state == "terminal":
            log.critical("private WS gave up ({}): orders go over REST, fills come by reconciliation", state.reason)
        else:
            log.warning("private WS down ({}): orders go over REST until it is back", state.reason)
