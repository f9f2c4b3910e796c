"""The whole bot against the simulator in lockstep, for end-to-end tests: real actors, real sockets on 127.0.0.1.

A `Paper` run starts the simulator (market data from `sources`, synthetic for the other symbols), pre-rolls
market history so the strategies are warm after the REST backfill, then starts the bot exactly as `crocbot
run` builds it, on the simulator's clock, with a conductor that moves time only when the bot is quiet. A probe
actor records every fill the venue reports, as the independent list the journal and trade log must match.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from crocbot.actors.activity import ACTIVITY
from crocbot.actors.base import ChildContext, SupervisedActor
from crocbot.actors.feed import FeedOptions
from crocbot.actors.supervisor import ChildSpec
from crocbot.app import JOURNAL_FILE, TRADE_LOG_FILE, Bot, BotWiring, load_instruments
from crocbot.config import Settings, load_settings
from crocbot.core.messages import FeedHealth, Fill, OrderEvent, PositionSide, SafeModeChanged
from crocbot.kraken.reconnect import Backoff
from crocbot.ops.metrics import Metrics
from crocbot.sim.conductor import Conductor
from crocbot.sim.market import MarketTrade
from crocbot.sim.runner import SimConfig, Simulator
from crocbot.store.journal import Journal
from crocbot.store.paper_account import PAPER_ACCOUNT_FILE
from crocbot.store.tradelog import TradeLog
from tests.support.process import CONFIG
from tests.support.sim import API_KEY, API_SECRET, BALANCES

SHARED_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
BTC_CANDLES = SHARED_DATA / "kraken-ohlcvt-2023q1" / "XBTUSD_5.csv.gz"
PRE_ROLL = timedelta(hours=13)
# End-to-end tests exercise the machinery, which wants trades: the strategies on 5-minute candles (warm after the
# 13 h pre-roll) with stops inside the round trip's cost allowed and a target that clears it. The shipped
# defaults (hourly candles, costs judged strictly) would trade a few times in these runs, if at all.
MACHINERY: dict[str, Any] = {
    "strategy": {"timeframe": "5m", "stop_atr_multiple": 2, "take_profit_atr_multiple": 12, "min_reward_risk": 0.1},
    "risk": {"min_stop_cost_multiple": 0},
    "stops": {"trail_atr_multiple": 2.5},
}
# The live bot runs the paper scenarios as they are, with two settings of its own:
# - the first-run caps of `[live]` (100 USD an entry) lifted: the scenarios size their trades as on paper (risk per
#   trade of the ledger's equity), and their thresholds (a kill switch after a few losses) assume those sizes;
# - reconciliation by interval every event hour instead of every 5 minutes: the bot's model of Kraken's REST budget
#   counts wall seconds (as Kraken does), and lockstep runs event time a hundred times faster than the wall, so a
#   5-minute interval would ask for about ten points of budget every wall second and time would crawl at the pace
#   of the budget. Live at 1x the interval costs a few percent of it. Start-up reconciliation, the one after a
#   private WS reconnect and the one a gap asks for run as always.
LIVE: dict[str, Any] = {
    "live": {"max_order_notional": 1_000_000, "max_total_exposure": 1_000_000},
    "reconcile": {"interval": 3600},
}
READY_WAIT = 60.0  # wall seconds for the feed to connect and the backfill to land
VENUES = ("paper", "live")


@dataclass
class Seen:
    """What the probe saw on the bus, in order."""

    fills: list[Fill] = field(default_factory=list)
    order_events: list[OrderEvent] = field(default_factory=list)
    safe_mode: list[SafeModeChanged] = field(default_factory=list)
    feed: list[FeedHealth] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


class Probe(SupervisedActor):
    def __init__(self, ctx: ChildContext, seen: Seen) -> None:
        super().__init__(ctx)
        self._seen = seen

    def started(self) -> None:
        for topic in (Fill, OrderEvent, SafeModeChanged, FeedHealth):
            self.services.bus.subscribe(topic, self.name)

    def handle(self, message: Any) -> Any:
        seen = self._seen
        with seen.lock:
            if isinstance(message, Fill):
                seen.fills.append(message)
            elif isinstance(message, OrderEvent):
                seen.order_events.append(message)
            elif isinstance(message, SafeModeChanged):
                seen.safe_mode.append(message)
            elif isinstance(message, FeedHealth):
                seen.feed.append(message)
        return None


def step_until(paper: Paper, what: str, check: Callable[[], bool], *, step: float = 0.25, bound: float = 60.0) -> None:
    """Let event time pass `step` seconds at a time until `check()` holds, bounded in wall time (`bound` seconds: a
    phase on a loaded machine)."""
    deadline = time.monotonic() + bound
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        paper.advance(step)
        time.sleep(0.01)


@contextlib.contextmanager
def started(paper: Paper) -> Iterator[Paper]:
    """The paper bot started, and stopped with its simulator at the end, whatever happens."""
    try:
        yield paper.start()
    finally:
        paper.stop()


class Paper:
    """One paper-trading bot and its simulator; `start`, `run_until`/`advance`, `restart`, `stop`."""

    def __init__(
        self,
        tmp_path: Path,
        *,
        sources: Mapping[str, Iterable[MarketTrade]],
        symbols: tuple[str, ...] = ("BTC/USD", "ETH/USD", "AAPLx/USD"),
        overrides: Mapping[str, Any] | None = None,
        seed: int = 11,
        mean_interval: float = 30.0,
        pre_roll: timedelta = PRE_ROLL,
        stale_after: float = 10.0,
        live: bool = False,
    ) -> None:
        """`live`: the bot in live mode against the simulator's private WS and REST (its account funded as
        `tests.support.sim`'s), instead of the paper venue."""
        self.tmp_path = tmp_path
        self.symbols = symbols
        self.seen = Seen()
        self.metrics = Metrics()  # this bot's (across its restarts), apart from every other test's
        self.live = live
        accounts = {API_KEY: (API_SECRET, dict(BALANCES))} if live else {}
        self.simulator = Simulator(
            SimConfig(symbols=symbols, seed=seed, mean_interval=mean_interval, accounts=accounts),
            sources=dict(sources),
        )
        self._overrides = dict(overrides or {})
        self._pre_roll = pre_roll
        self._stale_after = stale_after
        self.bot: Bot | None = None
        self.conductor: Conductor | None = None
        self.settings: Settings | None = None

    # -- life -----------------------------------------------------------------------------------------

    def start(self) -> Paper:
        simulator = self.simulator
        simulator.start(drive=False)
        until = simulator.clock.now() + self._pre_roll
        while simulator.clock.now() < until and simulator.peek() is not None:
            simulator.step(1)
        overrides = {
            "symbols": ",".join(self.symbols),
            "state_dir": str(self.tmp_path / "state"),
            "log_dir": str(self.tmp_path / "logs"),
            "kraken": {
                "ws_url": simulator.ws_url,
                "ws_auth_url": simulator.ws_auth_url,
                "rest_url": simulator.rest_url,
            },
        }
        if self.live:
            overrides |= {"mode": "live", "kraken_api_key": API_KEY, "kraken_api_secret": API_SECRET}
            overrides = _merge(overrides, LIVE)
        merged = _merge(_merge(overrides, MACHINERY), self._overrides)
        self.settings = load_settings(config_file=CONFIG, overrides=merged)
        self._start_bot()
        return self

    def _start_bot(self) -> None:
        assert self.settings is not None
        instruments = load_instruments(self.settings)
        holder: list[Conductor] = []
        bot = Bot(
            self.settings,
            instruments,
            BotWiring(
                clock=self.simulator.clock,
                feed=FeedOptions(depth=self.settings.execution.book_depth, stale_after=self._stale_after),
                health_port=0,
                watchdog_interval=30.0,
                on_feed_client=lambda client: holder[0].on_feed_client(client) if holder else None,
                extra_children=[ChildSpec.actor("probe", Probe, self.seen)],
                metrics=self.metrics,
                private_ws={"backoff": Backoff(initial=0.05, maximum=0.5)},
                rest_clock=self.simulator.clock,
                on_private_client=lambda client: holder[0].on_private_client(client) if holder else None,
            ),
        )
        conductor = Conductor(
            self.simulator,
            bot.runtime.scheduler,
            activity=ACTIVITY,
            gateways=bot.gateways,
            quantum=0.25,
        )
        holder.append(conductor)
        self.bot, self.conductor = bot, conductor
        bot.start()
        self.wait_ready()

    def wait_ready(self, allow: tuple[str, ...] = ("not_safe_mode",)) -> None:

        bot, conductor = self.running
        deadline = time.monotonic() + READY_WAIT
        while time.monotonic() < deadline:
            conductor.settle(limit=5.0)
            failing = [c.name for c in bot.board.readiness() if not c.ok and c.name not in allow]
            if not failing:
                return
            time.sleep(0.05)
        raise AssertionError(f"the bot did not get ready: {bot.board.readiness()}")

    def restart(self, downtime: timedelta | None = None) -> None:
        """Stop the bot, let the simulator's market run on for `downtime` with nobody listening, and start a new
        bot on the same state directory."""
        bot, _ = self.running
        bot.stop()
        if downtime is not None:
            simulator = self.simulator
            until = simulator.clock.now() + downtime
            while (upcoming := simulator.peek()) is not None and upcoming.ts <= until:
                simulator.step(1)
            simulator.clock.set(max(simulator.clock.now(), until))
        self._start_bot()

    def stop(self) -> None:
        if self.bot is not None:
            self.bot.stop()
        self.simulator.stop()

    @property
    def running(self) -> tuple[Bot, Conductor]:
        assert self.bot is not None
        assert self.conductor is not None
        return self.bot, self.conductor

    # -- time -----------------------------------------------------------------------------------------

    def run_until(self, until: datetime, *, wall_limit: float = 600.0) -> None:
        _, conductor = self.running
        # What the test just told the bot (a signal, an exit) is handled before time moves: a step jumps to the next
        # event, and live an order call queued meanwhile would find its deadline passed.
        conductor.settle()
        conductor.run(until=until, wall_limit=wall_limit)

    def advance(self, seconds: float) -> None:
        self.run_until(self.simulator.clock.now() + timedelta(seconds=seconds))

    # -- what happened --------------------------------------------------------------------------------

    def journal(self) -> Journal:
        return Journal(self.tmp_path / "state" / JOURNAL_FILE)

    @property
    def venue(self) -> str:
        return "live" if self.live else "paper"

    def venue_start(self) -> dict[str, Decimal]:
        """What the venue's account held before the bot traded: the paper account's starting balances, or what the
        simulator funded the live account with (coins as well as cash: an account the trader shares)."""
        if self.live:
            return dict(BALANCES)
        assert self.settings is not None
        return dict(self.settings.paper.starting_balances)

    def paper_account(self) -> Journal:
        """The paper account's file (the journal's format; the account is the state document PAPER_ACCOUNT_KEY)."""
        return Journal(self.tmp_path / "state" / PAPER_ACCOUNT_FILE)

    def readyz(self) -> tuple[int, dict[str, Any]]:
        """The running bot's `/readyz`: the status code and the JSON body."""
        bot, _ = self.running
        assert bot.server is not None
        try:
            with urllib.request.urlopen(bot.server.url + "/readyz", timeout=10) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())

    def trade_log(self) -> list[dict[str, Any]]:
        records = TradeLog.read(self.tmp_path / "logs" / TRADE_LOG_FILE)
        assert records.torn == 0, f"torn trade-log lines {records.torn_lines}"
        return list(records)


def _merge(base: dict[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in extra.items():
        old = merged.get(key)
        merged[key] = _merge(old, value) if isinstance(old, dict) and isinstance(value, Mapping) else value
    return merged


def fifo_realized(fills: Iterable[Mapping[str, Any]]) -> Decimal:
    """Realised P&L recomputed from trade-log fill records, independently of crocbot's ledger: FIFO lots per
    symbol, long only, every fee (in quote) charged when paid."""
    lots: dict[str, list[list[Decimal]]] = {}
    realized = Decimal(0)
    for record in fills:
        symbol, qty, price = record["symbol"], Decimal(record["qty"]), Decimal(record["price"])
        assert record["fee_currency"] in ("USD", "ZUSD"), record
        realized -= Decimal(record["fee"])
        queue = lots.setdefault(symbol, [])
        if record["side"] == "buy":
            queue.append([qty, price])
            continue
        left = qty
        while left > 0:
            assert queue, f"a sell of {symbol} with nothing held: {record}"
            lot = queue[0]
            used = min(lot[0], left)
            realized += (price - lot[1]) * used
            lot[0] -= used
            left -= used
            if lot[0] == 0:
                queue.pop(0)
    return realized


def long_only(side: str) -> bool:
    return side == PositionSide.LONG.value
