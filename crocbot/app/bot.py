"""The running bot: the actor runtime with the supervision tree, the REST gateway and its breaker, the health board
and its HTTP server, and the state directory's lock and identity file while it runs.

Live, it also builds the authenticated REST client (its nonces kept in the state directory, so that they keep
increasing across restarts) and two more gateways with breakers of their own: "kraken-orders" for the live venue's
order calls and "kraken-private" for the reconciler's reads of the account, so that a slow account read never
queues ahead of a stop, and a failing one opens its own breaker. With `[live] dead_mans_switch` on, Kraken's
dead man's switch is armed before the tree starts, refreshed while the bot runs and disarmed when it stops."""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from loguru import logger

from crocbot import __version__
from crocbot.actors.breaker import BreakerConfig, CircuitBreaker
from crocbot.actors.feed import FeedOptions
from crocbot.actors.gateway import Gateway
from crocbot.actors.health import Health
from crocbot.actors.messages import RouterStatus, StatusReport
from crocbot.actors.protocol import ChildExited
from crocbot.actors.runtime import Runtime
from crocbot.actors.scheduler import Scheduler
from crocbot.actors.supervisor import ChildSpec
from crocbot.actors.venue.in_flight import OrdersInFlight
from crocbot.actors.watchdog import Watchdog
from crocbot.app.kraken_history import KrakenHistory
from crocbot.app.switch_keeper import SwitchKeeper
from crocbot.app.tree import ACTOR_NAMES, ROOT_POLICY, LiveParts, core_tree, market_tree
from crocbot.config import Settings
from crocbot.core.clock import Clock, IoClock, SimClock, SystemClock, wall_rate
from crocbot.core.instrument import Instrument
from crocbot.kraken.endpoints import KrakenApi
from crocbot.kraken.instruments import Catalog
from crocbot.kraken.ratelimit import Tier
from crocbot.kraken.rest import RestClient
from crocbot.kraken.ws import WsClient
from crocbot.ops.health import HealthBoard, HealthServer
from crocbot.ops.identity import BotIdentity, new_identity, remove_identity
from crocbot.ops.metrics import Metrics
from crocbot.ops.state_lock import StateDirLocked, lock_state_dir, unlock_state_dir
from crocbot.startup import StartupError, check_directories
from crocbot.venues.live.account import LiveAccountView
from crocbot.venues.live.dead_mans_switch import DeadMansSwitch

__all__ = ["Bot", "BotWiring", "WATCHDOG_TIMEOUT", "NONCE_FILE", "ORDERS_BREAKER", "PRIVATE_BREAKER"]

# A supervisor legitimately blocks while a child starts (start_timeout, 10 s by default) or stops; the watchdog
# must wait longer than that before calling it hung.
WATCHDOG_TIMEOUT = 15.0
NONCE_FILE = "kraken-nonce"  # in the state directory: the API key's nonce ceiling, so nonces grow across restarts
ORDERS_BREAKER = "kraken-orders"
PRIVATE_BREAKER = "kraken-private"


@dataclass
class BotWiring:
    """What differs between `crocbot run`, the demo and the tests; the trading logic never does."""

    clock: Clock | None = None  # the event clock; the system clock unless a simulation drives time
    feed: FeedOptions | None = None
    metrics: Metrics = field(default_factory=Metrics)  # the bot's own registry, apart from any other bot's
    serve_health: bool = True
    health_port: int | None = None  # None: the configured port; 0: any free port
    breaker: BreakerConfig = field(default_factory=BreakerConfig)
    watchdog_interval: float = 1.0  # event seconds; a simulation that jumps time sets it longer
    watchdog_timeout: float = WATCHDOG_TIMEOUT  # event seconds; run_bot scales both by a replay clock's speed
    # Event seconds per wall second for the deadlines that measure crocbot's own machinery (a stop placed within
    # `stops.place_within` of the fill, a venue fact reaching the router within `reconcile.grace`): under a replay
    # clock at 60x, threads still take wall time, so 1 event second would be 17 wall milliseconds.
    machinery_scale: float = 1.0
    on_feed_client: Callable[[WsClient], None] | None = None
    extra_children: Sequence[ChildSpec] = ()  # started last under the root (test probes, a console)
    private_ws: Mapping[str, Any] = field(default_factory=dict)  # live: the private WS client's options (a backoff)
    on_private_client: Callable[[WsClient], None] | None = None  # live: hears of the private WS's client
    # Live: the authenticated REST client's clock (its rate budget and call deadlines); None: the wall clock. A
    # lockstep simulation whose exchange counts the budget in event time passes its clock, and a wait for budget
    # then moves that clock (event time stands still while a call is in flight, so the wait would never end).
    rest_clock: SimClock | None = None


