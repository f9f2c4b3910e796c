"""Where a position's stop belongs now: fixed, breakeven, stepped profit locks, trailing. Stops only tighten.

R is the distance from entry to the initial stop. After the best price reaches `breakeven_after_r` R the stop
moves to breakeven: the price where a sale recovers the entry and both legs' fees (`breakeven`, from
`crocbot.core.costs`; the entry itself when the track knows no costs), since a stop at the bare entry loses the
round trip's fees. After the best price reaches n * step R (n >= 2) the stop locks (n - 1) * step R of profit
above that breakeven; a trailing
stop follows the best price by an ATR multiple or a percentage. The tightest candidate wins, and only if it is
tighter than the current stop and still on the safe side of the price (a sell stop above the market would fire
at once). Prices are rounded to the instrument's increment toward the current price only when that cannot
loosen the stop.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from crocbot.core.messages import PositionSide, StopKind
from crocbot.core.money import ZERO

__all__ = ["StopPolicy", "StopTrack", "stop_crossed"]


@dataclass(frozen=True, slots=True)
class StopPolicy:
    """How stops follow a winning position; `crocbot.config.policies` builds it from `StopSettings`."""

    trailing: str = "atr"  # none | atr | percent
    trail_atr_multiple: Decimal = Decimal("3")
    trail_percent: Decimal = Decimal("0.02")
    breakeven_after_r: Decimal = Decimal(1)
    profit_lock_step_r: Decimal = Decimal(1)


@dataclass(slots=True)
class StopTrack:
    """One position's stop and the best price seen since entry. Mutated by the SL manager's thread only."""

    position_id: str
    symbol: str
    side: PositionSide
    entry: Decimal
    initial_stop: Decimal
    stop: Decimal
    price_increment: Decimal
    best: Decimal | None = None
    breakeven: Decimal | None = None  # where a sale recovers the entry and both fees; None: the entry

    @property
    def risk_per_unit(self) -> Decimal:
        return abs(self.entry - self.initial_stop)

    def observe(self, price: Decimal) -> None:
        if self.best is None:
            self.best = price
        elif self.side is PositionSide.LONG:
            self.best = max(self.best, price)
        else:
            self.best = min(self.best, price)

    def next_stop(self, price: Decimal, atr: Decimal | None, policy: StopPolicy) -> tuple[Decimal, StopKind] | None:
        """A tighter stop and why, or None. `price` is where the position would exit now (bid for a long)."""
        self.observe(price)
        assert self.best is not None
        r = self.risk_per_unit
        if r <= 0:
            return None
        long = self.side is PositionSide.LONG
        sign = 1 if long else -1
        gained_r = (self.best - self.entry) * sign / r
        even = self.breakeven if self.breakeven is not None else self.entry
        candidates: list[tuple[Decimal, StopKind]] = []
        if gained_r >= policy.breakeven_after_r:
            candidates.append((even, StopKind.BREAKEVEN))
        step = policy.profit_lock_step_r
        if step > 0 and gained_r >= 2 * step:
            locked_steps = (gained_r / step).to_integral_value(rounding=ROUND_FLOOR) - 1
            candidates.append((even + sign * locked_steps * step * r, StopKind.PROFIT_LOCK))
        if policy.trailing == "atr" and atr is not None and atr > 0:
            candidates.append((self.best - sign * policy.trail_atr_multiple * atr, StopKind.TRAILING))
        elif policy.trailing == "percent":
            candidates.append((self.best * (1 - sign * policy.trail_percent), StopKind.TRAILING))
        best: tuple[Decimal, StopKind] | None = None
        for level, kind in candidates:
            level = self._round(level)  # noqa: PLW2901 - rounding replaces the candidate on purpose
            tighter = level > self.stop if long else level < self.stop
            safe = level < price if long else level > price
            if tighter and safe and (best is None or (level > best[0] if long else level < best[0])):
                best = (level, kind)
        return best

    def _round(self, level: Decimal) -> Decimal:
        """To the price increment, away from the market: the stop may end up a tick looser, never through price."""
        if level <= ZERO:
            return ZERO
        steps = level / self.price_increment
        rounding = ROUND_FLOOR if self.side is PositionSide.LONG else ROUND_CEILING
        return (steps.to_integral_value(rounding=rounding) * self.price_increment).quantize(self.price_increment)

    def tighten(self, level: Decimal) -> None:
        long = self.side is PositionSide.LONG
        if (level < self.stop) if long else (level > self.stop):
            raise ValueError(f"position {self.position_id}: refusing to loosen the stop from {self.stop} to {level}")
        self.stop = level


def stop_crossed(side: PositionSide, stop: Decimal, price: Decimal) -> bool:
    """The exit price is through the stop: a long's bid at or below it, a short's ask at or above it."""
    return price <= stop if side is PositionSide.LONG else price >= stop
