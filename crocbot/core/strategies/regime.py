"""A market-regime filter: trade with the longer trend, and only when volatility is within bounds.

Longs pass only when the last close is above the moving average of `period` closes, shorts only when it is
below. Optionally ATR / close must lie within `[min_atr_fraction, max_atr_fraction]`: a dead market gives
stops inside the spread, a wild one gives stops that sizing can only honour with dust.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal, localcontext
from typing import Literal

from crocbot.core.indicators import DECIMAL_CONTEXT, atr, atr_lookback, ema, ema_lookback, sma
from crocbot.core.messages import Candle, PositionSide
from crocbot.core.money import fmt

__all__ = ["RegimeFilter"]


class RegimeFilter:
    def __init__(
        self,
        period: int = 50,
        *,
        average: Literal["sma", "ema"] = "sma",
        atr_period: int = 14,
        min_atr_fraction: Decimal | None = None,
        max_atr_fraction: Decimal | None = None,
    ) -> None:
        if period < 1:
            raise ValueError(f"period must be >= 1, got {period}")
        if average not in ("sma", "ema"):
            raise ValueError(f"average must be 'sma' or 'ema', got {average!r}")
        for label, bound in (("min_atr_fraction", min_atr_fraction), ("max_atr_fraction", max_atr_fraction)):
            if bound is not None and (not isinstance(bound, Decimal) or not bound.is_finite() or bound <= 0):
                raise ValueError(f"{label} must be a positive Decimal, got {bound!r}")
        if min_atr_fraction is not None and max_atr_fraction is not None and min_atr_fraction > max_atr_fraction:
            raise ValueError(f"min_atr_fraction {min_atr_fraction} is above max_atr_fraction {max_atr_fraction}")
        self.period = period
        self.average = average
        self.atr_period = atr_period
        self.min_atr_fraction = min_atr_fraction
        self.max_atr_fraction = max_atr_fraction
        # An SMA needs exactly its period; an EMA gets a window long enough for its seed to fade.
        self._average_window = period if average == "sma" else ema_lookback(period)
        self._atr_window = atr_lookback(atr_period) if self._bounds_volatility else 0
        self.warmup = max(self._average_window, self._atr_window)

    @property
    def _bounds_volatility(self) -> bool:
        return self.min_atr_fraction is not None or self.max_atr_fraction is not None

    def check(self, side: PositionSide, history: Sequence[Candle]) -> str | None:
        """None when `side` may be traded on the last closed candle of `history`, else the reason it may not."""
        if len(history) < self.warmup:
            return f"regime needs {self.warmup} candles, has {len(history)}"
        close = history[-1].close
        closes = [c.close for c in history[len(history) - self._average_window :]]
        with localcontext(DECIMAL_CONTEXT):
            averages = sma(closes, self.period) if self.average == "sma" else ema(closes, self.period)
            level = averages[-1]
            label = f"{self.average}({self.period})"
            if side is PositionSide.LONG and not close > level:
                return f"regime: close {fmt(close)} is not above {label} {fmt(level.quantize(close))}"
            if side is PositionSide.SHORT and not close < level:
                return f"regime: close {fmt(close)} is not below {label} {fmt(level.quantize(close))}"
            if self._bounds_volatility:
                value = atr(history[len(history) - self._atr_window :], self.atr_period)
                if value is None:  # unreachable past warm-up
                    return f"regime: not enough candles for ATR({self.atr_period})"
                fraction = value / close
                shown = fmt(fraction.quantize(Decimal("0.000001")))
                if self.min_atr_fraction is not None and fraction < self.min_atr_fraction:
                    return f"regime: ATR/close {shown} is below {fmt(self.min_atr_fraction)}"
                if self.max_atr_fraction is not None and fraction > self.max_atr_fraction:
                    return f"regime: ATR/close {shown} is above {fmt(self.max_atr_fraction)}"
        return None
