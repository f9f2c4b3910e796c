"""The desk's facade: the one owner of orders and positions, as pure code. Events go in (`on`), actions come out.

Rules it keeps (each in the module named):
- one position per symbol; entries only through the risk gate (kill switch, safe mode, limits, sizing) (`entries`);
- every position gets its protective stop the moment its first entry fill is known, for the filled quantity,
  and the stop follows the position's size; a rejected or vanished stop means an immediate exit (a stop the
  desk cancelled for an exit that then failed is placed again instead) (`fills`, `orders`, `protection`);
- an entry filled at or through its stop is opened (journaled, with a stop one tick below the fill) and exited
  at once; one filled so near its take-profit that hitting it would not pay for the round trip loses it (`fills`);
- fills are booked in the ledger once each, even those the order's record refuses (over-fills, late fills);
- an exit that ends without closing the position leaves it protected again and no longer `exiting` (`orders`);
- stops only tighten, and only through amends the venue confirmed (`protection`, `stop_updates`);
- an exit cancels the stop first (it holds the base on Kraken) and sells the position at market only once the
  venue has confirmed that cancel: a stop that filled meanwhile has sold the position, and an exit beside it would
  sell coins the bot does not own (on an account that holds more of the coin, Kraken would take them) (`exits`);
- no sell goes out beyond what the bot holds and has not promised to its other sells (the inventory fence,
  `handling`);
- a position below Kraken's minimum order gets no stop or exit (Kraken would refuse them) until it grows;
- a resting entry is repriced toward the market after its TTL, while the risk still fits, then cancelled;
- everything an event changed is journaled in one `Commit`, ahead of the commands it decided (`handling`).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from types import MappingProxyType

from crocbot.core.desk import handling, safety
from crocbot.core.desk.actions import Action, Commit
from crocbot.core.desk.events import DeskEvent
from crocbot.core.desk.reconciliation import apply_plan, books_view
from crocbot.core.desk.restore import JournalSnapshot, restore
from crocbot.core.desk.state import Book, DeskConfig, PositionState
from crocbot.core.desk.stop_updates import StopOutcome, StopUpdates
from crocbot.core.ids import ClientIds
from crocbot.core.instrument import Instrument
from crocbot.core.ledger import Ledger
from crocbot.core.messages import OrderStatus, Position
from crocbot.core.order_state import TrackedOrder
from crocbot.core.reconcile import BooksView, ForeignOrderPolicy, Plan
from crocbot.core.risk import RiskGate
from crocbot.core.trading_counter import STARTER, TradingCounter

__all__ = ["Desk"]


class Desk:
    """Orders and positions, from a signal to the last exit fill. Its state is its own: read it through the views
    below; change it only by handing it an event."""

    def __init__(
        self,
        *,
        instruments: Mapping[str, Instrument],
        risk: RiskGate,
        ledger: Ledger,
        ids: ClientIds,
        config: DeskConfig,
        stop_updates: StopUpdates | None = None,
    ) -> None:
        self._book = Book(
            instruments=instruments,
            risk=risk,
            ledger=ledger,
            ids=ids,
            config=config,
            stop_updates=stop_updates or StopUpdates(TradingCounter(*STARTER)),
        )

    # -- the facade ------------------------------------------------------------------------------------

    def on(self, event: DeskEvent, now: datetime) -> list[Action]:
        """The actions for `event`, in order: at most one `Commit` first (everything the event changed, for one
        durable commit), then the commands, bus messages, timers and log lines. A sell the inventory fence refuses
        never appears (it is ended as not sent, and what that decides follows in its place)."""
        return handling.handle(self._book, event, now)

    def restore(self, snapshot: JournalSnapshot) -> str:
        """Rebuild the books from the journal at a (re)start (`crocbot.core.desk.restore`); a summary (empty: nothing
        to rebuild). Entries that were waiting for their first fill are cancelled by the first reconciliation."""
        summary, self._book.stale_entries = restore(self._book, snapshot)
        return summary

    def reconcile(
        self, plan: Plan, policy: ForeignOrderPolicy, now: datetime, *, startup: bool, journaled: frozenset[str]
    ) -> tuple[list[Action], list[str]]:
        """Apply a reconciliation plan (`crocbot.core.desk.reconciliation`): its actions, with one `Commit` of every
        record first, and what was done, one line per kind of change. `journaled`: the plan's fills the journal
        held before."""
        actions, done = apply_plan(self._book, plan, policy, now, startup=startup, journaled=journaled)
        records = tuple(r for a in actions if isinstance(a, Commit) for r in a.records)
        rest: list[Action] = [a for a in actions if not isinstance(a, Commit)]
        return ([Commit(records), *rest] if records else rest), done

    def set_safe(
        self,
        reason: str,
        on: bool,
        now: datetime,
        *,
        detail: str = "",
        symbol: str | None = None,
        expected: bool = False,
    ) -> list[Action]:
        """Turn one safe-mode reason on or off (`crocbot.core.desk.safety`)."""
        return safety.set_safe(self._book, reason, on, now, detail=detail, symbol=symbol, expected=expected)

    def on_day_tick(self, now: datetime) -> list[Action]:
        return safety.on_day_tick(self._book, now)

    def on_mark(self, symbol: str, price: Decimal) -> None:
        self._book.marks[symbol] = price

    # -- views (read-only) -------------------------------------------------------------------------------

    @property
    def orders(self) -> Mapping[str, TrackedOrder]:
        return MappingProxyType(self._book.orders)

    @property
    def positions(self) -> Mapping[str, PositionState]:
        return MappingProxyType(self._book.positions)

    @property
    def by_symbol(self) -> Mapping[str, str]:
        """The position that holds each symbol (one per symbol)."""
        return MappingProxyType(self._book.by_symbol)

    @property
    def marks(self) -> Mapping[str, Decimal]:
        return MappingProxyType(self._book.marks)

    @property
    def instruments(self) -> Mapping[str, Instrument]:
        return MappingProxyType(self._book.instruments)

    @property
    def stop_cancels(self) -> frozenset[str]:
        """Stop orders cancelled for an exit, until the venue says they ended."""
        return frozenset(self._book.stop_cancels)

    @property
    def closed_positions(self) -> frozenset[str]:
        """Positions closed in the journal with orders still open there (a restart)."""
        return frozenset(self._book.closed_positions)

    @property
    def ledger(self) -> Ledger:
        return self._book.ledger

    @property
    def risk(self) -> RiskGate:
        return self._book.risk

    @property
    def stop_updates(self) -> StopUpdates:
        return self._book.stop_updates

    def open_positions(self) -> list[Position]:
        """The open positions with a fill, as `Position` messages (the SL manager's view)."""
        return [p.message() for p in self._book.positions.values() if p.open and p.entry_price is not None]

    def open_orders(self) -> list[TrackedOrder]:
        return [o for o in self._book.orders.values() if o.is_open]

    def books_view(self) -> BooksView:
        """The books for a reconciliation to compare with the venue's."""
        return books_view(self._book)

    def equity(self) -> Decimal:
        return self._book.equity()

    def unrealized(self) -> Decimal:
        return self._book.unrealized()

    def exposure(self) -> dict[str, Decimal]:
        return self._book.exposure()

    def stop_updates_busy(self) -> int:
        """Open positions with a stop amend in flight or a wish waiting (0: all settled)."""
        return self._book.stop_updates.busy(self._book)

    # -- tallies the router counts in its metrics --------------------------------------------------------

    def take_refused(self) -> dict[str, int]:
        """The entries refused since the last call, by label."""
        taken, self._book.refused = self._book.refused, {}
        return taken

    def take_ended(self) -> dict[OrderStatus, int]:
        """The orders ended since the last call, each once, by how."""
        taken, self._book.ended = self._book.ended, {}
        return taken

    def take_fenced(self) -> int:
        """The sells the inventory fence refused since the last call."""
        taken, self._book.fenced = self._book.fenced, 0
        return taken

    def take_stop_outcomes(self) -> dict[StopOutcome, int]:
        return self._book.stop_updates.take_tally()
