"""The order router: the only actor that changes orders. A thin shell over the desk (`crocbot.core.desk`).

Each message becomes one desk event (`Desk.on`); the desk answers with actions, which `_carry_out` performs in
order: the event's one `Commit` (everything it changed, one durable journal transaction, `write_ahead`), then the
commands in one `VenueRequest`, bus messages, timers and log lines. Write-ahead: an order's intent is journaled
before the venue hears of it, and a venue event is journaled with what it changed. If the journal cannot be
written, no entry is sent, entries stop (safe mode) and the failure is loud. A journal that cannot take writes for
now (a full disk, a read-only file, persistence restarting) does not stop what protects money: the records wait, in
order, and are written again every few seconds; meanwhile fills are booked, stops and exits still go out (each a
CRITICAL line), and entries resume once everything waiting is journaled. On start the router asks the journal for a
snapshot and the desk rebuilds itself from it: ledger, risk state (the kill switch survives restarts), open
positions and their orders.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from loguru import logger

from crocbot.actors.base import ChildContext, SupervisedActor
from crocbot.actors.messages import (
    SAFE_MODE_KEY,
    ApplyReconciliation,
    BooksSnapshot,
    OpenPositions,
    PaperAccountSaved,
    ReadJournal,
    RouterStatus,
    VenueRequest,
)
from crocbot.actors.router.status import Reporting, status_report
from crocbot.actors.router.write_ahead import JOURNALED, Outcome, WriteAhead, journal_unavailable
from crocbot.core.desk import (
    ESCALATED,
    LEDGER_KEY,
    RISK_KEY,
    Action,
    Commit,
    Desk,
    DeskConfig,
    Emit,
    EntryTTL,
    FillSeen,
    LookupDue,
    Note,
    NotSent,
    StartTimer,
    StopBudgetDue,
    Submitted,
)
from crocbot.core.desk.stop_updates import StopUpdates
from crocbot.core.ids import ClientIds
from crocbot.core.instrument import Instrument
from crocbot.core.ledger import Ledger
from crocbot.core.messages import (
    ActorEscalated,
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
from crocbot.core.messages.commands import Amend, Cancel, Query, Submit, VenueCommand
from crocbot.core.messages.journal import KnownFill, LoadState, SaveState
from crocbot.core.messages.market import BookView
from crocbot.core.risk import RiskGate, RiskState
from crocbot.core.risk_sizing import RiskLimits
from crocbot.core.trading_counter import TradingCounter
from crocbot.kraken.ratelimit import TRADING_LIMITS, Tier, TradingLimits
from crocbot.ops import failpoints
from crocbot.ops.metrics import METRICS, Metrics
from crocbot.store.desk_snapshot import journal_snapshot

__all__ = ["Router"]


_ASK_TIMEOUT = 10.0
_DAY_TICK = 60.0  # event seconds between checks for a new UTC day
_BOOKS_EVERY = 10.0  # wall seconds between saves of the books document `crocbot status` reads
_JOURNAL_RETRY = 5.0  # event seconds between tries to write what the journal refused
_JOURNAL_FAILING = "journal failing"
_ACCOUNT_UNSAVED = "the paper account cannot be saved"
# The desk's events that reach the router as they are (a fill and a signal need a word first): from the bus (the
# first ten), then the desk's own timers.
_DESK_EVENTS = (
    OrderEvent,
    OrderAmended,
    CommandRejected,
    CommandUnknown,
    OrderLookedUp,
    ExitRequest,
    StopAmendRequest,
    FeedHealth,
    BreakerStateChanged,
    ActorEscalated,
    EntryTTL,
    StopBudgetDue,
    LookupDue,
)


@dataclass(frozen=True, slots=True)
class _RetryJournal:
    """Timer: write the records the journal refused, in order."""


@dataclass(frozen=True, slots=True)
class _DayTick:
    pass


class Router(SupervisedActor):
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
        self._trading = trading  # Kraken's per-pair trading counter, which the desk paces stop amends by
        self._desk: Desk | None = None
        self._ready = False  # reconciled with the venue since the start
        self._journal = WriteAhead(self._ask, self._journal_failed)  # each event's records, one commit, in order
        self._retry_due = False
        self._reporting = Reporting(metrics, lambda: self.services.directory.get(persistence), books_every, wall)

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
        # Only read on the persistence thread; the desk rebuilds itself here, on the router's.
        restored = self.desk.restore(self._ask(ReadJournal(journal_snapshot)))
        self.desk.on_day_tick(self.clock.now())
        if risk.kill_switch_tripped:
            logger.warning("kill switch still tripped after the restart: {}", risk.kill_reason)
        bus = self.services.bus
        for topic in (Signal, Fill, *_DESK_EVENTS[:10], PaperAccountSaved):
            bus.subscribe(topic, self.name)
        bus.subscribe_conflated(BookView, self.name, key=lambda view: view.symbol)
        escalated = self._escalation() if self._escalation is not None else None
        if escalated:  # e.g. the core gave up and was restarted with this router: entries stay halted
            self._carry_out(self.desk.set_safe(ESCALATED, True, self.clock.now()))
        self.services.scheduler.send_every(_DAY_TICK, self.actor_ref, _DayTick())
        self._reporting.money(self.desk, self.clock.now(), mark_only=False)  # the books as restored, before a scrape
        if restored:
            logger.info("router rebuilt from the journal: {}", restored)
        # Not ready yet: the reconciler compares these books with the venue and then hands over its plan
        # (`ApplyReconciliation`); only then are stale entries cancelled, stops placed and entries taken.

    # -- messages -------------------------------------------------------------------------------------

    def handle(self, message: Any) -> Any:
        answer = self._handle(message)
        self._reporting.tallies(self.desk)
        self._reporting.money(self.desk, self.clock.now(), mark_only=type(message) is BookView)
        return answer

    def _handle(self, message: Any) -> Any:
        desk = self.desk
        now = self.clock.now()
        if isinstance(message, BookView):
            if message.bids:
                desk.on_mark(message.symbol, message.bids[0][0])
            self._reporting.last_data[message.symbol] = now  # when it reached the money path (an exchange may lag)
            self._reporting.books(self.desk, now)
        elif isinstance(message, Fill):
            seen = FillSeen(message, journaled=self._known_fill(message.fill_id))
            self._carry_out(desk.on(seen, now), live_fill=True)
        elif isinstance(message, Signal):
            if self._ready:
                self._carry_out(desk.on(message, now))
            else:
                self._metrics.inc("crocbot_entries_refused_total", labels={"reason": "not_ready"})
                logger.info(
                    "{} signal for {} ignored: start-up reconciliation is not done", message.side, message.symbol
                )
        elif isinstance(message, _DESK_EVENTS):
            self._carry_out(desk.on(message, now))
        elif isinstance(message, _DayTick):
            self._carry_out(desk.on_day_tick(now))
        elif isinstance(message, PaperAccountSaved):
            self._carry_out(desk.set_safe(_ACCOUNT_UNSAVED, not message.saved, now))
        elif isinstance(message, _RetryJournal):
            self._retry_due = False
            self._retry_journal()
        elif isinstance(message, OpenPositions):
            return desk.open_positions()
        elif isinstance(message, RouterStatus):
            return status_report(desk, ready=self._ready)
        elif isinstance(message, BooksSnapshot):
            return desk.books_view()
        elif isinstance(message, ApplyReconciliation):
            return self._reconcile(message)
        else:
            return super().handle(message)
        return None

    def _reconcile(self, message: ApplyReconciliation) -> list[str]:
        """Carry out a reconciliation plan; what was done, one line per kind of change. Only then is the router ready
        for entries."""
        plan = message.plan
        journaled = frozenset(f.fill_id for f in plan.fills if self._known_fill(f.fill_id))
        now = self.clock.now()
        actions, done = self.desk.reconcile(plan, message.policy, now, startup=message.startup, journaled=journaled)
        self._carry_out(actions)
        backfilled = sum(1 for f in plan.fills if f.fill_id in plan.backfilled)
        if backfilled:
            self._metrics.inc("crocbot_fills_backfilled_total", backfilled)
        self._ready = True
        return done

    # -- carrying out the desk's actions --------------------------------------------------------------

    def _carry_out(self, actions: list[Action], *, live_fill: bool = False) -> None:
        """The one interpreter of the desk's actions. The event's `Commit` comes first and is one durable commit;
        the commands after it go to the venue in one request. `live_fill`: the actions of a fill from the venue's
        feed (counted once journaled; a crash test may kill the process once it is, before anything is sent)."""
        commands: list[VenueCommand] = []
        journaled: Outcome = JOURNALED
        for action in actions:
            if isinstance(action, Commit):
                journaled = self._journal.commit(action.records)
                if live_fill and journaled.new_fills:
                    self._metrics.inc("crocbot_fills_total", journaled.new_fills)
                if live_fill:
                    failpoints.hit("router.after_fill_journal")  # crash tests: journaled and booked, nothing sent
            elif isinstance(action, Submit):
                self._submit(action, journaled, commands)
            elif isinstance(action, Amend | Cancel | Query):
                commands.append(action)
            elif isinstance(action, Emit):
                self.services.bus.publish(action.message)
                changed = action.message
                if isinstance(changed, SafeModeChanged) and _JOURNAL_FAILING not in changed.reasons:
                    # not while the journal fails: the save would fail as well (the status document can lag)
                    self._save_safe_mode(changed)
            elif isinstance(action, StartTimer):
                self.send_later(action.delay, action.message)
            elif isinstance(action, Note):
                about = {"symbol": action.symbol} if action.symbol else {}  # an account-wide line names none
                logger.bind(actor=self.name, **about).log(action.level, action.text)
        if commands:
            self.services.bus.publish(VenueRequest(tuple(commands)))

    def _submit(self, action: Submit, journaled: Outcome, commands: list[VenueCommand]) -> None:
        intent = action.intent
        refused = intent.cl_ord_id in journaled.refused
        if refused or (journaled.failure is not None and intent.purpose is OrderPurpose.ENTRY):
            # Not journaled means not sent; the cancels of the stops it was to replace stay unsent with it: those
            # stops still protect.
            commands[:] = [c for c in commands if not (isinstance(c, Cancel) and c.cl_ord_id in action.after_cancels)]
            why = "journal failed: " + ("the journal refused its intent" if refused else str(journaled.failure))
            self._carry_out(self.desk.on(NotSent(action, why), self.clock.now()))
            return
        if journaled.failure is not None:
            # A stop or an exit protects money that is already at stake: it goes out, journaled when it can be.
            logger.critical(
                "{} {} sent before its intent could be journaled (the journal is failing); it is journaled once the "
                "journal takes writes again",
                intent.purpose,
                intent.cl_ord_id,
            )
        failpoints.hit("router.after_intent")  # crash tests: journaled, not sent
        self.desk.on(Submitted(intent.cl_ord_id), self.clock.now())
        self._metrics.inc("crocbot_orders_total", labels={"purpose": str(intent.purpose)})
        commands.append(action)

    def _journal_failed(self, error: BaseException) -> None:
        if _JOURNAL_FAILING not in self.desk.risk.safe_reasons:
            logger.critical("the journal could not be written ({}); entries are halted", error)
        self._metrics.inc("crocbot_journal_failures_total")
        self._carry_out(self.desk.set_safe(_JOURNAL_FAILING, True, self.clock.now()))
        if not self._retry_due and journal_unavailable(error):  # a refused record keeps entries halted
            self._retry_due = True
            self.send_later(_JOURNAL_RETRY, _RetryJournal())

    def stopping(self) -> None:
        self._last_words()
        if self._desk is not None:
            self._reporting.books(self.desk, self.clock.now(), force=True)

    def crashed(self, error: BaseException) -> None:
        self._last_words()

    def _last_words(self) -> None:
        if self._desk is not None:
            self._journal.last_words()

    def _retry_journal(self) -> None:
        """Write what waits, oldest first; once all of it is journaled, entries may resume."""
        written = self._journal.retry()
        if written is None or _JOURNAL_FAILING not in self.desk.risk.safe_reasons:
            return
        try:  # the journal may have failed on an entry alone, which does not wait: see that it takes writes now
            self._ask(SaveState(SAFE_MODE_KEY, {"reasons": [], "ts": self.clock.now().isoformat()}))
        except Exception as error:  # noqa: BLE001 - still failing
            self._journal_failed(error)
            return
        logger.warning("the journal takes writes again ({} waiting records written); entries may resume", written)
        self._carry_out(self.desk.set_safe(_JOURNAL_FAILING, False, self.clock.now()))

    def _save_safe_mode(self, changed: SafeModeChanged) -> None:
        try:
            self._ask(SaveState(SAFE_MODE_KEY, {"reasons": list(changed.reasons), "ts": changed.ts.isoformat()}))
        except Exception:  # noqa: BLE001 - the journal failing is safe mode already; the status file can lag
            logger.opt(exception=True).error("could not save the safe-mode state for `crocbot status`")

    def _known_fill(self, fill_id: str) -> bool:
        """Whether the journal held this fill before it came now (a read); False when it cannot say (the ledger
        knows its recent fills), or while records wait for the journal."""
        if self._journal.waiting:
            return False
        try:
            return bool(self._ask(KnownFill(fill_id)))
        except Exception:  # noqa: BLE001 - the write that follows finds out whether the journal works
            return False

    def _ask(self, message: object) -> Any:
        return self.services.directory.ask(self._persistence, message, timeout=_ASK_TIMEOUT)
