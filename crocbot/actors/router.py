"""The order router: the only actor that changes orders. A thin shell over the desk's pure decisions.

Write-ahead: an order's intent is journaled (durably, by asking persistence) before the venue hears of it, and
every venue event is journaled before it changes the router's state. If the journal cannot be written, no entry
is sent, entries stop (safe mode) and the failure is loud. A journal that cannot take writes for now (a full disk,
a read-only file, persistence restarting) does not stop what protects money: the records it refused wait here, in
order, with every record after them, and are written again every few seconds; meanwhile fills are booked, stops
and exits still go out (each a CRITICAL line), and entries resume once everything waiting is journaled. On start
the router rebuilds its books from the journal: ledger, risk state (the kill switch survives restarts), open
positions and their orders.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pykka
from loguru import logger

from crocbot.actors.base import ChildContext, SupervisedActor
from crocbot.actors.messages import (
    SAFE_MODE_KEY,
    ApplyReconciliation,
    BooksSnapshot,
    LogFillAhead,
    OpenPositions,
    OrderView,
    PaperAccountSaved,
    PositionView,
    ReadJournal,
    RouterStatus,
    StatusReport,
    VenueRequest,
)
from crocbot.actors.router_reconcile import ReconcilingRouter
from crocbot.actors.router_restore import restore
from crocbot.core.books_status import BOOKS_KEY, books_document
from crocbot.core.desk import LEDGER_KEY, RISK_KEY, Desk, DeskConfig
from crocbot.core.desk_types import (
    Action,
    AmendOrder,
    CancelOrder,
    Emit,
    EntryTTL,
    LookupDue,
    Note,
    QueryOrder,
    Record,
    SendOrder,
    StartTimer,
    StopBudgetDue,
)
from crocbot.core.ids import ClientIds
from crocbot.core.ledger import Ledger
from crocbot.core.messages import (
    ActorEscalated,
    BreakerState,
    BreakerStateChanged,
    CommandRejected,
    CommandUnknown,
    ExitRequest,
    FeedHealth,
    Fill,
    OrderAmended,
    OrderEvent,
    OrderLookedUp,
    OrderPurpose,
    SafeModeChanged,
    Signal,
    StopAmendRequest,
)
from crocbot.core.messages.journal import LoadState, RecordAmend, RecordEvent, RecordFill, RecordIntent, SaveState
from crocbot.core.risk import RiskGate, RiskState
from crocbot.core.risk_sizing import RiskLimits
from crocbot.core.stop_updates import StopUpdates
from crocbot.core.trading_counter import TradingCounter
from crocbot.kraken.instruments import Instrument
from crocbot.kraken.ratelimit import TRADING_LIMITS, Tier, TradingLimits
from crocbot.kraken.wire import BookView
from crocbot.ops import failpoints
from crocbot.ops.metrics import METRICS, Metrics
from crocbot.store.journal import JournalUnwritable
from crocbot.store.tradelog import TradeLogError
from crocbot.venues.protocol import Amend, Cancel, Query, Submit, VenueCommand

__all__ = [
    "Router",
    "RouterStatus",
    "OpenPositions",
    "StatusReport",
    "PositionView",
    "OrderView",
    "BooksSnapshot",
    "ApplyReconciliation",
    "FENCE_METRIC",
    "STOP_UPDATES_METRIC",
    "money_gauges",
]

FENCE_METRIC = "crocbot_fence_breaches_total"
STOP_UPDATES_METRIC = "crocbot_stop_updates_total"

_ASK_TIMEOUT = 10.0
# Sticky for the life of the process: a supervisor that gave up means something keeps failing; an operator looks.
_ESCALATED = "a supervisor gave up (too many restarts); restart crocbot once the cause is fixed"
_DAY_TICK = 60.0  # event seconds between checks for a new UTC day
_BOOKS_EVERY = 10.0  # wall seconds between saves of the books document `crocbot status` reads
_MONEY_EVERY = timedelta(seconds=1)  # the equity gauges follow the marks this often at most
_JOURNAL_RETRY = 5.0  # event seconds between tries to write what the journal refused
_JOURNAL_FAILING = "journal failing"
_ACCOUNT_UNSAVED = "the paper account cannot be saved"
_WAITING = object()  # what `_write` answers for a record the journal could not take yet


def _journal_unavailable(error: BaseException) -> bool:
    """A failure that may pass (a full disk, a read-only file, persistence restarting), not a refused record."""
    return isinstance(error, JournalUnwritable | TradeLogError | RuntimeError | pykka.ActorDeadError | pykka.Timeout)


@dataclass(frozen=True, slots=True)
class _RetryJournal:
    """Timer: write the records the journal refused, in order."""


@dataclass(frozen=True, slots=True)
class _DayTick:
    pass


class Router(ReconcilingRouter, SupervisedActor):
    def __init__(
        self,
        ctx: ChildContext,
        instruments: Mapping[str, Instrument],
        limits: RiskLimits,
        config: DeskConfig,
        *,
        cash: Decimal,
        quote: str = "USD",
        persistence: str = "persistence",
        metrics: Metrics = METRICS,
        escalation: Callable[[], str | None] | None = None,
        trading: TradingLimits = TRADING_LIMITS[Tier.STARTER],
        books_every: float = _BOOKS_EVERY,
        wall: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(ctx)
        self._escalation = escalation  # what gave up earlier in this process (the health board keeps it), if any
        self._instruments = dict(instruments)
        self._limits = limits
        self._config = config
        self._cash = cash
        self._quote = quote
        self._persistence = persistence
        self._metrics = metrics
        self._money_at = datetime.min.replace(tzinfo=UTC)
        self._trading = trading  # Kraken's per-pair trading counter, which the desk paces stop amends by
        self._desk: Desk | None = None
        self._ready = False  # reconciled with the venue since the start
        self._feed_was_fresh = False  # until market data was first fresh, safe mode for it is start-up, not news
        self._stale_entries: list[tuple[str, str]] = []
        self._unwritten: deque[object] = deque()  # journal records refused for now, in order, oldest first
        self._retry_due = False
        self._last_data: dict[str, datetime] = {}  # when each symbol's book last came, for `crocbot status`
        # The books document for `crocbot status` is paced on wall time: it is I/O, and under a replay clock a pace
        # in event seconds would write it hundreds of times a second.
        self._books_every, self._wall = books_every, wall
        self._books_saved: float | None = None

    @property
    def desk(self) -> Desk:
        assert self._desk is not None
        return self._desk

    # -- start ----------------------------------------------------------------------------------------

    def started(self) -> None:
        ledger_state = self._ask(LoadState(LEDGER_KEY))
        risk_state = self._ask(LoadState(RISK_KEY))
        ledger = Ledger.from_state(ledger_state) if ledger_state else Ledger(quote=self._quote, cash=self._cash)
        risk = RiskGate(self._limits, RiskState.from_state(risk_state) if risk_state else None)
        self._desk = Desk(
            instruments=self._instruments,
            risk=risk,
            ledger=ledger,
            ids=ClientIds(self.services.rng),
            config=self._config,
            stop_updates=StopUpdates(TradingCounter(self._trading.threshold, self._trading.decay)),
        )
        restored, self._stale_entries = self._ask(ReadJournal(lambda journal: restore(self.desk, journal)))
        self.desk.on_day_tick(self.clock.now())
        if risk.kill_switch_tripped:
            logger.warning("kill switch still tripped after the restart: {}", risk.kill_reason)
        bus = self.services.bus
        for topic in (
            Signal,
            OrderEvent,
            Fill,
            OrderAmended,
            CommandRejected,
            CommandUnknown,
            OrderLookedUp,
            ExitRequest,
            StopAmendRequest,
            FeedHealth,
            BreakerStateChanged,
            ActorEscalated,
            PaperAccountSaved,
        ):
            bus.subscribe(topic, self.name)
        bus.subscribe_conflated(BookView, self.name, key=lambda view: view.symbol)
        escalated = self._escalation() if self._escalation is not None else None
        if escalated:  # e.g. the core gave up and was restarted with this router: entries stay halted
            self._run(self.desk.set_safe(_ESCALATED, True, self.clock.now()))
        self.services.scheduler.send_every(_DAY_TICK, self.actor_ref, _DayTick())
        self._publish_money(mark_only=False)  # the books as restored, before the first scrape asks
        if restored:
            logger.info("router rebuilt from the journal: {}", restored)
        # Not ready yet: the reconciler compares these books with the venue and then hands over its plan
        # (`ApplyReconciliation`); only then are stale entries cancelled, stops placed and entries taken.

    # -- messages -------------------------------------------------------------------------------------

    def handle(self, message: Any) -> Any:
        answer = self._handle(message)
        self._count_tallies()
        self._publish_money(type(message) is BookView)
        return answer

    def _publish_money(self, mark_only: bool) -> None:
        """Equity and unrealised P&L move with every mark: from book views at most once a second of event time,
        after anything else at once."""
        now = self.clock.now()
        if mark_only and now - self._money_at < _MONEY_EVERY:
            return
        self._money_at = now
        for name, value in money_gauges(self.desk).items():
            self._metrics.set(name, value)

    def _count_tallies(self) -> None:
        # The desk tallies what happened while it ran, whichever message (or reconciliation) brought it.
        for status, n in self.desk.take_ended().items():
            self._metrics.inc("crocbot_order_outcomes_total", n, labels={"outcome": str(status)})
        for outcome, n in self.desk.stop_updates.take_tally().items():
            self._metrics.inc(STOP_UPDATES_METRIC, n, labels={"outcome": str(outcome)})
        for reason, n in self.desk.take_refused().items():
            self._metrics.inc("crocbot_entries_refused_total", n, labels={"reason": reason})

    def _handle(self, message: Any) -> Any:
        desk = self.desk
        now = self.clock.now()
        if isinstance(message, BookView):
            if message.bids:
                desk.on_mark(message.symbol, message.bids[0][0])
            self._last_data[message.symbol] = now  # when it reached the money path (an exchange stamp may lag)
            self._save_books(now)
        elif isinstance(message, Fill):
            order = desk.orders.get(message.cl_ord_id)
            answer = self._write(RecordFill(message, order.position_id if order is not None else None))
            failpoints.hit("router.after_fill_journal")  # crash tests: journaled, not booked
            if answer is True:
                self._metrics.inc("crocbot_fills_total")
            # A fill the journal held before (False) is booked, but for those a crash kept from the ledger (the
            # restore names them); without the journal's word, the ledger knows its recent fills.
            if not desk.ledger.booked(message.fill_id, journaled=answer is False):
                self._run(desk.on_fill(message, now))
        elif isinstance(message, OrderEvent):
            if message.cl_ord_id in desk.orders:
                self._write(RecordEvent(message))
            self._run(desk.on_order_event(message, now))
        elif isinstance(message, OrderAmended):
            if message.cl_ord_id in desk.orders:
                self._write(RecordAmend(message))
            self._run(desk.on_amended(message, now))
        elif isinstance(message, CommandRejected):
            self._run(desk.on_command_rejected(message, now))
        elif isinstance(message, CommandUnknown):
            self._run(desk.on_command_unknown(message, now))
        elif isinstance(message, OrderLookedUp):
            self._run(desk.on_order_looked_up(message, now))
        elif isinstance(message, StopBudgetDue):
            self._run(desk.on_stop_budget(message, now))
        elif isinstance(message, LookupDue):
            self._run(desk.on_lookup_due(message, now))
        elif isinstance(message, Signal):
            if self._ready:
                self._run(desk.on_signal(message, now))
            else:
                self._metrics.inc("crocbot_entries_refused_total", labels={"reason": "not_ready"})
                logger.info(
                    "{} signal for {} ignored: start-up reconciliation is not done", message.side, message.symbol
                )
        elif isinstance(message, ExitRequest):
            self._run(desk.on_exit_request(message, now))
        elif isinstance(message, StopAmendRequest):
            self._run(desk.on_stop_amend(message, now))
        elif isinstance(message, EntryTTL):
            self._run(desk.on_entry_ttl(message, now))
        elif isinstance(message, FeedHealth):
            self._run(
                desk.set_safe(
                    "market data not fresh",
                    not message.fresh,
                    now,
                    detail="" if message.fresh else message.reason,
                    symbol=",".join(message.out_of_sync) or None,
                    expected=not self._feed_was_fresh,
                )
            )
            self._feed_was_fresh = self._feed_was_fresh or message.fresh
        elif isinstance(message, BreakerStateChanged):
            self._run(
                desk.set_safe(f"circuit breaker {message.name} open", message.current is not BreakerState.CLOSED, now)
            )
        elif isinstance(message, ActorEscalated):
            logger.critical(
                "supervisor {} gave up ({}): entries are halted; stops and exits carry on",
                message.supervisor,
                message.reason,
            )
            self._run(desk.set_safe(_ESCALATED, True, now))
        elif isinstance(message, _DayTick):
            self._run(desk.on_day_tick(now))
        elif isinstance(message, PaperAccountSaved):
            self._run(desk.set_safe(_ACCOUNT_UNSAVED, not message.saved, now))
        elif isinstance(message, _RetryJournal):
            self._retry_due = False
            self._retry_journal()
        elif isinstance(message, OpenPositions):
            return [p.message() for p in desk.positions.values() if p.open and p.entry_price is not None]
        elif isinstance(message, RouterStatus):
            return self._status_report()
        elif isinstance(message, BooksSnapshot):
            return self._books()
        elif isinstance(message, ApplyReconciliation):
            return self._apply(message)
        else:
            return super().handle(message)
        return None

    def _status_report(self) -> StatusReport:
        desk = self.desk
        positions = tuple(
            PositionView(
                p.position_id,
                p.symbol,
                p.qty,
                p.entry_price,
                p.stop,
                p.stop_live,
                p.take_profit,
                desk.marks.get(p.symbol),
            )
            for p in desk.positions.values()
            if p.open and p.entry_price is not None
        )
        orders = tuple(
            OrderView(
                o.cl_ord_id,
                o.symbol,
                str(o.purpose),
                str(o.intent.side),
                str(o.intent.order_type),
                o.intent.qty,
                o.filled,
                o.limit_price if o.limit_price is not None else o.trigger_price,
                str(o.status),
            )
            for o in desk.orders.values()
            if o.is_open
        )
        return StatusReport(
            desk.equity(),
            desk.ledger.realized(),
            len(positions),
            desk.risk.safe_reasons,
            desk.risk.kill_switch_tripped,
            self._ready,
            positions,
            orders,
            desk.risk.kill_reason or "",
            desk.stop_updates.busy(desk),
        )

    # -- carrying out the desk's actions --------------------------------------------------------------

    def _run(self, actions: list[Action]) -> None:
        bus = self.services.bus
        # Cancels and amends wait (in order) until the next order of these actions is journaled and go to the venue
        # in one request with it: an exit and the stop cancel before it cost the venue one durable save, not two.
        held: list[VenueCommand] = []
        for action in actions:
            if isinstance(action, SendOrder | AmendOrder) and (breach := self.desk.fence(action)) is not None:
                if isinstance(action, SendOrder):  # the cancels it was to wait for stay unsent with it
                    held = [c for c in held if not (isinstance(c, Cancel) and c.cl_ord_id in action.after_cancels)]
                self._fence_refused(action, breach)
            elif isinstance(action, SendOrder):
                self._send(action, held)
                held = []
            elif isinstance(action, AmendOrder):
                self.desk.sending(action, self.clock.now())
                amend = Amend(
                    action.cl_ord_id,
                    action.symbol,
                    self.clock.now(),
                    action.qty,
                    action.limit_price,
                    action.trigger_price,
                )
                held.append(amend)
            elif isinstance(action, CancelOrder):
                self.desk.sending(action, self.clock.now())
                held.append(Cancel(action.cl_ord_id, action.symbol, self.clock.now()))
            elif isinstance(action, QueryOrder):
                held.append(Query(action.cl_ord_id, action.symbol, self.clock.now()))
            elif isinstance(action, Emit):
                bus.publish(action.message)
                if isinstance(action.message, SafeModeChanged):
                    self._save_safe_mode(action.message)
            elif isinstance(action, Record):
                try:
                    self._write(action.message)
                except Exception as error:  # noqa: BLE001 - a journal failure halts entries; it must not crash exits
                    self._journal_failed(error)
            elif isinstance(action, StartTimer):
                self.send_later(action.delay, action.message)
            elif isinstance(action, Note):
                about = {"symbol": action.symbol} if action.symbol else {}  # an account-wide line names none
                logger.bind(actor=self.name, **about).log(action.level, action.text)
        if held:
            bus.publish(VenueRequest(tuple(held)))

    def _fence_refused(self, action: SendOrder | AmendOrder, breach: str) -> None:
        """A sell beyond what crocbot owns never reaches the venue. It means the books lost track of what holds the
        coins, which no test or demo run may ever show: CRITICAL, counted, and the order refused."""
        if isinstance(action, SendOrder):
            cl_ord_id, symbol = action.intent.cl_ord_id, action.intent.symbol
        else:
            cl_ord_id, symbol = action.cl_ord_id, action.symbol
        logger.bind(actor=self.name, symbol=symbol).critical("{} not sent: {}", cl_ord_id, breach)
        self._metrics.inc(FENCE_METRIC)
        self._run(self.desk.not_sent_at_all(action, breach, self.clock.now()))

    def _send(self, action: SendOrder, held: list[VenueCommand]) -> None:
        intent = action.intent
        record = RecordIntent(intent, action.position_id, action.reason, action.brackets)
        failure: Exception | None = None
        try:
            if intent.purpose is OrderPurpose.ENTRY:
                if self._unwritten:
                    raise RuntimeError(f"{len(self._unwritten)} earlier records are still waiting for the journal")
                self._ask(record)
            elif self._write(record) is _WAITING:
                # A stop or an exit protects money that is already at stake: it goes out, journaled when it can be.
                logger.critical(
                    "{} {} sent before its intent could be journaled (the journal is failing); it is journaled once "
                    "the journal takes writes again",
                    intent.purpose,
                    intent.cl_ord_id,
                )
        except Exception as error:  # noqa: BLE001 - not journaled means not sent, whatever the failure
            failure = error
        if failure is not None:
            # the cancels of the stops the order was to replace stay unsent with it: those stops still protect
            held = [c for c in held if not (isinstance(c, Cancel) and c.cl_ord_id in action.after_cancels)]
            if held:
                self.services.bus.publish(VenueRequest(tuple(held)))
            self._journal_failed(failure)
            self._run(self.desk.not_sent_at_all(action, f"journal failed: {failure}", self.clock.now()))
            return
        failpoints.hit("router.after_intent")  # crash tests: journaled, not sent
        self.desk.submitted(intent.cl_ord_id, self.clock.now())
        self.desk.sending(action, self.clock.now())
        self._metrics.inc("crocbot_orders_total", labels={"purpose": str(intent.purpose)})
        self.services.bus.publish(VenueRequest((*held, Submit(intent, action.after_cancels))))

    def _journal_failed(self, error: BaseException) -> None:
        if _JOURNAL_FAILING not in self.desk.risk.safe_reasons:
            logger.critical("the journal could not be written ({}); entries are halted", error)
        self._metrics.inc("crocbot_journal_failures_total")
        self._run_safe(self.desk.set_safe(_JOURNAL_FAILING, True, self.clock.now()))
        if not self._retry_due and _journal_unavailable(error):  # a refused record keeps entries halted
            self._retry_due = True
            self.send_later(_JOURNAL_RETRY, _RetryJournal())

    def _write(self, message: object) -> Any:
        """Journal a record; the answer, or `_WAITING` when the journal cannot take it now and it waits here (with
        every later record, so that the journal's order stays the order of events) for a retry."""
        if not self._unwritten:
            try:
                return self._ask(message)
            except Exception as error:
                if not _journal_unavailable(error):
                    raise
                wait_for_journal(self._unwritten, message)
                self._journal_failed(error)
                return _WAITING
        wait_for_journal(self._unwritten, message)
        if isinstance(message, RecordFill):
            try:  # on disk meanwhile: the trade log takes it now, the journal when it can
                self._ask(LogFillAhead(message))
            except Exception as error:  # noqa: BLE001 - persistence says so loudly; the fill waits here all the same
                logger.error("fill {} could not be written to the trade log ahead: {}", message.fill.fill_id, error)
        return _WAITING

    def stopping(self) -> None:
        self._last_words()
        if self._desk is not None:
            self._save_books(self.clock.now(), force=True)

    def _save_books(self, now: datetime, *, force: bool = False) -> None:
        wall = self._wall()
        if not force and self._books_saved is not None and wall - self._books_saved < self._books_every:
            return
        self._books_saved = wall
        ref = self.services.directory.get(self._persistence)
        if ref is not None:
            # Not waited for: it only feeds `crocbot status`, and stops and exits must not queue behind the journal
            # (an hourly backup) for it. Asked, not told, so that a failure ends in the unread answer instead of
            # failing the persistence actor; a failing journal is safe mode already, and status shows the time of
            # the last document saved.
            ref.ask(SaveState(BOOKS_KEY, books_document(self.desk, self._last_data, now)), block=False)

    def crashed(self, error: BaseException) -> None:
        self._last_words()

    def _last_words(self) -> None:
        """Records that never reached the journal are not dropped in silence: one more try, then say which."""
        if not self._unwritten or self._desk is None:
            return
        self._retry_journal()
        if self._unwritten:
            fills = [m.fill.fill_id for m in self._unwritten if isinstance(m, RecordFill)]
            logger.critical(
                "{} records never reached the journal ({} fills: {}); the fills are in the trade log, and the "
                "reconciler books them again at the next start",
                len(self._unwritten),
                len(fills),
                ", ".join(fills) or "none",
            )

    def _retry_journal(self) -> None:
        """Write what waits, oldest first; once all of it is journaled, entries may resume."""
        written = 0
        while self._unwritten:
            try:
                self._ask(self._unwritten[0])
            except Exception as error:  # noqa: BLE001 - still failing: try again later; refused: say so and go on
                if _journal_unavailable(error):
                    self._journal_failed(error)
                    return
                logger.opt(exception=error).critical("the journal refused a waiting record: {}", self._unwritten[0])
            self._unwritten.popleft()
            written += 1
        if _JOURNAL_FAILING not in self.desk.risk.safe_reasons:
            return
        try:  # the journal may have failed on an entry alone, which does not wait: see that it takes writes now
            self._ask(SaveState(SAFE_MODE_KEY, {"reasons": [], "ts": self.clock.now().isoformat()}))
        except Exception as error:  # noqa: BLE001 - still failing
            self._journal_failed(error)
            return
        logger.warning("the journal takes writes again ({} waiting records written); entries may resume", written)
        self._run(self.desk.set_safe(_JOURNAL_FAILING, False, self.clock.now()))

    def _save_safe_mode(self, changed: SafeModeChanged) -> None:
        try:
            self._ask(SaveState(SAFE_MODE_KEY, {"reasons": list(changed.reasons), "ts": changed.ts.isoformat()}))
        except Exception:  # noqa: BLE001 - the journal failing is safe mode already; the status file can lag
            logger.opt(exception=True).error("could not save the safe-mode state for `crocbot status`")

    def _run_safe(self, actions: list[Action]) -> None:
        for action in actions:
            if isinstance(action, Emit):
                self.services.bus.publish(action.message)
            elif isinstance(action, Note):
                logger.log(action.level, action.text)

    def _ask(self, message: object) -> Any:
        return self.services.directory.ask(self._persistence, message, timeout=_ASK_TIMEOUT)


def money_gauges(desk: Desk) -> dict[str, float]:
    """The gauges the router sets from its desk: equity and unrealised P&L at the last marks (floats: Prometheus has
    no other number, and these are only read), and the kill switch as 0/1."""
    return {
        "crocbot_equity": float(desk.equity()),
        "crocbot_unrealized_pnl": float(desk.unrealized()),
        "crocbot_kill_switch": 1.0 if desk.risk.kill_switch_tripped else 0.0,
    }


def wait_for_journal(waiting: deque[object], record: object) -> None:
    """Queue `record` behind those the journal has not taken yet. A state document replaces an older copy of itself
    still waiting (only the newest is worth writing): hours of a full disk then cost one ledger, not one per fill."""
    if isinstance(record, SaveState):
        stale = [r for r in waiting if isinstance(r, SaveState) and r.key == record.key]
        for old in stale:
            waiting.remove(old)
    waiting.append(record)
