"""What a round trip costs, and the checks that keep a trade from being a fee machine.

Kraken charges a fee on both legs (0.40 % taker, 0.25 % maker at the lowest tier), and a market exit or a
stop-market can fill worse than its price (the slippage allowance, per leg). A stop 0.03 % from its entry under a
0.8 % round trip (one demo run) loses 14-24 times its planned risk on every stop-out, and a take-profit a few ticks
above the entry loses money when it is hit. So reward and risk are judged net of costs:

    round trip (per unit)  = entry * (entry_fee + slippage) + exit * (exit_fee + slippage)
    net reward at target   = |target - entry| - round trip(entry, target)
    net risk at the stop   = |entry - stop|   + round trip(entry, stop)

and a signal is refused when the target does not pay for its round trip, when the stop is closer to the entry than
`min_stop_cost_multiple` round trips, or when net reward / net risk is below the minimum. The fee-only breakeven
(no slippage: where a fill exactly recovers both fees) is where a breakeven stop belongs. Pure arithmetic on
`Decimal`; the entry fee is the taker's unless the entry is post-only.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from crocbot.core.messages import PositionSide
from crocbot.core.money import ONE, ZERO, fmt

__all__ = ["TradeCosts", "CostRefusal", "cost_refusal"]

_CENTS = Decimal("0.01")


@dataclass(frozen=True, slots=True)
class TradeCosts:
    """Fractions of price: the entry's fee, the exit's fee (a stop or a market exit: the taker's) and the slippage
    allowance on each leg."""

    entry_fee: Decimal
    exit_fee: Decimal
    slippage: Decimal
    entry_slips: bool = True  # a post-only entry fills at its own price or not at all

    def __post_init__(self) -> None:
        for name in ("entry_fee", "exit_fee", "slippage"):
            value = getattr(self, name)
            if not isinstance(value, Decimal) or not value.is_finite() or not ZERO <= value < ONE:
                raise ValueError(f"{name}: a fraction in [0, 1) is needed, got {value!r}")

    @classmethod
    def of(cls, *, taker_fee: Decimal, maker_fee: Decimal, slippage: Decimal, post_only: bool = False) -> TradeCosts:
        """An entry that may take liquidity pays the taker fee; a post-only one the maker fee and no slippage."""
        if post_only:
            return cls(maker_fee, taker_fee, slippage, entry_slips=False)
        return cls(taker_fee, taker_fee, slippage)

    def round_trip(self, entry: Decimal, exit_price: Decimal) -> Decimal:
        """Quote lost per unit of base to fees and slippage on the way in at `entry` and out at `exit_price`."""
        entry_slippage = self.slippage if self.entry_slips else ZERO
        return entry * (self.entry_fee + entry_slippage) + exit_price * (self.exit_fee + self.slippage)

    def net_reward(self, side: PositionSide, entry: Decimal, target: Decimal) -> Decimal:
        gross = target - entry if side is PositionSide.LONG else entry - target
        return gross - self.round_trip(entry, target)

    def net_risk(self, side: PositionSide, entry: Decimal, stop: Decimal) -> Decimal:
        gross = entry - stop if side is PositionSide.LONG else stop - entry
        return gross + self.round_trip(entry, stop)

    def breakeven(self, side: PositionSide, entry: Decimal, increment: Decimal | None = None) -> Decimal:
        """The exit price at which both legs' fees are recovered exactly (no slippage), on the price grid away from
        the entry when `increment` is given, so that a stop there never lands on the losing side of it."""
        if side is PositionSide.LONG:
            level = entry * (ONE + self.entry_fee) / (ONE - self.exit_fee)
        else:
            level = entry * (ONE - self.entry_fee) / (ONE + self.exit_fee)
        if increment is None:
            return level
        rounding = ROUND_CEILING if side is PositionSide.LONG else ROUND_FLOOR
        return ((level / increment).to_integral_value(rounding=rounding) * increment).quantize(increment)


@dataclass(frozen=True, slots=True)
class CostRefusal:
    """Why a trade does not pay for its costs: `label` is short and fixed (for metrics), `text` has the numbers."""

    label: str
    text: str


def cost_refusal(
    side: PositionSide,
    entry: Decimal,
    stop: Decimal,
    target: Decimal | None,
    costs: TradeCosts,
    *,
    min_stop_cost_multiple: Decimal = ZERO,
    min_reward_risk: Decimal | None = None,
    target_slack: Decimal = ZERO,
) -> CostRefusal | None:
    """None when the trade pays for its costs: its target (if any) nets a profit, its stop is at least
    `min_stop_cost_multiple` round trips from the entry, and (when `min_reward_risk` is given) its net reward is at
    least that many times its net risk. `target_slack`: how much nearer the entry the target may have been rounded
    (one price increment), forgiven in the reward:risk comparison only."""
    distance = abs(entry - stop)
    stop_cost = costs.round_trip(entry, stop)
    risk = costs.net_risk(side, entry, stop)
    reward = ZERO
    if target is not None:
        reward = costs.net_reward(side, entry, target)
        if reward <= 0:
            return CostRefusal(
                "take_profit_loses",
                f"the take-profit {fmt(target)} is {fmt(abs(target - entry))} from the entry {fmt(entry)}, which does "
                f"not pay for the round trip of {_per_unit(costs.round_trip(entry, target))} per unit: hitting it "
                "would lose money",
            )
    if distance < min_stop_cost_multiple * stop_cost:
        return CostRefusal(
            "stop_within_costs",
            f"the stop {fmt(stop)} is {fmt(distance)} from the entry {fmt(entry)}, closer than "
            f"{fmt(min_stop_cost_multiple)} x the round trip of {_per_unit(stop_cost)} per unit (fees and slippage "
            f"would be {_ratio(stop_cost, distance)} x the planned loss)",
        )
    if target is not None and min_reward_risk is not None and reward + target_slack < min_reward_risk * risk:
        return CostRefusal(
            "reward_risk",
            f"net of fees and slippage, reward:risk {_ratio(reward, risk)} (reward {fmt(reward.quantize(_CENTS))}, "
            f"risk {fmt(risk.quantize(_CENTS))} per unit) is below the minimum {fmt(min_reward_risk)}",
        )
    return None


def _per_unit(amount: Decimal) -> str:
    return fmt(amount.quantize(_CENTS)) if amount >= _CENTS else fmt(amount.normalize())


def _ratio(a: Decimal, b: Decimal) -> str:
    return fmt((a / b).quantize(_CENTS)) if b > 0 else "inf"
