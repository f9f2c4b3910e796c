"""The venue side of `bench_sl.py`: a fake Kraken that hangs one call in ten, the positions' journal, and the old path.

`FakeKraken` implements `crocbot.actors.venue.OrderCalls` for the stop orders of the bench's positions: an
amend answers in ~1 ms with `OrderAmended`, or is refused with Kraken's error string (an unknown order, or
`EOrder:Rate limit exceeded` when it would take the pair's trading counter over its threshold, charged as Kraken
charges it, `crocbot.kraken.ratelimit`); a query answers the order's current terms. Every `hang_every`-th call
hangs `hang` seconds and ignores its deadline, as a stuck socket would, in one of two ways, in turn: on the way in
(the request reaches the engine after its deadline, which Kraken's `deadline` parameter makes it refuse: nothing
changes) or on the way back (the amend took effect and its answer is lost). The end of a run (`released`) cuts the
hangs short, so that the bench finishes on time.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from crocbot.actors.base import ChildContext, SupervisedActor
from crocbot.actors.breaker import CircuitBreaker
from crocbot.actors.gateway import CallResult, Deadline, Gateway
from crocbot.actors.venue import VenueRefusal
from crocbot.core.messages import (
    RATE_LIMITED,
    OrderAmended,
    OrderEvent,
    OrderIntent,
    OrderLookedUp,
    OrderPurpose,
    OrderStatus,
    OrderType,
    Position,
    Side,
    StopAmendRequest,
    StopKind,
)
from crocbot.kraken.ratelimit import LeakyCounter, TradingLimits, amend_cost
from crocbot.store.journal import Journal
from crocbot.venues.protocol import Amend, Cancel, Query, VenueEvent

__all__ = ["FakeKraken", "stop_id", "seed_journal", "OldPath", "ReadTally", "Tally"]

_UNKNOWN_ORDER = "EOrder:Unknown order"
_DEADLINE = "EService:Deadline elapsed"  # Kraken's answer to a request that reaches it after its `deadline`


def stop_id(position_id: str) -> str:
    return f"cbs{position_id}"


@dataclass(slots=True)
class _Stop:
    symbol: str
    trigger: Decimal
    touched: float  # monotonic: placed or last amended


class FakeKraken:
    def __init__(self, hang_every: int, hang: float, released: threading.Event, limits: TradingLimits) -> None:
        self.hang_every = hang_every
        self.hang = hang
        self.released = released
        self._limits = limits
        self._numbers = itertools.count(1)
        self._lock = threading.Lock()
        self._stops: dict[str, _Stop] = {}
        self._counters: dict[str, LeakyCounter] = {}
        self.calls = 0
        self.hangs = 0
        self.answers: Counter[str] = Counter()  # amends applied, refused (by reason), late

    def rest(self, positions: Sequence[Position]) -> None:
        """The positions' stop orders rest on the venue, placed long ago (an amend of them costs the fixed 1)."""
        with self._lock:
            for p in positions:
                self._stops[stop_id(p.position_id)] = _Stop(p.symbol, p.stop_price, float("-inf"))

    def triggers(self) -> dict[str, Decimal]:
        with self._lock:
            return {cl_ord_id: stop.trigger for cl_ord_id, stop in self._stops.items()}

    def _hang(self) -> str:
        """'' for a call that answers in ~1 ms; 'in' or 'out' for one that hangs on the way in or back."""
        with self._lock:
            number = next(self._numbers)
            self.calls += 1
            hangs = self.hang_every > 0 and number % self.hang_every == 0
            self.hangs += hangs
        if not hangs:
            time.sleep(0.001)
            return ""
        return "in" if (number // self.hang_every) % 2 else "out"

    def amend(self, amend: Amend, deadline: Deadline) -> Sequence[VenueEvent]:
        hang = self._hang()
        if hang == "in":
            self.released.wait(self.hang)
            if deadline.expired:
                self.answers["refused past its deadline"] += 1
                raise TimeoutError(_DEADLINE)  # a retryable error: for an order call, an unknown outcome
        with self._lock:
            stop = self._stops.get(amend.cl_ord_id)
            if stop is None or amend.trigger_price is None:
                raise VenueRefusal(_UNKNOWN_ORDER)
            counter = self._counters.get(stop.symbol)
            if counter is None:
                counter = self._counters[stop.symbol] = LeakyCounter(self._limits.threshold, self._limits.decay)
            now = time.monotonic()
            if not counter.try_add(amend_cost(now - stop.touched), now):
                self.answers["refused: rate limit"] += 1
                raise VenueRefusal(RATE_LIMITED)
            stop.trigger, stop.touched = amend.trigger_price, now
            self.answers["applied"] += 1
        if hang == "out":
            self.answers["applied, answer lost"] += 1
            self.released.wait(self.hang)
        return [OrderAmended(amend.cl_ord_id, datetime.now(UTC), trigger_price=amend.trigger_price)]

    def query(self, query: Query, deadline: Deadline) -> OrderLookedUp:
        if self._hang():
            self.released.wait(self.hang)
        with self._lock:
            stop = self._stops.get(query.cl_ord_id)
            now = datetime.now(UTC)
            if stop is None:
                return OrderLookedUp(query.cl_ord_id, now, None)
            return OrderLookedUp(query.cl_ord_id, now, OrderStatus.ACKED, qty=Decimal(1), trigger_price=stop.trigger)

    def submit(self, intent: OrderIntent, deadline: Deadline) -> Sequence[VenueEvent]:
        raise VenueRefusal("EGeneral:Invalid arguments")  # the bench sends no orders, only stop amends

    def cancel(self, cancel: Cancel, deadline: Deadline) -> Sequence[VenueEvent]:
        raise VenueRefusal("EGeneral:Invalid arguments")


def seed_journal(path: Path, positions: Sequence[Position]) -> None:
    """Journal the positions open, each protected by its acknowledged stop order: what the router rebuilds its desk
    from when it starts (`crocbot.core.desk.restore`), as after a restart. The desk opens one position per
    symbol; the bench keeps 50 per symbol so that each SL loop evaluates 50, and so 50 stops share each pair's
    trading counter, which paces their amends much harder than one stop per pair would."""
    journal = Journal(path)
    try:
        for p in positions:
            cl_ord_id = stop_id(p.position_id)
            intent = OrderIntent(
                cl_ord_id,
                p.symbol,
                Side.SELL,
                OrderType.STOP_LOSS,
                p.qty,
                OrderPurpose.STOP,
                p.opened_at,
                trigger_price=p.stop_price,
            )
            journal.record_intent(intent, position_id=p.position_id, reason="bench")
            journal.record_order_event(OrderEvent(cl_ord_id, OrderStatus.ACKED, p.opened_at, order_id="O" + cl_ord_id))
            journal.open_position(p)
            journal.update_stop(p.position_id, p.stop_price, StopKind.INITIAL, p.opened_at, cl_ord_id)
    finally:
        journal.close()


# -- the old path: every request straight into the gateway (the baseline) -------------------------------------


@dataclass
class Tally:
    """What the old path's caller did; written by its actor thread, read once the run is over."""

    requests: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)


