"""Strategies signal at the expected candle with ATR brackets on the right sides, and say why they drop a setup."""

from __future__ import annotations

import gzip
import itertools
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import partial
from pathlib import Path

import pytest

from crocbot.config.model import StrategySettings
from crocbot.config.policies import strategy_params
from crocbot.core.candles import CandleSeries, is_filled
from crocbot.core.indicators import atr
from crocbot.core.messages import Candle, PositionSide, Signal, Timeframe
from crocbot.core.strategies import (
    NO_SETUP,
    BracketStrategy,
    Decision,
    DonchianBreakout,
    EmaTrend,
    RegimeFilter,
    Setup,
    Strategy,
    atr_bracket,
    build_strategy,
    round_toward,
    strategy_for,
    validate_signal,
)

D = Decimal
T0 = datetime(2025, 3, 10, 0, 0, tzinfo=UTC)
M5 = Timeframe.M5
QUARTER = Path("/work/shared/data/kraken-ohlcvt-2023q1/XBTUSD_5.csv.gz")
TICK = D("0.1")


def bar(
    i: int, close: str | Decimal, *, high: str | None = None, low: str | None = None, open_: str | None = None
) -> Candle:
    """Candle i of a crafted series: by default open = close, high = close + 1, low = close - 1 (true range 2)."""
    c = D(close)
    h = D(high) if high is not None else c + 1
    lo = D(low) if low is not None else c - 1
    o = D(open_) if open_ is not None else c
    return Candle("BTC/USD", M5, T0 + timedelta(minutes=5 * i), o, h, lo, c, D(1), 1, True)


def flat_then(closes_after: Sequence[str], flat: int = 150, level: str = "100") -> list[Candle]:
    candles = [bar(i, level) for i in range(flat)]
    return candles + [bar(flat + i, c) for i, c in enumerate(closes_after)]


def signals_over(strategy: Strategy, history: Sequence[Candle]) -> list[tuple[int, Signal]]:
    """Evaluate after every close, as the strategy actor does, on the newest `warmup` candles."""
    found: list[tuple[int, Signal]] = []
    for i in range(strategy.warmup - 1, len(history)):
        window = history[i - strategy.warmup + 1 : i + 1]
        signal = strategy.evaluate(window, history[i].close_time)
        if signal is not None:
            found.append((i, signal))
    return found


ema_trend = partial(EmaTrend, price_increment=TICK)


def test_strategies_satisfy_the_protocol_and_need_their_lookbacks_to_warm_up() -> None:
    assert isinstance(ema_trend(), Strategy)
    assert isinstance(DonchianBreakout(price_increment=TICK), Strategy)
    assert ema_trend().warmup == 141  # ATR(14) over 10 * 14 + 1 candles; EMA(26) needs 130
    assert ema_trend(regime=RegimeFilter(200)).warmup == 200


def test_an_ema_cross_up_signals_exactly_on_the_crossing_candle_with_atr_brackets() -> None:
    history = flat_then(["101"] * 6)  # the EMAs are equal on the flat part, so candle 150 is the cross
    assert signals_over(ema_trend(), history) == [
        (
            150,
            Signal(
                "BTC/USD",
                PositionSide.LONG,
                D(101),
                D(97),  # 101 - 2 * ATR 2
                D(109),  # 101 + 4 * ATR 2
                "ema_trend",
                history[150].close_time,
                "ema 12/26 cross up",
            ),
        )
    ]


def test_a_cross_down_is_a_short_only_when_shorts_are_allowed() -> None:
    history = flat_then(["99"])
    assert ema_trend().decide(history, history[-1].close_time) == NO_SETUP
    signal = ema_trend(allow_short=True).evaluate(history, history[-1].close_time)
    assert signal is not None
    assert (signal.side, signal.entry, signal.stop, signal.take_profit) == (PositionSide.SHORT, D(99), D(103), D(91))
    assert signal.reason == "ema 12/26 cross down"


def test_a_donchian_breakout_signals_on_the_first_close_above_the_previous_channel_only() -> None:
    # Candle 150 closes at 101.5 above the channel high 101 of the 20 candles before it (its own high is not
    # part of the channel); candle 151 closes higher still, but the breakout is no longer fresh.
    history = flat_then([])
    history += [bar(150, "101.5", high="101.5", low="99.5", open_="100"), bar(151, "103"), bar(152, "104")]
    strategy = DonchianBreakout(price_increment=TICK)
    found = signals_over(strategy, history)
    assert [i for i, _ in found] == [150]
    signal = found[0][1]
    assert (signal.entry, signal.stop, signal.take_profit) == (D("101.5"), D("97.5"), D("109.5"))
    assert signal.reason == "donchian 20 breakout above 101"
    assert signal.strategy == "donchian_breakout"


def test_a_donchian_breakdown_is_a_short_only_when_shorts_are_allowed() -> None:
    history = [*flat_then([]), bar(150, "98.5", high="100.5", low="98.5", open_="100")]
    now = history[-1].close_time
    assert DonchianBreakout(price_increment=TICK).decide(history, now) == NO_SETUP
    signal = DonchianBreakout(price_increment=TICK, allow_short=True).evaluate(history, now)
    assert signal is not None
    assert (signal.side, signal.stop, signal.take_profit) == (PositionSide.SHORT, D("102.5"), D("90.5"))


