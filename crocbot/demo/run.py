"""`crocbot demo`: the whole bot, in paper mode (or with `--venue live` in live mode, see `crocbot.demo.live`),
against the in-process simulator, offline.

The simulator replays real recorded BTC/USD movement (Kraken's own 5-minute OHLCVT, retraced as trades) when
the data file is there, and a seeded synthetic market otherwise, plus synthetic ETH/USD and an xStock. The bot
is the one `crocbot run` starts, talking to the simulator over 127.0.0.1 (WS v2 and REST), on the simulator's
clock in lockstep (see `crocbot.sim.conductor`), so days of market time pass in minutes. Before the bot starts,
the simulator runs through a pre-roll of market history, which the bot backfills over REST OHLC like it does
from Kraken, so its strategies are warm from the first candle.
"""

from __future__ import annotations

import shutil
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from types import FrameType
from typing import Any, TextIO

from loguru import logger
from rich.console import Console
from rich.live import Live

from crocbot.actors.activity import ACTIVITY
from crocbot.actors.feed import FeedOptions
from crocbot.actors.router import FENCE_METRIC
from crocbot.app import (
    BACKUP_DIR,
    JOURNAL_FILE,
    TRADE_LOG_FILE,
    Bot,
    BotWiring,
    StartupError,
    load_instruments,
    preflight,
)
from crocbot.config import Settings
from crocbot.config.policies import strategy_params
from crocbot.core.instrument import Instrument
from crocbot.core.strategies import strategy_for
from crocbot.demo.live import DemoAccount, banner, check_loopback, check_venue, live_overrides, open_account
from crocbot.demo.paths import DEFAULT_DATA
from crocbot.demo.summary import QUOTE, DemoResult, summary_text
from crocbot.demo.view import ViewData, money, render_view
from crocbot.ops.log import JSON_LOG_NAME, setup_logging
from crocbot.ops.metrics import Metrics
from crocbot.ops.trade_audit import audit_journal
from crocbot.sim.catalog import DEFAULT_INSTRUMENTS
from crocbot.sim.conductor import Conductor
from crocbot.sim.market import MarketTrade, candle_csv_source
from crocbot.sim.runner import SimConfig, Simulator
from crocbot.store.journal import Journal
from crocbot.store.paper_account import PAPER_ACCOUNT_FILE

__all__ = ["DemoOptions", "DemoResult", "run_demo", "summary_text", "DEFAULT_DATA", "DEMO_SYMBOLS"]

DEMO_SYMBOLS = ("BTC/USD", "ETH/USD", "AAPLx/USD")
_WARMUP_SPARE = 12  # candles of pre-roll beyond the strategies' warm-up
# Fewer prints than a live market (a synthetic one every minute, BTC's candles retraced in 4 to 6): hourly candles
# need no more, and fewer events let the lockstep replay cover about a week of market in the demo's two minutes.
_SYNTHETIC_INTERVAL = 60.0
_TRADES_PER_CANDLE = 6
_STARTUP_LIMIT = 60.0  # wall seconds for the bot to connect and backfill
TITLES = {
    "paper": "crocbot demo (paper trading against the simulator; Ctrl-C ends it early)",
    "live": "crocbot demo (LIVE mode against the simulator, no real money; Ctrl-C ends it)",
}


@dataclass
class DemoOptions:
    duration: float = 100.0  # wall seconds of trading
    speed: float | None = None  # simulated seconds per wall second at most; None: as fast as lockstep goes
    data: Path | None = DEFAULT_DATA  # None: synthetic BTC/USD too
    seed: int = 7
    state_dir: Path = Path("state/demo")
    log_dir: Path = Path("logs/demo")
    view: bool = True  # redraw the console view in place (a terminal); otherwise a line now and then
    quantum: float = 0.25  # seconds of event time applied before waiting for the bot
    venue: str = "paper"  # or "live": the live venue against the simulator's account (`crocbot.demo.live`)


def _fresh(state_dir: Path, log_dir: Path) -> None:
    """The demo starts from an empty account and empty logs every time: it removes the files crocbot writes in its
    state and log folders (the journal, the paper account, their backups, the catalog, the JSON log and the trade
    log, rotated ones too), and nothing else, so a --log-dir shared with other files loses none of them."""
    for name in (JOURNAL_FILE, PAPER_ACCOUNT_FILE):
        for suffix in ("", "-wal", "-shm"):
            (state_dir / (name + suffix)).unlink(missing_ok=True)
    (state_dir / "instruments.json").unlink(missing_ok=True)
    shutil.rmtree(state_dir / BACKUP_DIR, ignore_errors=True)
    for name in (JSON_LOG_NAME, TRADE_LOG_FILE):
        stem, dot, suffix = name.rpartition(".")
        for path in log_dir.glob(f"{stem}*{dot}{suffix}"):  # loguru's rotated files: crocbot.<time>.jsonl
            path.unlink(missing_ok=True)


