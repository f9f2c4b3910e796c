"""What the journal hands back: an order and a position as journaled, with their latest known state.

One definition for both sides of the journal: persistence reads its rows into these, and the desk rebuilds itself
from them after a restart (`crocbot.core.desk.restore`), so a field added to the journal reaches the desk without a
second copy of the class to keep in step.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from crocbot.core.messages import OrderIntent, OrderStatus, Position, PositionSide, StopKind
from crocbot.core.messages.journal import EntryBrackets

__all__ = ["JournaledOrder", "JournaledPosition"]


@dataclass(frozen=True, slots=True)
class JournaledOrder:
    """An order as journaled: the intent, whom it belongs to, and its latest known state at the venue."""

    intent: OrderIntent
    position_id: str | None
    reason: str
    status: OrderStatus
    order_id: str | None
    filled_qty: Decimal
    avg_price: Decimal | None
    updated_at: datetime
    amended_qty: Decimal | None = None
    amended_limit: Decimal | None = None
    amended_trigger: Decimal | None = None
    brackets: EntryBrackets | None = None  # an entry's stop and take-profit, journaled with it

    @property
    def qty(self) -> Decimal:
        """The order's size now (an amend may have changed the intent's)."""
        return self.amended_qty if self.amended_qty is not None else self.intent.qty

    @property
    def limit_price(self) -> Decimal | None:
        return self.amended_limit if self.amended_limit is not None else self.intent.limit_price

    @property
    def trigger_price(self) -> Decimal | None:
        return self.amended_trigger if self.amended_trigger is not None else self.intent.trigger_price

    @property
    def cl_ord_id(self) -> str:
        return self.intent.cl_ord_id

    @property
    def symbol(self) -> str:
        return self.intent.symbol

    @property
    def is_open(self) -> bool:
        return not self.status.is_terminal


@dataclass(frozen=True, slots=True)
class JournaledPosition:
    """A position, open or closed, with its current stop; `closed_at` and `realized_pnl` are set once closed
    (`realized_pnl` only when the close came with a `ClosedTrade`)."""

    position_id: str
    symbol: str
    side: PositionSide
    qty: Decimal
    entry_price: Decimal
    initial_stop: Decimal
    stop_price: Decimal
    stop_kind: StopKind
    stop_cl_ord_id: str | None
    take_profit: Decimal | None
    opened_at: datetime
    closed_at: datetime | None = None
    trade_id: str | None = None
    realized_pnl: Decimal | None = None

    @property
    def is_open(self) -> bool:
        return self.closed_at is None

    def as_position(self) -> Position:
        """The `Position` message with the current stop as `stop_price`."""
        return Position(
            position_id=self.position_id,
            symbol=self.symbol,
            side=self.side,
            qty=self.qty,
            entry_price=self.entry_price,
            stop_price=self.stop_price,
            opened_at=self.opened_at,
            take_profit=self.take_profit,
            initial_stop=self.initial_stop,
        )
