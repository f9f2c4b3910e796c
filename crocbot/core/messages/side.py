"""Order sides and position sides."""

from __future__ import annotations

from enum import StrEnum

__all__ = ["Side", "PositionSide"]


class Side(StrEnum):
    """An order's side, spelled as Kraken spells it."""

    BUY = "buy"
    SELL = "sell"

    @property
    def opposite(self) -> Side:
        return Side.SELL if self is Side.BUY else Side.BUY


class PositionSide(StrEnum):
    LONG = "long"
    SHORT = "short"

    @property
    def entry_side(self) -> Side:
        return Side.BUY if self is PositionSide.LONG else Side.SELL

    @property
    def exit_side(self) -> Side:
        return self.entry_side.opposite
