"""The order router: the only actor that changes orders. A thin shell over the desk (`crocbot.core.desk`).

Each message becomes one desk event (`Desk.on`); the desk answers with actions, which `_carry_out` performs in
order: the event's one `Commit` (everything it changed, one durable journal transaction, `write_ahead`), then the
commands in one `VenueRequest`, bus messages, timers and log lines. Write-ahead: an order's intent is journaled
before the venue hears of it, and a venue event is journaled with what it changed. If the journal cannot be
written, no entry is sent, entries stop (safe mode) and the failure is loud. A journal that cannot take writes for
now (a full disk, a read-only file, persistence restarting) does not stop what protects money: the records wait, in
order, and are written again every few seconds (`journal_health`); meanwhile fills are booked, stops and exits
still go out (each a CRITICAL line), and entries resume once everything waiting is journaled. On start the desk is
rebuilt from the journal (`opening`): ledger, risk state (the kill switch survives restarts), open positions and
their orders.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from loguru import logger

from crocbot.actors.base import ChildContext, SupervisedActor
from crocbot.actors.messages import (
    ApplyReconciliation,
    BooksSnapshot,
    OpenPositions,
    PaperAccountSaved,
    RouterStatus,
    VenueRequest,
)
from crocbot.actors.router.journal_health import JournalHealth, RetryJournal
from crocbot.actors.router.opening import DESK_EVENTS, desk_from_journal, subscribe
from crocbot.actors.router.status import Reporting, status_report
from crocbot.actors.router.write_ahead import JOURNALED, Outcome
from crocbot.core.desk import (
    ESCALATED,
    Action,
    Commit,
    Desk,
    DeskConfig,
    Emit,
    FillSeen,
    Note,
    NotSent,
    StartTimer,
    Submitted,
)
from crocbot.core.instrument import Instrument
from crocbot.core.messages import Fill, OrderPurpose, SafeModeChanged, Signal
from crocbot.core.messages.commands import Amend, Cancel, Query, Submit, VenueCommand
from crocbot.core.messages.market import BookView
from crocbot.core.risk_sizing import RiskLimits
from crocbot.kraken.ratelimit import TRADING_LIMITS, Tier, TradingLimits
from crocbot.ops import failpoints
from crocbot.ops.metrics import METRICS, Metrics

__all__ = ["Router"]


_ASK_TIMEOUT = 10.0
_DAY_TICK = 60.0  # event seconds between checks for a new UTC day
_BOOKS_EVERY = 10.0  # wall seconds between saves of the books document `crocbot status` reads
_ACCOUNT_UNSAVED = "the paper account cannot be saved"


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
        statuses: Callable[[str], str | None] | None = None,
    ) -> None:
        """`statuses`: each symbol's Kraken status now (the feed's catalog, which the instrument channel keeps
        current), for a restarted router's desk; None: the status `instruments` had at start."""
        super().__init__(ctx)
        self._statuses = statuses
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
        self._health = JournalHealth(
            self._ask, metrics, lambda: self.desk, self._carry_out, self.send_later, self.clock.now
        )
        self._journal = self._health.queue  # each event's records, one commit, in order
        self._reporting = Reporting(metrics, lambda: self.services.directory.get(persistence), books_every, wall)

    @property
    def desk(self) -> Desk:
        assert self._desk is not None
        return self._desk

    # -- start ----------------------------------------------------------------------------------------

    def started(self) -> None:
        self._desk, restored = desk_from_journal(
            self._ask,
            instruments=self._current_instruments(),
            limits=self._limits,
            config=self._config,
            cash=self._cash,
            quote=self._quote,
            trading=self._trading,
            rng=self.services.rng,
            now=self.clock.now,
        )
        subscribe(self.services.bus, self.name)
        escalated = self._escalation() if self._escalation is not None else None
        if escalated:  # e.g. the core gave up and was restarted with this router: entries stay halted
            self._carry_out(self.desk.set_safe(ESCALATED, True, self.clock.now()))
        self.services.scheduler.send_every(_DAY_TICK, self.actor_ref, _DayTick())
        self._reporting.money(self.desk, self.clock.now(), mark_only=False)  # the books as restored, before a scrape
        if restored:
            logger.info("router rebuilt from the journal: {}", restored)
        # Not ready yet: the reconciler compares these books with the venue and then hands over its plan
        # (`ApplyReconciliation`); only then are stale entries cancelled, stops placed and entries taken.

    def _current_instruments(self) -> dict[str, Instrument]:
        """The instruments with the status Kraken gives them now: a router restarted after a symbol went halted (or
        came back) must not rebuild its desk on the status of the process's start."""
        if self._statuses is None:
            return self._instruments
        current = {}
        for symbol, instrument in self._instruments.items():
            status = self._statuses(symbol)
            current[symbol] = instrument if status is None else dataclasses.replace(instrument, status=status)
        return current

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
            seen = FillSeen(message, journaled=self._journal.known_fill(message.fill_id))
            self._carry_out(desk.on(seen, now), live_fill=True)
        elif isinstance(message, Signal):
            if self._ready:
                self._carry_out(desk.on(message, now))
            else:
                self._metrics.inc("crocbot_entries_refused_total", labels={"reason": "not_ready"})
                logger.info(
                    "{} signal for {} ignored: start-up reconciliation is not done", message.side, message.symbol
                )
        elif isinstance(message, DESK_EVENTS):
            self._carry_out(desk.on(message, now))
        elif isinstance(message, _DayTick):
            self._carry_out(desk.on_day_tick(now))
        elif isinstance(message, PaperAccountSaved):
            self._carry_out(desk.set_safe(_ACCOUNT_UNSAVED, not message.saved, now))
        elif isinstance(message, RetryJournal):
            self._health.retry()
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
        journaled = frozenset(f.fill_id for f in plan.fills if self._journal.known_fill(f.fill_id))
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
        the commands after it go to the venue in one request, and only then the rest (messages, timers, log lines):
        nothing the venue must hear waits on a log sink. `live_fill`: the actions of a fill from the venue's feed
        (counted once journaled; a crash test may kill the process once it is, before anything is sent)."""
        commands: list[VenueCommand] = []
        journaled: Outcome = JOURNALED
        after: list[Action] = []
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
            else:
                after.append(action)
        if commands:
            self.services.bus.publish(VenueRequest(tuple(commands)))
        for action in after:
            if isinstance(action, Emit):
                self.services.bus.publish(action.message)
                if isinstance(action.message, SafeModeChanged):
                    self._health.safe_mode_changed(action.message)
            elif isinstance(action, StartTimer):
                self.send_later(action.delay, action.message)
            elif isinstance(action, Note):
                about = {"symbol": action.symbol} if action.symbol else {}  # an account-wide line names none
                logger.bind(actor=self.name, **about).log(action.level, action.text)

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

    def stopping(self) -> None:
        self._last_words()
        if self._desk is not None:
            self._reporting.books(self.desk, self.clock.now(), force=True)

    def crashed(self, error: BaseException) -> None:
        self._last_words()

    def _last_words(self) -> None:
        if self._desk is not None:
            self._journal.last_words()

    def _ask(self, message: object) -> Any:
        return self.services.directory.ask(self._persistence, message, timeout=_ASK_TIMEOUT)
