"""The core's policy objects are filled from the validated settings, field for field."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from crocbot.config.model import RiskSettings, StopSettings, StrategySettings
from crocbot.config.policies import risk_limits, stop_policy, strategy_params
from crocbot.core.stops import StopPolicy
from crocbot.core.strategies import StrategyParams

D = Decimal


def test_limits_come_from_the_settings_with_the_cooldown_as_a_timedelta() -> None:
    lim = risk_limits(RiskSettings(cooldown_after_loss=90.0, max_open_positions=5))
    assert lim.cooldown_after_loss == timedelta(seconds=90)
    assert lim.max_open_positions == 5
    assert lim.risk_per_trade == D("0.005")
    assert lim.fail_safe_fraction == D("0.95")


def test_the_stop_policy_comes_from_the_stop_settings() -> None:
    settings_ = StopSettings(trailing="percent", trail_percent=D("0.03"), breakeven_after_r=D("1.5"))
    assert stop_policy(settings_) == StopPolicy("percent", D("3"), D("0.03"), D("1.5"), D("1"))


def test_the_strategy_params_copy_the_settings_and_keep_their_own_per_symbol_choice() -> None:
    settings = StrategySettings(per_symbol={"ETH/USD": "donchian_breakout"}, atr_period=10, breakout_period=7)
    params = strategy_params(settings)
    settings.per_symbol["BTC/USD"] = "donchian_breakout"
    assert params == StrategyParams(
        "ema_trend", 10, 7, D("3"), D("12"), D("1.5"), per_symbol={"ETH/USD": "donchian_breakout"}
    )
