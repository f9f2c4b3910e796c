"""Risk limits and the arithmetic behind the risk gate: sizing an entry and the fail-safe on stops.

The worst case for one unit of base is the distance from entry to stop, plus the taker fee on both legs, plus
the slippage allowance on both prices (the entry can fill worse, and a stop becomes a market order that can
fill worse again):

    per_unit_loss = (entry - stop) + entry * taker_fee + stop * taker_fee + (entry + stop) * slippage_allowance

(`stop - entry` for a short). Sizes round down to the instrument's increment, so rounding never adds risk.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from crocbot.core.costs import TradeCosts, cost_refusal
from crocbot.core.instrument import Instrument
from crocbot.core.messages import PositionSide, Signal
from crocbot.core.money import ONE, ZERO, fmt, quantize_down

__all__ = [
    "RiskLimits",
    "Sizing",
    "Refusal",
    "REFUSAL_LABELS",
    "per_unit_loss",
    "size_position",
    "stop_refusal",
    "widest_stop",
    "money_text",
    "percent_text",
]

_CENT = Decimal("0.01")


@dataclass(frozen=True, slots=True)
class RiskLimits:
    """The risk settings as the gate uses them. Fractions are of equity, except `slippage_allowance` (of price).

    `crocbot.config.policies` builds them from `RiskSettings`. Only each value's own range is checked here;
    `RiskSettings` also checks that they fit together. Limits built by hand can be inconsistent (a risk per trade
    above the max loss), which the fail-safe then catches.
    """

    risk_per_trade: Decimal
    max_loss_per_trade: Decimal
    daily_loss_limit: Decimal
    max_open_positions: int
    max_exposure_per_symbol: Decimal
    max_total_exposure: Decimal
    cooldown_after_loss: timedelta
    slippage_allowance: Decimal
    flatten_on_kill_switch: bool
    fail_safe_fraction: Decimal = Decimal("0.95")
    min_stop_cost_multiple: Decimal = ZERO  # see `crocbot.core.costs`; 0: no check

    def __post_init__(self) -> None:
        for name in ("risk_per_trade", "max_loss_per_trade", "daily_loss_limit", "max_exposure_per_symbol"):
            _fraction(getattr(self, name), name, allow_zero=False)
        _fraction(self.max_total_exposure, "max_total_exposure", allow_zero=False)
        _fraction(self.slippage_allowance, "slippage_allowance", allow_zero=True)
        _fraction(self.fail_safe_fraction, "fail_safe_fraction", allow_zero=False)
        if isinstance(self.max_open_positions, bool) or self.max_open_positions < 1:
            raise ValueError(f"max_open_positions: must be at least 1, got {self.max_open_positions}")
        if self.cooldown_after_loss < timedelta(0):
            raise ValueError(f"cooldown_after_loss: must not be negative, got {self.cooldown_after_loss}")

    def fail_safe_loss(self, equity: Decimal) -> Decimal:
        """The most one position may stand to lose: a safety margin below the max loss per trade."""
        return self.fail_safe_fraction * self.max_loss_per_trade * equity


def _fraction(value: Decimal, name: str, *, allow_zero: bool) -> None:
    if not isinstance(value, Decimal) or not value.is_finite():
        raise ValueError(f"{name}: must be a finite Decimal, got {value!r}")
    if value > ONE or value < ZERO or (value == ZERO and not allow_zero):
        bound = "[0, 1]" if allow_zero else "(0, 1]"
        raise ValueError(f"{name}: must lie in {bound}, got {fmt(value)}")


@dataclass(frozen=True, slots=True)
class Sizing:
    """An accepted entry: `qty` in base, the quote it stands to lose at the stop in the worst case, and the quote
    it takes fee included (`qty * entry * (1 + taker_fee)`), which is what the exposure caps count."""

    qty: Decimal
    worst_case_loss: Decimal
    notional: Decimal


# Every `Refusal.label`, so that a refused entry's counter exists before the first refusal (and the cost checks'
# labels of `crocbot.core.costs`); `short` and `not_ready` are refused before the gate (long only; not reconciled).
REFUSAL_LABELS = (
    "risk_day",
    "kill_switch",
    "safe_mode",
    "max_positions",
    "cooldown",
    "invalid",
    "no_equity",
    "reward_risk",
    "stop_within_costs",
    "take_profit_loses",
    "exposure",
    "below_minimum",
    "fail_safe",
    "short",
    "not_ready",
    "other",
)


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why the gate said no, in one sentence a trader can act on; `label` names the rule in a word or two, fixed
    (the label values of `crocbot_entries_refused_total`)."""

    reason: str
    label: str = field(default="other", compare=False)  # a refusal is its reason; the label only sorts it


