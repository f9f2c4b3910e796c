"""A round trip, from the first entry fill to the fill that made the position flat."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from crocbot.core.checks import InvalidMessage, non_negative, positive, symbol, utc
from crocbot.core.messages.side import PositionSide

__all__ = ["ClosedTrade"]


@dataclass(frozen=True, slots=True)
class ClosedTrade:
    """Money in the quote currency. `fees` covers entry and exit, with fees paid in base valued at the fill
    price; `realized_pnl` is net of them. `initial_risk` is what the position stood to lose at its first stop."""

    trade_id: str
    symbol: str
    side: PositionSide
    qty: Decimal
    entry_price: Decimal
    exit_price: Decimal
    fees: Decimal
    realized_pnl: Decimal
    opened_at: datetime
    closed_at: datetime
    initial_risk: Decimal | None = None

    def __post_init__(self) -> None:
        if not self.trade_id:
            raise InvalidMessage("trade_id: required")
        symbol(self.symbol)
        positive(self.qty, "qty")
        positive(self.entry_price, "entry_price")
        positive(self.exit_price, "exit_price")
        non_negative(self.fees, "fees")
        if self.initial_risk is not None:
            positive(self.initial_risk, "initial_risk")
        object.__setattr__(self, "opened_at", utc(self.opened_at, "opened_at"))
        object.__setattr__(self, "closed_at", utc(self.closed_at, "closed_at"))
        if self.closed_at < self.opened_at:
            raise InvalidMessage(f"trade {self.trade_id}: closed before it opened")

    @property
    def r_multiple(self) -> Decimal | None:
        """Net P&L in units of the initial risk: -1 is a full stop-out, +2 twice the risk won."""
        if self.initial_risk is None:
            return None
        return self.realized_pnl / self.initial_risk