def _sources(options: DemoOptions) -> tuple[dict[str, Any], str]:
    btc = next(i for i in DEFAULT_INSTRUMENTS if i.symbol == "BTC/USD")
    if options.data is not None and options.data.is_file():
        source = candle_csv_source(
            options.data,
            "BTC/USD",
            price_increment=btc.price_increment,
            qty_increment=btc.qty_increment,
            seed=options.seed,
            max_trades_per_candle=_TRADES_PER_CANDLE,
        )
        return {"BTC/USD": source}, f"real Kraken BTC/USD candles from {options.data}, synthetic ETH/USD, AAPLx/USD"
    where = f" ({options.data} not found)" if options.data is not None else ""
    return {}, f"seeded synthetic market for every symbol{where}"


def run_demo(
    options: DemoOptions, load: Callable[[Mapping[str, Any]], Settings], out: TextIO = sys.stdout
) -> DemoResult:
    """Run the demo; `load(overrides)` builds the settings (config file, environment, flags, then these)."""
    options.state_dir.mkdir(parents=True, exist_ok=True)
    _fresh(options.state_dir, options.log_dir)
    sources, described = _sources(options)
    market: dict[str, Any] = sources
    simulator = Simulator(
        SimConfig(symbols=DEMO_SYMBOLS, seed=options.seed, mean_interval=_SYNTHETIC_INTERVAL),
        sources=market,
    )
    simulator.start(drive=False)
    try:
        return _with_simulator(simulator, options, load, described, out)
    finally:
        simulator.stop()


def pre_roll_for(settings: Settings) -> timedelta:
    """Market history the strategies need before their first decision: their warm-up in candles, and a few more."""
    frame = settings.strategy.frame
    warmup = max(strategy_for(s, strategy_params(settings.strategy), Decimal(1)).warmup for s in DEMO_SYMBOLS)
    return timedelta(seconds=frame.seconds * (warmup + _WARMUP_SPARE))


def _pre_roll(simulator: Simulator, span: timedelta) -> None:
    until = simulator.clock.now() + span
    while simulator.clock.now() < until:
        trade: MarketTrade | None = simulator.peek()
        if trade is None or simulator.step(1) == 0:
            break


def _with_simulator(
    simulator: Simulator,
    options: DemoOptions,
    load: Callable[[Mapping[str, Any]], Settings],
    described: str,
    out: TextIO,
) -> DemoResult:
    result = DemoResult(data=described, venue=options.venue, symbols=DEMO_SYMBOLS)
    print(f"crocbot demo: {described}", file=out)
    overrides: dict[str, Any] = {
        "mode": "paper",
        "symbols": ",".join(DEMO_SYMBOLS),
        "state_dir": str(options.state_dir),
        "log_dir": str(options.log_dir),
        "kraken": {
            "ws_url": simulator.ws_url,
            "ws_auth_url": simulator.ws_auth_url,
            "rest_url": simulator.rest_url,
        },
    }
    settings = load(overrides)
    account: DemoAccount | None = None
    if options.venue == "live":
        # funded as the paper demo's account is, so both venues start from the same capital
        account = open_account(simulator, settings.paper.starting_balances)
        settings = load(overrides | live_overrides(account, settings))
        check_loopback(settings, simulator)
    span = pre_roll_for(settings)
    print(f"pre-rolling {span} of market history for the strategies' warm-up ...", file=out, flush=True)
    _pre_roll(simulator, span)
    setup_logging(log_dir=settings.log_dir, level="ERROR" if options.view else "WARNING")
    instruments = load_instruments(settings)
    conductor: Conductor | None = None
    metrics = Metrics()  # the demo's own: its summary counts this run's fence breaches, nothing else's

    def on_feed_client(client: Any) -> None:
        if conductor is not None:
            conductor.on_feed_client(client)

    def on_private_client(client: Any) -> None:
        if conductor is not None:
            conductor.on_private_client(client)

    bot = Bot(
        settings,
        instruments,
        BotWiring(
            clock=simulator.clock,
            feed=FeedOptions(depth=settings.execution.book_depth, stale_after=30.0),
            health_port=0,
            watchdog_interval=30.0,
            on_feed_client=on_feed_client,
            on_private_client=on_private_client,
            rest_clock=simulator.clock,  # the simulator's account counts its REST budget in event time
            metrics=metrics,
        ),
    )
    conductor = Conductor(
        simulator, bot.runtime.scheduler, activity=ACTIVITY, gateways=bot.gateways, quantum=options.quantum
    )
    conductor.max_speed = options.speed
    if account is not None:
        _preflight(bot, settings, account, out)
    started = time.monotonic()
    bot.start()
    try:
        _wait_ready(bot, conductor)
        result.start_equity = bot.status().equity
        span_start = simulator.clock.now()
        health = bot.server.url if bot.server is not None else "-"
        view = _View(bot, simulator, options, result.start_equity, instruments, out)
        with _ctrl_c_stops() as interrupted:  # before the line that says it trades: a Ctrl-C from then on ends it
            print(f"health: {health}/readyz, trading for {options.duration:.0f}s ...", file=out, flush=True)
            with view:
                stats = conductor.run(
                    wall_limit=options.duration,
                    stop=interrupted,
                    every=view.redraw,
                    every_wall=1.0 if options.view else 15.0,
                )
                view.redraw()
        result.interrupted = interrupted.is_set()
        result.sim_span = simulator.clock.now() - span_start
        result.settle_timeouts = stats.settle_timeouts
        report = bot.status()
        result.equity, result.realized = report.equity, report.realized
        result.open_positions, result.kill_switch = report.open_positions, report.kill_switch
    finally:
        bot.stop()
        result.wall_seconds = time.monotonic() - started
    result.fence_breaches = int(metrics.value(FENCE_METRIC))
    with Journal(options.state_dir / JOURNAL_FILE) as journal:
        result.audit = audit_journal(journal)
        if account is not None:
            result.venue_check = check_venue(simulator, account, journal.fills())
    result.fills = result.audit.fills
    result.closed_trades = result.audit.closed_trades
    return result


