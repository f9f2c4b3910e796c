"""Strategies by name, configured from `StrategySettings`, so config picks a strategy per symbol."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from crocbot.config.model import StrategySettings
from crocbot.core.costs import TradeCosts
from crocbot.core.strategies.base import Strategy
from crocbot.core.strategies.donchian import DonchianBreakout
from crocbot.core.strategies.ema_trend import EmaTrend

__all__ = ["STRATEGY_NAMES", "build_strategy", "strategy_for"]

_Builder = Callable[[StrategySettings, Decimal, TradeCosts | None, Decimal], Strategy]


def _ema_trend(
    settings: StrategySettings, price_increment: Decimal, costs: TradeCosts | None, min_stop_cost_multiple: Decimal
) -> Strategy:
    return EmaTrend(
        atr_period=settings.atr_period,
        stop_atr=settings.stop_atr_multiple,
        take_profit_atr=settings.take_profit_atr_multiple,
        min_reward_risk=settings.min_reward_risk,
        price_increment=price_increment,
        costs=costs,
        min_stop_cost_multiple=min_stop_cost_multiple,
    )


def _donchian(
    settings: StrategySettings, price_increment: Decimal, costs: TradeCosts | None, min_stop_cost_multiple: Decimal
) -> Strategy:
    return DonchianBreakout(
        period=settings.breakout_period,
        atr_period=settings.atr_period,
        stop_atr=settings.stop_atr_multiple,
        take_profit_atr=settings.take_profit_atr_multiple,
        min_reward_risk=settings.min_reward_risk,
        price_increment=price_increment,
        costs=costs,
        min_stop_cost_multiple=min_stop_cost_multiple,
    )


_BUILDERS: dict[str, _Builder] = {
    EmaTrend.name: _ema_trend,
    DonchianBreakout.name: _donchian,
}
STRATEGY_NAMES = tuple(_BUILDERS)


def build_strategy(
    name: str,
    settings: StrategySettings,
    price_increment: Decimal,
    *,
    costs: TradeCosts | None = None,
    min_stop_cost_multiple: Decimal = Decimal(0),
) -> Strategy:
    """The strategy called `name`, with the settings' ATR period, multiples and minimum reward:risk.

    `price_increment` is the instrument's tick size (Kraken's `tick_size`, or 10**-pair_decimals). With `costs`
    (the instrument's fees and the slippage allowance) setups are judged net of the round trip.
    """
    builder = _BUILDERS.get(name)
    if builder is None:
        raise ValueError(f"unknown strategy {name!r}; use one of {', '.join(STRATEGY_NAMES)}")
    return builder(settings, price_increment, costs, min_stop_cost_multiple)


def strategy_for(
    symbol: str,
    settings: StrategySettings,
    price_increment: Decimal,
    *,
    costs: TradeCosts | None = None,
    min_stop_cost_multiple: Decimal = Decimal(0),
) -> Strategy:
    """The strategy config selects for `symbol`: its `per_symbol` entry, else the default."""
    name = settings.per_symbol.get(symbol, settings.default)
    return build_strategy(name, settings, price_increment, costs=costs, min_stop_cost_multiple=min_stop_cost_multiple)