def money_text(amount: Decimal) -> str:
    """An amount to the cent for messages (display only: the figures themselves are never rounded)."""
    return fmt(amount.quantize(_CENT))


def percent_text(fraction: Decimal) -> str:
    """0.03 -> '3', 0.005 -> '0.5'."""
    return fmt((fraction * 100).normalize())


def per_unit_loss(side: PositionSide, entry: Decimal, stop: Decimal, taker_fee: Decimal, slippage: Decimal) -> Decimal:
    """Quote lost per base unit in the worst case (see the module doc); negative for a stop locking in a profit
    larger than the costs."""
    distance = entry - stop if side is PositionSide.LONG else stop - entry
    return distance + (entry + stop) * (taker_fee + slippage)


def size_position(
    signal: Signal,
    *,
    equity: Decimal,
    instrument: Instrument,
    open_exposure: Mapping[str, Decimal],
    limits: RiskLimits,
) -> Sizing | Refusal:
    """Refuse a trade that does not pay for its costs (`crocbot.core.costs`), then size by risk, cap by exposure,
    and check the exchange minimums and the fail-safe (in that order)."""
    symbol, entry, stop = signal.symbol, signal.entry, signal.stop
    quote = instrument.quote
    if instrument.symbol != symbol:
        return Refusal(f"{symbol}: sized with the instrument of {instrument.symbol}", "invalid")
    if equity <= 0:
        return Refusal(f"{symbol}: equity is {money_text(equity)} {quote}; nothing can be risked", "no_equity")
    distance = entry - stop if signal.side is PositionSide.LONG else stop - entry
    if distance <= 0:  # Signal refuses this already; a bad stop must never reach the sizing below
        return Refusal(
            f"{symbol}: a {signal.side}'s stop {fmt(stop)} is on the wrong side of its entry {fmt(entry)}", "invalid"
        )
    costs = TradeCosts.of(
        taker_fee=instrument.taker_fee, maker_fee=instrument.maker_fee, slippage=limits.slippage_allowance
    )
    priced = cost_refusal(
        signal.side, entry, stop, signal.take_profit, costs, min_stop_cost_multiple=limits.min_stop_cost_multiple
    )
    if priced is not None:  # the strategy judged it already; a signal from anywhere else is judged here
        return Refusal(f"{symbol}: {priced.text}", priced.label)
    unit_loss = per_unit_loss(signal.side, entry, stop, instrument.taker_fee, limits.slippage_allowance)
    qty = quantize_down(equity * limits.risk_per_trade / unit_loss, instrument.qty_increment)

    unit_cost = entry * (ONE + instrument.taker_fee)
    used_symbol = abs(open_exposure.get(symbol, ZERO))
    used_total = sum((abs(v) for v in open_exposure.values()), ZERO)
    caps = (
        (limits.max_exposure_per_symbol * equity - used_symbol, "per-symbol", limits.max_exposure_per_symbol),
        (limits.max_total_exposure * equity - used_total, "total", limits.max_total_exposure),
    )
    for room, name, fraction in caps:
        cap = (
            f"the {name} exposure cap of {percent_text(fraction)} % of {money_text(equity)} {quote} "
            f"({money_text(fraction * equity)} {quote})"
        )
        if room <= 0:
            return Refusal(f"{symbol}: {cap} is used up; no new entry", "exposure")
        qty = min(qty, quantize_down(room / unit_cost, instrument.qty_increment))

    base = instrument.base
    if qty < instrument.qty_min or qty <= 0:
        return Refusal(
            f"{symbol}: size {fmt(qty)} {base} is below the minimum order of {fmt(instrument.qty_min)} {base} "
            f"(risk budget {money_text(equity * limits.risk_per_trade)} {quote}, {fmt(unit_loss)} {quote} per unit)",
            "below_minimum",
        )
    if qty * entry < instrument.cost_min:
        return Refusal(
            f"{symbol}: order value {money_text(qty * entry)} {quote} is below the minimum order value of "
            f"{fmt(instrument.cost_min)} {quote}",
            "below_minimum",
        )
    worst = qty * unit_loss
    allowed = limits.fail_safe_loss(equity)
    if worst > allowed:
        return Refusal(
            f"{symbol}: fail-safe: {fmt(qty)} {base} from {fmt(entry)} to the stop {fmt(stop)} could lose "
            f"{money_text(worst)} {quote}, more than {percent_text(limits.fail_safe_fraction)} % of the max loss per "
            f"trade ({money_text(allowed)} {quote}); check the risk settings",
            "fail_safe",
        )
    return Sizing(qty=qty, worst_case_loss=worst, notional=qty * unit_cost)


