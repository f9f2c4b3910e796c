"""The composition root: builds the bot's supervision tree from the settings and runs it until told to stop.

    root (one_for_one)
    ├── watchdog                 heartbeats every actor; a hung one is restarted
    ├── health                   bus events -> the health board behind /healthz, /readyz, /metrics
    ├── core (rest_for_one)      the money path, in dependency order: a restart takes the later ones with it
    │   ├── persistence          the journal and the trade log (the only writer)
    │   ├── venue                the paper venue (paper mode): Kraken as seen from the bot
    │   ├── router               the only writer of orders; rebuilds itself from the journal on start
    │   ├── sl_manager           stops on every tick
    │   └── reconciler           books against the venue: at start (not ready until done), periodically
    └── market (one_for_one)     market data, candles and strategies: each restarts alone
        ├── feed, candles, strategy

The core starts before the market, so the router and the SL manager listen before the first price arrives.
Exchange calls (REST backfill) go through a gateway and a circuit breaker; an open breaker is safe mode.
"""

from __future__ import annotations

import dataclasses
import signal
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from types import FrameType
from typing import Any

from loguru import logger

from crocbot import __version__
from crocbot.actors.breaker import BreakerConfig, CircuitBreaker
from crocbot.actors.candles import CandleBuffer, candles_from_ohlc
from crocbot.actors.feed import Feed, FeedOptions
from crocbot.actors.gateway import Deadline, Gateway
from crocbot.actors.health import Health
from crocbot.actors.messages import SAFE_MODE_KEY, RouterStatus, StatusReport
from crocbot.actors.persistence import Persistence
from crocbot.actors.protocol import ChildExited
from crocbot.actors.reconciler import Reconciler
from crocbot.actors.router import Router
from crocbot.actors.runtime import Runtime
from crocbot.actors.scheduler import Scheduler
from crocbot.actors.sl_manager import SLManager
from crocbot.actors.strategy import StrategyActor
from crocbot.actors.supervisor import ChildSpec, Policy, Strategy
from crocbot.actors.venue import VenueActor
from crocbot.actors.watchdog import Watchdog
from crocbot.config import Settings, fingerprint
from crocbot.config.policies import risk_limits, stop_policy, strategy_params
from crocbot.config.symbols import SymbolsRefused, check_symbols
from crocbot.core.clock import Clock, IoClock, SystemClock, wall_rate
from crocbot.core.costs import TradeCosts
from crocbot.core.desk import DeskConfig
from crocbot.core.instrument import Instrument
from crocbot.core.messages import Candle, Timeframe, Trade
from crocbot.core.reconcile import ForeignOrderPolicy
from crocbot.exit_codes import ExitCode
from crocbot.kraken.endpoints import KrakenApi
from crocbot.kraken.errors import KrakenError
from crocbot.kraken.instruments import Catalog
from crocbot.kraken.rest import RestClient
from crocbot.kraken.ws import WsClient
from crocbot.ops.health import HealthBoard, HealthServer
from crocbot.ops.identity import BotIdentity, new_identity, remove_identity
from crocbot.ops.log import setup_logging
from crocbot.ops.metrics import Metrics
from crocbot.ops.state_lock import StateDirLocked, lock_state_dir, unlock_state_dir
from crocbot.startup import (
    CATALOG_PAUSES,
    JOURNAL_FILE,
    TRADE_LOG_FILE,
    KrakenUnreachable,
    StartupError,
    check_directories,
    check_no_other_bot,
    fetch_catalog,
)
from crocbot.store.paper_account import PAPER_ACCOUNT_FILE, PAPER_BACKUP_DIR

__all__ = [
    "Bot",
    "BotWiring",
    "StartupError",
    "load_instruments",
    "run_bot",
    "ROOT_POLICY",
    "ACTOR_NAMES",
    "JOURNAL_FILE",
    "TRADE_LOG_FILE",
    "CATALOG_FILE",
    "SAFE_MODE_KEY",
]

