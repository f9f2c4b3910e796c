"""The desk: the order router's decisions, as pure functions of what happened.

Each `on_*` method takes one event and returns the actions to carry out, in order; the router actor journals
and sends them. Rules it keeps:
- one position per symbol; entries only through the risk gate (kill switch, safe mode, limits, sizing);
- every position gets its protective stop the moment its first entry fill is known, for the filled quantity,
  and the stop follows the position's size; a rejected or vanished stop means an immediate exit (a stop the
  desk cancelled for an exit that then failed is placed again instead);
- an entry filled at or through its stop is opened (journaled, with a stop one tick below the fill) and exited
  at once; one filled so near its take-profit that hitting it would not pay for the round trip loses it;
- fills are booked in the ledger once each, even those the order's record refuses (over-fills, late fills);
- an exit that ends without closing the position leaves it protected again and no longer `exiting`;
- stops only tighten, and only through amends the venue confirmed;
- an exit cancels the stop first (it holds the base on Kraken) and sells the position at market only once the
  venue has confirmed that cancel: a stop that filled meanwhile has sold the position, and an exit beside it would
  sell coins the bot does not own (on an account that holds more of the coin, Kraken would take them);
- no sell goes out beyond what the bot holds and has not promised to its other sells (the inventory fence);
- a position below Kraken's minimum order gets no stop or exit (Kraken would refuse them) until it grows;
- a resting entry is repriced toward the market after its TTL, while the risk still fits, then cancelled.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from datetime import datetime
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from crocbot.core.costs import TradeCosts
from crocbot.core.desk.actions import Action, Commit, Emit, Note, Record, StartTimer
from crocbot.core.desk.events import EntryTTL, FillSeen, LookupDue, NotSent, StopBudgetDue, Submitted
from crocbot.core.desk.reconciliation import apply_plan, books_view
from crocbot.core.desk.restore import JournalSnapshot, restore
from crocbot.core.desk.state import PositionState
from crocbot.core.desk.stop_updates import StopUpdates
from crocbot.core.desk.trade_context import trade_context, trade_summary
from crocbot.core.fence import OpenSell, fence_breach
from crocbot.core.ids import ClientIds
from crocbot.core.ledger import Ledger
from crocbot.core.messages import (
    HELD_BACK,
    RATE_LIMITED,
    UNSENT,
    ClosedTrade,
    CommandRejected,
    CommandUnknown,
    ExitReason,
    ExitRequest,
    Fill,
    OrderAmended,
    OrderEvent,
    OrderIntent,
    OrderLookedUp,
    OrderPurpose,
    OrderStatus,
    OrderType,
    PositionChanged,
    PositionClosed,
    PositionOpened,
    PositionSide,
    SafeModeChanged,
    Side,
    Signal,
    StopAmendRequest,
    StopKind,
)
from crocbot.core.messages.commands import Amend, Cancel, Submit
from crocbot.core.messages.journal import (
    EntryBrackets,
    JournalRecord,
    RecordAmend,
    RecordEvent,
    RecordFill,
    RecordIntent,
    RecordPositionChanged,
    RecordPositionClosed,
    RecordPositionOpened,
    RecordStop,
    SaveState,
)
from crocbot.core.money import fmt, quantize_down
from crocbot.core.order_state import IllegalTransition, TrackedOrder
from crocbot.core.reconcile import NEVER_SENT, BooksView, ForeignOrderPolicy, Plan
from crocbot.core.risk import RiskGate
from crocbot.core.risk_sizing import Refusal, money_text, widest_stop
from crocbot.core.trading_counter import STARTER, TradingCounter
from crocbot.kraken.instruments import Instrument

__all__ = ["Desk", "DeskConfig", "DeskEvent", "LEDGER_KEY", "RISK_KEY"]

LEDGER_KEY = "ledger"
RISK_KEY = "risk"
_ENDED = (OrderStatus.REJECTED, OrderStatus.CANCELLED, OrderStatus.EXPIRED, OrderStatus.ERROR)
# A venue that refuses a position's stop and then its exit, again and again (the account does not hold what the
# books say), must not be hammered with orders: after this many refusals in a row the desk stops trying, halts
# entries and says so; reconciliation or a person has to settle the difference.
_MAX_REFUSALS = 3
_UNPROTECTED = "a position the venue refuses to protect"

# What the desk's `on` takes: what happened at the venue, what the strategies and the SL manager want, its own timers,
# and what the router did with its orders.
DeskEvent = (
    FillSeen
    | OrderEvent
    | OrderAmended
    | CommandRejected
    | CommandUnknown
    | OrderLookedUp
    | Signal
    | ExitRequest
    | StopAmendRequest
    | EntryTTL
    | StopBudgetDue
    | LookupDue
    | Submitted
    | NotSent
)


class DeskConfig:
    def __init__(
        self, *, entry_order: str = "limit", limit_ttl: float = 30.0, max_repositions: int = 3, chase_step: Decimal
    ) -> None:
        self.entry_order = entry_order
        self.limit_ttl = limit_ttl
        self.max_repositions = max_repositions
        self.chase_step = chase_step


class Desk:
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
        self.stop_updates = stop_updates or StopUpdates(TradingCounter(*STARTER))
        self.refused: dict[str, int] = {}  # entries refused since the router last took the tally, by Refusal.label
        self.ended: dict[OrderStatus, int] = {}  # orders ended since the router last took the tally, by status
        self.fenced = 0  # sells the inventory fence refused since the router last took the tally
        self._stale_entries: list[tuple[str, str]] = []  # restored entries still waiting for a first fill

    # -- the facade ------------------------------------------------------------------------------------

    def on(self, event: DeskEvent, now: datetime) -> list[Action]:
        """The actions for `event`, in order: at most one `Commit` first (everything the event changed, for one
        durable commit), then the commands, bus messages, timers and log lines. A sell the inventory fence refuses
        never appears (it is ended as not sent, and what that decides follows in its place)."""
        return self.finish(self._decide(event, now), now)

    def restore(self, snapshot: JournalSnapshot) -> str:
        """Rebuild the books from the journal at a (re)start (`crocbot.core.desk.restore`); a summary (empty: nothing
        to rebuild). Entries that were waiting for their first fill are cancelled by the first reconciliation."""
        summary, self._stale_entries = restore(self, snapshot)
        return summary

    def take_stale_entries(self) -> list[tuple[str, str]]:
        taken, self._stale_entries = self._stale_entries, []
        return taken

    def reconcile(
        self, plan: Plan, policy: ForeignOrderPolicy, now: datetime, *, startup: bool, journaled: frozenset[str]
    ) -> tuple[list[Action], list[str]]:
        """Apply a reconciliation plan (`crocbot.core.desk.reconciliation`): its actions, with one `Commit` of every
        record first, and what was done, one line per kind of change."""
        actions, done = apply_plan(self, plan, policy, now, startup=startup, journaled=journaled)
        records = tuple(r for a in actions if isinstance(a, Commit) for r in a.records)
        rest: list[Action] = [a for a in actions if not isinstance(a, Commit)]
        return ([Commit(records), *rest] if records else rest), done

    def books_view(self) -> BooksView:
        """The books for a reconciliation to compare with the venue's."""
        return books_view(self)

    def _decide(self, event: DeskEvent, now: datetime) -> list[Action]:
        if isinstance(event, FillSeen):
            fill = event.fill
            order = self.orders.get(fill.cl_ord_id)
            position_id = order.position_id if order is not None else None
            actions: list[Action] = []
            if not event.journaled:
                actions.append(Record(RecordFill(fill, position_id, event.backfilled)))
            # A fill the journal held before is booked, but for those a crash kept from the ledger (the restore names
            # them); without the journal's word, the ledger knows its recent fills.
            if not self.ledger.booked(fill.fill_id, journaled=event.journaled):
                actions += self.on_fill(fill, now)
            return actions
        if isinstance(event, OrderEvent):
            known = [Record(RecordEvent(event))] if event.cl_ord_id in self.orders else []
            return [*known, *self.on_order_event(event, now)]
        if isinstance(event, OrderAmended):
            known = [Record(RecordAmend(event))] if event.cl_ord_id in self.orders else []
            return [*known, *self.on_amended(event, now)]
        if isinstance(event, Submitted):
            self.submitted(event.cl_ord_id, now)
            order = self.orders[event.cl_ord_id]
            self.sending(Submit(order.intent), now)
            return []
        if isinstance(event, NotSent):
            return self.not_sent_at_all(event.command, event.why, now)
        if isinstance(event, Signal):
            return self.on_signal(event, now)
        if isinstance(event, ExitRequest):
            return self.on_exit_request(event, now)
        if isinstance(event, StopAmendRequest):
            return self.on_stop_amend(event, now)
        if isinstance(event, CommandRejected):
            return self.on_command_rejected(event, now)
        if isinstance(event, CommandUnknown):
            return self.on_command_unknown(event, now)
        if isinstance(event, OrderLookedUp):
            return self.on_order_looked_up(event, now)
        if isinstance(event, EntryTTL):
            return self.on_entry_ttl(event, now)
        if isinstance(event, StopBudgetDue):
            return self.on_stop_budget(event, now)
        return self.on_lookup_due(event, now)

    def finish(self, decided: list[Action], now: datetime) -> list[Action]:
        """Gather the records into one `Commit` ahead of the rest, and hold every sell and size amend to the
        inventory fence just before it goes out; the amends and cancels that go are charged to their pair's
        trading counter (an order, once the router has sent it: `Submitted`)."""
        records: list[JournalRecord] = []
        rest: list[Action] = []
        todo = deque(decided)
        while todo:
            action = todo.popleft()
            if isinstance(action, Record):
                records.append(action.message)
                continue
            if isinstance(action, Submit | Amend) and (breach := self.fence(action)) is not None:
                # A sell beyond what crocbot owns never reaches the venue. It means the books lost track of what
                # holds the coins, which no test or demo run may ever show: CRITICAL, counted, and the order refused.
                if isinstance(action, Submit):
                    cl_ord_id, symbol = action.intent.cl_ord_id, action.intent.symbol
                    # not journaled, and the cancels of the stops it was to replace stay unsent with it
                    records = [
                        r for r in records if not (isinstance(r, RecordIntent) and r.intent.cl_ord_id == cl_ord_id)
                    ]
                    rest = [a for a in rest if not (isinstance(a, Cancel) and a.cl_ord_id in action.after_cancels)]
                else:
                    cl_ord_id, symbol = action.cl_ord_id, action.symbol
                self.fenced += 1
                rest.append(Note("CRITICAL", f"{cl_ord_id} not sent: {breach}", symbol))
                todo.extendleft(reversed(self.not_sent_at_all(action, breach, now)))
                continue
            if isinstance(action, Amend | Cancel):
                self.sending(action, now)
            rest.append(action)
        return [Commit(tuple(records)), *rest] if records else rest

    def take_fenced(self) -> int:
        """The sells the inventory fence refused since the last call (the router counts them in its metrics)."""
        taken, self.fenced = self.fenced, 0
        return taken

    # -- money ----------------------------------------------------------------------------------------

    def on_mark(self, symbol: str, price: Decimal) -> None:
        self.marks[symbol] = price

    def _marks(self) -> dict[str, Decimal]:
        marks = dict(self.marks)
        for symbol in self.ledger.symbols():
            if symbol not in marks:
                entry = self.ledger.average_entry(symbol)
                if entry is not None:
                    marks[symbol] = entry  # no price seen yet: value it at cost rather than refuse
        return marks

    def equity(self) -> Decimal:
        return self.ledger.equity(self._marks())

    def unrealized(self) -> Decimal:
        return self.ledger.unrealized(self._marks())

    def exposure(self) -> dict[str, Decimal]:
        marks = self._marks()
        return {s: abs(self.ledger.position(s)) * marks[s] for s in self.ledger.symbols() if self.ledger.position(s)}

    def _saves(self) -> list[Action]:
        return [
            Record(SaveState(LEDGER_KEY, self.ledger.to_state())),
            Record(SaveState(RISK_KEY, self.risk.state().to_state())),
        ]

    # -- entries --------------------------------------------------------------------------------------

    def _refuse(self, label: str) -> None:
        self.refused[label] = self.refused.get(label, 0) + 1

    def take_refused(self) -> dict[str, int]:
        """The entries refused since the last call, by label (the router counts them in its metrics)."""
        taken, self.refused = self.refused, {}
        return taken

    def _count_end(self, order: TrackedOrder, before: OrderStatus) -> None:
        # A terminal status has no way out, so an order crosses into one exactly once: counted here, whatever
        # brought it (a venue event, a fill, a lookup, reconciliation, the fence). `unknown` is no end: an order
        # that was unknown is counted when it ends.
        if order.status.is_terminal and not before.is_terminal:
            self.ended[order.status] = self.ended.get(order.status, 0) + 1

    def take_ended(self) -> dict[OrderStatus, int]:
        """The orders ended since the last call, each once, by how (the router counts them in its metrics)."""
        taken, self.ended = self.ended, {}
        return taken

    def on_signal(self, signal: Signal, now: datetime) -> list[Action]:
        self.risk.roll_day(now, self.equity())
        symbol = signal.symbol
        instrument = self.instruments.get(symbol)
        if instrument is None:
            return [Note("WARNING", f"signal for {symbol}, which crocbot does not trade", symbol)]
        if symbol in self.by_symbol:
            return []  # one position per symbol: a new signal while in the market changes nothing
        if signal.side is not PositionSide.LONG:
            self._refuse("short")
            return [Note("INFO", "short signal ignored: spot trading is long only", symbol)]
        active = sum(1 for p in self.positions.values() if not p.closed)
        refusal = self.risk.check_entry(symbol, now=now, open_positions=active)
        if refusal is not None:
            self._refuse(refusal.label)
            return [Note("INFO", f"entry refused: {refusal.reason}", symbol)]
        sizing = self.risk.size_entry(
            signal, equity=self.equity(), instrument=instrument, open_exposure=self.exposure(), now=now
        )
        if isinstance(sizing, Refusal):
            self._refuse(sizing.label)
            return [Note("INFO", f"entry refused: {sizing.reason}", symbol)]
        market = self.config.entry_order == "market"
        cl_ord_id = self.ids.new(OrderPurpose.ENTRY, now)
        intent = OrderIntent(
            cl_ord_id=cl_ord_id,
            symbol=symbol,
            side=Side.BUY,
            order_type=OrderType.MARKET if market else OrderType.LIMIT,
            qty=sizing.qty,
            purpose=OrderPurpose.ENTRY,
            ts=now,
            limit_price=None if market else quantize_down(signal.entry, instrument.price_increment),
        )
        position_id = "p" + cl_ord_id[3:]
        self.positions[position_id] = PositionState(
            position_id,
            symbol,
            PositionSide.LONG,
            cl_ord_id,
            initial_stop=signal.stop,
            stop=signal.stop,
            take_profit=signal.take_profit,
            strategy=signal.strategy,
            intended_entry=signal.entry,
        )
        self.by_symbol[symbol] = position_id
        self.orders[cl_ord_id] = TrackedOrder(intent, position_id)
        reason = f"{signal.strategy}: {signal.reason}".strip(": ")
        brackets = EntryBrackets(signal.stop, signal.take_profit, signal.strategy, signal.entry)
        actions: list[Action] = [Record(RecordIntent(intent, position_id, reason, brackets)), Submit(intent)]
        if not market:
            actions.append(StartTimer(self.config.limit_ttl, EntryTTL(cl_ord_id, 1)))
        return actions

    def on_entry_ttl(self, timer: EntryTTL, now: datetime) -> list[Action]:
        order = self.orders.get(timer.cl_ord_id)
        if order is None:
            return []
        if order.status in (OrderStatus.SUBMITTED, OrderStatus.UNKNOWN):
            # not acknowledged yet: look again later, or an entry acked late would rest forever
            return [StartTimer(self.config.limit_ttl, EntryTTL(order.cl_ord_id, timer.attempt))]
        if order.status not in (OrderStatus.ACKED, OrderStatus.PARTIALLY_FILLED):
            return []
        instrument = self.instruments[order.symbol]
        position = self.positions.get(order.position_id or "")
        current = order.limit_price  # the last price the venue confirmed
        if (
            timer.attempt > self.config.max_repositions
            or current is None
            or position is None
            or position.exiting
            or position.closed
        ):
            return [Cancel(order.cl_ord_id, order.symbol, now)]
        chased = _up_to_grid(current * (1 + self.config.chase_step), instrument.price_increment)
        if chased == current:
            chased = current + instrument.price_increment
        refusal = self.risk.check_stop(
            side=position.side,
            qty=order.qty,
            entry=chased,
            stop=position.initial_stop,
            equity_at_entry=self.equity(),
            instrument=instrument,
        )
        if refusal is not None:
            note = Note("INFO", f"entry {order.cl_ord_id} not chased further: {refusal.reason}", order.symbol)
            return [note, Cancel(order.cl_ord_id, order.symbol, now)]
        # the new price is the order's only once the venue confirms it (`on_amended`)
        return [
            Amend(order.cl_ord_id, order.symbol, now, limit_price=chased),
            StartTimer(self.config.limit_ttl, EntryTTL(order.cl_ord_id, timer.attempt + 1)),
        ]

    # -- order events ---------------------------------------------------------------------------------

    def submitted(self, cl_ord_id: str, now: datetime) -> None:
        """The intent is journaled and on its way."""
        self.orders[cl_ord_id].move(OrderStatus.SUBMITTED, now)

    def not_sent(self, cl_ord_id: str, now: datetime, why: str) -> list[Action]:
        """Journaling the intent failed: nothing was sent, and nothing may be."""
        order = self.orders[cl_ord_id]
        before = order.status
        order.move(OrderStatus.REJECTED, now, why)
        self._count_end(order, before)
        return self._order_ended(order, OrderStatus.REJECTED, now, why)

    def on_order_event(self, event: OrderEvent, now: datetime) -> list[Action]:
        self.stop_updates.answered(event.cl_ord_id, now, ended=event.status.is_terminal)
        order = self.orders.get(event.cl_ord_id)
        if order is None:
            return [Note("WARNING", f"venue event {event.status} for unknown order {event.cl_ord_id}")]
        if event.order_id:
            order.venue_id = event.order_id
        before = order.status
        try:
            changed = order.move(event.status, event.ts, event.reason)
        except IllegalTransition as error:
            return [Note("ERROR", str(error), order.symbol)]
        self._count_end(order, before)
        if not changed:
            return []
        if event.status is OrderStatus.ACKED and order.purpose is OrderPurpose.STOP:
            return self._stop_live(order, event.ts)
        if event.status in _ENDED:
            return self._order_ended(order, event.status, now, event.reason)
        return []

    def _stop_live(self, order: TrackedOrder, ts: datetime) -> list[Action]:
        position = self.positions.get(order.position_id or "")
        if position is None or position.stop_order != order.cl_ord_id or position.closed:
            return []
        position.stop_live = True
        position.refusals = 0
        stop = RecordStop(position.position_id, position.stop, position.stop_kind, ts, order.cl_ord_id)
        # a stop wished for while this order was on its way goes out now that it can be amended
        wished = self.stop_updates.send_next(self, position, ts)
        return [Record(stop), Emit(PositionChanged(position.message())), *wished]

    def _order_ended(self, order: TrackedOrder, status: OrderStatus, now: datetime, reason: str = "") -> list[Action]:
        position = self.positions.get(order.position_id or "")
        if position is None:
            return []
        symbol = order.symbol
        if order.purpose is OrderPurpose.ENTRY:
            if position.qty == 0:
                self._drop(position)
                level = "WARNING" if status is OrderStatus.REJECTED else "INFO"
                return [Note(level, f"entry {order.cl_ord_id} {status} ({reason or 'no reason'}): no position", symbol)]
            return []
        if order.purpose is OrderPurpose.STOP:
            asked = order.cl_ord_id in self.stop_cancels
            self.stop_cancels.discard(order.cl_ord_id)
            if position.stop_order not in (None, order.cl_ord_id):
                return []  # an earlier stop order: the current one protects the position
            position.stop_order, position.stop_live = None, False
            if not position.open or position.exiting:
                return []
            if asked and status is OrderStatus.CANCELLED:
                # cancelled for an exit that has failed since: protect what is left again, do not sell into the
                # market that just refused the exit (the SL manager may ask again)
                text = f"stop {order.cl_ord_id} cancelled for an exit that failed: placing it again"
                return [
                    Note("WARNING", text, symbol),
                    *self._place_stop(position, now),
                    Emit(PositionChanged(position.message())),
                ]
            if reason == NEVER_SENT:
                # crocbot died between journaling it and sending it: the venue refused nothing, so the position is
                # protected now, not sold (an exit at start-up would pay fees and slippage for a crash of ours)
                text = f"stop {order.cl_ord_id} was never sent (crocbot stopped first): placing it now"
                return [
                    Note("WARNING", text, symbol),
                    *self._place_stop(position, now),
                    Emit(PositionChanged(position.message())),
                ]
            why = f"protective stop {order.cl_ord_id} {status} ({reason or 'no reason'})"
            if status is OrderStatus.REJECTED:
                position.refusals += 1
                if position.refusals >= _MAX_REFUSALS:
                    return self._give_up(position, why, now)
            return [Note("CRITICAL", f"{why}: exiting the position", symbol), *self._exit(position, why, now)]
        if order.cl_ord_id in position.exit_orders:
            position.exit_orders.remove(order.cl_ord_id)
        if not position.open:
            return []
        if reason == HELD_BACK:
            # The venue could not cancel the stop, so it did not send the exit: the stop has filled or is filling,
            # and its fill closes the position. Nothing to place and nothing to sell while the stop still works;
            # should it end otherwise later, its own event says so and the position is exited then.
            text = f"exit {order.cl_ord_id} not sent: its stop could not be cancelled (filled or filling)"
            if position.exit_orders:
                return [Note("INFO", text, symbol)]
            position.exiting = False
            if position.stop_order is None:
                # The stop's end came first and did not close the position (no liquidity, a part left, expired):
                # nothing protects what is left and nothing was sold, so the exit goes now, with no stop to wait for.
                why = f"exit {order.cl_ord_id} held back behind a stop that has ended without closing the position"
                return [Note("WARNING", why, symbol), *self._exit(position, why, now)]
            return [Note("INFO", text, symbol), Emit(PositionChanged(position.message()))]
        # rejected, or cancelled / expired / in error before it closed the position (no liquidity); or never sent
        never_sent = reason == NEVER_SENT  # crocbot died first: not a refusal by the venue
        level = "WARNING" if never_sent else "ERROR"
        actions: list[Action] = [Note(level, f"exit {order.cl_ord_id} {status}: {reason}", symbol)]
        if position.exit_orders:
            return actions  # another exit of the position is still working
        if status is OrderStatus.REJECTED and not never_sent:
            position.refusals += 1
            if position.refusals >= _MAX_REFUSALS:
                position.exiting = False
                return [*actions, *self._give_up(position, f"exit {order.cl_ord_id} rejected ({reason})", now)]
        # Protected again: the stop stays (if its cancel went out with the exit, it is placed again once that
        # lands) or is placed again now for what is left. The SL manager sees `exiting` go and may ask again.
        position.exiting = False
        if position.stop_order is None:
            actions += self._place_stop(position, now)
        actions.append(Emit(PositionChanged(position.message())))
        return actions

    def on_amended(self, event: OrderAmended, now: datetime) -> list[Action]:
        self.stop_updates.answered(event.cl_ord_id, now)
        position, asked = self._stop_in_flight(event.cl_ord_id)
        actions = self._amended(event, now)
        if position is not None and asked is not None and position.pending_stop is None:
            actions += self.stop_updates.ended(self, position, asked, now)  # the next wish, if it is still worth it
        return actions

    def _stop_in_flight(self, cl_ord_id: str) -> tuple[PositionState | None, tuple[Decimal, StopKind] | None]:
        """The position whose stop order `cl_ord_id` is, and the level its amend in flight asks for (if any)."""
        order = self.orders.get(cl_ord_id)
        position = self.positions.get(order.position_id or "") if order is not None else None
        if position is None or position.stop_order != cl_ord_id:
            return None, None
        return position, position.pending_stop

    def _amended(self, event: OrderAmended, now: datetime) -> list[Action]:
        order = self.orders.get(event.cl_ord_id)
        if order is None:
            return []
        try:
            order.amended(event.ts, qty=event.qty, limit_price=event.limit_price, trigger_price=event.trigger_price)
        except IllegalTransition as error:  # the confirmation came after the order ended
            return [Note("ERROR", str(error), order.symbol)]
        position = self.positions.get(order.position_id or "")
        if order.purpose is not OrderPurpose.STOP or position is None or position.closed:
            return []
        trigger = event.trigger_price
        if trigger is None or position.stop_order != order.cl_ord_id:
            return []  # a size-only amend (a trigger amend may still be in flight), or a stop no longer in use
        long = position.side is PositionSide.LONG
        pending = position.pending_stop
        kind = StopKind.TRAILING  # a move crocbot is not waiting for
        if pending is not None:
            if trigger == pending[0]:
                position.pending_stop, kind = None, pending[1]
            elif trigger != position.stop and not (pending[0] > trigger if long else pending[0] < trigger):
                position.pending_stop = None  # the venue moved it past what was asked: nothing more to wait for
            # else a size-only amend's confirmation (the venue repeats the trigger), or an older trigger amend's:
            # the newest is still in flight
        if trigger == position.stop:
            return []
        if trigger < position.initial_stop if long else trigger > position.initial_stop:
            text = f"stop {order.cl_ord_id} confirmed at {fmt(trigger)}, looser than the initial stop"
            return [Note("ERROR", f"{text} {fmt(position.initial_stop)}: not taken", order.symbol)]
        position.stop, position.stop_kind = trigger, kind
        _tighten_initial(position)
        record = RecordStop(position.position_id, position.stop, position.stop_kind, event.ts, order.cl_ord_id)
        return [Record(record), Emit(PositionChanged(position.message()))]

    def on_command_rejected(self, event: CommandRejected, now: datetime) -> list[Action]:
        updates = self.stop_updates
        updates.answered(event.cl_ord_id, now)
        order = self.orders.get(event.cl_ord_id)
        symbol = order.symbol if order is not None else None
        position, asked = self._stop_in_flight(event.cl_ord_id)
        if position is not None and event.command == "amend":
            position.pending_stop = None  # the trigger amend in flight (if any) is not coming
        if event.command == "cancel":
            self.stop_cancels.discard(event.cl_ord_id)  # not cancelled by us after all: still live, or gone
        if event.reason == RATE_LIMITED and symbol is not None:
            updates.counter.exceeded(symbol, now)  # Kraken's counter is full, whatever the estimate said
        level = "INFO" if event.reason == "EOrder:Invalid order" else "WARNING"  # an order already gone
        actions: list[Action] = [Note(level, f"{event.command} of {event.cl_ord_id} refused: {event.reason}", symbol)]
        if position is None or symbol is None:
            return actions
        if event.command == "amend" and asked is not None:
            if updates.refused(position, asked, event.reason) and event.reason == UNSENT:
                # nothing reached the venue (queue full, breaker open): the same wish, after a pause, not at once
                return [*actions, *updates.wait_for(position, updates.retry, now)]
            actions += updates.send_next(self, position, now)
        return [*actions, *updates.drain(self, symbol, now)]

    def on_command_unknown(self, event: CommandUnknown, now: datetime) -> list[Action]:
        """A cancel, amend or lookup got no answer by its deadline: it may have taken effect or not. The order is
        looked up; an amend of a stop stays in flight until the lookup says how it ended."""
        return self.stop_updates.unknown(self, event, now)

    def on_lookup_due(self, timer: LookupDue, now: datetime) -> list[Action]:
        return self.stop_updates.lookup_due(self, timer, now)

    def on_order_looked_up(self, event: OrderLookedUp, now: datetime) -> list[Action]:
        """The venue's word on an order whose cancel or amend got no answer: its terms are applied as the events
        that were lost with the answer (an amend that took effect, an order that ended); an amend of a stop that did
        not take effect ends there, and the newest wish goes out."""
        updates = self.stop_updates
        order = self.orders.get(event.cl_ord_id)
        if order is None or not updates.looking_up(event.cl_ord_id):
            return []  # an answer nobody waits for (a lookup asked twice)
        updates.looked_up(event.cl_ord_id)
        updates.answered(event.cl_ord_id, now)
        position, asked = self._stop_in_flight(event.cl_ord_id)
        symbol = order.symbol
        actions: list[Action] = []
        status = event.status
        if status is None:
            actions.append(Note("ERROR", f"the venue does not know {order.cl_ord_id}: left to reconciliation", symbol))
        elif not status.is_terminal:
            amended = OrderAmended(
                order.cl_ord_id,
                event.ts,
                qty=event.qty if event.qty is not None and event.qty != order.qty else None,
                limit_price=event.limit_price if event.limit_price != order.limit_price else None,
                trigger_price=event.trigger_price if event.trigger_price != order.trigger_price else None,
            )
            if amended.qty is not None or amended.limit_price is not None or amended.trigger_price is not None:
                actions += [Record(RecordAmend(amended)), *self._amended(amended, now)]
            if order.cl_ord_id in self.stop_cancels and order.purpose is OrderPurpose.STOP:
                # a cancel without an answer that did not take effect: the stop still rests and protects
                actions += self.on_command_rejected(CommandRejected(order.cl_ord_id, "cancel", "looked up", now), now)
        elif status is not OrderStatus.FILLED:  # ended without the fills a lookup cannot carry: they come as fills
            ended = OrderEvent(order.cl_ord_id, status, event.ts, filled_qty=event.filled, reason="looked up")
            actions += [Record(RecordEvent(ended)), *self.on_order_event(ended, now)]
        if position is not None and asked is not None and position.pending_stop == asked:
            # The stop does not have what the amend asked for: it did not happen, and nothing happened to the stop.
            # The level is still wished for, unless a newer wish came meanwhile.
            position.pending_stop = None
            if position.wanted_stop is None:
                position.wanted_stop = asked
        if position is not None and asked is not None and position.pending_stop is None:
            actions += updates.ended(self, position, asked, now)
        return actions

    def on_stop_budget(self, timer: StopBudgetDue, now: datetime) -> list[Action]:
        """The pair's trading counter should have room again for the stop amends waiting for it."""
        return self.stop_updates.budget_due(self, timer, now)

    def sending(self, action: Action, now: datetime) -> None:
        """The router is sending `action` to the venue: the pair's trading counter is charged for it."""
        self.stop_updates.sending(self, action, now)

    # -- fills ----------------------------------------------------------------------------------------

    def on_fill(self, fill: Fill, now: datetime) -> list[Action]:
        if self.ledger.has_fill(fill.fill_id):
            return []  # booked lately: a replay (older ones are the journal's to spot, see `Ledger.booked`)
        order = self.orders.get(fill.cl_ord_id)
        if order is None:
            self.ledger.apply(fill)  # real money moved: keep the books right, the reconciler finds the order
            note = Note("CRITICAL", f"fill {fill.fill_id} for unknown order {fill.cl_ord_id}", fill.symbol)
            return [note, *self._saves()]
        actions: list[Action] = []
        before = order.status
        try:
            if not order.apply_fill(fill):
                return []
        except IllegalTransition as error:
            # An over-fill, or a fill after the venue said the order was done: the order's own record cannot
            # take it, but the money moved. Book it, and let the position and its stop follow the books.
            actions.append(Note("CRITICAL", f"{error}; booked all the same: the money moved", fill.symbol))
        self._count_end(order, before)
        trade = self.ledger.apply(fill)
        if order.status is OrderStatus.FILLED:
            self.stop_cancels.discard(order.cl_ord_id)  # a stop that fired before its cancel reached it
        position = self.positions.get(order.position_id or "")
        if position is None:
            if order.position_id in self.closed_positions:
                # crocbot died after journaling the position's close and before saving the ledger: the fill that
                # closed it comes back from the venue and is booked now; nothing else is left to do
                text = f"fill {fill.fill_id} closed position {order.position_id} before the restart: booked now"
                return [*actions, Note("INFO", text, fill.symbol), *self._saves()]
            actions.append(Note("CRITICAL", f"fill {fill.fill_id} for an order without a position", fill.symbol))
            return [*actions, *self._saves()]
        if order.purpose is OrderPurpose.ENTRY:
            if position.closed and position.opened_at is None:
                # the entry was given up (cancelled, no fill) before this fill arrived: the position lives after all
                position.closed = False
                self.by_symbol.setdefault(position.symbol, position.position_id)
            return [*actions, *self._entry_filled(position, fill, now), *self._saves()]
        return [*actions, *self._exit_filled(position, order, trade, fill, now), *self._saves()]

    def _entry_filled(self, position: PositionState, fill: Fill, now: datetime) -> list[Action]:
        symbol = position.symbol
        first = position.qty == 0
        position.qty = abs(self.ledger.position(symbol))
        position.entry_price = self.ledger.average_entry(symbol)
        instrument = self.instruments[symbol]
        assert position.entry_price is not None
        actions, through = self._fit_brackets(position, instrument)
        if through:  # the market is already past the stop: open the position (journaled, protected) and leave
            actions += self._open_or_change(position, fill, first)
            if not position.exiting:
                actions += self._exit(position, f"entry filled through the stop at {fmt(position.entry_price)}", now)
            return actions
        tightened: Decimal | None = None
        refusal = self.risk.check_stop(
            side=position.side,
            qty=position.qty,
            entry=position.entry_price,
            stop=position.stop,
            equity_at_entry=self.equity(),
            instrument=instrument,
        )
        if refusal is not None:
            # The fill came in worse than the signal's entry: tighten the stop to what the risk allows, or leave.
            limit = self.risk.limits.fail_safe_loss(self.equity())
            safer = widest_stop(
                position.side,
                qty=position.qty,
                entry=position.entry_price,
                max_loss=limit,
                instrument=instrument,
                slippage=self.risk.limits.slippage_allowance,
            )
            if safer is None:
                note = Note("CRITICAL", f"{refusal.reason}; no stop fits the risk limit, exiting", symbol)
                return [note, *self._open_or_change(position, fill, first), *self._exit(position, refusal.reason, now)]
            actions.append(Note("WARNING", f"entry filled worse than planned; stop tightened to {safer}", symbol))
            if position.stop_order is not None and safer > position.stop:
                tightened = safer  # the live stop moves once the venue confirms the amend below
            else:  # the stop is placed below at the new level, or already is at least as tight
                position.stop = max(position.stop, safer)
                position.initial_stop = max(position.initial_stop, safer)
        initial = position.initial_stop if tightened is None else max(position.initial_stop, tightened)
        self.ledger.register_initial_risk(symbol, position.qty * abs(position.entry_price - initial))
        if position.stop_order is None and self._dust(position, position.stop) is not None:
            # A first fill below Kraken's minimum order: no stop (nor exit) can be sent for it yet. It is journaled
            # and waits for the entry's next fills; the SL manager hears of it once it can be protected.
            actions += self._open_or_change(position, fill, first, announce=False)
            return [*actions, *self._place_stop(position, now)]
        actions += self._open_or_change(position, fill, first)
        if position.exiting:
            # an entry fill racing the exit: the stop is being cancelled (it would hold the base the exit sells);
            # the exit sells what it was sent for and `_exit_filled` the rest, or a failed exit protects it all
            return actions
        if position.stop_order is None and (open_stop := self._open_stop_order(position)) is not None:
            # Rebuilt after a crash before the stop's acknowledgement named it the position's: it is still the
            # position's stop. A second one would find the base held by the first and be refused (then: an exit).
            position.stop_order, position.stop_live = open_stop.cl_ord_id, open_stop.status is OrderStatus.ACKED
        if position.stop_order is None:
            actions += self._place_stop(position, now)
        elif tightened is not None:
            # The live stop moves only once the venue confirms (`on_amended` records it). An amend already in
            # flight is overtaken by this one (the newest wins), never loosened by it.
            pending = position.pending_stop
            if pending is not None and pending[0] > tightened:
                position.pending_stop = pending
            else:
                position.pending_stop = (tightened, StopKind.INITIAL)
            trigger = position.pending_stop[0]
            total = self._stop_total(position.stop_order, position.qty)
            actions.append(Amend(position.stop_order, symbol, now, qty=total, trigger_price=trigger))
        else:
            actions.append(
                Amend(position.stop_order, symbol, now, qty=self._stop_total(position.stop_order, position.qty))
            )
        return actions

    def _fit_brackets(self, position: PositionState, instrument: Instrument) -> tuple[list[Action], bool]:
        """Make the position describable (a `Position`) after an entry fill; True when it filled through the stop.

        A fill so near the take-profit that hitting it would not pay for the round trip (both fees and the
        slippage allowance), or beyond it, drops the take-profit (the stop still protects it). A fill at or
        through the initial stop means the market is already past it: the stop is recorded one tick on the safe
        side of the entry, so that the position can be journaled and protected while it is exited at once.
        """
        entry = position.entry_price
        assert entry is not None
        long = position.side is PositionSide.LONG
        symbol = position.symbol
        actions: list[Action] = []
        target = position.take_profit
        costs = TradeCosts.of(
            taker_fee=instrument.taker_fee,
            maker_fee=instrument.maker_fee,
            slippage=self.risk.limits.slippage_allowance,
        )
        if target is not None and costs.net_reward(position.side, entry, target) <= 0:
            position.take_profit = None
            text = (
                f"entry {fmt(entry)}: hitting the take-profit {fmt(target)} would not pay for the round trip's fees "
                "and slippage: take-profit dropped"
            )
            actions.append(Note("WARNING", text, symbol))
        planned = position.initial_stop
        if planned < entry if long else planned > entry:
            return actions, False
        tick = instrument.price_increment
        stop = _down_to_grid(entry - tick, tick) if long else _up_to_grid(entry + tick, tick)
        if stop <= 0:
            stop = entry / 2  # an entry within a tick of zero: any positive level below it will do
        position.stop = position.initial_stop = stop
        position.stop_kind, position.pending_stop = StopKind.INITIAL, None
        actions.append(
            Note(
                "CRITICAL",
                f"entry {fmt(entry)} is at or through the stop {fmt(planned)}: the market is already past it; stop "
                f"recorded at {fmt(stop)}, exiting at once",
                symbol,
            )
        )
        return actions, True

    def _open_or_change(
        self, position: PositionState, fill: Fill, first: bool, *, announce: bool = True
    ) -> list[Action]:
        assert position.entry_price is not None
        if first:
            position.opened_at = fill.ts
            message = position.message()
            opened: list[Action] = [Record(RecordPositionOpened(message))]
            return [*opened, Emit(PositionOpened(message))] if announce else opened
        change: list[Action] = [Record(RecordPositionChanged(position.position_id, position.qty, position.entry_price))]
        return [*change, Emit(PositionChanged(position.message()))] if announce else change

    def _dust(self, position: PositionState, price: Decimal | None) -> str | None:
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

    def _place_stop(self, position: PositionState, now: datetime) -> list[Action]:
        dust = self._dust(position, position.stop)
        if dust is not None:  # Kraken would refuse it; an exit too: the position waits to grow (it risks its value)
            text = f"position {position.position_id}: no stop can be placed yet: {dust}"
            return [Note("WARNING", text, position.symbol)]
        if position.pending_stop is not None:
            # an amend of the previous stop order was in flight: the new order carries the level it asked for
            level, kind = position.pending_stop
            position.pending_stop = None
            long = position.side is PositionSide.LONG
            if level > position.stop if long else level < position.stop:
                position.stop, position.stop_kind = level, kind
                _tighten_initial(position)
        cl_ord_id = self.ids.new(OrderPurpose.STOP, now)
        intent = OrderIntent(
            cl_ord_id=cl_ord_id,
            symbol=position.symbol,
            side=position.side.exit_side,
            order_type=OrderType.STOP_LOSS,
            qty=position.qty,
            purpose=OrderPurpose.STOP,
            ts=now,
            trigger_price=position.stop,
        )
        self.orders[cl_ord_id] = TrackedOrder(intent, position.position_id)
        position.stop_order, position.stop_live = cl_ord_id, False
        reason = f"protective stop at {position.stop}"
        return [Record(RecordIntent(intent, position.position_id, reason)), Submit(intent)]

    def _exit_filled(
        self, position: PositionState, order: TrackedOrder, trade: ClosedTrade | None, fill: Fill, now: datetime
    ) -> list[Action]:
        symbol = position.symbol
        remaining = abs(self.ledger.position(symbol))
        if remaining > 0:
            position.qty = remaining
            actions: list[Action] = self._open_or_change(position, fill, first=False)
            stop = position.stop_order
            if order.purpose is OrderPurpose.STOP and not order.is_open and stop == order.cl_ord_id:
                # The stop sold all it was for, yet base is left (an entry fill raced its size amend): the stop level
                # was hit and nothing protects the rest, so the rest goes too (an exit already waiting on this stop's
                # cancel is held back, and sends it then).
                position.stop_order, position.stop_live = None, False
                if not position.exiting:
                    why = f"stop {order.cl_ord_id} filled but {fmt(remaining)} is still open"
                    actions += [Note("WARNING", f"{why}: exiting the rest", symbol), *self._exit(position, why, now)]
                return actions
            if order.purpose is not OrderPurpose.STOP and stop is not None and stop not in self.stop_cancels:
                actions.append(Amend(stop, symbol, now, qty=self._stop_total(stop, remaining)))
            if order.status is OrderStatus.FILLED and order.cl_ord_id in position.exit_orders:
                # The exit sold all it was sent for, yet base is left (an entry fill raced the exit): its stop is
                # cancelled, so the rest must go too, or it would sit unprotected with the position `exiting`.
                position.exit_orders.remove(order.cl_ord_id)
                if not position.exit_orders:
                    position.exiting = False
                    why = f"exit {order.cl_ord_id} filled but {fmt(remaining)} is still open"
                    rest = self._exit(position, why, now, position.exit_reason)  # the rest goes for the same reason
                    actions += [Note("WARNING", f"{why}: exiting the rest", symbol), *rest]
            return actions
        position.qty, position.closed = remaining, True
        self.by_symbol.pop(symbol, None)
        actions = []
        for other in self._live_orders(position):
            # A market order never rests, so a cancel cannot reach it (an exit held back behind a stop that filled
            # is not sent at all): only resting orders are cancelled.
            if other.cl_ord_id != order.cl_ord_id and other.intent.order_type is not OrderType.MARKET:
                actions.append(Cancel(other.cl_ord_id, symbol, now))
        context = None
        if trade is not None:
            instrument = self.instruments.get(symbol)
            if instrument is not None:
                context = trade_context(position, order, instrument, self.equity())
                actions.append(Note("INFO", trade_summary(trade, context, instrument.quote), symbol))
            for event in self.risk.on_trade_closed(trade, now=now, equity=self.equity()):
                # a cooldown after a loss is trading as usual; the kill switch is what an operator must see
                loud = event.startswith(("kill switch", "flatten_on_kill_switch"))
                actions.append(Note("WARNING" if loud else "INFO", event, symbol))
        actions += [
            Record(RecordPositionClosed(position.position_id, fill.ts, trade, context)),
            Emit(PositionClosed(position.position_id, symbol, fill.ts, trade)),
        ]
        if self.risk.should_flatten:
            actions += self.flatten("kill switch", now)
        return actions

    def _live_orders(self, position: PositionState) -> list[TrackedOrder]:
        return [o for o in self.orders.values() if o.position_id == position.position_id and o.is_open]

    # -- exits and stops ------------------------------------------------------------------------------

    def on_exit_request(self, request: ExitRequest, now: datetime) -> list[Action]:
        position = self.positions.get(request.position_id)
        if position is None or not position.open or position.exiting:
            return []
        return [
            Note("INFO", f"exit {position.position_id}: {request.reason}", position.symbol),
            *self._exit(position, request.reason, now, request.kind),
        ]

    def _exit(self, position: PositionState, why: str, now: datetime, kind: ExitReason | None = None) -> list[Action]:
        """Sell the position at market. `kind` is what the trade log names the exit; None: the stop level."""
        symbol = position.symbol
        dust = self._dust(position, self.marks.get(symbol, position.entry_price))
        if dust is not None:  # Kraken would refuse the sale: nothing to send, and nothing to cancel for it
            return [Note("WARNING", f"position {position.position_id} cannot be sold ({why}): {dust}", symbol)]
        position.exiting = True
        position.exit_reason, position.exit_detail = kind, why
        # The stop first: on Kraken it holds the base the exit sells. The exit goes out only once the venue has
        # confirmed that cancel: a stop that filled (or is filling) meanwhile has sold the position already, and
        # an exit beside it would sell coins the bot does not own.
        actions: list[Action] = []
        stops: list[str] = []
        for order in self._live_orders(position):
            if order.purpose in (OrderPurpose.STOP, OrderPurpose.ENTRY):
                actions.append(Cancel(order.cl_ord_id, symbol, now))
                if order.purpose is OrderPurpose.STOP:
                    self.stop_cancels.add(order.cl_ord_id)
                    stops.append(order.cl_ord_id)
        cl_ord_id = self.ids.new(OrderPurpose.EXIT, now)
        intent = OrderIntent(
            cl_ord_id=cl_ord_id,
            symbol=symbol,
            side=position.side.exit_side,
            order_type=OrderType.MARKET,
            qty=position.qty,
            purpose=OrderPurpose.EXIT,
            ts=now,
        )
        self.orders[cl_ord_id] = TrackedOrder(intent, position.position_id)
        position.exit_orders.append(cl_ord_id)
        actions += [Record(RecordIntent(intent, position.position_id, f"exit: {why}")), Submit(intent, tuple(stops))]
        return actions

    def flatten(self, why: str, now: datetime) -> list[Action]:
        actions: list[Action] = []
        for position in list(self.positions.values()):
            if position.open and not position.exiting:
                actions += self._exit(position, why, now, ExitReason.MANUAL)
        return actions

    def on_stop_amend(self, request: StopAmendRequest, now: datetime) -> list[Action]:
        """The SL manager wants a tighter stop: sent now, or when the amend in flight ends, or when the pair's
        trading counter has room; a newer wish replaces one not sent yet (`crocbot.core.desk.stop_updates`)."""
        return self.stop_updates.desire(self, request, now)

    # -- start-up -------------------------------------------------------------------------------------

    def resume(self, now: datetime) -> list[Action]:
        """Carry on once the desk is rebuilt from the journal (`crocbot.actors.router_restore`), before anything
        else reaches it: every open position is protected by a stop order, and announced to the SL manager.

        An exit still in flight after the start-up reconciliation (the venue has it and has not acted yet) is the
        position's exit: it went out behind the cancel of the position's stops, so they are being cancelled for it,
        and a stop or a second exit beside it would sell the coins twice. Its outcome comes from the venue as for any
        exit: its fill closes the position, its failure protects the position again.
        """
        actions: list[Action] = []
        for position in list(self.positions.values()):
            if not position.open or position.entry_price is None or position.opened_at is None:
                continue
            symbol = position.symbol
            live = self._live_orders(position)
            position.exit_orders = [o.cl_ord_id for o in live if o.purpose is OrderPurpose.EXIT]
            position.exiting = bool(position.exit_orders)
            if position.exiting:
                self.stop_cancels.update(o.cl_ord_id for o in live if o.purpose is OrderPurpose.STOP)
                text = f"exit {', '.join(position.exit_orders)} of {position.position_id} is still in flight"
                actions += [Note("INFO", text, symbol), Emit(PositionChanged(position.message()))]
                continue
            instrument = self.instruments.get(symbol)
            if instrument is not None:
                notes, through = self._fit_brackets(position, instrument)  # a journal the desk could not describe
                actions += notes
                if through:
                    actions += self._exit(position, f"restored through its stop at {fmt(position.entry_price)}", now)
                    actions.append(Emit(PositionChanged(position.message())))
                    continue
            if position.stop_order is None:
                adopted = self._open_stop_order(position)
                if adopted is not None:  # sent, but its stop was not journaled as the position's before the crash
                    position.stop_order = adopted.cl_ord_id
                    position.stop_live = adopted.status is OrderStatus.ACKED
            if position.stop_order is None:
                text = f"position {position.position_id} has no stop order after the restart: placing one at"
                actions.append(Note("WARNING", f"{text} {fmt(position.stop)}", symbol))
                actions += self._place_stop(position, now)
            else:
                actions += self._stop_covers(position, now)
            actions.append(Emit(PositionChanged(position.message())))
        return actions

    def _stop_total(self, stop: str, qty: Decimal) -> Decimal:
        """The size to amend stop order `stop` to so that it still sells `qty`: Kraken's amend sets the order's
        total, what it has filled included."""
        order = self.orders.get(stop)
        return qty + (order.filled if order is not None else Decimal(0))

    def _stop_covers(self, position: PositionState, now: datetime) -> list[Action]:
        """The stop order sells what the position holds: a size amend lost with a crashed process (journaled fill,
        amend not yet sent) would leave the rest of the position unprotected, and the venue agrees with the journal
        on the old size, so reconciliation cannot see it."""
        stop = self.orders.get(position.stop_order or "")
        if stop is None or not stop.is_open or stop.remaining == position.qty:
            return []
        text = (
            f"stop {stop.cl_ord_id} covers {fmt(stop.remaining)} of the position's {fmt(position.qty)} (a size amend "
            "lost in the restart): amending it"
        )
        amend = Amend(stop.cl_ord_id, position.symbol, now, qty=stop.filled + position.qty)
        return [Note("WARNING", text, position.symbol), amend]

    def _give_up(self, position: PositionState, why: str, now: datetime) -> list[Action]:
        text = (
            f"position {position.position_id}: the venue refused its stop or exit {position.refusals} times in a "
            f"row, last: {why}; no more orders for it and entries halted until reconciliation or a person settles it"
        )
        return [Note("CRITICAL", text, position.symbol), *self.set_safe(_UNPROTECTED, True, now)]

    def _open_stop_order(self, position: PositionState) -> TrackedOrder | None:
        stops = [o for o in self._live_orders(position) if o.purpose is OrderPurpose.STOP]
        return stops[-1] if stops else None

    # -- the inventory fence --------------------------------------------------------------------------

    def fence(self, action: Action) -> str | None:
        """Why sending `action` would sell more than crocbot holds and has not promised to its other sells, or None
        (`crocbot.core.fence`). The router asks for every order and amend, just before it goes out."""
        if isinstance(action, Submit):
            intent = action.intent
            if intent.side is not Side.SELL:
                return None
            symbol, cl_ord_id, qty, after = intent.symbol, intent.cl_ord_id, intent.qty, action.after_cancels
        elif isinstance(action, Amend) and action.qty is not None:
            order = self.orders.get(action.cl_ord_id)
            if order is None or order.intent.side is not Side.SELL:
                return None
            symbol, cl_ord_id, qty, after = order.symbol, order.cl_ord_id, action.qty - order.filled, ()
        else:
            return None
        sells = (
            OpenSell(o.cl_ord_id, o.remaining)
            for o in self.orders.values()
            if o.symbol == symbol and o.intent.side is Side.SELL and o.is_open
        )
        held = self.ledger.position(symbol)
        return fence_breach(symbol, cl_ord_id, qty, held=held, open_sells=sells, after_cancels=after)

    def not_sent_at_all(self, action: Submit | Amend, why: str, now: datetime) -> list[Action]:
        """The router did not send `action` (the fence refused it, or its intent could not be journaled). An order
        ends as refused (a stop refused like this is a refusal like the venue's: the position is exited, and after
        repeated refusals entries halt); the cancels it was to wait for were not sent either, so those stops still
        protect. An amend is refused like one the venue turned down."""
        if isinstance(action, Amend):
            return self.on_command_rejected(CommandRejected(action.cl_ord_id, "amend", why, now), now)
        for cl_ord_id in action.after_cancels:
            self.stop_cancels.discard(cl_ord_id)
        return self.not_sent(action.intent.cl_ord_id, now, why)

    # -- safety ---------------------------------------------------------------------------------------

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
        """Turn one safe-mode reason on or off. `detail` says what the check saw (which books, which error) and
        `symbol` whom it concerns; both go on the line only, so the reason stays one key however they change.
        `expected`: a state every start passes through (no market data yet), told at INFO: a WARNING on every
        healthy start teaches the operator to ignore the one that matters."""
        before = self.risk.safe_reasons
        self.risk.set_safe_mode(reason, on)
        after = self.risk.safe_reasons
        if before == after:
            return []
        level = "WARNING" if on and not expected else "INFO"
        check = f"{reason} ({detail})" if detail else reason
        if on:
            text = "safe mode on: " + ", ".join(check if held == reason else held for held in after)
        elif after:
            text = f"safe mode on: {', '.join(after)} ({check} cleared)"
        else:
            text = f"safe mode off: {check} cleared"
        return [Note(level, text, symbol), Emit(SafeModeChanged(bool(after), after, now))]

    def on_day_tick(self, now: datetime) -> list[Action]:
        tripped = self.risk.kill_switch_tripped
        self.risk.roll_day(now, self.equity())
        if tripped and not self.risk.kill_switch_tripped:
            return [Note("INFO", "a new UTC day: the kill switch is reset"), *self._saves()]
        return []

    def _drop(self, position: PositionState) -> None:
        position.closed = True
        if self.by_symbol.get(position.symbol) == position.position_id:
            del self.by_symbol[position.symbol]


def _up_to_grid(price: Decimal, increment: Decimal) -> Decimal:
    return ((price / increment).to_integral_value(rounding=ROUND_CEILING) * increment).quantize(increment)


def _tighten_initial(position: PositionState) -> None:
    """A stop of kind INITIAL is the initial stop tightened after a worse entry fill: once it is the position's
    stop (confirmed by the venue), it is its initial stop too, which R is measured from."""
    entry, stop = position.entry_price, position.stop
    if position.stop_kind is not StopKind.INITIAL or entry is None:
        return
    long = position.side is PositionSide.LONG
    if position.initial_stop < stop < entry if long else entry < stop < position.initial_stop:
        position.initial_stop = stop


def _down_to_grid(price: Decimal, increment: Decimal) -> Decimal:
    return ((price / increment).to_integral_value(rounding=ROUND_FLOOR) * increment).quantize(increment)
