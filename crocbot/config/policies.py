"""The core's policy objects, built from the settings in the composition root.

The core (`crocbot.core`) imports nothing outside itself and the standard library, so it cannot read pydantic
settings; each consumer takes a small frozen object of its own, and this module is the one place that fills
them from the validated settings.
"""

from __future__ import annotations

from datetime import timedelta
from types import MappingProxyType

from crocbot.config.live import LiveSettings
from crocbot.config.model import RiskSettings, StopSettings, StrategySettings
from crocbot.core.live_limits import LiveLimits
from crocbot.core.risk_sizing import RiskLimits
from crocbot.core.stops import StopPolicy
from crocbot.core.strategies import StrategyParams

__all__ = ["risk_limits", "stop_policy", "strategy_params", "live_limits"]


def risk_limits(settings: RiskSettings) -> RiskLimits:
    return RiskLimits(
        risk_per_trade=settings.risk_per_trade,
        max_loss_per_trade=settings.max_loss_per_trade,
        daily_loss_limit=settings.daily_loss_limit,
        max_open_positions=settings.max_open_positions,
        max_exposure_per_symbol=settings.max_exposure_per_symbol,
        max_total_exposure=settings.max_total_exposure,
        cooldown_after_loss=timedelta(seconds=settings.cooldown_after_loss),
        slippage_allowance=settings.slippage_allowance,
        flatten_on_kill_switch=settings.flatten_on_kill_switch,
        min_stop_cost_multiple=settings.min_stop_cost_multiple,
    )


def stop_policy(settings: StopSettings) -> StopPolicy:
    return StopPolicy(
        settings.trailing,
        settings.trail_atr_multiple,
        settings.trail_percent,
        settings.breakeven_after_r,
        settings.profit_lock_step_r,
    )


def strategy_params(settings: StrategySettings) -> StrategyParams:
    return StrategyParams(
        default=settings.default,
        atr_period=settings.atr_period,
        breakout_period=settings.breakout_period,
        stop_atr_multiple=settings.stop_atr_multiple,
        take_profit_atr_multiple=settings.take_profit_atr_multiple,
        min_reward_risk=settings.min_reward_risk,
        # a copy, read-only: the params are frozen, and the settings' dict must not change them behind their back
        per_symbol=MappingProxyType(dict(settings.per_symbol)),
    )


def live_limits(settings: LiveSettings) -> LiveLimits:
    return LiveLimits(
        quote=settings.quote_currency,
        max_order_notional=settings.max_order_notional,
        max_total_exposure=settings.max_total_exposure,
    )
