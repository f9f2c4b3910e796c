"""The ledger's bookkeeping of one open position: FIFO lots, the running figures of its round trip, and the
JSON-able form of an open position. `crocbot.core.ledger` explains the fee and FIFO semantics."""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from crocbot.core.checks import utc
from crocbot.core.messages import ClosedTrade, Fill, PositionSide
from crocbot.core.money import ZERO, fmt, to_decimal

__all__ = ["Lot", "OpenPosition"]


@dataclass(slots=True)
class Lot:
    """Base units still open from one entry fill (net of a base fee), at that fill's price."""

    qty: Decimal
    price: Decimal


@dataclass(slots=True)
class OpenPosition:
    """One position from its first fill until it is flat again.

    `qty_in`/`cost_in` and `qty_out`/`value_out` accumulate the units that entered and left with their value at
    fill prices; they give the trade's average entry and exit prices. `gross` is the FIFO P&L realized so far
    and `fees` every fee paid (in quote), so the trade nets `gross - fees`.
    """

    trade_id: str
    side: PositionSide
    opened_at: datetime
    lots: deque[Lot] = field(default_factory=deque)
    qty: Decimal = ZERO  # open units, unsigned
    qty_in: Decimal = ZERO
    cost_in: Decimal = ZERO
    qty_out: Decimal = ZERO
    value_out: Decimal = ZERO
    gross: Decimal = ZERO
    fees: Decimal = ZERO
    initial_risk: Decimal | None = None
    # Signed units of the last fill beyond flat; only the ledger reads it, right after the fill that closed us.
    overshoot: Decimal = ZERO

    @classmethod
    def start(cls, fill: Fill, units: Decimal) -> OpenPosition:
        side = PositionSide.LONG if units > 0 else PositionSide.SHORT
        return cls(trade_id=f"{fill.symbol}:{fill.fill_id}", side=side, opened_at=fill.ts)

    @property
    def is_long(self) -> bool:
        return self.side is PositionSide.LONG

    @property
    def signed_qty(self) -> Decimal:
        return self.qty if self.is_long else -self.qty

    @property
    def average_open_price(self) -> Decimal:
        return sum((lot.qty * lot.price for lot in self.lots), ZERO) / self.qty

    def add(self, units: Decimal, price: Decimal, fee_quote: Decimal) -> Decimal:
        """Move `units` (signed) at `price`; returns the gross P&L this realizes (fees are the caller's).

        Units in the position's direction open a lot; units against it close the oldest lots first. Units
        beyond flat are left in `overshoot` for the ledger to open the opposite position with.
        """
        self.fees += fee_quote
        if (units > 0) == self.is_long:
            self.lots.append(Lot(abs(units), price))
            self.qty += abs(units)
            self.qty_in += abs(units)
            self.cost_in += abs(units) * price
            return ZERO
        remaining = abs(units)
        gross = ZERO
        while remaining > 0 and self.lots:  # bounded: each turn consumes a lot or the remaining units
            lot = self.lots[0]
            take = min(remaining, lot.qty)
            gross += (price - lot.price) * take if self.is_long else (lot.price - price) * take
            lot.qty -= take
            remaining -= take
            if lot.qty == ZERO:
                self.lots.popleft()
        closed = abs(units) - remaining
        self.qty -= closed
        self.qty_out += closed
        self.value_out += closed * price
        self.gross += gross
        self.overshoot = remaining if units > 0 else -remaining
        return gross

    def unrealized(self, mark: Decimal) -> Decimal:
        if self.is_long:
            return sum(((mark - lot.price) * lot.qty for lot in self.lots), ZERO)
        return sum(((lot.price - mark) * lot.qty for lot in self.lots), ZERO)

    def close(self, fill: Fill) -> ClosedTrade:
        """The record of this round trip, closed by `fill`. A closing fill stamped before the opening one (the
        venue reported them out of time order) closes at the opening time rather than before it."""
        return ClosedTrade(
            trade_id=self.trade_id,
            symbol=fill.symbol,
            side=self.side,
            qty=self.qty_in,
            entry_price=self.cost_in / self.qty_in,
            exit_price=self.value_out / self.qty_out,
            fees=self.fees,
            realized_pnl=self.gross - self.fees,
            opened_at=self.opened_at,
            closed_at=max(fill.ts, self.opened_at),
            initial_risk=self.initial_risk,
        )

    # -- persistence ------------------------------------------------------------------------------------

    def to_state(self) -> dict[str, Any]:
        return {
            "trade_id": self.trade_id,
            "side": str(self.side),
            "opened_at": self.opened_at.isoformat(),
            "lots": [[fmt(lot.qty), fmt(lot.price)] for lot in self.lots],
            "qty_in": fmt(self.qty_in),
            "cost_in": fmt(self.cost_in),
            "qty_out": fmt(self.qty_out),
            "value_out": fmt(self.value_out),
            "gross": fmt(self.gross),
            "fees": fmt(self.fees),
            "initial_risk": None if self.initial_risk is None else fmt(self.initial_risk),
        }

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> OpenPosition:
        lots = deque(Lot(_dec(q, "lot qty"), _dec(p, "lot price")) for q, p in state["lots"])
        position = cls(
            trade_id=str(state["trade_id"]),
            side=PositionSide(state["side"]),
            opened_at=_time(state["opened_at"], "opened_at"),
            lots=lots,
            qty=sum((lot.qty for lot in lots), ZERO),
            qty_in=_dec(state["qty_in"], "qty_in"),
            cost_in=_dec(state["cost_in"], "cost_in"),
            qty_out=_dec(state["qty_out"], "qty_out"),
            value_out=_dec(state["value_out"], "value_out"),
            gross=_dec(state["gross"], "gross"),
            fees=_dec(state["fees"], "fees"),
            initial_risk=None if state["initial_risk"] is None else _dec(state["initial_risk"], "initial_risk"),
        )
        if not lots or any(lot.qty <= 0 for lot in lots):
            raise ValueError(f"ledger state: position {position.trade_id} needs open lots of positive quantity")
        return position


def _dec(value: Any, field_name: str) -> Decimal:
    return to_decimal(value, field=f"ledger state {field_name}")


def _time(value: Any, field_name: str) -> datetime:
    return utc(datetime.fromisoformat(str(value)), f"ledger state {field_name}")
