"""What the desk (the router's pure logic) keeps per position, and the actions it asks the router to carry out."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from crocbot.core.messages import ExitReason, OrderIntent, Position, PositionSide, StopKind
from crocbot.core.messages.journal import EntryBrackets
from crocbot.core.money import ZERO

__all__ = [
    "PositionState",
    "SendOrder",
    "AmendOrder",
    "CancelOrder",
    "QueryOrder",
    "Emit",
    "Record",
    "StartTimer",
    "Note",
    "Action",
    "EntryTTL",
    "StopBudgetDue",
    "LookupDue",
]


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


@dataclass(frozen=True, slots=True)
class SendOrder:
    """Journal the intent (durably), then send it."""

    intent: OrderIntent
    position_id: str | None
    reason: str
    brackets: EntryBrackets | None = None  # an entry's: journaled with it
    # Sent only once the venue confirms these orders' cancels (the stops an exit replaces): never beside them.
    after_cancels: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class AmendOrder:
    cl_ord_id: str
    symbol: str
    qty: Decimal | None = None
    limit_price: Decimal | None = None
    trigger_price: Decimal | None = None


@dataclass(frozen=True, slots=True)
class CancelOrder:
    cl_ord_id: str
    symbol: str


@dataclass(frozen=True, slots=True)
class QueryOrder:
    """Ask the venue for the order's current terms (an amend or cancel whose outcome is unknown)."""

    cl_ord_id: str
    symbol: str


@dataclass(frozen=True, slots=True)
class Emit:
    """Publish on the bus (position changes, safe mode)."""

    message: object


@dataclass(frozen=True, slots=True)
class Record:
    """Ask persistence to record this (positions, stops, state documents) before going on."""

    message: object


@dataclass(frozen=True, slots=True)
class StartTimer:
    delay: float
    message: object


@dataclass(frozen=True, slots=True)
class Note:
    """Something to log: `level` is loguru's (INFO, WARNING, ERROR, CRITICAL)."""

    level: str
    text: str
    symbol: str | None = None


Action = SendOrder | AmendOrder | CancelOrder | QueryOrder | Emit | Record | StartTimer | Note


@dataclass(frozen=True, slots=True)
class EntryTTL:
    """A resting entry's time is up: reprice it (attempt <= max) or cancel it."""

    cl_ord_id: str
    attempt: int


@dataclass(frozen=True, slots=True)
class StopBudgetDue:
    """Timer: the trading counter of `symbol` should have room again for the stop amends waiting for it."""

    symbol: str


@dataclass(frozen=True, slots=True)
class LookupDue:
    """Timer: ask the venue again for the terms of an order whose last lookup got no answer."""

    cl_ord_id: str