# The root gives up (and the bot shuts down in order, stops left on the venue) only when the core cannot be kept
# alive; any other child beyond the intensity is restarted slowly and the bot goes safe (entries halted).
ROOT_POLICY = Policy(
    strategy=Strategy.ONE_FOR_ONE, max_restarts=5, within=60.0, backoff_initial=0.5, essential=frozenset({"core"})
)
CORE_POLICY = Policy(strategy=Strategy.REST_FOR_ONE, max_restarts=5, within=60.0, backoff_initial=0.2)
MARKET_POLICY = Policy(strategy=Strategy.ONE_FOR_ONE, max_restarts=10, within=60.0, backoff_initial=0.5)
ACTOR_NAMES = (
    "watchdog",
    "health",
    "core",
    "persistence",
    "venue",
    "router",
    "sl_manager",
    "reconciler",
    "market",
    "feed",
    "candles",
    "strategy",
)
CATALOG_FILE = "instruments.json"
BACKUP_DIR = "backups"  # verified journal copies: hourly and at shutdown, the last five kept
_WAIT_SLICE = 0.2  # seconds; the main thread polls the signal flag this often
_BACKFILL_TIMEOUT = 30.0
_CATCH_UP_PAGES = 50  # 50,000 prints, hours of BTC/USD; beyond that only the first 50,000 are judged (logged)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

# A supervisor legitimately blocks while a child starts (start_timeout, 10 s by default) or stops; the watchdog
# must wait longer than that before calling it hung.
WATCHDOG_TIMEOUT = 15.0


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


def load_instruments(settings: Settings, *, pause: Callable[[float], None] = time.sleep) -> dict[str, Instrument]:
    """The configured symbols' instruments: Kraken's AssetPairs, else the cached catalog; StartupError if unknown,
    KrakenUnreachable when Kraken does not answer (a few tries, each logged) and there is no cache."""
    cache = settings.state_dir / CATALOG_FILE
    catalog = Catalog()
    try:
        catalog = fetch_catalog(settings, retry=not cache.is_file(), pause=pause)
    except (KrakenError, OSError, ValueError) as error:
        if not cache.is_file():
            raise KrakenUnreachable(
                f"could not load Kraken's instrument list from {settings.kraken.rest_url} after "
                f"{len(CATALOG_PAUSES) + 1} tries ({error}) and there is no cached copy at {cache}; check the "
                "network or CROCBOT_KRAKEN__REST_URL"
            ) from None
        logger.warning("Kraken's instrument list is unavailable ({}); using the cache {}", error, cache)
        catalog = Catalog.load(cache)
    else:
        try:
            catalog.save(cache)
        except OSError as error:  # not Kraken's fault: a state directory that cannot be written is refused by start
            logger.warning("could not cache Kraken's instrument list at {} ({})", cache, error)
    try:
        instruments = check_symbols(settings, catalog)
    except SymbolsRefused as error:
        raise StartupError(str(error)) from None
    closed = [s for s, i in instruments.items() if not i.accepts_orders]
    if closed:
        logger.warning("{} not accepting orders right now (Kraken status); no entries there", ", ".join(closed))
    return instruments


