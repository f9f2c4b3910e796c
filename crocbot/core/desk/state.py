"""What the desk keeps per position, from its entry order to its last exit fill."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from crocbot.core.messages import ExitReason, Position, PositionSide, StopKind
from crocbot.core.money import ZERO

__all__ = ["PositionState"]


@dataclass(slots=True)
class PositionState:
    """One position from its entry order to its last exit fill."""

    position_id: str
    symbol: str
    side: PositionSide
    entry_cl_ord_id: str
    initial_stop: Decimal
    stop: Decimal
    take_profit: Decimal | None
    strategy: str = ""
    intended_entry: Decimal | None = None  # the signal's entry price (the trade log's slippage is measured from it)
    qty: Decimal = ZERO
    entry_price: Decimal | None = None
    opened_at: datetime | None = None
    stop_order: str | None = None  # the live (or pending) protective order
    stop_live: bool = False
    stop_kind: StopKind = StopKind.INITIAL
    pending_stop: tuple[Decimal, StopKind] | None = None  # an amend in flight
    wanted_stop: tuple[Decimal, StopKind] | None = None  # the newest stop desired and not sent yet (`stop_updates`)
    exit_orders: list[str] = field(default_factory=list)
    exiting: bool = False
    exit_reason: ExitReason | None = None  # what the exit in flight is for; None: the stop level was reached
    exit_detail: str = ""
    closed: bool = False
    refusals: int = 0  # the venue refused its stop or exit this many times in a row (reset by a live stop)

    @property
    def open(self) -> bool:
        return self.qty > 0 and not self.closed

    def message(self) -> Position:
        if self.entry_price is None or self.opened_at is None:
            raise ValueError(f"position {self.position_id} has no fill yet, so it has no entry price to report")
        return Position(
            self.position_id,
            self.symbol,
            self.side,
            self.qty,
            self.entry_price,
            self.stop,
            self.opened_at,
            take_profit=self.take_profit,
            stop_live=self.stop_live,
            initial_stop=self.initial_stop,
            exiting=self.exiting,
        )