def test_the_regime_filter_drops_a_long_below_its_average_and_says_why() -> None:
    history = [bar(i, "110") for i in range(60)] + [bar(60 + i, "100") for i in range(150)] + [bar(210, "101")]
    strategy = ema_trend(regime=RegimeFilter(200))
    decision = strategy.decide(history, history[-1].close_time)
    assert decision.signal is None
    assert decision.rejection == "ema 12/26 cross up: regime: close 101 is not above sma(200) 102"
    assert ema_trend(regime=RegimeFilter(50)).evaluate(history, history[-1].close_time) is not None


def test_the_regime_filter_bounds_volatility_and_can_use_an_ema() -> None:
    history = flat_then(["101"])
    now = history[-1].close_time
    calm = ema_trend(regime=RegimeFilter(20, average="ema", min_atr_fraction=D("0.05")))
    rejection = calm.decide(history, now).rejection
    assert rejection is not None
    assert "regime: ATR/close 0.019802 is below 0.05" in rejection
    wild = RegimeFilter(20, max_atr_fraction=D("0.01"))
    assert wild.check(PositionSide.LONG, history) == "regime: ATR/close 0.019802 is above 0.01"
    assert RegimeFilter(20, max_atr_fraction=D("0.05")).check(PositionSide.LONG, history) is None
    assert RegimeFilter(20).check(PositionSide.SHORT, history) == "regime: close 101 is not below sma(20) 100"


def test_a_signal_below_the_minimum_reward_to_risk_is_dropped_with_the_ratio() -> None:
    history = flat_then(["101"])
    strategy = ema_trend(stop_atr=D(2), take_profit_atr=D(2), min_reward_risk=D("1.5"))
    decision = strategy.decide(history, history[-1].close_time)
    assert decision == Decision(None, "ema 12/26 cross up: reward:risk 1.00 is below the minimum 1.5", "reward_risk")


def test_a_setup_on_a_stale_or_unclosed_candle_is_dropped_with_a_reason() -> None:
    history = flat_then(["101"])
    last = history[-1]
    stale = ema_trend().decide(history, last.close_time + timedelta(minutes=5, seconds=1))
    assert stale.signal is None
    assert stale.rejection is not None
    assert "stale" in stale.rejection
    early = ema_trend().decide(history, last.close_time - timedelta(seconds=1))
    assert early.rejection is not None
    assert "has not closed" in early.rejection
    assert ema_trend().evaluate(history, last.close_time + timedelta(minutes=5)) is not None  # one interval late


def test_too_little_history_is_no_setup_and_a_forming_candle_is_a_caller_bug() -> None:
    history = flat_then(["101"])
    assert ema_trend().decide(history[-140:], history[-1].close_time) == NO_SETUP
    forming = Candle("BTC/USD", M5, history[-1].open_time, D(101), D(102), D(100), D(101), D(1), 1, False)
    with pytest.raises(ValueError, match="closed candles only"):
        ema_trend().decide([*history[:-1], forming], history[-1].close_time)


def test_stops_and_targets_round_toward_the_entry() -> None:
    assert round_toward(D("96.26"), D("0.5"), D(101)) == D("96.5")
    assert round_toward(D("110.48"), D("0.5"), D(101)) == D("110.0")
    assert round_toward(D("105.74"), D("0.5"), D(101)) == D("105.5")
    assert round_toward(D("91.52"), D("0.5"), D(101)) == D("92.0")
    assert round_toward(D("96.5"), D("0.5"), D(101)) == D("96.5")
    history = [bar(0, "101")]
    now = history[0].close_time

    def bracket(side: PositionSide) -> Decision:
        return atr_bracket(
            history,
            Setup(side, "x"),
            D("2.37"),
            stop_atr=D(2),
            take_profit_atr=D(4),
            price_increment=D("0.5"),
            min_reward_risk=D("1.5"),
            strategy="s",
            now=now,
        )

    long = bracket(PositionSide.LONG)
    assert long.signal is not None
    assert (long.signal.stop, long.signal.take_profit) == (D("96.5"), D("110.0"))  # risk 4.5 <= 4.74
    short = bracket(PositionSide.SHORT)
    assert short.signal is not None
    assert (short.signal.stop, short.signal.take_profit) == (D("105.5"), D("92.0"))


@pytest.mark.parametrize(
    ("entry", "atr_value", "stop_atr", "take_profit_atr", "expected"),
    [
        ("100", "0", "2", "4", "zero ATR"),
        ("100", "0.01", "2", "4", "too small for the price increment 1"),
        ("1", "1", "2", "4", "at or below zero"),
        ("100", "0.3", "4", "1", "take-profit 100 must be above its entry 100"),  # refused by Signal itself
    ],
)
def test_brackets_that_cannot_be_placed_give_a_reason(
    entry: str, atr_value: str, stop_atr: str, take_profit_atr: str, expected: str
) -> None:
    history = [bar(0, entry, low=str(D(entry) / 2))]
    decision = atr_bracket(
        history,
        Setup(PositionSide.LONG, "x"),
        D(atr_value),
        stop_atr=D(stop_atr),
        take_profit_atr=D(take_profit_atr),
        price_increment=D(1),
        min_reward_risk=D("0.1"),
        strategy="s",
        now=history[0].close_time,
    )
    assert decision.signal is None
    assert decision.rejection is not None
    assert expected in decision.rejection