class Bot:
    """The running bot: the actor runtime, the REST gateway, the health board and its HTTP server."""

    def __init__(self, settings: Settings, instruments: Mapping[str, Instrument], wiring: BotWiring | None = None):
        self.settings = settings
        self.instruments = dict(instruments)
        self.wiring = wiring or BotWiring()
        self.escalated = threading.Event()
        self.runtime = Runtime(clock=self.wiring.clock, on_escalate=self._on_escalate)
        self.board = HealthBoard(ACTOR_NAMES, self.runtime.directory, metrics=self.wiring.metrics)
        bus = self.runtime.bus
        # REST deadlines and breaker windows are wall-time budgets: under an accelerated clock (wall_rate > 1) they
        # count on the wall clock with a scheduler of their own, or a 30 s backfill budget would be 1.5 s at 20x.
        # A driven SimClock keeps them on event time, so the demo and the tests stay deterministic.
        io_clock = self.runtime.clock if wall_rate(self.runtime.clock) == 1.0 else IoClock(self.runtime.clock)
        self.io_scheduler = (
            self.runtime.scheduler if io_clock is self.runtime.clock else Scheduler(io_clock, name="io-scheduler")
        )
        self.rest_breaker = CircuitBreaker("kraken-rest", self.wiring.breaker, io_clock, on_state_change=bus.publish)
        # every labelled series exists from the first scrape, at 0 (a breaker at 0 is closed)
        self.wiring.metrics.declare(symbol=settings.symbols, breaker=(self.rest_breaker.name,), actor=ACTOR_NAMES)
        self.rest_gateway = Gateway("kraken-rest", self.io_scheduler, workers=2, queue_size=32)
        self.api = KrakenApi(
            RestClient(settings.kraken.rest_url, timeout=settings.kraken.request_timeout, clock=SystemClock()),
            Catalog(self.instruments.values()),
        )
        self.server: HealthServer | None = None
        self.stop_requested = threading.Event()
        self.identity: BotIdentity | None = None  # `<state_dir>/bot.json` while this bot runs

    # -- the tree -------------------------------------------------------------------------------------

    def children(self) -> list[ChildSpec]:
        settings, wiring = self.settings, self.wiring
        instruments = self.instruments
        quote = next(iter(instruments.values())).quote
        state_dir, log_dir = settings.state_dir, settings.log_dir
        execution = settings.execution
        timeframe = settings.strategy.frame
        # Entries are limit orders that may take liquidity, exits and stops take it: judged at the taker's fee.
        costs = {
            s: TradeCosts.of(taker_fee=i.taker_fee, maker_fee=i.maker_fee, slippage=settings.risk.slippage_allowance)
            for s, i in instruments.items()
        }
        core = [
            ChildSpec.actor(
                "persistence",
                Persistence,
                state_dir / JOURNAL_FILE,
                log_dir / TRADE_LOG_FILE,
                backup_dir=state_dir / BACKUP_DIR,
                metrics=wiring.metrics,
            ),
            ChildSpec.actor(
                "venue",
                VenueActor,
                instruments,
                settings.paper.starting_balances,
                account=state_dir / PAPER_ACCOUNT_FILE,
                backup_dir=state_dir / BACKUP_DIR / PAPER_BACKUP_DIR,
                latency=execution.paper_latency_ms / 1000,
                fetch_trades=self._trades_since,
                gateway=self.rest_gateway,
                breaker=self.rest_breaker,
            ),
            ChildSpec.actor(
                "router",
                Router,
                instruments,
                risk_limits(settings.risk),
                DeskConfig(
                    entry_order=execution.entry_order,
                    limit_ttl=execution.limit_ttl,
                    max_repositions=execution.max_reposition_attempts,
                    chase_step=execution.chase_step,
                ),
                cash=settings.paper.starting_balances.get(quote, Decimal(0)),
                quote=quote,
                metrics=wiring.metrics,
                escalation=lambda: self.board.escalation,
            ),
            ChildSpec.actor(
                "sl_manager",
                SLManager,
                stop_policy(settings.stops),
                {s: i.price_increment for s, i in instruments.items()},
                costs=costs,
                place_within=settings.stops.place_within * wiring.machinery_scale,
                amend_min_interval=settings.stops.amend_min_interval,
                # waits for the venue actor, which takes wall time under a replay clock like the deadline above
                backstop_grace=settings.stops.backstop_grace * wiring.machinery_scale,
                backstop_margin=settings.stops.backstop_margin,
                metrics=wiring.metrics,
            ),
            ChildSpec.actor(
                "reconciler",
                Reconciler,
                policy=ForeignOrderPolicy(settings.reconcile.unknown_orders),
                interval=settings.reconcile.interval,
                grace=settings.reconcile.grace * wiring.machinery_scale,
            ),
        ]
        feed_options = wiring.feed or FeedOptions(depth=execution.book_depth)
        market = [
            ChildSpec.actor(
                "feed",
                Feed,
                settings.kraken.ws_url,
                tuple(instruments),
                Catalog(instruments.values()),
                options=feed_options,
                catalog_cache=None,
                metrics=wiring.metrics,
                on_client=wiring.on_feed_client,
            ),
            ChildSpec.actor(
                "candles",
                CandleBuffer,
                tuple(instruments),
                timeframe,
                atr_period=settings.strategy.atr_period,
                backfill=self._backfill,
                gateway=self.rest_gateway,
                breaker=self.rest_breaker,
            ),
            ChildSpec.actor(
                "strategy",
                StrategyActor,
                tuple(instruments),
                strategy_params(settings.strategy),
                {s: i.price_increment for s, i in instruments.items()},
                timeframe,
                costs=costs,
                min_stop_cost_multiple=settings.risk.min_stop_cost_multiple,
                metrics=wiring.metrics,
            ),
        ]
        return [
            ChildSpec.actor("watchdog", Watchdog, interval=wiring.watchdog_interval, timeout=wiring.watchdog_timeout),
            ChildSpec.actor("health", Health, self.board),
            ChildSpec.supervisor("core", core, CORE_POLICY),
            ChildSpec.supervisor("market", market, MARKET_POLICY),
            *wiring.extra_children,
        ]

    def _backfill(self, symbol: str, timeframe: Timeframe, deadline: Deadline) -> list[Candle]:
        """Runs in a gateway worker: REST OHLC, with the gateway's deadline carried over to the wall clock."""
        wall_deadline = self.api.rest.clock.monotonic() + deadline.remaining()
        rows, _ = self.api.ohlc(symbol, timeframe.seconds // 60, deadline=wall_deadline)
        return candles_from_ohlc(symbol, timeframe, rows)

    def _trades_since(self, symbol: str, since: datetime, until: datetime, deadline: Deadline) -> list[Trade]:
        """Runs in a gateway worker: public prints in (since, until], oldest first, page by page (1,000 a page).

        `until` is when the catch-up began: prints after it arrive live, so paging stops there instead of chasing a
        market that keeps printing while the pages come in."""
        wall_deadline = self.api.rest.clock.monotonic() + deadline.remaining()
        cursor = str((since - _EPOCH) // timedelta(microseconds=1) * 1000)  # Kraken's `since`: nanoseconds
        out: list[Trade] = []
        for _ in range(_CATCH_UP_PAGES):
            page, last = self.api.trades(symbol, cursor, deadline=wall_deadline)
            out += [t for t in page if since < t.ts <= until]
            if not page or not last or last == cursor or page[-1].ts >= until:
                return out
            cursor = last
        logger.warning("paper catch-up of {}: stopped after {} pages of trades", symbol, _CATCH_UP_PAGES)
        return out

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
        self.rest_gateway.start()
        try:
            self.runtime.start(self.children(), ROOT_POLICY, timeout=120.0)
        except BaseException:
            self.rest_gateway.stop()
            self._stop_io_scheduler()
            if self.server is not None:
                self.server.stop()
            self._remove_identity()
            raise
        return self

    def stop(self) -> None:
        """Stops leave the venue's stops in place; the journal is flushed and closed by persistence."""
        self.runtime.shutdown()
        self.rest_gateway.stop()
        self._stop_io_scheduler()
        if self.server is not None:
            self.server.stop()
        self._remove_identity()
        unlock_state_dir(self.settings.state_dir)

    def _remove_identity(self) -> None:
        if self.identity is not None:
            remove_identity(self.settings.state_dir, self.identity.instance_id)

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


def run_bot(settings: Settings, *, clock: Clock | None = None, stop: threading.Event | None = None) -> int:
    """Run until SIGINT/SIGTERM (CTRL_BREAK on Windows) or `stop`; returns the process exit code."""
    try:
        check_directories(settings)  # before the log file is opened and before any network call
        check_no_other_bot(settings)
        lock_state_dir(settings.state_dir)  # held from here, so that a second bot is refused before the network
    except StateDirLocked as error:
        logger.error("crocbot cannot start: {}; stop it first, or give this one its own --state-dir", error)
        return ExitCode.REFUSED
    except StartupError as error:
        logger.error("crocbot cannot start: {}", error)
        return ExitCode.REFUSED
    try:
        return _run_bot(settings, clock, stop)
    finally:
        unlock_state_dir(settings.state_dir)


def _run_bot(settings: Settings, clock: Clock | None, stop: threading.Event | None) -> int:
    setup_logging(log_dir=settings.log_dir, level=settings.log_level)
    logger.bind(version=__version__, mode=settings.mode, config=fingerprint(settings)).info(
        "crocbot {} starting in {} mode (config {}) for {}",
        __version__,
        settings.mode,
        fingerprint(settings),
        ", ".join(settings.symbols),
    )
    if settings.mode == "live":
        logger.error("this build has no live venue yet; nothing was sent to Kraken. Run with --mode paper.")
        return ExitCode.REFUSED
    try:
        instruments = load_instruments(settings)
        # The watchdog's margins are wall time (a supervisor blocks for seconds while a child starts): at 20x they
        # are 20 times as many event seconds.
        rate = wall_rate(clock) if clock is not None else 1.0
        wiring = BotWiring(
            clock=clock,
            watchdog_interval=1.0 * rate,
            watchdog_timeout=WATCHDOG_TIMEOUT * rate,
            machinery_scale=rate,
        )
        bot = Bot(settings, instruments, wiring)
        signalled: list[int] = []
        previous = _install_stop_signals(signalled)
        try:
            bot.start()
        except BaseException:
            _restore_signals(previous)
            raise
    except KrakenUnreachable as error:
        logger.error("crocbot cannot start: {}", error)
        return ExitCode.UNREACHABLE
    except StartupError as error:
        logger.error("crocbot cannot start: {}", error)
        return ExitCode.REFUSED
    stop = stop or threading.Event()
    try:
        logger.info(
            "running in paper mode; health on http://{}:{}/readyz; press Ctrl-C to stop",
            settings.health.host,
            bot.server.port if bot.server is not None else settings.health.port,
        )
        while not signalled and not stop.is_set() and not bot.stop_requested.is_set():
            time.sleep(_WAIT_SLICE)
        if signalled:
            logger.info("signal {} received", signalled[0])
    finally:
        logger.info("stopping (stops stay on the venue)")
        bot.stop()
        _restore_signals(previous)
        logger.info("stopped")
    return ExitCode.FAILED if bot.escalated.is_set() else ExitCode.OK


def _install_stop_signals(signalled: list[int]) -> dict[int, object]:
    if threading.current_thread() is not threading.main_thread():
        return {}

    def handler(signum: int, frame: FrameType | None) -> None:
        # Only a list append: a handler that took a lock (Event.set) could deadlock against the main thread,
        # which may hold that very lock when the signal arrives.
        signalled.append(signum)

    previous: dict[int, object] = {}
    for name in ("SIGINT", "SIGTERM", "SIGBREAK"):  # SIGBREAK exists on Windows only
        signum = getattr(signal, name, None)
        if signum is not None:
            previous[signum] = signal.signal(signum, handler)
    return previous


def _restore_signals(previous: dict[int, object]) -> None:
    for signum, handler in previous.items():
        signal.signal(signum, handler)  # type: ignore[arg-type]
