"""Donchian breakout: enter when the last close leaves the channel of the `period` candles before it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Unpack

from crocbot.core.indicators import donchian
from crocbot.core.messages import Candle, PositionSide
from crocbot.core.money import fmt
from crocbot.core.strategies.base import BracketOptions, BracketStrategy, Setup

__all__ = ["DonchianBreakout"]


class DonchianBreakout(BracketStrategy):
    """Long when the last close is above the highest high of the `period` candles before it (not including it).

    Only a fresh breakout counts: the previous close must not already have been above its own channel,
    otherwise every new high in a running trend would propose the same trade again. Short: mirrored below the
    lowest low, only with `allow_short=True`. Entry is the last close.
    """

    name = "donchian_breakout"

    def __init__(
        self,
        period: int = 20,
        **options: Unpack[BracketOptions],
    ) -> None:
        if period < 1:
            raise ValueError(f"period must be >= 1, got {period}")
        self.period = period
        # The channel before the last candle, and the one before the previous candle (freshness).
        self._setup_window = period + 2
        super().__init__(**options)

    def _setup(self, history: Sequence[Candle]) -> Setup | None:
        channel = donchian(history[:-1], self.period)
        earlier = donchian(history[:-2], self.period)
        if channel is None or earlier is None:
            return None
        (high, low), (earlier_high, earlier_low) = channel, earlier
        close, prev_close = history[-1].close, history[-2].close
        if close > high and prev_close <= earlier_high:
            return Setup(PositionSide.LONG, f"donchian {self.period} breakout above {fmt(high)}")
        if close < low and prev_close >= earlier_low:
            return Setup(PositionSide.SHORT, f"donchian {self.period} breakout below {fmt(low)}")
        return None
