"""Indicators compute in Decimal what a hand calculation and an exact (Fraction) re-implementation compute."""

from __future__ import annotations

import itertools
import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crocbot.core.indicators import (
    Atr,
    Ema,
    atr,
    atr_lookback,
    donchian,
    ema,
    ema_lookback,
    sma,
    true_range,
)
from crocbot.core.messages import Candle, Timeframe

D = Decimal
T0 = datetime(2025, 3, 10, 12, 0, tzinfo=UTC)
# Relative error allowed against the exact reference: 28 significant digits, rounded once per step.
TOLERANCE = Fraction(1, 10**20)


def bar(i: int, high: str, low: str, close: str, open_: str | None = None) -> Candle:
    o = D(open_) if open_ is not None else D(close)
    return Candle("BTC/USD", Timeframe.M5, T0 + timedelta(minutes=5 * i), o, D(high), D(low), D(close), D(1), 1, True)


prices = st.decimals(min_value=D("0.01"), max_value=D("100000"), places=2)


@st.composite
def candle_series(draw: st.DrawFn, min_size: int = 2, max_size: int = 60) -> list[Candle]:
    closes = draw(st.lists(prices, min_size=min_size, max_size=max_size))
    out: list[Candle] = []
    for i, close in enumerate(closes):
        open_ = out[-1].close if out else close
        up = draw(st.decimals(min_value=D(0), max_value=D(500), places=2))
        down = draw(st.decimals(min_value=D(0), max_value=min(open_, close) - D("0.01"), places=2))
        high, low = max(open_, close) + up, min(open_, close) - down
        out.append(
            Candle("BTC/USD", Timeframe.M5, T0 + timedelta(minutes=5 * i), open_, high, low, close, D(1), 1, True)
        )
    return out


def random_walk(seed: int, size: int) -> list[Candle]:
    """A long random series, drawn from one seed: cheaper for hypothesis than drawing every value."""
    rng = random.Random(seed)
    close = D(rng.randrange(1_000, 100_000))
    out: list[Candle] = []
    for i in range(size):
        open_ = close
        close = max(D("0.5"), open_ + D(rng.randrange(-5_000, 5_001)) / 100)
        high = max(open_, close) + D(rng.randrange(0, 3_000)) / 100
        low = max(D("0.01"), min(open_, close) - D(rng.randrange(0, 3_000)) / 100)
        out.append(
            Candle("BTC/USD", Timeframe.M5, T0 + timedelta(minutes=5 * i), open_, high, low, close, D(1), 1, True)
        )
    return out


def close_to(value: Decimal, exact: Fraction) -> bool:
    return abs(Fraction(value) - exact) <= TOLERANCE * max(abs(exact), Fraction(1))


def naive_ema(values: list[Decimal], period: int) -> list[Fraction]:
    """alpha * x + (1 - alpha) * previous, in exact rationals, seeded with the mean of the first `period`."""
    alpha = Fraction(2, period + 1)
    current = sum((Fraction(v) for v in values[:period]), Fraction(0)) / period
    out = [current]
    for v in values[period:]:
        current = alpha * Fraction(v) + (1 - alpha) * current
        out.append(current)
    return out


def naive_atr(candles: list[Candle], period: int) -> Fraction:
    ranges = [
        max(Fraction(c.high - c.low), abs(Fraction(c.high - p.close)), abs(Fraction(c.low - p.close)))
        for p, c in itertools.pairwise(candles)
    ]
    current = sum(ranges[:period], Fraction(0)) / period
    for tr in ranges[period:]:
        current = (current * (period - 1) + tr) / period
    return current


def test_sma_averages_each_complete_window_aligned_to_its_last_value() -> None:
    assert sma([D(1), D(2), D(3), D(4), D(5)], 3) == [D(2), D(3), D(4)]
    assert sma([D(1), D(2)], 3) == []


def test_ema_is_seeded_with_the_sma_and_then_moves_by_k_toward_each_value() -> None:
    # period 3: k = 0.5; seed (10 + 12 + 14) / 3 = 12; then 12 + 0.5 * (10 - 12) = 11; 11 + 0.5 * (16 - 11) = 13.5
    assert ema([D(10), D(12), D(14), D(10), D(16)], 3) == [D(12), D(11), D("13.5")]
    assert ema([D(1), D(2), D(3), D(4), D(5), D(6)], 3) == [D(2), D(3), D(4), D(5)]


def test_ema_of_fewer_values_than_its_period_is_empty() -> None:
    assert ema([D(1), D(2)], 3) == []


@pytest.mark.parametrize("period", [0, -1, True])
def test_a_non_positive_or_non_int_period_is_refused(period: int) -> None:
    with pytest.raises(ValueError, match="period must be a positive int"):
        ema([D(1)], period)


