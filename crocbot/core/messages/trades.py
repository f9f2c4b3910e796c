"""A round trip, from the first entry fill to the fill that made the position flat, and what the trade log says
about it beyond its figures (why it ended, who opened it, how the entry went against the plan)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from crocbot.core.checks import InvalidMessage, non_negative, positive, symbol, utc
from crocbot.core.messages.side import PositionSide

__all__ = ["ClosedTrade", "ExitReason", "TradeContext"]


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


class ExitReason(StrEnum):
    """What closed a trade. The stop's kinds are the kind of the stop when it filled (or when the price went
    through it and crocbot sold): a trader reads a trailing stop-out differently from a loss at the initial stop."""

    STOP = "stop"  # the initial stop (or one tightened after a worse entry), or an exit because nothing protected it
    TRAILING = "trailing"
    BREAKEVEN = "breakeven"
    PROFIT_LOCK = "profit_lock"
    TAKE_PROFIT = "take_profit"
    SIGNAL = "signal"  # a strategy asked for the exit
    MANUAL = "manual"  # an operator, or the kill switch flattening every position
    RECONCILIATION = "reconciliation"  # an exit crocbot learnt of from the venue (sent before a restart, or adopted)


@dataclass(frozen=True, slots=True)
class TradeContext:
    """The trade log's account of a closed trade beyond `ClosedTrade`'s figures, and the precisions it shows them
    in: prices at the instrument's price decimals, money at its quote currency's places."""

    exit_reason: ExitReason
    strategy: str
    intended_entry: Decimal | None  # the signal's entry price; None for a position crocbot did not open itself
    equity_after: Decimal
    price_precision: int
    money_precision: int  # the quote currency's places (USD in cents), as status and the demo show money
    exit_detail: str = ""  # the exit's own words ("take-profit 101 reached at 101.2", "kill switch")

    def __post_init__(self) -> None:
        if self.intended_entry is not None:
            positive(self.intended_entry, "intended_entry")
        if self.price_precision < 0 or self.money_precision < 0:
            raise InvalidMessage("precisions: must be >= 0")