class Bot:
    """The running bot: the actor runtime, the REST gateway, the health board and its HTTP server."""

    def __init__(self, settings: Settings, instruments: Mapping[str, Instrument], wiring: BotWiring | None = None):
        self.settings = settings
        self.instruments = dict(instruments)
        self.wiring = wiring or BotWiring()
        self.escalated = threading.Event()
        self.runtime = Runtime(clock=self.wiring.clock, on_escalate=self._on_escalate)
        self.board = HealthBoard(
            ACTOR_NAMES, self.runtime.directory, metrics=self.wiring.metrics, live=settings.mode == "live"
        )
        bus = self.runtime.bus
        # REST deadlines and breaker windows are wall-time budgets: under an accelerated clock (wall_rate > 1) they
        # count on the wall clock with a scheduler of their own, or a 30 s backfill budget would be 1.5 s at 20x.
        # A driven SimClock keeps them on event time, so the demo and the tests stay deterministic.
        io_clock = self.runtime.clock if wall_rate(self.runtime.clock) == 1.0 else IoClock(self.runtime.clock)
        self.io_scheduler = (
            self.runtime.scheduler if io_clock is self.runtime.clock else Scheduler(io_clock, name="io-scheduler")
        )
        self.rest_breaker = CircuitBreaker("kraken-rest", self.wiring.breaker, io_clock, on_state_change=bus.publish)
        self.rest_gateway = Gateway("kraken-rest", self.io_scheduler, workers=2, queue_size=32)
        self.live = self._live_parts(io_clock) if settings.mode == "live" else None
        self.switch_keeper = self._switch_keeper() if self.live is not None else None
        self.gateways = [self.rest_gateway]
        breakers = [self.rest_breaker.name]
        if self.live is not None:
            self.gateways += [self.live.orders, self.live.private]
            breakers += [self.live.orders_breaker.name, self.live.private_breaker.name]
        # every labelled series exists from the first scrape, at 0 (a breaker at 0 is closed)
        self.wiring.metrics.declare(symbol=settings.symbols, breaker=tuple(breakers), actor=ACTOR_NAMES)
        self.api = KrakenApi(
            RestClient(settings.kraken.rest_url, timeout=settings.kraken.request_timeout, clock=SystemClock()),
            Catalog(self.instruments.values()),
        )
        self.history = KrakenHistory(self.api, self.rest_gateway, self.rest_breaker)
        # the feed keeps it current from the instrument channel; a restarted router reads its symbols' status there
        self.market_catalog = Catalog(self.instruments.values())
        self.server: HealthServer | None = None
        self.stop_requested = threading.Event()
        self.identity: BotIdentity | None = None  # `<state_dir>/bot.json` while this bot runs

    def _live_parts(self, io_clock: Clock) -> LiveParts:
        """The authenticated client, the orders and private-queries gateways with their breakers, the account view."""
        settings, bus = self.settings, self.runtime.bus
        key, secret = settings.kraken_api_key, settings.kraken_api_secret
        if key is None or secret is None:  # the live gate refuses this first; a caller that skipped it is told
            raise StartupError("live mode needs KRAKEN_API_KEY and KRAKEN_API_SECRET; nothing was sent to Kraken")
        lockstep = self.wiring.rest_clock

        waits = threading.Lock()

        def wait_in_event_time(seconds: float) -> None:
            # Waits that overlap (two gateway workers) end together: the clock moves to the later end, not by their sum.
            assert lockstep is not None
            until = lockstep.monotonic() + seconds
            with waits:
                gap = until - lockstep.monotonic()
                if gap > 0:
                    lockstep.advance(gap)

        rest = RestClient(
            settings.kraken.rest_url,
            api_key=key.get_secret_value(),
            api_secret=secret.get_secret_value(),
            nonce_file=Path(settings.state_dir) / NONCE_FILE,
            timeout=settings.kraken.request_timeout,
            clock=lockstep or SystemClock(),
            sleep=time.sleep if lockstep is None else wait_in_event_time,
            tier=Tier(settings.kraken.tier),
        )
        api = KrakenApi(rest, Catalog(self.instruments.values()))
        config = self.wiring.breaker
        # order calls run side by side (a hung one holds a worker, never another order): more workers than reads
        orders = Gateway(ORDERS_BREAKER, self.io_scheduler, workers=4, queue_size=32)
        private = Gateway(PRIVATE_BREAKER, self.io_scheduler, workers=1, queue_size=4)
        timeout = settings.kraken.request_timeout
        in_flight = OrdersInFlight(io_clock)  # the gateway's clock: the calls' deadlines count on it
        return LiveParts(
            api=api,
            orders=orders,
            orders_breaker=CircuitBreaker(ORDERS_BREAKER, config, io_clock, on_state_change=bus.publish),
            view=LiveAccountView(api, self.instruments.values(), self.runtime.clock, pending=in_flight.pending),
            private=private,
            private_breaker=CircuitBreaker(PRIVATE_BREAKER, config, io_clock, on_state_change=bus.publish),
            order_timeout=timeout,
            view_timeout=timeout * 3,  # several calls: balances, orders, trades page by page
            ws_options=self.wiring.private_ws,
            on_client=self.wiring.on_private_client,
            in_flight=in_flight,
        )

    def _switch_keeper(self) -> SwitchKeeper | None:
        settings = self.settings.live.dead_mans_switch
        if not settings.enabled or self.live is None:
            return None
        api, wait = self.live.api, self.settings.kraken.request_timeout

        def send(timeout: int) -> object:
            return api.cancel_all_orders_after(timeout, deadline=api.rest.clock.monotonic() + wait)

        # Kraken counts the timeout in real seconds: the wall clock, whatever the event clock does
        switch = DeadMansSwitch(
            send, SystemClock(), timeout=settings.timeout, refresh_interval=settings.refresh_interval
        )
        return SwitchKeeper(switch)

    # -- the tree -------------------------------------------------------------------------------------

    def _status_of(self, symbol: str) -> str | None:
        instrument = self.market_catalog.get(symbol)
        return instrument.status if instrument is not None else None

    def children(self) -> list[ChildSpec]:
        settings, wiring, instruments = self.settings, self.wiring, self.instruments
        return [
            ChildSpec.actor("watchdog", Watchdog, interval=wiring.watchdog_interval, timeout=wiring.watchdog_timeout),
            ChildSpec.actor("health", Health, self.board),
            core_tree(
                settings,
                instruments,
                metrics=wiring.metrics,
                history=self.history,
                machinery_scale=wiring.machinery_scale,
                escalation=lambda: self.board.escalation,
                live=self.live,
                statuses=self._status_of,
            ),
            market_tree(
                settings,
                instruments,
                metrics=wiring.metrics,
                history=self.history,
                feed=wiring.feed,
                on_feed_client=wiring.on_feed_client,
                catalog=self.market_catalog,
            ),
            *wiring.extra_children,
        ]

    # -- life -----------------------------------------------------------------------------------------

    def start(self) -> Bot:
        settings = self.settings
        check_directories(settings)
        try:
            lock_state_dir(settings.state_dir)
        except StateDirLocked as error:
            raise StartupError(
                f"{error}; stop it first, or give this one its own CROCBOT_STATE_DIR (--state-dir)"
            ) from None
        try:
            return self._start(settings)
        except BaseException:
            unlock_state_dir(settings.state_dir)
            raise

    def _start(self, settings: Settings) -> Bot:
        # wall time: uptime is the operator's, not the event clock's (a replay clock runs faster)
        identity = new_identity(SystemClock().now(), None, None, __version__)
        if self.wiring.serve_health:
            port = settings.health.port if self.wiring.health_port is None else self.wiring.health_port
            try:
                self.server = HealthServer(
                    self.board,
                    settings.health.host,
                    port,
                    metrics=self.wiring.metrics,
                    instance_id=identity.instance_id,
                )
            except OSError as error:
                raise StartupError(
                    f"cannot serve health checks on {settings.health.host}:{port} ({error}); another crocbot may "
                    "be running, or set CROCBOT_HEALTH__PORT"
                ) from None
            self.server.start()
            identity = dataclasses.replace(identity, health_host=settings.health.host, health_port=self.server.port)
        identity.write(settings.state_dir)
        self.identity = identity
        if self.io_scheduler is not self.runtime.scheduler:
            self.io_scheduler.start()
        for gateway in self.gateways:
            gateway.start()
        if self.switch_keeper is not None:
            self.switch_keeper.start()
        try:
            self.runtime.start(self.children(), ROOT_POLICY, timeout=120.0)
        except BaseException:
            self._stop_switch_keeper()
            self._stop_gateways()
            self._stop_io_scheduler()
            if self.server is not None:
                self.server.stop()
            self._remove_identity()
            raise
        return self

    def stop(self) -> None:
        """Stops leave the venue's stops in place; the journal is flushed and closed by persistence."""
        self.runtime.shutdown()
        self._stop_switch_keeper()
        self._stop_gateways()
        self._stop_io_scheduler()
        if self.server is not None:
            self.server.stop()
        self._remove_identity()
        unlock_state_dir(self.settings.state_dir)

    def _remove_identity(self) -> None:
        if self.identity is not None:
            remove_identity(self.settings.state_dir, self.identity.instance_id)

    def _stop_switch_keeper(self) -> None:
        if self.switch_keeper is not None:
            self.switch_keeper.stop()

    def _stop_gateways(self) -> None:
        for gateway in self.gateways:
            gateway.stop()

    def _stop_io_scheduler(self) -> None:
        if self.io_scheduler is not self.runtime.scheduler:
            self.io_scheduler.stop()

    def ask(self, name: str, message: object, timeout: float = 10.0) -> Any:
        return self.runtime.directory.ask(name, message, timeout=timeout)

    def status(self, timeout: float = 10.0) -> StatusReport:
        report: StatusReport = self.ask("router", RouterStatus(), timeout)
        return report

    def _on_escalate(self, exited: ChildExited) -> None:
        # Only the core failing beyond the root's intensity gets here (ROOT_POLICY.essential): the money path cannot
        # be kept alive, so stop in order. The stops stay on the venue (paper: in the saved account).
        logger.critical("the supervision tree gave up ({}); shutting down, the stops stay on the venue", exited.error)
        self.escalated.set()
        self.stop_requested.set()
