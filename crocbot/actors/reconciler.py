"""The reconciler: compares the router's books with the venue at start-up, periodically and on request.

At start (after persistence, venue and router, which has rebuilt itself from the journal) it asks all three for
their view, lets `crocbot.core.reconcile` compare them and hands the plan to the router, which books missing
fills (journal and trade log, marked backfilled), settles orders by the venue's word, cancels entries whose
timers died, places a stop for every position that lacks one and deals with venue orders the journal does not
know by the configured policy. Only then is `StartupReconciled` published: `/readyz` says not ready and the
router takes no entry until then. A failed attempt is logged and retried; the venue's stops stay in place
meanwhile.

Afterwards it runs every `interval` seconds and whenever a `ReconcileRequest` arrives (the live venue sends one
after its private feed reconnects), with `grace` so that what is merely in flight is not mistaken for a gap.
Every run that finds something writes a report: the log, the journal (state document `reconciliation`) and so
`crocbot status`.

The venue's view comes from the venue actor (paper: `VenueSnapshot`, answered from memory) or, live, from a view
source (`crocbot.venues.live.account.LiveAccountView`) that reads Kraken's account over REST. The source runs in a
gateway worker with a deadline and behind the private-queries breaker, so a hung Kraken call holds a worker, never
this actor: the run waits for the gateway's `CallResult` as a message (answering the supervisor and the watchdog
meanwhile) and goes on with it; one run at a time. A view that fails, times out or is refused by the breaker or the
gateway is a failed attempt like any other.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from loguru import logger

from crocbot.actors.base import ChildContext, SupervisedActor
from crocbot.actors.breaker import CircuitBreaker
from crocbot.actors.gateway import CallResult, Deadline, Gateway
from crocbot.actors.messages import (
    REPORT_KEY,
    ApplyReconciliation,
    BooksSnapshot,
    FillsOnlyLogged,
    ReadJournal,
    VenueSnapshot,
)
from crocbot.core.messages import Fill, ReconcileRequest, StartupReconciled, StartupReconciling
from crocbot.core.messages.journal import SaveState
from crocbot.core.reconcile import BooksView, ForeignOrderPolicy, Plan, VenueView, reconcile
from crocbot.store.journal import Journal

__all__ = ["Reconciler", "REPORT_KEY", "ViewSource", "VenueViewFailed"]

# The venue's view read in a gateway worker: (client ids of the books' open orders, fills since, the call's deadline).
ViewSource = Callable[[tuple[str, ...], datetime | None, Deadline], VenueView]


_ASK_TIMEOUT = 30.0
_RETRY = 5.0  # event seconds before the second start-up attempt while the venue cannot be asked; doubled after
_RETRY_MAX = 60.0  # each failure up to this, so that a venue down for hours does not fill the log
_LOOKBACK = timedelta(hours=1)  # fills are compared from this long before the last journaled one


@dataclass(frozen=True, slots=True)
class _Tick:
    startup: bool


class VenueViewFailed(RuntimeError):
    """The venue's view could not be read (failed, timed out, refused by the breaker or the gateway)."""


@dataclass(frozen=True, slots=True)
class _BooksSide:
    """A run's books, read before the venue's view is asked for."""

    startup: bool
    books: BooksView
    recorded: tuple[Fill, ...]  # journaled and logged fills the venue may no longer list
    ids: tuple[str, ...]  # the books' open orders
    since: datetime | None  # fills are compared from then


@dataclass(frozen=True, slots=True)
class _Waiting:
    """A run waiting for its view from the gateway."""

    call_id: int
    side: _BooksSide


@dataclass(frozen=True, slots=True)
class _JournalSide:
    fill_ids: frozenset[str]
    recent: tuple[Fill, ...]
    since: datetime | None


# What `handle` acts on; the rest (`| object`) falls through to the base actor, which logs and ignores it.
_Handled = _Tick | ReconcileRequest | CallResult[Any]


def _journal_side(journal: Journal) -> _JournalSide:
    last = journal.last_fill_time()
    since = last - _LOOKBACK if last is not None else None
    recent = tuple(journal.fills(since=since)) if since is not None else ()
    return _JournalSide(frozenset(journal.fill_ids()), recent, since)


