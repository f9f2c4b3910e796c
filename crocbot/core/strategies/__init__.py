"""Pure trading strategies behind one small interface (`Strategy.decide` / `Strategy.evaluate`).

See `base` for the interface, the bracket rounding and the checks; `factory` maps config names to strategies.
"""

from __future__ import annotations

from crocbot.core.strategies.base import (
    NO_SETUP,
    BracketStrategy,
    Decision,
    Setup,
    Strategy,
    atr_bracket,
    check_signal,
    round_toward,
    validate_signal,
)
from crocbot.core.strategies.donchian import DonchianBreakout
from crocbot.core.strategies.ema_trend import EmaTrend
from crocbot.core.strategies.factory import STRATEGY_NAMES, StrategyParams, build_strategy, strategy_for
from crocbot.core.strategies.regime import RegimeFilter

__all__ = [
    "Strategy",
    "Decision",
    "NO_SETUP",
    "Setup",
    "BracketStrategy",
    "EmaTrend",
    "DonchianBreakout",
    "RegimeFilter",
    "atr_bracket",
    "round_toward",
    "validate_signal",
    "check_signal",
    "StrategyParams",
    "STRATEGY_NAMES",
    "build_strategy",
    "strategy_for",
]
