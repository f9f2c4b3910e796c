"""The strategy interface, ATR brackets, and the checks a signal passes before it leaves a strategy.

A strategy looks at closed candles of one symbol and one timeframe and either proposes a trade or does not.
`decide` returns a `Decision`: a signal, or the reason a setup was dropped (stale data, regime, reward:risk, a
stop that rounds onto the entry...), or neither when there was no setup at all. The strategy actor logs the
reasons and sends the signals; `evaluate` is the short form that returns just the signal. Strategies keep no
state between calls: a decision is a function of the last `warmup` candles and `now`, so it is the same after
a restart, in a replay, and in a test.

Brackets: stop = entry -/+ stop_atr * ATR and take-profit = entry +/- take_profit_atr * ATR, both rounded to the
price increment *toward the entry*. For the stop that means the risk per unit never exceeds the computed
amount (position sizing relies on it); for the take-profit it means the target is never further away than
the model asked for. Rounding toward the entry can cost the target up to one increment, so the reward:risk
check allows exactly that much (`validate_signal(..., price_increment=...)`).

Costs: with `costs` (the instrument's fees and the slippage allowance, `crocbot.core.costs`) reward:risk is judged
net of the round trip, a target that does not pay for its round trip is dropped, and so is a stop closer to the
entry than `min_stop_cost_multiple` round trips. A dropped setup says why with the numbers, and `Decision.label`
names the reason in a few fixed words for the metrics.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal, localcontext
from typing import NamedTuple, Protocol, Required, TypedDict, runtime_checkable

from crocbot.core.checks import InvalidMessage, utc
from crocbot.core.costs import TradeCosts, cost_refusal
from crocbot.core.indicators import DECIMAL_CONTEXT, atr, atr_lookback
from crocbot.core.messages import Candle, PositionSide, Signal
from crocbot.core.money import fmt
from crocbot.core.strategies.regime import RegimeFilter

__all__ = [
    "Decision",
    "NO_SETUP",
    "Setup",
    "Strategy",
    "BracketStrategy",
    "atr_bracket",
    "round_toward",
    "validate_signal",
    "check_signal",
]


class Decision(NamedTuple):
    """What a strategy made of the candles: a signal, or why a setup was dropped, or (None, None): no setup.
    `label` names a drop's reason in a few fixed words (for metrics): reward_risk, stop_within_costs, ..."""

    signal: Signal | None
    rejection: str | None
    label: str = ""


NO_SETUP = Decision(None, None)


class Setup(NamedTuple):
    """A strategy's raw entry condition, before regime, brackets and checks."""

    side: PositionSide
    reason: str


@runtime_checkable
class Strategy(Protocol):
    name: str
    warmup: int
    """Closed candles needed before the strategy can signal; fewer means no setup."""

    def decide(self, history: Sequence[Candle], now: datetime) -> Decision:
        """history: closed candles of one symbol and timeframe, oldest first; now: event time (aware UTC)."""
        ...

    def evaluate(self, history: Sequence[Candle], now: datetime) -> Signal | None:
        """`decide(history, now).signal`."""
        ...


def round_toward(value: Decimal, increment: Decimal, target: Decimal) -> Decimal:
    """Round `value` to a whole multiple of `increment`, moving toward `target` (never away from it)."""
    if not increment > 0:
        raise ValueError(f"increment must be positive, got {fmt(increment)}")
    rounding = ROUND_CEILING if value < target else ROUND_FLOOR
    with localcontext(DECIMAL_CONTEXT):
        steps = (value / increment).to_integral_value(rounding=rounding)
        return (steps * increment).quantize(increment)


