"""Stop updates: the newest stop the SL manager wants reaches the venue, one amend at a time per stop order, within
Kraken's per-pair trading counter, however slow or hung the venue's calls are.

The SL manager may want a tighter stop on every tick. Dropping the wishes that came while an amend was in flight
lost nearly all of them once calls hung (47,508 of 48,000 in `bench/bench_sl.py`); sending each one would pile up
calls per order and run the pair's counter over (Kraken refuses, and charges the refusal). So, per position:
- at most one amend of its stop order is in flight (`PositionState.pending_stop`); a wish that comes meanwhile waits
  (`PositionState.wanted_stop`) and a newer one replaces it: only the newest is worth sending (conflated);
- when the amend in flight ends (confirmed, refused, or its unknown outcome resolved), the waiting wish is sent if it
  is still tighter than the live stop and on the safe side of the market (below the bid for a long);
- an amend goes out only if the pair's counter (`crocbot.core.trading_counter`) has room for it; otherwise the wish
  waits in the pair's queue (first come, first served) for a timer set to when the counter will have decayed enough,
  and for the answers of the amends in flight, which let their charges decay;
- an amend whose answer never came (`CommandUnknown`) is looked up (`Query`), never taken as done or not done,
  and counts as in flight until the lookup answers (`OrderLookedUp`); a lookup without an answer is asked again;
- a refusal for the rate limit, or a call that never left crocbot (`UNSENT`), keeps the wish (nothing happened to the
  stop) and waits for room; any other refusal drops the refused level, and the next wish is still sent;
- while Kraken takes no order changes for the symbol (its status, `crocbot.core.desk.trading_status`), wishes wait in
  the pair's queue without a timer; the status coming back drains it.
The counter sits here, with the wishes, and not in the router: whether to send a wish now, let it wait, or let a newer
one replace it is one decision, and a wish held in the router would go out stale after the desk had a newer one.
Outcomes are tallied (bounded labels) for the router to count in `/metrics`.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING

from crocbot.core.desk.actions import Action, Note, StartTimer
from crocbot.core.desk.events import LookupDue, StopBudgetDue
from crocbot.core.desk.state import PositionState
from crocbot.core.desk.trading_status import amends_allowed
from crocbot.core.messages import (
    RATE_LIMITED,
    UNSENT,
    CommandUnknown,
    PositionSide,
    StopAmendRequest,
    StopKind,
)
from crocbot.core.messages.commands import Amend, Cancel, Query, Submit
from crocbot.core.order_state import TrackedOrder
from crocbot.core.trading_counter import ADD_COST, TradingCounter, amend_cost, cancel_cost

if TYPE_CHECKING:
    from crocbot.core.desk.state import Book

__all__ = ["StopUpdates", "StopOutcome", "worth"]

_AGE_SLACK = 1.0  # seconds taken off an order's age: younger means a dearer amend, the safe side of clocks
_MIN_WAIT = 0.05  # seconds: a timer no sooner than this (the counter's decay is continuous)


class StopOutcome(StrEnum):
    """What happened to a stop update: the label values of `crocbot_stop_updates_total`."""

    SENT = "sent"  # an amend of the stop's trigger went out
    CONFIRMED = "confirmed"  # the venue confirmed the level asked (directly or when looked up)
    REFUSED = "refused"  # the venue refused it (the rate limit included)
    UNSENT = "unsent"  # it never left crocbot (the venue's call queue full, its breaker open): tried again
    CONFLATED = "conflated"  # a wish replaced by a newer one before it was sent
    THROTTLED = "throttled"  # a wish that had to wait for room in the pair's trading counter
    UNKNOWN = "unknown"  # no answer by the deadline: looked up
    DROPPED = "dropped"  # a waiting wish no longer tighter than the live stop, or no longer below the market


class StopUpdates:
    """The stop amends of every position (see the module doc). Owned by the desk; every method runs on its thread."""

    def __init__(self, counter: TradingCounter, *, retry: float = 1.0) -> None:
        self.counter = counter
        self.retry = retry  # seconds before a lookup without an answer, or an unsent amend, is tried again
        self.tally: Counter[StopOutcome] = Counter()
        self._waiting: dict[str, list[str]] = {}  # symbol -> positions waiting for room, oldest first
        self._timers: dict[str, datetime] = {}  # symbol -> when its StopBudgetDue fires
        self._lookups: set[str] = set()  # orders being looked up
        self._touched: dict[str, datetime] = {}  # order -> when crocbot last sent an amend of it

    def take_tally(self) -> dict[StopOutcome, int]:
        """The outcomes since the last call (the router counts them in `/metrics`)."""
        if not self.tally:
            return {}
        out = dict(self.tally)
        self.tally.clear()
        return out

    def busy(self, desk: Book) -> int:
        """Open positions with a stop amend in flight (being looked up included) or a wish waiting (0: all settled)."""
        return sum(
            1 for p in desk.positions.values() if p.open and (p.pending_stop is not None or p.wanted_stop is not None)
        )

    # -- the trading counter ------------------------------------------------------------------------------

    def sending(self, desk: Book, action: Action, now: datetime) -> None:
        """The router is sending `action` to the venue: charge its pair's counter (until the venue answers)."""
        if isinstance(action, Submit):
            self.counter.sent(action.intent.symbol, action.intent.cl_ord_id, ADD_COST, now)
            return
        if not isinstance(action, Amend | Cancel):
            return
        order = desk.orders.get(action.cl_ord_id)
        age = self._age(order, now) if order is not None else 0.0
        cost = amend_cost(age) if isinstance(action, Amend) else cancel_cost(age)
        self.counter.sent(action.symbol, action.cl_ord_id, cost, now)
        if isinstance(action, Amend):
            self._touched[action.cl_ord_id] = now

    def answered(self, cl_ord_id: str, now: datetime, *, ended: bool = False) -> None:
        self.counter.answered(cl_ord_id, now)
        if ended:
            self._touched.pop(cl_ord_id, None)
            self._lookups.discard(cl_ord_id)

    def _age(self, order: TrackedOrder, now: datetime) -> float:
        """Seconds since the venue last placed or amended `order`, as far as crocbot can tell, a little less."""
        times = [t for t in (order.created_at, order.updated_at, self._touched.get(order.cl_ord_id)) if t is not None]
        touched = max(times) if times else now
        return max(0.0, (now - touched).total_seconds() - _AGE_SLACK)

    # -- wishes ---------------------------------------------------------------------------------------------

    def desire(self, desk: Book, request: StopAmendRequest, now: datetime) -> list[Action]:
        position = desk.positions.get(request.position_id)
        if position is None or not position.open or position.exiting or position.stop_order is None:
            return []
        if not position.stop_live or not worth(position, request.stop, desk.marks.get(position.symbol)):
            return []
        replaced = position.wanted_stop is not None
        position.wanted_stop = (request.stop, request.kind)
        if replaced:
            self.tally[StopOutcome.CONFLATED] += 1
        if position.pending_stop is not None or position.position_id in self._waiting.get(position.symbol, ()):
            return []  # it goes when the amend in flight ends, or when its turn for room comes
        return self.send_next(desk, position, now)

    def send_next(self, desk: Book, position: PositionState, now: datetime) -> list[Action]:
        """Send the position's waiting wish if nothing is in flight for its stop and the pair has room (else queue)."""
        queue = self._waiting.get(position.symbol)
        if queue and position.position_id not in queue and position.wanted_stop is not None:
            queue.append(position.position_id)  # others wait for room already: behind them
            return []
        if not amends_allowed(desk, position.symbol):
            if position.wanted_stop is not None:
                self._queue(position)
            return []
        actions, _, wait = self._try(desk, position, now, 0.0)
        if wait > 0:
            return self._wait(position, wait, now)
        return actions

    def _try(
        self, desk: Book, position: PositionState, now: datetime, extra: float
    ) -> tuple[list[Action], float, float]:
        """(the amend, its cost, 0) when it can go; ([], 0, seconds to wait) when the pair has no room for it yet;
        ([], 0, 0) when there is nothing to send. `extra`: the cost of amends decided in this same turn."""
        wanted = position.wanted_stop
        if wanted is None or position.pending_stop is not None:
            return [], 0.0, 0.0
        stop = desk.orders.get(position.stop_order or "")
        if not position.open or position.exiting or stop is None or not position.stop_live or not stop.is_open:
            position.wanted_stop = None
            return [], 0.0, 0.0
        level, kind = wanted
        if not worth(position, level, desk.marks.get(position.symbol)):
            position.wanted_stop = None
            self.tally[StopOutcome.DROPPED] += 1
            return [], 0.0, 0.0
        cost = amend_cost(self._age(stop, now))
        wait = self.counter.wait(position.symbol, cost + extra, now)
        if wait > 0:
            return [], 0.0, wait
        position.wanted_stop, position.pending_stop = None, (level, kind)
        self.tally[StopOutcome.SENT] += 1
        return [Amend(stop.cl_ord_id, position.symbol, now, trigger_price=level)], cost, 0.0

    def _wait(self, position: PositionState, wait: float, now: datetime) -> list[Action]:
        if self._queue(position):
            self.tally[StopOutcome.THROTTLED] += 1
        return self._timer(position.symbol, wait, now)

    def _queue(self, position: PositionState) -> bool:
        """Put the position in its pair's queue; False if it was there already."""
        queue = self._waiting.setdefault(position.symbol, [])
        if position.position_id in queue:
            return False
        queue.append(position.position_id)
        return True

    def _timer(self, symbol: str, wait: float, now: datetime) -> list[Action]:
        wait = max(wait, _MIN_WAIT)
        due = now + timedelta(seconds=wait)
        pending = self._timers.get(symbol)
        if pending is not None and pending <= due:
            return []  # one is on its way, no later than this one would be
        self._timers[symbol] = due
        return [StartTimer(wait, StopBudgetDue(symbol))]

    def budget_due(self, desk: Book, timer: StopBudgetDue, now: datetime) -> list[Action]:
        due = self._timers.get(timer.symbol)
        if due is not None and due <= now:
            del self._timers[timer.symbol]
        return self.drain(desk, timer.symbol, now)

    def drain(self, desk: Book, symbol: str, now: datetime) -> list[Action]:
        """Send what waits for room in `symbol`'s counter, oldest first, as long as there is room."""
        queue = self._waiting.get(symbol)
        if not queue or not amends_allowed(desk, symbol):
            return []
        actions: list[Action] = []
        extra = 0.0
        while queue:
            position = desk.positions.get(queue[0])
            if position is None:
                queue.pop(0)
                continue
            sent, cost, wait = self._try(desk, position, now, extra)
            if wait > 0:
                return actions + self._timer(symbol, wait, now)
            queue.pop(0)
            actions += sent
            extra += cost
        del self._waiting[symbol]
        return actions

    # -- the end of an amend in flight ----------------------------------------------------------------------

    def ended(
        self, desk: Book, position: PositionState, asked: tuple[Decimal, StopKind], now: datetime
    ) -> list[Action]:
        """The amend in flight for `position` (that asked for `asked`) is over: count it, send the next wish, and
        whatever waits for room in the pair (this amend's charge decays from now)."""
        if position.stop == asked[0]:
            self.tally[StopOutcome.CONFIRMED] += 1
        return [*self.send_next(desk, position, now), *self.drain(desk, position.symbol, now)]

    def refused(self, position: PositionState, asked: tuple[Decimal, StopKind], reason: str) -> bool:
        """The amend asking for `asked` was refused. True if it is kept as the wish: nothing happened to the stop
        (the rate limit, never sent) and no newer wish came; any other refusal drops that level."""
        self.tally[StopOutcome.UNSENT if reason == UNSENT else StopOutcome.REFUSED] += 1
        if reason not in (RATE_LIMITED, UNSENT):
            return False
        if position.wanted_stop is None:
            position.wanted_stop = asked
        return True

    def wait_for(self, position: PositionState, seconds: float, now: datetime) -> list[Action]:
        """Queue the position's wish behind the others of its pair for at least `seconds`."""
        if position.wanted_stop is None:
            return []
        return self._wait(position, seconds, now)

    # -- unknown outcomes -----------------------------------------------------------------------------------

    def unknown(self, desk: Book, event: CommandUnknown, now: datetime) -> list[Action]:
        order = desk.orders.get(event.cl_ord_id)
        if order is None or not order.is_open:
            return []
        if event.command == "query":  # the lookup itself got no answer: ask again a little later
            return [StartTimer(self.retry, LookupDue(order.cl_ord_id))] if order.cl_ord_id in self._lookups else []
        position = desk.positions.get(order.position_id or "")
        if position is not None and position.stop_order == order.cl_ord_id and position.pending_stop is not None:
            self.tally[StopOutcome.UNKNOWN] += 1
        self._lookups.add(order.cl_ord_id)
        text = f"{event.command} of {order.cl_ord_id} got no answer ({event.reason}): looking the order up"
        return [Note("WARNING", text, order.symbol), Query(order.cl_ord_id, order.symbol, now)]

    def lookup_due(self, desk: Book, timer: LookupDue, now: datetime) -> list[Action]:
        order = desk.orders.get(timer.cl_ord_id)
        if order is None or timer.cl_ord_id not in self._lookups:
            return []
        return [Query(order.cl_ord_id, order.symbol, now)]

    def looking_up(self, cl_ord_id: str) -> bool:
        return cl_ord_id in self._lookups

    def looked_up(self, cl_ord_id: str) -> None:
        self._lookups.discard(cl_ord_id)


def worth(position: PositionState, level: Decimal, mark: Decimal | None) -> bool:
    """Tighter than the live stop, and on the safe side of the market (a stop through it would fire at once)."""
    long = position.side is PositionSide.LONG
    tighter = level > position.stop if long else level < position.stop
    safe = mark is None or (level < mark if long else level > mark)
    return tighter and safe
