"""Signals, positions and their stops."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from crocbot.core.checks import InvalidMessage, positive, symbol, utc
from crocbot.core.messages.side import PositionSide
from crocbot.core.money import fmt

__all__ = ["Signal", "Position", "StopKind", "StopChanged"]


def _check_brackets(where: str, side: PositionSide, entry: Decimal, stop: Decimal, take_profit: Decimal | None) -> None:
    """A long's stop is below its entry and its target above; a short's the other way round."""
    if side is PositionSide.LONG:
        if not stop < entry:
            raise InvalidMessage(f"{where}: a long's stop {fmt(stop)} must be below its entry {fmt(entry)}")
        if take_profit is not None and not take_profit > entry:
            raise InvalidMessage(
                f"{where}: a long's take-profit {fmt(take_profit)} must be above its entry {fmt(entry)}"
            )
    else:
        if not stop > entry:
            raise InvalidMessage(f"{where}: a short's stop {fmt(stop)} must be above its entry {fmt(entry)}")
        if take_profit is not None and not take_profit < entry:
            raise InvalidMessage(
                f"{where}: a short's take-profit {fmt(take_profit)} must be below its entry {fmt(entry)}"
            )


@dataclass(frozen=True, slots=True)
class Signal:
    """A strategy's proposal. It always carries a stop and a take-profit on the right sides of the entry."""

    symbol: str
    side: PositionSide
    entry: Decimal
    stop: Decimal
    take_profit: Decimal
    strategy: str
    ts: datetime
    reason: str = ""

    def __post_init__(self) -> None:
        symbol(self.symbol)
        for name in ("entry", "stop", "take_profit"):
            value = getattr(self, name)
            if value is None:
                raise InvalidMessage(f"signal {self.symbol}: {name} is required; a signal without it is never traded")
            positive(value, name)
        _check_brackets(f"signal {self.symbol}", self.side, self.entry, self.stop, self.take_profit)
        object.__setattr__(self, "ts", utc(self.ts, "ts"))

    @property
    def risk_per_unit(self) -> Decimal:
        return abs(self.entry - self.stop)

    @property
    def reward_risk(self) -> Decimal:
        return abs(self.take_profit - self.entry) / self.risk_per_unit


@dataclass(frozen=True, slots=True)
class Position:
    """An open position and the stop that protects it.

    The initial stop must sit on the losing side of the entry (a long's below it). The current stop may move
    to the entry and beyond (breakeven, profit locks) but never looser than the initial one.
    """

    position_id: str
    symbol: str
    side: PositionSide
    qty: Decimal
    entry_price: Decimal
    stop_price: Decimal
    opened_at: datetime
    take_profit: Decimal | None = None
    stop_live: bool = False  # the protective order is acknowledged by the venue
    initial_stop: Decimal | None = None  # None: the current stop is the initial one
    exiting: bool = False  # an exit is in flight; False again once a failed exit was given up

    def __post_init__(self) -> None:
        if not self.position_id:
            raise InvalidMessage("position_id: required")
        symbol(self.symbol)
        positive(self.qty, "qty")
        positive(self.entry_price, "entry_price")
        positive(self.stop_price, "stop_price")
        if self.take_profit is not None:
            positive(self.take_profit, "take_profit")
        initial = self.stop_price if self.initial_stop is None else positive(self.initial_stop, "initial_stop")
        _check_brackets(f"position {self.position_id}", self.side, self.entry_price, initial, self.take_profit)
        looser = self.stop_price < initial if self.side is PositionSide.LONG else self.stop_price > initial
        if looser:
            raise InvalidMessage(
                f"position {self.position_id}: stop {fmt(self.stop_price)} is looser than the initial stop "
                f"{fmt(initial)}; stops only tighten"
            )
        object.__setattr__(self, "initial_stop", initial)
        object.__setattr__(self, "opened_at", utc(self.opened_at, "opened_at"))


class StopKind(StrEnum):
    INITIAL = "initial"
    TRAILING = "trailing"
    BREAKEVEN = "breakeven"
    PROFIT_LOCK = "profit_lock"


@dataclass(frozen=True, slots=True)
class StopChanged:
    """A stop moved. Stops only ever tighten: a long's stop only rises, a short's only falls."""

    position_id: str
    symbol: str
    side: PositionSide
    previous: Decimal | None
    stop: Decimal
    kind: StopKind
    ts: datetime

    def __post_init__(self) -> None:
        symbol(self.symbol)
        positive(self.stop, "stop")
        if self.previous is not None:
            loosens = self.stop < self.previous if self.side is PositionSide.LONG else self.stop > self.previous
            if loosens:
                raise InvalidMessage(
                    f"stop {self.position_id}: moving a {self.side} stop from {fmt(self.previous)} to "
                    f"{fmt(self.stop)} would widen it; stops only tighten"
                )
        elif self.kind is not StopKind.INITIAL:
            raise InvalidMessage(f"stop {self.position_id}: only the initial stop has no previous level")
        object.__setattr__(self, "ts", utc(self.ts, "ts"))
