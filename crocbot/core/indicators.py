"""Technical indicators in `Decimal`: moving averages, true range, Wilder's ATR, Donchian channels.

Everything here is pure: a function of the values passed in, nothing else. Arithmetic runs in a local decimal
context (`DECIMAL_CONTEXT`, 28 significant digits, half-even) so that an indicator never depends on whatever
context the calling thread happens to have; a strategy evaluated in two actors, or before and after a restart,
computes the same digits.

Alignment: `sma` and `ema` return one value per complete window, so `result[j]` belongs to `values[j + period
- 1]`, and the result is `period - 1` shorter than the input (empty when the input is shorter than `period`).

Seeded averages (`ema`, `atr`) remember their seed forever, with a weight that decays geometrically.
`ema_lookback` and `atr_lookback` give window lengths after which the seed weighs less than about 5e-4, so a
caller that always evaluates the last `*_lookback(period)` values gets results that depend on that window only
and not on how much history happened to be buffered.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import ROUND_HALF_EVEN, Context, Decimal, localcontext

from crocbot.core.messages import Candle

__all__ = [
    "DECIMAL_CONTEXT",
    "sma",
    "ema",
    "true_range",
    "atr",
    "donchian",
    "ema_lookback",
    "atr_lookback",
    "Ema",
    "Atr",
]

DECIMAL_CONTEXT = Context(prec=28, rounding=ROUND_HALF_EVEN)


def _check_period(period: int) -> None:
    if isinstance(period, bool) or not isinstance(period, int) or period < 1:
        raise ValueError(f"period must be a positive int, got {period!r}")


def ema_lookback(period: int) -> int:
    """Values an EMA of `period` should see so its SMA seed weighs < 5e-4: (1 - 2/(p+1))**(4p) for any p."""
    _check_period(period)
    return 5 * period


def atr_lookback(period: int) -> int:
    """Candles Wilder's ATR of `period` should see so its seed weighs < 2e-4: (1 - 1/p)**(9p) < e**-9.

    One more than a multiple of the period: the first candle only supplies a previous close.
    """
    _check_period(period)
    return 10 * period + 1


def sma(values: Sequence[Decimal], period: int) -> list[Decimal]:
    """Simple moving averages over each complete window of `period` values (see the module for alignment)."""
    _check_period(period)
    if len(values) < period:
        return []
    with localcontext(DECIMAL_CONTEXT):
        divisor = Decimal(period)
        # A running sum is exact for prices (Decimal addition of short numbers does not round), so the
        # subtract-and-add window costs O(n) without drifting.
        total = sum(values[:period], Decimal(0))
        out = [total / divisor]
        for i in range(period, len(values)):
            total += values[i] - values[i - period]
            out.append(total / divisor)
    return out


def ema(values: Sequence[Decimal], period: int) -> list[Decimal]:
    """Exponential moving averages, k = 2 / (period + 1), seeded with the SMA of the first `period` values.

    `result[0]` is that SMA (at input index `period - 1`); each next value is `prev + k * (value - prev)`.
    """
    _check_period(period)
    if len(values) < period:
        return []
    with localcontext(DECIMAL_CONTEXT):
        k = Decimal(2) / Decimal(period + 1)
        current = sum(values[:period], Decimal(0)) / Decimal(period)
        out = [current]
        for value in values[period:]:
            current += k * (value - current)
            out.append(current)
    return out


def true_range(candle: Candle, prev_close: Decimal | None) -> Decimal:
    """max(high - low, |high - prev_close|, |low - prev_close|); just high - low without a previous close."""
    span = candle.high - candle.low
    if prev_close is None:
        return span
    return max(span, abs(candle.high - prev_close), abs(candle.low - prev_close))


def atr(candles: Sequence[Candle], period: int) -> Decimal | None:
    """Wilder's average true range at the last candle, or None with fewer than `period + 1` candles.

    The first candle only supplies a previous close (a true range without one understates gaps). The seed is
    the mean of the first `period` true ranges; then `atr = (atr * (period - 1) + tr) / period`.
    """
    _check_period(period)
    if len(candles) < period + 1:
        return None
    with localcontext(DECIMAL_CONTEXT):
        ranges = [true_range(candles[i], candles[i - 1].close) for i in range(1, period + 1)]
        current = sum(ranges, Decimal(0)) / Decimal(period)
        keep = Decimal(period - 1)
        divisor = Decimal(period)
        for i in range(period + 1, len(candles)):
            current = (current * keep + true_range(candles[i], candles[i - 1].close)) / divisor
    return current


def donchian(candles: Sequence[Candle], period: int) -> tuple[Decimal, Decimal] | None:
    """(highest high, lowest low) of the last `period` candles given, or None with fewer.

    The last candle passed is included. A breakout test compares the current candle with the channel of the
    candles before it, so it passes `history[:-1]` (as `DonchianBreakout` does).
    """
    _check_period(period)
    if len(candles) < period:
        return None
    window = candles[len(candles) - period :]
    return max(c.high for c in window), min(c.low for c in window)


class _Smoothed:
    """A running average fed one value at a time: the plain mean of its first `period` values seeds it, and each
    value after that is folded in by the subclass's `_smooth`."""

    __slots__ = ("_count", "_period", "_seed_sum", "_value")

    def __init__(self, period: int) -> None:
        _check_period(period)
        self._period = period
        self._count = 0
        self._seed_sum = Decimal(0)
        self._value: Decimal | None = None

    @property
    def period(self) -> int:
        return self._period

    @property
    def value(self) -> Decimal | None:
        """The current value; None until seeded (an `Ema` after `period` values, an `Atr` after `period + 1`
        candles)."""
        return self._value

    def _feed(self, value: Decimal) -> Decimal | None:
        # the caller holds DECIMAL_CONTEXT
        if self._value is None:
            self._count += 1
            self._seed_sum += value
            if self._count == self._period:
                self._value = self._seed_sum / Decimal(self._period)
        else:
            self._value = self._smooth(self._value, value)
        return self._value

    def _smooth(self, current: Decimal, value: Decimal) -> Decimal:
        raise NotImplementedError


class Ema(_Smoothed):
    """An EMA fed one value at a time; the same numbers as `ema()` over the same values."""

    __slots__ = ("_k",)

    def __init__(self, period: int) -> None:
        super().__init__(period)
        with localcontext(DECIMAL_CONTEXT):
            self._k = Decimal(2) / Decimal(period + 1)

    def update(self, value: Decimal) -> Decimal | None:
        with localcontext(DECIMAL_CONTEXT):
            return self._feed(value)

    def _smooth(self, current: Decimal, value: Decimal) -> Decimal:
        return current + self._k * (value - current)


class Atr(_Smoothed):
    """Wilder's ATR fed one closed candle at a time; the same numbers as `atr()` over the same candles."""

    __slots__ = ("_prev_close",)

    def __init__(self, period: int) -> None:
        super().__init__(period)
        self._prev_close: Decimal | None = None

    def update(self, candle: Candle) -> Decimal | None:
        prev_close, self._prev_close = self._prev_close, candle.close
        if prev_close is None:
            return None  # the first candle only supplies a previous close, as in `atr()`
        with localcontext(DECIMAL_CONTEXT):
            return self._feed(true_range(candle, prev_close))

    def _smooth(self, current: Decimal, value: Decimal) -> Decimal:
        return (current * Decimal(self._period - 1) + value) / Decimal(self._period)