def test_validate_signal_allows_the_target_one_increment_of_rounding_and_no_more() -> None:
    def signal(target: str) -> Signal:
        return Signal("BTC/USD", PositionSide.LONG, D(100), D(98), D(target), "s", T0)

    assert validate_signal(signal("103"), D("1.5")) is None
    assert validate_signal(signal("102.9"), D("1.5")) == "reward:risk 1.45 is below the minimum 1.5"
    assert validate_signal(signal("102.95"), D("1.5"), price_increment=TICK) is None
    assert validate_signal(signal("102.9"), D("1.5"), price_increment=TICK) is not None


def test_the_factory_maps_config_names_and_multiples_and_picks_the_strategy_per_symbol() -> None:
    settings = strategy_params(
        StrategySettings(
            atr_period=10,
            stop_atr_multiple=D("1.5"),
            take_profit_atr_multiple=D("3"),
            min_reward_risk=D("2"),
            per_symbol={"ETH/USD": "donchian_breakout"},
            breakout_period=7,
        )
    )
    built = build_strategy("ema_trend", settings, TICK)
    assert isinstance(built, EmaTrend)
    assert (built.atr_period, built.stop_atr, built.take_profit_atr) == (10, D("1.5"), D(3))
    assert (built.min_reward_risk, built.price_increment, built.allow_short) == (D(2), TICK, False)
    donchian = strategy_for("ETH/USD", settings, TICK)
    assert isinstance(donchian, DonchianBreakout)
    assert (donchian.period, donchian.atr_period) == (7, 10)
    assert isinstance(strategy_for("BTC/USD", settings, TICK), EmaTrend)
    with pytest.raises(ValueError, match="unknown strategy 'rsi'; use one of ema_trend, donchian_breakout"):
        build_strategy("rsi", settings, TICK)


# -- a quarter of real BTC/USD five-minute candles ---------------------------------------------------------------


@pytest.fixture(scope="module")
def quarter() -> Sequence[Candle]:
    if not QUARTER.exists():
        pytest.skip(f"Kraken OHLCVT data not found at {QUARTER} (see /work/shared/data/README.md)")
    rows: list[Candle] = []
    with gzip.open(QUARTER, "rt") as handle:
        for line in handle:
            ts, o, h, lo, c, v, n = line.strip().split(",")
            rows.append(
                Candle("BTC/USD", M5, datetime.fromtimestamp(int(ts), UTC), D(o), D(h), D(lo), D(c), D(v), int(n), True)
            )
    series = CandleSeries("BTC/USD", M5, max_candles=30_000)
    series.backfill(rows)
    return series.history


def test_the_quarter_backfills_into_a_continuous_series_with_flat_candles_for_the_19_missing_slots(
    quarter: Sequence[Candle],
) -> None:
    assert len(quarter) == 90 * 288
    assert sum(is_filled(c) for c in quarter) == 19
    assert all(b.open_time - a.open_time == timedelta(minutes=5) for a, b in itertools.pairwise(quarter))


@pytest.mark.parametrize(
    "strategy",
    [EmaTrend(price_increment=TICK, allow_short=True), DonchianBreakout(price_increment=TICK, allow_short=True)],
    ids=["ema_trend", "donchian_breakout"],
)
def test_a_quarter_of_real_candles_gives_signals_with_brackets_on_the_right_sides_at_the_configured_ratio(
    quarter: Sequence[Candle], strategy: BracketStrategy
) -> None:
    found = signals_over(strategy, quarter)
    assert {s.side for _, s in found} == {PositionSide.LONG, PositionSide.SHORT}
    for i, signal in found:
        window = quarter[i - strategy.warmup + 1 : i + 1]
        computed = atr(window, strategy.atr_period)
        assert computed is not None
        risk, reward = signal.risk_per_unit, abs(signal.take_profit - signal.entry)
        if signal.side is PositionSide.LONG:
            assert signal.stop < signal.entry < signal.take_profit
        else:
            assert signal.take_profit < signal.entry < signal.stop
        assert signal.entry == quarter[i].close
        assert signal.stop % TICK == 0
        assert signal.take_profit % TICK == 0
        # Rounded toward the entry: never more risk than computed, and less by under one tick.
        assert strategy.stop_atr * computed - TICK < risk <= strategy.stop_atr * computed
        assert strategy.take_profit_atr * computed - TICK < reward <= strategy.take_profit_atr * computed
        assert abs(signal.reward_risk - D(2)) < 3 * TICK / risk  # take_profit_atr / stop_atr, within rounding
        assert (signal.strategy, signal.ts) == (strategy.name, quarter[i].close_time)
