"""The reconciler with a live view source: the view is read in a gateway worker with a deadline, a view that hangs is
a failed attempt at its deadline and is retried, and no actor waits meanwhile, the reconciler included."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest

from crocbot.actors.base import ChildContext, SupervisedActor
from crocbot.actors.breaker import BreakerConfig, CircuitBreaker
from crocbot.actors.gateway import Deadline, Gateway
from crocbot.actors.messages import ApplyReconciliation, BooksSnapshot, FillsOnlyLogged, ReadJournal
from crocbot.actors.protocol import HEARTBEAT
from crocbot.actors.reconciler import Reconciler
from crocbot.actors.runtime import Runtime
from crocbot.actors.supervisor import ChildSpec, Policy
from crocbot.core.clock import SimClock
from crocbot.core.messages import Fill, ReconcileRequest
from crocbot.core.messages.journal import SaveState
from crocbot.core.reconcile import BooksView, VenueView
from tests.support.actors import WAIT, Echo, settle

VIEW_TIMEOUT = 10.0


class EmptyJournal:
    """What the reconciler reads of a journal that holds no fill yet."""

    def last_fill_time(self) -> datetime | None:
        return None

    def fill_ids(self) -> list[str]:
        return []

    def fills(self, since: datetime | None = None) -> list[Fill]:
        return []


class Books(SupervisedActor):
    """Persistence and router in one stub: an empty journal, books holding 1 BTC, and the plans it is handed."""

    def __init__(self, ctx: ChildContext, plans: list[ApplyReconciliation]) -> None:
        super().__init__(ctx)
        self.plans = plans

    def handle(self, message: Any) -> Any:
        if isinstance(message, ReadJournal):
            return message.read(EmptyJournal())
        if isinstance(message, FillsOnlyLogged | SaveState):
            return [] if isinstance(message, FillsOnlyLogged) else None
        if isinstance(message, BooksSnapshot):
            return BooksView((), frozenset(), frozenset(), {"BTC": Decimal(1)})
        if isinstance(message, ApplyReconciliation):
            self.plans.append(message)
            return []
        if isinstance(message, Echo):
            return message.value
        return super().handle(message)


class HangsOnce:
    """A view source whose first call hangs until released (a Kraken call that never answers), then answers."""

    def __init__(self, clock: SimClock) -> None:
        self.clock = clock
        self.calls = 0
        self.entered = [threading.Event(), threading.Event()]
        self.release = threading.Event()

    def __call__(self, ids: tuple[str, ...], since: datetime | None, deadline: Deadline) -> VenueView:
        self.calls += 1
        self.entered[min(self.calls, 2) - 1].set()
        if self.calls == 1:
            self.release.wait(timeout=30)
        # 0.5 BTC free at the venue for crocbot's 1 BTC: a gap the report must show
        return VenueView((), (), {"BTC": Decimal("0.5")}, self.clock.now(), shared=True)


def advance_until(clock: SimClock, done: Callable[[], bool], step: float = 1.0, steps: int = 60) -> None:
    for _ in range(steps):
        if done():
            return
        clock.advance(step)
        settle()
    assert done(), f"not done after {steps * step} event seconds"


def wait_for(done: Callable[[], bool]) -> None:
    """Until `done`, without moving the event clock (what it waits for needs no time to pass), within WAIT."""
    deadline = time.monotonic() + WAIT
    while not done():
        assert time.monotonic() < deadline, f"not done within {WAIT} s"
        time.sleep(0.01)


@pytest.fixture
def gateway(runtime: Runtime) -> Gateway:
    return Gateway("private-queries", runtime.scheduler, workers=1)


def test_a_hung_view_is_a_failed_attempt_at_its_deadline_and_is_retried_while_other_actors_answer(
    runtime: Runtime, clock: SimClock, gateway: Gateway
) -> None:
    plans: list[ApplyReconciliation] = []
    source = HangsOnce(clock)
    breaker = CircuitBreaker("private-queries", BreakerConfig(), clock)
    gateway.start()
    try:
        runtime.start(
            [
                ChildSpec.actor("persistence", Books, plans),
                ChildSpec.actor("router", Books, plans),
                ChildSpec.actor(
                    "reconciler",
                    Reconciler,
                    interval=0.0,
                    view_source=source,
                    gateway=gateway,
                    breaker=breaker,
                    view_timeout=VIEW_TIMEOUT,
                ),
            ],
            Policy(),
        )
        assert source.entered[0].wait(WAIT), "the start-up run asked for the view"
        # The hung call holds a gateway worker only: the other actors answer, and so does the reconciler.
        assert runtime.directory.ask("router", Echo("here"), timeout=WAIT) == "here"
        assert runtime.directory.ask("reconciler", HEARTBEAT, timeout=WAIT) is True
        assert plans == []
        started = clock.monotonic()
        advance_until(clock, source.entered[1].is_set)
        second_at = clock.monotonic() - started
        wait_for(lambda: len(plans) == 1)
    finally:
        source.release.set()
        gateway.stop()

    assert source.calls == 2
    assert second_at >= VIEW_TIMEOUT + 5.0  # the deadline, then the first retry pause of a start-up run
    assert plans[0].startup
    assert plans[0].plan.balance_gaps == (("BTC", Decimal(1), Decimal("0.5")),)
    snapshot = breaker.snapshot()  # the timed-out view counted against the private-queries breaker
    assert (snapshot.calls, snapshot.failure_rate) == (2, 50.0)


def test_a_view_source_without_a_gateway_is_refused(runtime: Runtime) -> None:
    def source(ids: tuple[str, ...], since: datetime | None, deadline: Deadline) -> VenueView:
        raise AssertionError("never called")

    with pytest.raises(ValueError, match="needs a gateway"):
        Reconciler(_context(runtime), view_source=source)


def _context(runtime: Runtime) -> ChildContext:
    return ChildContext("reconciler", 1, runtime.services, lambda exited: None, threading.Event())


class Gated:
    """A view source whose second call waits for `release` (the venue is slow while a request comes in)."""

    def __init__(self, clock: SimClock) -> None:
        self.clock = clock
        self.calls = 0
        self.second = threading.Event()
        self.release = threading.Event()

    def __call__(self, ids: tuple[str, ...], since: datetime | None, deadline: Deadline) -> VenueView:
        self.calls += 1
        if self.calls == 2:
            self.second.set()
            self.release.wait(timeout=30)
        return VenueView((), (), {"BTC": Decimal(1)}, self.clock.now(), shared=True)


def test_a_request_while_a_run_waits_for_its_view_gets_a_run_of_its_own_afterwards(
    runtime: Runtime, clock: SimClock, gateway: Gateway
) -> None:
    plans: list[ApplyReconciliation] = []
    source = Gated(clock)
    gateway.start()
    try:
        runtime.start(
            [
                ChildSpec.actor("persistence", Books, plans),
                ChildSpec.actor("router", Books, plans),
                ChildSpec.actor("reconciler", Reconciler, interval=0.0, view_source=source, gateway=gateway),
            ],
            Policy(),
        )
        wait_for(lambda: len(plans) == 1)  # the start-up run
        runtime.services.bus.publish(ReconcileRequest("the private feed reconnected", clock.now()))
        assert source.second.wait(WAIT), "the request's run asked for the view"
        runtime.services.bus.publish(ReconcileRequest("it reconnected again", clock.now()))
        settle()
        assert source.calls == 2  # one run at a time
        source.release.set()
        wait_for(lambda: source.calls == 3)
    finally:
        source.release.set()
        gateway.stop()