def widest_stop(
    side: PositionSide, *, qty: Decimal, entry: Decimal, max_loss: Decimal, instrument: Instrument, slippage: Decimal
) -> Decimal | None:
    """The stop furthest from `entry` whose worst-case loss on `qty` stays within `max_loss`, on the instrument's
    price grid (rounded toward the entry); None when even a stop at the entry loses more (fees and slippage)."""
    k = instrument.taker_fee + slippage
    per_unit = max_loss / qty
    if side is PositionSide.LONG:
        # qty * (entry - stop + (entry + stop) * k) <= max_loss  <=>  stop >= (entry * (1 + k) - per_unit) / (1 - k)
        stop = _to_grid((entry * (ONE + k) - per_unit) / (ONE - k), instrument.price_increment, ROUND_CEILING)
        if stop >= entry:
            return None
        return max(stop, instrument.price_increment)
    # qty * (stop - entry + (entry + stop) * k) <= max_loss  <=>  stop <= (per_unit + entry * (1 - k)) / (1 + k)
    stop = _to_grid((per_unit + entry * (ONE - k)) / (ONE + k), instrument.price_increment, ROUND_FLOOR)
    return None if stop <= entry else stop


def _to_grid(price: Decimal, increment: Decimal, rounding: str) -> Decimal:
    return ((price / increment).to_integral_value(rounding=rounding) * increment).quantize(increment)


def stop_refusal(
    *,
    side: PositionSide,
    qty: Decimal,
    entry: Decimal,
    stop: Decimal,
    equity_at_entry: Decimal,
    instrument: Instrument,
    limits: RiskLimits,
) -> Refusal | None:
    """None when a stop at `stop` keeps the worst-case loss of the position within the fail-safe."""
    symbol, quote = instrument.symbol, instrument.quote
    if qty <= 0 or entry <= 0 or stop <= 0:
        return Refusal(
            f"{symbol}: a stop needs a positive qty, entry and level (got {fmt(qty)}, {fmt(entry)}, {fmt(stop)})"
        )
    if equity_at_entry <= 0:
        return Refusal(f"{symbol}: equity at entry is {money_text(equity_at_entry)} {quote}; no stop is within limits")
    worst = qty * per_unit_loss(side, entry, stop, instrument.taker_fee, limits.slippage_allowance)
    allowed = limits.fail_safe_loss(equity_at_entry)
    if worst <= allowed:
        return None
    best = widest_stop(
        side, qty=qty, entry=entry, max_loss=allowed, instrument=instrument, slippage=limits.slippage_allowance
    )
    hint = "no stop keeps it within" if best is None else f"the widest stop within it is {fmt(best)}"
    return Refusal(
        f"{symbol}: fail-safe: a {side} stop at {fmt(stop)} on {fmt(qty)} {instrument.base} from {fmt(entry)} could "
        f"lose {money_text(worst)} {quote}, more than {percent_text(limits.fail_safe_fraction)} % of the max loss per "
        f"trade ({money_text(allowed)} {quote}); {hint}"
    )