def validate_signal(
    signal: Signal,
    min_reward_risk: Decimal,
    *,
    price_increment: Decimal | None = None,
    costs: TradeCosts | None = None,
    min_stop_cost_multiple: Decimal = Decimal(0),
) -> str | None:
    """Why `signal` must be dropped, or None when it may go (`check_signal` also says which kind of reason).

    Wrong-side stops and targets never get this far: `Signal` refuses them at construction. With
    `price_increment`, the target may fall short of `min_reward_risk` by less than one increment: that is
    what rounding it toward the entry can cost, and the unrounded bracket met the minimum. With `costs`, the
    checks are net of fees and slippage (see the module doc).
    """
    found = check_signal(
        signal,
        min_reward_risk,
        price_increment=price_increment,
        costs=costs,
        min_stop_cost_multiple=min_stop_cost_multiple,
    )
    return found[1] if found is not None else None


def check_signal(
    signal: Signal,
    min_reward_risk: Decimal,
    *,
    price_increment: Decimal | None = None,
    costs: TradeCosts | None = None,
    min_stop_cost_multiple: Decimal = Decimal(0),
) -> tuple[str, str] | None:
    """(label, why) when `signal` must be dropped, else None; see `validate_signal`."""
    if costs is not None:
        refusal = cost_refusal(
            signal.side,
            signal.entry,
            signal.stop,
            signal.take_profit,
            costs,
            min_stop_cost_multiple=min_stop_cost_multiple,
            min_reward_risk=min_reward_risk,
            target_slack=price_increment or Decimal(0),
        )
        return None if refusal is None else (refusal.label, refusal.text)
    risk = signal.risk_per_unit
    reward = abs(signal.take_profit - signal.entry)
    with localcontext(DECIMAL_CONTEXT):
        needed = min_reward_risk * risk
        if reward >= needed or (price_increment is not None and reward + price_increment > needed):
            return None
        ratio = (reward / risk).quantize(Decimal("0.01"))
    return "reward_risk", f"reward:risk {fmt(ratio)} is below the minimum {fmt(min_reward_risk)}"


def atr_bracket(
    history: Sequence[Candle],
    setup: Setup,
    average_true_range: Decimal,
    *,
    stop_atr: Decimal,
    take_profit_atr: Decimal,
    price_increment: Decimal,
    min_reward_risk: Decimal,
    strategy: str,
    now: datetime,
    costs: TradeCosts | None = None,
    min_stop_cost_multiple: Decimal = Decimal(0),
) -> Decision:
    """A signal entering at the last close with ATR-based stop and take-profit, or the reason there is none."""
    last = history[-1]
    entry = last.close
    if not average_true_range > 0:
        return Decision(None, f"zero ATR at {last.open_time.isoformat()}: no volatility to place a stop by", "atr")
    with localcontext(DECIMAL_CONTEXT):
        risk = stop_atr * average_true_range
        reward = take_profit_atr * average_true_range
        if setup.side is PositionSide.LONG:
            raw_stop, raw_target = entry - risk, entry + reward
        else:
            raw_stop, raw_target = entry + risk, entry - reward
        if raw_stop <= 0 or raw_target <= 0:
            return Decision(None, f"ATR {fmt(average_true_range)} puts a bracket at or below zero", "atr")
        stop = round_toward(raw_stop, price_increment, entry)
        target = round_toward(raw_target, price_increment, entry)
    if stop == entry:
        return Decision(
            None,
            f"ATR {fmt(average_true_range)} is too small for the price increment {fmt(price_increment)}: "
            f"the stop rounds onto the entry {fmt(entry)}",
            "atr",
        )
    try:
        signal = Signal(last.symbol, setup.side, entry, stop, target, strategy, now, setup.reason)
    except InvalidMessage as exc:
        return Decision(None, str(exc), "invalid")
    problem = check_signal(
        signal,
        min_reward_risk,
        price_increment=price_increment,
        costs=costs,
        min_stop_cost_multiple=min_stop_cost_multiple,
    )
    if problem is not None:
        return Decision(None, problem[1], problem[0])
    return Decision(signal, None)


class BracketOptions(TypedDict, total=False):
    """The keywords every `BracketStrategy` takes beside its own setup's; only the price increment is required."""

    atr_period: int
    stop_atr: Decimal
    take_profit_atr: Decimal
    price_increment: Required[Decimal]
    min_reward_risk: Decimal
    regime: RegimeFilter | None
    allow_short: bool
    costs: TradeCosts | None
    min_stop_cost_multiple: Decimal


