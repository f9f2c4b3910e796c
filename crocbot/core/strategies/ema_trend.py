"""EMA trend: enter when the fast EMA of closes crosses the slow one on the last closed candle."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Unpack

from crocbot.core.indicators import ema, ema_lookback
from crocbot.core.messages import Candle, PositionSide
from crocbot.core.strategies.base import BracketOptions, BracketStrategy, Setup

__all__ = ["EmaTrend"]


class EmaTrend(BracketStrategy):
    """Long when fast EMA > slow EMA on the last candle and fast <= slow on the one before (short: mirrored).

    Each average is computed over its last `ema_lookback(period)` closes only, so the decision does not
    depend on how much history is buffered (see `crocbot.core.indicators`). Shorts are proposed only with
    `allow_short=True`: spot trading is long only. Entry is the last close.
    """

    name = "ema_trend"

    def __init__(
        self,
        fast: int = 12,
        slow: int = 26,
        **options: Unpack[BracketOptions],
    ) -> None:
        if not 1 <= fast < slow:
            raise ValueError(f"need 1 <= fast < slow, got fast={fast}, slow={slow}")
        self.fast = fast
        self.slow = slow
        # Two slow values are needed to see a cross; the lookback gives many more so the seed has faded.
        self._setup_window = max(ema_lookback(slow), slow + 1)
        super().__init__(**options)

    def _setup(self, history: Sequence[Candle]) -> Setup | None:
        closes = [c.close for c in history]
        # Each average over its own lookback: the fast one needs fewer closes for its seed to fade.
        fast = ema(closes[len(closes) - ema_lookback(self.fast) :], self.fast)
        slow = ema(closes, self.slow)
        fast_prev, fast_now = fast[-2], fast[-1]
        slow_prev, slow_now = slow[-2], slow[-1]
        if fast_prev <= slow_prev and fast_now > slow_now:
            return Setup(PositionSide.LONG, f"ema {self.fast}/{self.slow} cross up")
        if fast_prev >= slow_prev and fast_now < slow_now:
            return Setup(PositionSide.SHORT, f"ema {self.fast}/{self.slow} cross down")
        return None
