"""The candle buffer and the strategy across failures: candles build from live trades when the REST backfill is
missing or failed, and a strategy that crashes comes back warm: it asks the candle buffer for the history so far
instead of waiting through its warm-up again (hours of 5-minute candles, without a signal)."""

from __future__ import annotations

import queue
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from loguru import logger

from crocbot.actors.candles import CandleBuffer
from crocbot.actors.gateway import Deadline, Gateway
from crocbot.actors.runtime import Runtime
from crocbot.actors.strategy import StrategyActor
from crocbot.actors.supervisor import ChildSpec, Policy
from crocbot.config.model import StrategySettings
from crocbot.config.policies import strategy_params
from crocbot.core.clock import SimClock
from crocbot.core.messages import Candle, CandleHistory, Side, Timeframe, Trade
from tests.support.actors import WAIT, Tap, settle, take
from tests.support.restart_safety import Crash, crashable  # noqa: F401 - the fixture, used by name

pytestmark = pytest.mark.usefixtures("crashable")

SYMBOL = "BTC/USD"


def feed_minutes(runtime: Runtime, clock: SimClock, events: queue.Queue[Any], minutes: int) -> None:
    clock.advance(1)  # inside the first minute
    for minute in range(minutes):  # one closed one-minute candle each (it closes 1 s after its end)
        runtime.bus.publish(Trade(SYMBOL, Side.BUY, Decimal(40_000 + minute), Decimal("0.1"), clock.now()))
        settle()  # the trade is in its candle before event time moves past the candle's end
        for _ in range(2):
            clock.advance(30)
        take(events, Candle, symbol=SYMBOL)


def test_without_a_backfill_candles_still_build_from_live_trades(runtime: Runtime, clock: SimClock) -> None:
    """A failed REST OHLC backfill (Kraken down at start) once left the buffer without series: no candle, ever."""
    events: queue.Queue[Any] = queue.Queue()
    runtime.start(
        [
            ChildSpec.actor("tap", Tap, events, (Candle,)),
            ChildSpec.actor("candles", CandleBuffer, (SYMBOL,), Timeframe.M1),
        ],
        Policy(),
    )

    feed_minutes(runtime, clock, events, 2)


def test_a_restarted_strategy_gets_the_candle_history_so_far(runtime: Runtime, clock: SimClock) -> None:
    events: queue.Queue[Any] = queue.Queue()
    runtime.start(
        [
            ChildSpec.actor("tap", Tap, events, (Candle, CandleHistory)),
            ChildSpec.actor("candles", CandleBuffer, (SYMBOL,), Timeframe.M1),
            ChildSpec.actor(
                "strategy",
                StrategyActor,
                (SYMBOL,),
                strategy_params(StrategySettings(default="donchian_breakout")),
                {SYMBOL: Decimal("0.1")},
                Timeframe.M1,
            ),
        ],
        Policy(backoff_initial=0),
    )
    feed_minutes(runtime, clock, events, 3)
    strategy = runtime.directory.entry("strategy")
    assert strategy is not None

    strategy.ref.tell(Crash("test"))
    runtime.directory.wait_for("strategy", newer_than=strategy.instance, timeout=WAIT)

    history = take(events, CandleHistory, symbol=SYMBOL)
    assert [c.close for c in history.candles] == [Decimal(40_000), Decimal(40_001), Decimal(40_002)]
    assert history.timeframe is Timeframe.M1
    assert clock.now() - history.candles[-1].open_time >= timedelta(minutes=1)


@pytest.fixture
def gateway(runtime: Runtime) -> Iterator[Gateway]:
    gw = Gateway("rest", runtime.scheduler, workers=2, queue_size=8)
    gw.start()
    yield gw
    gw.stop()


def hours_of_candles(symbol: str, timeframe: Timeframe, deadline: Deadline) -> list[Candle]:
    start = datetime(2023, 12, 31, tzinfo=UTC)
    price = Decimal(100)
    return [
        Candle(symbol, timeframe, start + timedelta(hours=n), price, price, price, price, Decimal(1), 1, closed=True)
        for n in range(24)
    ]


def test_a_successful_backfill_of_every_symbol_says_so_in_one_info_line(runtime: Runtime, gateway: Gateway) -> None:
    """A healthy start is a few INFO lines: one for the backfill, not one per symbol (nor none)."""
    infos: list[str] = []
    logger.add(lambda message: infos.append(message.record["message"]), level="INFO")
    events: queue.Queue[Any] = queue.Queue()
    symbols = ("BTC/USD", "ETH/USD")
    runtime.start(
        [
            ChildSpec.actor("tap", Tap, events, (CandleHistory,)),
            ChildSpec.actor("candles", CandleBuffer, symbols, Timeframe.H1, backfill=hours_of_candles, gateway=gateway),
        ],
        Policy(),
    )
    for symbol in symbols:
        take(events, CandleHistory, symbol=symbol)
    settle()

    backfilled = [line for line in infos if "backfill" in line]
    assert len(backfilled) == 1
    assert all(symbol in backfilled[0] for symbol in symbols)


def test_a_backfill_too_short_for_the_atr_warns_and_names_the_symbols(runtime: Runtime, gateway: Gateway) -> None:
    """`candles backfilled (1h candles): BTC/USD 0` at INFO read as success; those strategies cannot decide yet."""
    lines: list[tuple[str, str]] = []
    logger.add(lambda message: lines.append((message.record["level"].name, message.record["message"])), level="INFO")
    events: queue.Queue[Any] = queue.Queue()

    def some(symbol: str, timeframe: Timeframe, deadline: Deadline) -> list[Candle]:
        return hours_of_candles(symbol, timeframe, deadline)[: 24 if symbol == "BTC/USD" else 3]

    runtime.start(
        [
            ChildSpec.actor("tap", Tap, events, (CandleHistory,)),
            ChildSpec.actor(
                "candles", CandleBuffer, ("BTC/USD", "ETH/USD"), Timeframe.H1, backfill=some, gateway=gateway
            ),
        ],
        Policy(),
    )
    for symbol in ("BTC/USD", "ETH/USD"):
        take(events, CandleHistory, symbol=symbol)
    settle()

    (backfilled,) = [(level, text) for level, text in lines if "backfill" in text]
    assert backfilled[0] == "WARNING"
    assert "BTC/USD 24, ETH/USD 3; ETH/USD got no more than the 14 the ATR needs" in backfilled[1]