def test_true_range_takes_gaps_from_the_previous_close_into_account() -> None:
    assert true_range(bar(0, "110", "105", "108"), D(100)) == D(10)  # gap up: high - previous close
    assert true_range(bar(0, "96", "90", "92"), D(100)) == D(10)  # gap down: previous close - low
    assert true_range(bar(0, "104", "99", "102"), D(100)) == D(5)  # inside: high - low
    assert true_range(bar(0, "110", "105", "108"), None) == D(5)


def test_atr_is_wilders_smoothing_seeded_with_the_mean_true_range() -> None:
    candles = [
        bar(0, "101", "99", "100"),
        bar(1, "104", "99", "102"),  # TR max(5, 4, 1) = 5
        bar(2, "103", "101", "101"),  # TR max(2, 1, 1) = 2  -> seed (5 + 2) / 2 = 3.5
        bar(3, "108", "100", "107"),  # TR max(8, 7, 1) = 8  -> (3.5 * 1 + 8) / 2 = 5.75
    ]
    assert atr(candles[:2], 2) is None
    assert atr(candles[:3], 2) == D("3.5")
    assert atr(candles, 2) == D("5.75")


def test_donchian_is_the_highest_high_and_lowest_low_of_the_last_period_candles() -> None:
    candles = [bar(0, "120", "80", "100"), bar(1, "105", "95", "100"), bar(2, "110", "90", "100")]
    assert donchian(candles, 2) == (D(110), D(90))
    assert donchian(candles, 3) == (D(120), D(80))
    assert donchian(candles[:-1], 2) == (D(120), D(80))  # a breakout test leaves the current candle out
    assert donchian(candles, 4) is None


@given(values=st.lists(prices, min_size=1, max_size=80), period=st.integers(1, 30))
def test_ema_matches_an_exact_rational_reimplementation(values: list[Decimal], period: int) -> None:
    got = ema(values, period)
    if len(values) < period:
        assert got == []
        return
    expected = naive_ema(values, period)
    assert len(got) == len(values) - period + 1
    assert all(close_to(g, e) for g, e in zip(got, expected, strict=True))


@given(values=st.lists(prices, min_size=1, max_size=80), period=st.integers(1, 30))
def test_sma_matches_the_exact_mean_of_each_window(values: list[Decimal], period: int) -> None:
    got = sma(values, period)
    expected = [
        sum((Fraction(v) for v in values[i : i + period]), Fraction(0)) / period
        for i in range(len(values) - period + 1)
    ]
    assert len(got) == len(expected)
    assert all(close_to(g, e) for g, e in zip(got, expected, strict=True))


@given(candles=candle_series(), period=st.integers(1, 20))
def test_atr_matches_an_exact_rational_reimplementation(candles: list[Candle], period: int) -> None:
    got = atr(candles, period)
    if len(candles) < period + 1:
        assert got is None
        return
    assert got is not None
    assert close_to(got, naive_atr(candles, period))


@given(values=st.lists(prices, min_size=1, max_size=60), period=st.integers(1, 20))
def test_the_incremental_ema_gives_the_same_digits_as_the_batch_function(values: list[Decimal], period: int) -> None:
    incremental = Ema(period)
    seen = [incremental.update(v) for v in values]
    batch = ema(values, period)
    assert [v for v in seen if v is not None] == batch
    assert incremental.value == (batch[-1] if batch else None)


@given(candles=candle_series(), period=st.integers(1, 20))
def test_the_incremental_atr_gives_the_same_digits_as_the_batch_function(candles: list[Candle], period: int) -> None:
    incremental = Atr(period)
    seen = [incremental.update(c) for c in candles]
    expected = [atr(candles[: i + 1], period) for i in range(len(candles))]
    assert seen == expected


@settings(max_examples=50)
@given(seed=st.integers(0, 2**32), period=st.integers(2, 50))
def test_an_ema_over_its_lookback_differs_from_one_over_all_history_by_less_than_5e_4_of_the_range(
    seed: int, period: int
) -> None:
    values = [c.close for c in random_walk(seed, 300)]
    window = values[len(values) - ema_lookback(period) :]
    difference = abs(ema(window, period)[-1] - ema(values, period)[-1])
    assert difference <= D("5e-4") * (max(values) - min(values)) + D("1e-18")


@settings(max_examples=50)
@given(seed=st.integers(0, 2**32), period=st.integers(2, 18))
def test_an_atr_over_its_lookback_differs_from_one_over_all_history_by_less_than_2e_4_of_the_range(
    seed: int, period: int
) -> None:
    candles = random_walk(seed, 200)
    window = candles[len(candles) - atr_lookback(period) :]
    ranges = [true_range(c, p.close) for p, c in itertools.pairwise(candles)]
    short, full = atr(window, period), atr(candles, period)
    assert short is not None
    assert full is not None
    assert abs(short - full) <= D("2e-4") * (max(ranges) - min(ranges)) + D("1e-18")