class Reconciler(SupervisedActor):
    def __init__(
        self,
        ctx: ChildContext,
        *,
        policy: ForeignOrderPolicy = ForeignOrderPolicy.HALT,
        interval: float = 300.0,
        grace: float = 30.0,
        persistence: str = "persistence",
        venue: str = "venue",
        router: str = "router",
        view_source: ViewSource | None = None,
        gateway: Gateway | None = None,
        breaker: CircuitBreaker | None = None,
        view_timeout: float = 10.0,
    ) -> None:
        """`view_source`: where the venue's view comes from instead of asking the `venue` actor (live), run in
        `gateway` behind `breaker` with a deadline of `view_timeout` event seconds."""
        super().__init__(ctx)
        if view_source is not None and gateway is None:
            raise ValueError("a view source needs a gateway: the reconciler never calls the venue in its own thread")
        if view_timeout <= 0:
            raise ValueError(f"view_timeout must be positive, got {view_timeout}")
        self._source = view_source
        self._gateway = gateway
        self._breaker = breaker
        self._view_timeout = view_timeout
        self._waiting: _Waiting | None = None
        self._again = False  # a run was asked for while one waited for its view: run once more after it
        self._policy = policy
        self._interval = interval
        self._grace = timedelta(seconds=grace)
        self._names = (persistence, venue, router)
        self._reconciled = False
        self._failed_starts = 0  # start-up attempts that failed in a row

    def started(self) -> None:
        self.services.bus.publish(StartupReconciling(self.clock.now()))
        self.services.bus.subscribe(ReconcileRequest, self.name)
        self._run(startup=True)

    def handle(self, message: _Handled | object) -> Any:
        if isinstance(message, _Tick):
            self._run(startup=message.startup)
        elif isinstance(message, CallResult):
            self._view_arrived(message)
        elif isinstance(message, ReconcileRequest):
            if self._reconciled:  # before that, the start-up run (or its retry) is on its way anyway
                logger.info("reconciliation asked for: {}", message.reason)
                self._run(startup=False)
        else:
            return super().handle(message)
        return None

    def _run(self, *, startup: bool) -> None:
        if self._waiting is not None:
            self._again = True  # what changed since this run's books (a reconnect, say) needs a run of its own
            return
        try:
            side = self._books_side(startup)
            if self._source is not None:
                self._ask_view(side)
                return
            view: VenueView = self._ask(self._names[1], VenueSnapshot(side.ids, side.since))
            done, plan = self._settle(side, view)
        except Exception as error:  # noqa: BLE001 - the venue or the journal did not answer: try again
            self._failed(startup, error)
            return
        self._succeeded(startup, done, plan)

    def _failed(self, startup: bool, error: Exception) -> None:
        if not startup:
            logger.error("periodic reconciliation failed ({}); next try in {:.0f} s", error, self._interval)
            self.send_later(self._interval, _Tick(False))
            return
        retry = min(_RETRY * 2**self._failed_starts, _RETRY_MAX)
        self._failed_starts += 1
        logger.error(
            "start-up reconciliation failed ({}); not ready to trade (stops stay on the venue); retry in {:.0f} s",
            error,
            retry,
        )
        self.send_later(retry, _Tick(True))

    def _succeeded(self, startup: bool, done: list[str], plan: Plan) -> None:
        summary = plan.summary()
        if startup:
            self._reconciled = True
            self.services.bus.publish(StartupReconciled(summary, self.clock.now()))
        if not plan.clean or plan.balance_gaps or done:
            self._write_report(startup, plan, done)
        elif startup:
            logger.info("start-up reconciliation: {}", summary)
        if self._interval > 0:
            self.send_later(self._interval, _Tick(False))

    def _ask(self, name: str, message: object) -> Any:
        return self.services.directory.ask(name, message, timeout=_ASK_TIMEOUT)

    def _books_side(self, startup: bool) -> _BooksSide:
        persistence, _, router = self._names
        ask = self._ask
        journal: _JournalSide = ask(persistence, ReadJournal(_journal_side))
        # The trade log holds fills the journal lacks only after a restore or a crash while the journal failed:
        # both are start-up matters (while running, persistence and the router keep such fills themselves), and
        # reading a weeks-long trade log every few minutes would cost more each time.
        only_logged: list[Fill] = ask(persistence, FillsOnlyLogged()) if startup else []
        books: BooksView = ask(router, BooksSnapshot())
        books = BooksView(books.orders, journal.fill_ids, books.unbooked_fills, books.holdings, books.rounding)
        # Journaled fills a crash kept from the ledger, found by the router's restore: as many as the crash left
        # (one or two), however long ago the venue made them, so they are read by id, not by time.
        unbooked: list[Fill] = []
        if books.unbooked_fills:
            read = partial(Journal.fills_named, fill_ids=books.unbooked_fills)
            unbooked = ask(persistence, ReadJournal(read))
        ids = tuple(o.cl_ord_id for o in books.orders)
        return _BooksSide(startup, books, (*journal.recent, *unbooked, *only_logged), ids, journal.since)

    def _ask_view(self, side: _BooksSide) -> None:
        assert self._source is not None  # only called with a view source, which comes with a gateway
        assert self._gateway is not None
        call_id = self._gateway.submit(
            partial(self._source, side.ids, side.since),
            reply_to=self.actor_ref,
            timeout=self._view_timeout,
            tag="reconciliation: the venue's view",
            breaker=self._breaker,
        )
        self._waiting = _Waiting(call_id, side)  # the result is a message, handled after this one

    def _view_arrived(self, result: CallResult[Any]) -> None:
        waiting = self._waiting
        if waiting is None or result.call_id != waiting.call_id:
            return  # no run waits for it (one run at a time, so this is never expected): nothing to go on with
        self._waiting = None
        startup = waiting.side.startup
        if self._again:  # only a request or a periodic tick sets it: neither comes before the start-up run is done
            self._again = False
            self.actor_ref.tell(_Tick(False))
        try:
            if not result.ok or not isinstance(result.value, VenueView):
                raise VenueViewFailed(f"the venue's view: {result.outcome} ({result.error})")
            done, plan = self._settle(waiting.side, result.value)
        except Exception as error:  # noqa: BLE001 - the venue or the router did not answer: try again
            self._failed(startup, error)
            return
        self._succeeded(startup, done, plan)

    def _settle(self, side: _BooksSide, view: VenueView) -> tuple[list[str], Plan]:
        grace = timedelta(0) if side.startup else self._grace
        plan = reconcile(side.books, view, recorded=side.recorded, grace=grace)
        if plan.clean and not side.startup:
            return [], plan
        done: list[str] = self._ask(self._names[2], ApplyReconciliation(plan, self._policy, side.startup))
        return done, plan

    def _write_report(self, startup: bool, plan: Plan, done: list[str]) -> None:
        kind = "start-up" if startup else "periodic"
        serious = bool(plan.not_at_venue or plan.foreign or plan.balance_gaps)
        lines = "\n  ".join(done) if done else "nothing to do"
        logger.log(
            "ERROR" if serious else "WARNING",
            "{} reconciliation: {}\n  {}",
            kind,
            plan.summary(),
            lines,
        )
        report = {
            "kind": kind,
            "ts": self.clock.now().isoformat(),
            "summary": plan.summary(),
            "actions": done,
            "backfilled_fills": sorted(plan.backfilled),
            "orders_unknown_to_venue": list(plan.not_at_venue),
            "venue_orders_unknown_to_journal": [o.cl_ord_id or o.order_id for o in plan.foreign],
            "balance_gaps": [[asset, str(books), str(venue)] for asset, books, venue in plan.balance_gaps],
        }
        try:
            self.services.directory.ask(self._names[0], SaveState(REPORT_KEY, report), timeout=_ASK_TIMEOUT)
        except Exception as error:  # noqa: BLE001 - the log has the report; a journal failure is loud elsewhere
            logger.error("the reconciliation report could not be journaled: {}", error)