@dataclass(frozen=True, slots=True)
class ReadTally:
    """Asked of the caller: a copy of its tally, taken in its own thread."""


class OldPath(SupervisedActor):
    """How `bench_sl.py` carried stop updates out before: each `StopAmendRequest` became one amend call through the
    gateway at once, whatever was in flight for the same order (no conflation, no pacing, no lookup)."""

    def __init__(
        self,
        ctx: ChildContext,
        gateway: Gateway,
        breaker: CircuitBreaker,
        kraken: FakeKraken,
        timeout: float,
        *,
        forward: bool = True,
    ) -> None:
        super().__init__(ctx)
        self._forward = forward  # False: only count the requests (a tap beside the real path)
        self._gateway = gateway
        self._breaker = breaker
        self._kraken = kraken
        self._timeout = timeout
        self._tally = Tally()

    def started(self) -> None:
        self.services.bus.subscribe(StopAmendRequest, self.name)

    def handle(self, message: Any) -> Any:
        if isinstance(message, StopAmendRequest):
            self._tally.requests += 1
            if not self._forward:
                return None
            amend = Amend(stop_id(message.position_id), message.symbol, message.ts, trigger_price=message.stop)
            kraken = self._kraken
            self._gateway.submit(
                lambda deadline: kraken.amend(amend, deadline),
                reply_to=self.actor_ref,
                timeout=self._timeout,
                tag=message.position_id,
                breaker=self._breaker,
            )
        elif isinstance(message, CallResult):
            self._tally.outcomes[str(message.outcome)] += 1
        elif isinstance(message, ReadTally):
            return Tally(self._tally.requests, Counter(self._tally.outcomes))
        else:
            return super().handle(message)
        return None