class BracketStrategy:
    """Shared frame: warm-up, staleness, short policy, regime filter and ATR brackets around `_setup`.

    A subclass sets `name` and `_setup_window` (candles its `_setup` looks at) and implements `_setup`.
    """

    name: str = "bracket"
    _setup_window: int = 2

    def __init__(
        self,
        *,
        atr_period: int = 14,
        stop_atr: Decimal = Decimal(2),
        take_profit_atr: Decimal = Decimal(4),
        price_increment: Decimal,
        min_reward_risk: Decimal = Decimal("1.5"),
        regime: RegimeFilter | None = None,
        allow_short: bool = False,
        costs: TradeCosts | None = None,
        min_stop_cost_multiple: Decimal = Decimal(0),
    ) -> None:
        for label, value in (
            ("stop_atr", stop_atr),
            ("take_profit_atr", take_profit_atr),
            ("price_increment", price_increment),
            ("min_reward_risk", min_reward_risk),
        ):
            if not isinstance(value, Decimal) or not value.is_finite() or value <= 0:
                raise ValueError(f"{label} must be a positive Decimal, got {value!r}")
        self.atr_period = atr_period
        self.stop_atr = stop_atr
        self.take_profit_atr = take_profit_atr
        self.price_increment = price_increment
        self.min_reward_risk = min_reward_risk
        self.regime = regime
        self.allow_short = allow_short
        self.costs = costs
        self.min_stop_cost_multiple = min_stop_cost_multiple
        self._atr_window = atr_lookback(atr_period)
        self.warmup = max(self._setup_window, self._atr_window, regime.warmup if regime is not None else 0)

    def _setup(self, history: Sequence[Candle]) -> Setup | None:
        """The entry condition on the last closed candle; `history` holds at least `_setup_window` candles."""
        raise NotImplementedError

    def decide(self, history: Sequence[Candle], now: datetime) -> Decision:
        now = utc(now, "now")
        if len(history) < self.warmup:
            return NO_SETUP
        last = history[-1]
        if not last.closed:
            raise ValueError(f"{self.name}: history must hold closed candles only; the last one is still forming")
        with localcontext(DECIMAL_CONTEXT):
            setup = self._setup(history[len(history) - self._setup_window :])
            if setup is None or (setup.side is PositionSide.SHORT and not self.allow_short):
                return NO_SETUP
            if now < last.close_time:
                return Decision(
                    None, f"{setup.reason}: candle {last.open_time.isoformat()} has not closed at {now}", "early"
                )
            # A setup on a candle more than one interval old is history (a backfill, a stalled feed), not news.
            if now - last.close_time > timedelta(seconds=last.timeframe.seconds):
                return Decision(
                    None,
                    f"{setup.reason}: stale, candle closed {last.close_time.isoformat()}, now {now.isoformat()}",
                    "stale",
                )
            if self.regime is not None:
                blocked = self.regime.check(setup.side, history)
                if blocked is not None:
                    return Decision(None, f"{setup.reason}: {blocked}", "regime")
            average_true_range = atr(history[len(history) - self._atr_window :], self.atr_period)
        if average_true_range is None:  # cannot happen past warm-up; kept so a bad subclass fails safe
            return Decision(None, f"{setup.reason}: not enough candles for ATR({self.atr_period})", "atr")
        decision = atr_bracket(
            history,
            setup,
            average_true_range,
            stop_atr=self.stop_atr,
            take_profit_atr=self.take_profit_atr,
            price_increment=self.price_increment,
            min_reward_risk=self.min_reward_risk,
            strategy=self.name,
            now=now,
            costs=self.costs,
            min_stop_cost_multiple=self.min_stop_cost_multiple,
        )
        if decision.rejection is not None:
            return Decision(None, f"{setup.reason}: {decision.rejection}", decision.label)
        return decision

    def evaluate(self, history: Sequence[Candle], now: datetime) -> Signal | None:
        return self.decide(history, now).signal
