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
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from loguru import logger

from crocbot.actors.base import ChildContext, SupervisedActor
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

__all__ = ["Reconciler", "REPORT_KEY"]


_ASK_TIMEOUT = 30.0
_RETRY = 5.0  # event seconds before the second start-up attempt while the venue cannot be asked; doubled after
_RETRY_MAX = 60.0  # each failure up to this, so that a venue down for hours does not fill the log
_LOOKBACK = timedelta(hours=1)  # fills are compared from this long before the last journaled one


@dataclass(frozen=True, slots=True)
class _Tick:
    startup: bool


@dataclass(frozen=True, slots=True)
class _JournalSide:
    fill_ids: frozenset[str]
    recent: tuple[Fill, ...]
    since: datetime | None


# What `handle` acts on; the rest (`| object`) falls through to the base actor, which logs and ignores it.
_Handled = _Tick | ReconcileRequest


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
    ) -> None:
        super().__init__(ctx)
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
        elif isinstance(message, ReconcileRequest):
            if self._reconciled:  # before that, the start-up run (or its retry) is on its way anyway
                logger.info("reconciliation asked for: {}", message.reason)
                self._run(startup=False)
        else:
            return super().handle(message)
        return None

    def _run(self, *, startup: bool) -> None:
        try:
            done, plan = self._reconcile(startup)
        except Exception as error:  # noqa: BLE001 - the venue or the journal did not answer: try again
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
            return
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

    def _reconcile(self, startup: bool) -> tuple[list[str], Plan]:
        persistence, venue, router = self._names
        ask = partial(self.services.directory.ask, timeout=_ASK_TIMEOUT)
        journal: _JournalSide = ask(persistence, ReadJournal(_journal_side))
        # The trade log holds fills the journal lacks only after a restore or a crash while the journal failed:
        # both are start-up matters (while running, persistence and the router keep such fills themselves), and
        # reading a weeks-long trade log every few minutes would cost more each time.
        only_logged: list[Fill] = ask(persistence, FillsOnlyLogged()) if startup else []
        books: BooksView = ask(router, BooksSnapshot())
        books = BooksView(books.orders, journal.fill_ids, books.unbooked_fills, books.holdings)
        # Journaled fills a crash kept from the ledger, found by the router's restore: as many as the crash left
        # (one or two), however long ago the venue made them, so they are read by id, not by time.
        unbooked: list[Fill] = []
        if books.unbooked_fills:
            read = partial(Journal.fills_named, fill_ids=books.unbooked_fills)
            unbooked = ask(persistence, ReadJournal(read))
        ids = tuple(o.cl_ord_id for o in books.orders)
        view: VenueView = ask(venue, VenueSnapshot(ids, journal.since))
        grace = timedelta(0) if startup else self._grace
        plan = reconcile(books, view, recorded=(*journal.recent, *unbooked, *only_logged), grace=grace)
        if plan.clean and not startup:
            return [], plan
        done: list[str] = ask(router, ApplyReconciliation(plan, self._policy, startup))
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
