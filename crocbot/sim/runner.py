"""The simulator as one object: exchange, REST and WS servers on 127.0.0.1, and the market driver.

The driver replays market trades (recorded, from Kraken's CSVs, or synthetic) on the simulator's clock: at a
given speed (simulated seconds per wall second), as fast as possible (`speed=inf`), in step with a `ReplayClock`
that another process (the bot) shares, or not at all, when a test drives the market itself with `step()`.
Between trades it churns the books, runs due faults, dead man's switches and periodic disconnects.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from loguru import logger

from crocbot.core.clock import ReplayClock, SimClock
from crocbot.core.instrument import Instrument
from crocbot.kraken.ratelimit import Tier
from crocbot.sim.catalog import DEFAULT_INSTRUMENTS, START_PRICES
from crocbot.sim.exchange import Exchange
from crocbot.sim.faults import FaultPlan
from crocbot.sim.market import MarketTrade, merged, synthetic_source
from crocbot.sim.records import SimRecords
from crocbot.sim.rest_api import SimRestApi
from crocbot.sim.rest_server import SimRestServer
from crocbot.sim.ws_server import SimWsServer

__all__ = ["Simulator", "SimConfig"]

_SLICE = 0.05  # wall seconds: the driver never sleeps longer, so stops, faults and switches stay responsive


@dataclass
class SimConfig:
    symbols: Sequence[str] = ("BTC/USD", "ETH/USD", "AAPLx/USD")
    seed: int = 7
    speed: float = 1.0  # simulated seconds per wall second; math.inf replays as fast as the machine allows
    churn_per_trade: int = 2
    start: datetime = datetime(2026, 1, 5, 14, 30, tzinfo=UTC)
    tier: Tier = Tier.STARTER
    accounts: Mapping[str, tuple[str, Mapping[str, Decimal]]] = field(default_factory=dict)
    book_levels: int = 200
    mean_interval: float = 0.5  # seconds between synthetic trades, per symbol
    volatility: float = 0.0001  # per sqrt(second): about 3 % a day, BTC-like
    ws_port: int = 0  # 0: any free port
    rest_port: int = 0
    # When set: the synthetic market starts at its anchor and each trade is applied when `replay.now()` reaches it,
    # so a bot on the same spec sees the market at its own event time (`speed` is then ignored).
    replay: ReplayClock | None = None
    records: Path | None = None  # append the simulator's own records here (`crocbot.sim.records`)


class Simulator:
    def __init__(
        self,
        config: SimConfig | None = None,
        *,
        sources: Mapping[str, Iterable[MarketTrade]] | None = None,
        clock: SimClock | None = None,
        faults: FaultPlan | None = None,
        instruments: Sequence[Instrument] = DEFAULT_INSTRUMENTS,
    ) -> None:
        """`sources` replays recorded trades by symbol; every other configured symbol gets a synthetic market
        that starts when the recorded data does."""
        self.config = config or SimConfig()
        listed = {i.symbol: i for i in instruments}
        unknown = [s for s in [*self.config.symbols, *(sources or {})] if s not in listed]
        if unknown:
            raise ValueError(f"the simulator does not list {', '.join(unknown)}; it lists {', '.join(listed)}")
        chosen = [listed[s] for s in dict.fromkeys([*self.config.symbols, *(sources or {})])]
        recorded = merged(*(sources or {}).values())
        first = next(recorded, None)
        replay = self.config.replay
        start = replay.anchor if replay is not None else first.ts if first is not None else self.config.start
        synthetic = [i for i in chosen if i.symbol not in (sources or {})]
        trades = merged(_chain(first, recorded), self._synthetic(synthetic, start))
        self.clock = clock or SimClock(start - timedelta(seconds=1))
        self._trades: Iterator[MarketTrade] = trades
        self._lookahead: MarketTrade | None = None
        self.faults = faults or FaultPlan(self.config.seed)
        start_prices = {first.symbol: first.price} if first is not None else {}
        self.exchange = Exchange(
            chosen,
            clock=self.clock,
            faults=self.faults,
            accounts=self.config.accounts,
            seed=self.config.seed,
            tier=self.config.tier,
            book_levels=self.config.book_levels,
            start_prices=start_prices,
        )
        self.records = SimRecords(self.config.records, self.clock) if self.config.records is not None else None
        self.exchange.records = self.faults.records = self.records
        self.rest = SimRestServer(SimRestApi(self.exchange), self.faults, port=self.config.rest_port)
        self.ws = SimWsServer(self.exchange, self.faults, port=self.config.ws_port)
        self._stop = threading.Event()
        self._driver: threading.Thread | None = None
        self._started_at = self.clock.monotonic()
        self.trades_applied = 0
        self.exhausted = threading.Event()

    def _synthetic(self, instruments: Sequence[Instrument], start: datetime) -> Iterator[MarketTrade]:
        config = self.config
        return merged(
            *(
                synthetic_source(
                    item.symbol,
                    seed=config.seed + index,
                    start=start,
                    start_price=START_PRICES.get(item.symbol, Decimal(100)).quantize(item.price_increment),
                    price_increment=item.price_increment,
                    qty_increment=item.qty_increment,
                    volatility=config.volatility,
                    mean_interval=config.mean_interval,
                )
                for index, item in enumerate(instruments)
            )
        )

    # -- endpoints ------------------------------------------------------------------------------------

    @property
    def rest_url(self) -> str:
        return self.rest.url

    @property
    def ws_url(self) -> str:
        return self.ws.public_url

    @property
    def ws_auth_url(self) -> str:
        return self.ws.auth_url

    def start(self, *, drive: bool = True) -> Simulator:
        self.rest.start()
        self.ws.start()
        if drive:
            self._driver = threading.Thread(target=self._drive, name="sim-driver", daemon=True)
            self._driver.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._driver is not None:
            self._driver.join(timeout=5)
        self.ws.stop()
        self.rest.stop()
        if self.records is not None:
            self.records.close()

    def __enter__(self) -> Simulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- the market -----------------------------------------------------------------------------------

    def peek(self) -> MarketTrade | None:
        """The next market trade, not yet applied (None when the sources are exhausted)."""
        if self._lookahead is None:
            self._lookahead = next(self._trades, None)
        return self._lookahead

    def _take(self) -> MarketTrade | None:
        trade = self.peek()
        self._lookahead = None
        return trade

    def step(self, trades: int = 1) -> int:
        """Apply the next `trades` market trades at once (the clock jumps to each); returns how many were applied."""
        applied = 0
        for _ in range(trades):
            trade = self._take()
            if trade is None:
                self.exhausted.set()
                break
            if trade.ts > self.clock.now():
                self.clock.set(trade.ts)
            self._apply(trade)
            applied += 1
        return applied

    def _apply(self, trade: MarketTrade) -> None:
        self.exchange.apply_trade(trade)
        for _ in range(self.config.churn_per_trade):
            self.exchange.churn(trade.symbol)
        self.exchange.tick()
        for action in self.faults.due(self.clock.monotonic() - self._started_at):
            action()
        self.trades_applied += 1

    def _drive(self) -> None:
        last_disconnect = last_private_drop = time.monotonic()
        try:
            while (trade := self._take()) is not None:
                if self.config.replay is not None:
                    self._pace_replay(trade, self.config.replay)
                else:
                    self._pace(trade, self.config.speed)
                if self._stop.is_set():
                    return
                self._apply(trade)
                every = self.faults.disconnect_every
                if every is not None and time.monotonic() - last_disconnect >= every:
                    last_disconnect = last_private_drop = time.monotonic()
                    self.faults.disconnect_all()
                every = self.faults.private_disconnect_every
                if every is not None and time.monotonic() - last_private_drop >= every:
                    last_private_drop = time.monotonic()
                    self.ws.disconnect_private()
            self.exhausted.set()
        except Exception:  # noqa: BLE001 - a simulator bug must be loud, and must not hang the test that runs it
            logger.opt(exception=True).critical("the simulator's market driver failed")
            self.exhausted.set()

    def _pace(self, trade: MarketTrade, speed: float) -> None:
        """Move the clock to `trade` at `speed`, in slices, ticking the exchange between them."""
        while not self._stop.is_set() and trade.ts > self.clock.now():
            if math.isinf(speed):
                self.clock.set(trade.ts)
                break
            gap = (trade.ts - self.clock.now()).total_seconds()
            wall = min(_SLICE, gap / speed)
            time.sleep(wall)  # the driver's own pacing thread, never an actor
            self.clock.set(min(trade.ts, self.clock.now() + timedelta(seconds=wall * speed)))
            self.exchange.tick()

    def _pace_replay(self, trade: MarketTrade, replay: ReplayClock) -> None:
        """Wait until the shared replay clock reaches `trade`, in slices, keeping the simulator's clock on it.

        Trades already due (the driver fell behind, or started after the anchor) are applied without waiting.
        """
        while not self._stop.is_set():
            ahead = (trade.ts - replay.now()).total_seconds()
            if ahead <= 0:
                break
            time.sleep(min(_SLICE, ahead / replay.speed))  # the driver's own pacing thread, never an actor
            now = min(trade.ts, replay.now())
            if now > self.clock.now():
                self.clock.set(now)
            self.exchange.tick()
        if not self._stop.is_set() and trade.ts > self.clock.now():
            self.clock.set(trade.ts)


def _chain(first: MarketTrade | None, rest: Iterator[MarketTrade]) -> Iterator[MarketTrade]:
    if first is not None:
        yield first
    yield from rest
