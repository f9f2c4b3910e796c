"""The desk's books: every order and position it tracks, what it knows of money and risk, and the tallies the router
takes for its metrics. Private to the desk package: the `Desk` facade hands out read-only views, and only the
desk's behaviour modules (`entries`, `orders`, `fills`, `protection`, `exits`, `safety`, `restore`,
`reconciliation`, `adoption`) change it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import TYPE_CHECKING

from crocbot.core.desk.actions import Action, Record
from crocbot.core.ids import ClientIds
from crocbot.core.instrument import Instrument
from crocbot.core.ledger import Ledger
from crocbot.core.live_limits import LiveLimits
from crocbot.core.messages import (
    ExitReason,
    OrderPurpose,
    OrderStatus,
    Position,
    PositionSide,
    StopKind,
)
from crocbot.core.messages.journal import (
    SaveState,
)
from crocbot.core.money import ZERO, fmt
from crocbot.core.order_state import TrackedOrder
from crocbot.core.risk import RiskGate
from crocbot.core.risk_sizing import money_text

if TYPE_CHECKING:
    from crocbot.core.desk.stop_updates import StopUpdates

__all__ = ["Book", "DeskConfig", "PositionState", "LEDGER_KEY", "RISK_KEY", "up_to_grid", "down_to_grid"]

LEDGER_KEY = "ledger"
RISK_KEY = "risk"


class DeskConfig:
    def __init__(
        self,
        *,
        entry_order: str = "limit",
        limit_ttl: float = 30.0,
        max_repositions: int = 3,
        chase_step: Decimal,
        live_limits: LiveLimits | None = None,
    ) -> None:
        self.entry_order = entry_order
        self.limit_ttl = limit_ttl
        self.max_repositions = max_repositions
        self.chase_step = chase_step
        self.live_limits = live_limits  # a first live run's caps on entries (None: paper, or none set)


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
    replacing: str | None = None  # the stop order a new one replaces (an amend refused), until the new one rests
    exit_orders: list[str] = field(default_factory=list)
    exiting: bool = False
    exit_reason: ExitReason | None = None  # what the exit in flight is for; None: the stop level was reached
    exit_detail: str = ""
    held_exit: tuple[str, ExitReason | None] | None = None  # an exit waiting for Kraken to take sales (`exits`)
    held_stop: bool = False  # its stop ended in a halt: placed again when Kraken takes orders (`halted`)
    hold_retry: float = 0.0  # seconds of the last retry of a held stop or exit (doubling)
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


class Book:
    """The desk's state. Its methods only read it, or keep its own tallies; decisions live in the behaviour modules."""

    def __init__(
        self,
        *,
        instruments: Mapping[str, Instrument],
        risk: RiskGate,
        ledger: Ledger,
        ids: ClientIds,
        config: DeskConfig,
        stop_updates: StopUpdates,
    ) -> None:
        self.instruments = dict(instruments)
        self.risk = risk
        self.ledger = ledger
        self.ids = ids
        self.config = config
        self.orders: dict[str, TrackedOrder] = {}
        self.positions: dict[str, PositionState] = {}
        self.by_symbol: dict[str, str] = {}
        self.marks: dict[str, Decimal] = {}
        self.stop_cancels: set[str] = set()  # stop orders cancelled for an exit, until the venue says they ended
        self.closed_positions: set[str] = set()  # closed in the journal, with orders still open there (a restart)
        # stop amends, conflated per stop order and paced by each pair's trading counter (`stop_updates`)
        self.stop_updates = stop_updates
        self.refused: dict[str, int] = {}  # entries refused since the router last took the tally, by Refusal.label
        self.given_up: set[str] = set()  # positions the venue refused to protect (`safety.give_up`), still open
        self.ended: dict[OrderStatus, int] = {}  # orders ended since the router last took the tally, by status
        self.fenced = 0  # sells the inventory fence refused since the router last took the tally
        self.stale_entries: list[tuple[str, str]] = []  # restored entries still waiting for a first fill
        self.fed = False  # market data was fresh once: safe mode for it is news from then on, not start-up
        # orders handed to the router and not yet reported sent or not sent: promised, for the inventory fence
        self.handed_out: set[str] = set()

    def marks_at_cost(self) -> dict[str, Decimal]:
        marks = dict(self.marks)
        for symbol in self.ledger.symbols():
            if symbol not in marks:
                entry = self.ledger.average_entry(symbol)
                if entry is not None:
                    marks[symbol] = entry  # no price seen yet: value it at cost rather than refuse
        return marks

    def equity(self) -> Decimal:
        return self.ledger.equity(self.marks_at_cost())

    def unrealized(self) -> Decimal:
        return self.ledger.unrealized(self.marks_at_cost())

    def exposure(self) -> dict[str, Decimal]:
        marks = self.marks_at_cost()
        return {s: abs(self.ledger.position(s)) * marks[s] for s in self.ledger.symbols() if self.ledger.position(s)}

    def live_exposure(self) -> Decimal:
        """What the live limits count as at stake: the open positions at their marks, and what the working entries
        may still buy at their limit (or the mark, for a market entry)."""
        held = sum(self.exposure().values(), ZERO)
        resting = ZERO
        for order in self.orders.values():
            if order.purpose is OrderPurpose.ENTRY and (order.is_open or order.cl_ord_id in self.handed_out):
                price = order.limit_price or self.marks.get(order.symbol) or ZERO
                resting += max(order.qty - order.filled, ZERO) * price
        return held + resting

    def saves(self) -> list[Action]:
        return [
            Record(SaveState(LEDGER_KEY, self.ledger.to_state())),
            Record(SaveState(RISK_KEY, self.risk.state().to_state())),
        ]

    def refuse(self, label: str) -> None:
        self.refused[label] = self.refused.get(label, 0) + 1

    def count_end(self, order: TrackedOrder, before: OrderStatus) -> None:
        # A terminal status has no way out, so an order crosses into one exactly once: counted here, whatever
        # brought it (a venue event, a fill, a lookup, reconciliation, the fence). `unknown` is no end: an order
        # that was unknown is counted when it ends.
        if order.status.is_terminal and not before.is_terminal:
            self.ended[order.status] = self.ended.get(order.status, 0) + 1

    def live_orders(self, position: PositionState) -> list[TrackedOrder]:
        return [o for o in self.orders.values() if o.position_id == position.position_id and o.is_open]

    def open_stop_order(self, position: PositionState) -> TrackedOrder | None:
        stops = [o for o in self.live_orders(position) if o.purpose is OrderPurpose.STOP]
        return stops[-1] if stops else None

    def stop_total(self, stop: str, qty: Decimal) -> Decimal:
        """The size to amend stop order `stop` to so that it still sells `qty`: Kraken's amend sets the order's
        total, what it has filled included."""
        order = self.orders.get(stop)
        return qty + (order.filled if order is not None else Decimal(0))

    def dust(self, position: PositionState, price: Decimal | None) -> str | None:
        """Why no order can sell the position (below Kraken's minimum order size or value), or None."""
        instrument = self.instruments.get(position.symbol)
        if instrument is None:
            return None
        qty, base = position.qty, instrument.base
        if qty < instrument.qty_min:
            return f"{fmt(qty)} {base} is below Kraken's minimum order of {fmt(instrument.qty_min)} {base}"
        if price is not None and qty * price < instrument.cost_min:
            return (
                f"{fmt(qty)} {base} is worth {money_text(qty * price)} {instrument.quote}, below Kraken's minimum "
                f"order value of {fmt(instrument.cost_min)} {instrument.quote}"
            )
        return None

    def drop(self, position: PositionState) -> None:
        position.closed = True
        if self.by_symbol.get(position.symbol) == position.position_id:
            del self.by_symbol[position.symbol]

    def forget_settled(self) -> int:
        """Drop the closed positions whose orders have all ended, with those orders, and ended orders of no position;
        how many orders went. A bot that runs for months must not carry every order it ever sent: the inventory
        fence and the position's order lists scan them all. What is dropped is what a restart leaves behind too (the
        journal restores open orders and open positions only), so nothing may depend on it: a late event for a
        dropped order is met as after a restart."""
        settled = {
            position_id
            for position_id, position in self.positions.items()
            if position.closed and self.by_symbol.get(position.symbol) != position_id
        }
        for order in self.orders.values():
            if not order.status.is_terminal or order.cl_ord_id in self.handed_out:
                settled.discard(order.position_id or "")
        gone = [
            cl_ord_id
            for cl_ord_id, order in self.orders.items()
            if order.status.is_terminal
            and cl_ord_id not in self.handed_out
            and (order.position_id in settled or order.position_id not in self.positions)
        ]
        for cl_ord_id in gone:
            del self.orders[cl_ord_id]
        for position_id in settled:
            del self.positions[position_id]
        return len(gone)

    def take_stale_entries(self) -> list[tuple[str, str]]:
        taken, self.stale_entries = self.stale_entries, []
        return taken


def up_to_grid(price: Decimal, increment: Decimal) -> Decimal:
    return ((price / increment).to_integral_value(rounding=ROUND_CEILING) * increment).quantize(increment)


def down_to_grid(price: Decimal, increment: Decimal) -> Decimal:
    return ((price / increment).to_integral_value(rounding=ROUND_FLOOR) * increment).quantize(increment)
