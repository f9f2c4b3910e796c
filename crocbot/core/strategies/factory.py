"""Strategies by name, configured from `StrategyParams`, so config picks a strategy per symbol.

`StrategyParams` is the core's own copy of the strategy settings (`crocbot.config.policies` builds it from
`StrategySettings`), so that the core does not import the config package.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from types import MappingProxyType

from crocbot.core.costs import TradeCosts
from crocbot.core.strategies.base import BracketOptions, Strategy
from crocbot.core.strategies.donchian import DonchianBreakout
from crocbot.core.strategies.ema_trend import EmaTrend

__all__ = ["StrategyParams", "STRATEGY_NAMES", "build_strategy", "strategy_for"]


@dataclass(frozen=True, slots=True)
class StrategyParams:
    """Which strategy trades each symbol, and the ATR period, multiples and minimum reward:risk they share.

    Only `StrategySettings` checks that these fit together (a take-profit multiple that can reach the minimum
    reward:risk); parameters built by hand are taken as they are.
    """

    default: str
    atr_period: int
    breakout_period: int  # candles in the Donchian channel
    stop_atr_multiple: Decimal
    take_profit_atr_multiple: Decimal
    min_reward_risk: Decimal
    per_symbol: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))


# A strategy's own setup parameters from the params; the options shared by every strategy come from the caller.
_BUILDERS: dict[str, Callable[[StrategyParams, BracketOptions], Strategy]] = {
    EmaTrend.name: lambda params, options: EmaTrend(**options),
    DonchianBreakout.name: lambda params, options: DonchianBreakout(period=params.breakout_period, **options),
}
STRATEGY_NAMES = tuple(_BUILDERS)


def build_strategy(
    name: str,
    params: StrategyParams,
    price_increment: Decimal,
    *,
    costs: TradeCosts | None = None,
    min_stop_cost_multiple: Decimal = Decimal(0),
) -> Strategy:
    """The strategy called `name`, with the parameters' ATR period, multiples and minimum reward:risk.

    `price_increment` is the instrument's tick size (Kraken's `tick_size`, or 10**-pair_decimals). With `costs`
    (the instrument's fees and the slippage allowance) setups are judged net of the round trip.
    """
    builder = _BUILDERS.get(name)
    if builder is None:
        raise ValueError(f"unknown strategy {name!r}; use one of {', '.join(STRATEGY_NAMES)}")
    options = BracketOptions(
        atr_period=params.atr_period,
        stop_atr=params.stop_atr_multiple,
        take_profit_atr=params.take_profit_atr_multiple,
        min_reward_risk=params.min_reward_risk,
        price_increment=price_increment,
        costs=costs,
        min_stop_cost_multiple=min_stop_cost_multiple,
    )
    return builder(params, options)


def strategy_for(
    symbol: str,
    params: StrategyParams,
    price_increment: Decimal,
    *,
    costs: TradeCosts | None = None,
    min_stop_cost_multiple: Decimal = Decimal(0),
) -> Strategy:
    """The strategy config selects for `symbol`: its `per_symbol` entry, else the default."""
    name = params.per_symbol.get(symbol, params.default)
    return build_strategy(name, params, price_increment, costs=costs, min_stop_cost_multiple=min_stop_cost_multiple)
