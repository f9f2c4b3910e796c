"""What the router tells about its books: the status report (health, the console, tests), the metrics it counts
from the desk's tallies, the money gauges, and the books document `crocbot status` reads."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from crocbot.actors.messages import OrderView, PositionView, StatusReport
from crocbot.core.books_status import BOOKS_KEY, books_document
from crocbot.core.desk import Desk
from crocbot.core.messages.journal import SaveState
from crocbot.ops.metrics import Metrics

__all__ = ["Reporting", "status_report", "money_gauges", "FENCE_METRIC", "STOP_UPDATES_METRIC"]

FENCE_METRIC = "crocbot_fence_breaches_total"
STOP_UPDATES_METRIC = "crocbot_stop_updates_total"
_MONEY_EVERY = timedelta(seconds=1)  # the equity gauges follow the marks this often at most


class Reporting:
    """The router's metrics and its books document. `persistence`: the persistence actor's ref, if it is there."""

    def __init__(
        self, metrics: Metrics, persistence: Callable[[], Any], books_every: float, wall: Callable[[], float]
    ) -> None:
        self._metrics = metrics
        self._persistence = persistence
        self._money_at = datetime.min.replace(tzinfo=UTC)
        self.last_data: dict[str, datetime] = {}  # when each symbol's book last came, for `crocbot status`
        # The books document is paced on wall time: it is I/O, and under a replay clock a pace in event seconds
        # would write it hundreds of times a second.
        self._books_every, self._wall = books_every, wall
        self._books_saved: float | None = None

    def tallies(self, desk: Desk) -> None:
        # The desk tallies what happened while it ran, whichever message (or reconciliation) brought it.
        for status, n in desk.take_ended().items():
            self._metrics.inc("crocbot_order_outcomes_total", n, labels={"outcome": str(status)})
        for outcome, n in desk.take_stop_outcomes().items():
            self._metrics.inc(STOP_UPDATES_METRIC, n, labels={"outcome": str(outcome)})
        for reason, n in desk.take_refused().items():
            self._metrics.inc("crocbot_entries_refused_total", n, labels={"reason": reason})
        if fenced := desk.take_fenced():
            self._metrics.inc(FENCE_METRIC, fenced)

    def money(self, desk: Desk, now: datetime, *, mark_only: bool) -> None:
        """Equity and unrealised P&L move with every mark: from book views at most once a second of event time,
        after anything else at once."""
        if mark_only and now - self._money_at < _MONEY_EVERY:
            return
        self._money_at = now
        for name, value in money_gauges(desk).items():
            self._metrics.set(name, value)

    def books(self, desk: Desk, now: datetime, *, force: bool = False) -> None:
        wall = self._wall()
        if not force and self._books_saved is not None and wall - self._books_saved < self._books_every:
            return
        self._books_saved = wall
        ref = self._persistence()
        if ref is not None:
            # Not waited for: it only feeds `crocbot status`, and stops and exits must not queue behind the journal
            # (an hourly backup) for it. Asked, not told, so that a failure ends in the unread answer instead of
            # failing the persistence actor; a failing journal is safe mode already, and status shows the time of
            # the last document saved.
            ref.ask(SaveState(BOOKS_KEY, books_document(desk, self.last_data, now)), block=False)


def status_report(desk: Desk, *, ready: bool) -> StatusReport:
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
        for o in desk.open_orders()
    )
    return StatusReport(
        desk.equity(),
        desk.ledger.realized(),
        len(positions),
        desk.risk.safe_reasons,
        desk.risk.kill_switch_tripped,
        ready,
        positions,
        orders,
        desk.risk.kill_reason or "",
        desk.stop_updates_busy(),
    )


def money_gauges(desk: Desk) -> dict[str, float]:
    """The gauges the router sets from its desk: equity and unrealised P&L at the last marks (floats: Prometheus has
    no other number, and these are only read), and the kill switch as 0/1."""
    return {
        "crocbot_equity": float(desk.equity()),
        "crocbot_unrealized_pnl": float(desk.unrealized()),
        "crocbot_kill_switch": 1.0 if desk.risk.kill_switch_tripped else 0.0,
    }