def _preflight(bot: Bot, settings: Settings, account: DemoAccount, out: TextIO) -> None:
    """The live preflight, as `crocbot run` runs it, against the simulator; what the live demo is, said once."""
    result = preflight(bot)
    assert result is not None  # a live bot always has one
    if not result.ok:
        raise StartupError("the live preflight failed against the simulator: " + "; ".join(result.problems))
    print(banner(settings, account, result), file=out, flush=True)


def _wait_ready(bot: Bot, conductor: Conductor) -> None:
    """Let the feed connect and the backfill land (wall time; the market clock stands still meanwhile)."""
    deadline = time.monotonic() + _STARTUP_LIMIT
    while time.monotonic() < deadline:
        conductor.settle(limit=5.0)
        failing = [c.name for c in bot.board.readiness() if not c.ok]
        if not failing or failing == ["not_safe_mode"]:
            return
        time.sleep(0.05)
    why = ", ".join(c.name + ": " + c.detail for c in bot.board.readiness() if not c.ok)
    raise StartupError(f"the bot did not become ready within {_STARTUP_LIMIT:.0f}s ({why})")


@contextmanager
def _ctrl_c_stops() -> Iterator[threading.Event]:
    """The first Ctrl-C ends the trading between two steps, so the bot stops in order and the summary is printed;
    a second one interrupts whatever runs then. Where SIGINT is ignored (a background job) or this is not the main
    thread, signals stay as they are and the event is never set."""
    stop = threading.Event()
    if threading.current_thread() is not threading.main_thread() or signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        yield stop
        return

    def first(signum: int, frame: FrameType | None) -> None:
        stop.set()
        signal.signal(signal.SIGINT, signal.default_int_handler)

    previous = signal.signal(signal.SIGINT, first)
    try:
        yield stop
    finally:
        signal.signal(signal.SIGINT, previous)


class _View:
    """The console view (rich, redrawn in place, the final frame left on screen), or a line now and then."""

    def __init__(
        self,
        bot: Bot,
        simulator: Simulator,
        options: DemoOptions,
        start_equity: Decimal,
        instruments: Mapping[str, Instrument],
        out: TextIO,
    ) -> None:
        self._bot, self._simulator, self._start_equity = bot, simulator, start_equity
        self._instruments = instruments
        self._title = TITLES[options.venue]
        self._out = out
        self._lock = threading.Lock()
        self._live: Live | None = None
        if options.view:
            # crop: a frame never grows past the terminal, so the header never scrolls away
            console = Console(file=out)
            self._live = Live(console=console, auto_refresh=False, vertical_overflow="crop", redirect_stderr=False)

    def __enter__(self) -> _View:
        if self._live is not None:
            self._live.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._live is not None:
            self._live.stop()

    def redraw(self) -> None:
        with self._lock:
            try:
                report = self._bot.status(timeout=5.0)
            except Exception as error:  # noqa: BLE001 - a view that cannot be drawn must not stop the demo
                logger.warning("console view: {}", error)
                return
            now = self._simulator.clock.now()
            if self._live is not None:
                data = ViewData(now, report, self._bot.board.events(), self._start_equity, self._instruments, QUOTE)
                frame = render_view(data, self._title, height=self._live.console.size.height)
                self._live.update(frame, refresh=True)
                return
            self._out.write(
                f"market time {now:%m-%d %H:%M} UTC  equity {money(report.equity, QUOTE)}  realised "
                f"{money(report.realized, QUOTE)}  positions {report.open_positions}  orders {len(report.orders)}\n"
            )
            self._out.flush()
