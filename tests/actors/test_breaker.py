"""The circuit breaker, resilience4j semantics, on a simulated clock (slow calls move the clock, not sleep)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest

from crocbot.actors.breaker import BreakerConfig, CallNotPermitted, CircuitBreaker, WindowType
from crocbot.core.clock import SimClock, SystemClock
from crocbot.core.messages import BreakerState, BreakerStateChanged


class ServiceDown(Exception):
    pass


class InsufficientFunds(Exception):
    """A business rejection: the exchange works, the order was wrong."""


CONFIG = BreakerConfig(
    failure_rate_threshold=50,
    slow_call_rate_threshold=50,
    slow_call_duration=2.0,
    window_size=10,
    minimum_calls=5,
    open_wait=30.0,
    open_wait_multiplier=2.0,
    open_wait_max=300.0,
    open_wait_jitter=0.0,
    half_open_calls=3,
    ignore=(InsufficientFunds,),
)


def make(config: BreakerConfig = CONFIG) -> tuple[CircuitBreaker, SimClock, list[BreakerStateChanged]]:
    clock = SimClock()
    events: list[BreakerStateChanged] = []
    return CircuitBreaker("rest-private", config, clock, on_state_change=events.append), clock, events


def ok() -> str:
    return "ok"


def down() -> str:
    raise ServiceDown("EService:Unavailable")


def rejected() -> str:
    raise InsufficientFunds("EOrder:Insufficient funds")


def slow(clock: SimClock, seconds: float) -> Callable[[], str]:
    def call() -> str:
        clock.advance(seconds)
        return "late but fine"

    return call


def run(breaker: CircuitBreaker, fn: Callable[[], str]) -> str | None:
    try:
        return breaker.call(fn)
    except (ServiceDown, InsufficientFunds):
        return None


def trip(breaker: CircuitBreaker) -> None:
    for _ in range(5):
        run(breaker, down)
    assert breaker.state is BreakerState.OPEN


def state_of(breaker: CircuitBreaker) -> BreakerState:
    """Read through a call: mypy keeps `breaker.state` narrowed by an earlier assert across the calls that change
    it, and would call the next assert unreachable."""
    return breaker.state


def test_it_opens_on_failure_rate_once_the_window_holds_the_minimum_calls() -> None:
    breaker, _, events = make()
    for fn in (ok, down, down, ok):
        run(breaker, fn)
    assert breaker.state is BreakerState.CLOSED  # 4 calls: below the minimum of 5

    run(breaker, down)  # 3 of 5 failed: 60 % >= 50 %

    assert state_of(breaker) is BreakerState.OPEN
    assert [(e.previous, e.current, e.failure_rate, e.calls) for e in events] == [
        (BreakerState.CLOSED, BreakerState.OPEN, 60.0, 5)
    ]


def test_it_stays_closed_below_the_failure_threshold() -> None:
    breaker, _, _ = make()
    for fn in (ok, ok, ok, down, ok, ok, down, ok, ok, ok):
        run(breaker, fn)
    assert breaker.state is BreakerState.CLOSED
    assert breaker.snapshot().failure_rate == 20.0


def test_it_opens_on_slow_call_rate_even_when_every_call_succeeds() -> None:
    breaker, clock, events = make()
    for seconds in (0.1, 2.5, 0.1, 3.0, 2.0):  # 3 of 5 took >= 2 s
        assert run(breaker, slow(clock, seconds)) == "late but fine"

    assert breaker.state is BreakerState.OPEN
    assert events[-1].slow_call_rate == 60.0
    assert events[-1].failure_rate == 0.0


def test_an_open_breaker_refuses_without_calling() -> None:
    breaker, clock, _ = make()
    trip(breaker)
    called: list[int] = []
    clock.advance(10)

    def call() -> str:
        called.append(1)
        return "x"

    with pytest.raises(CallNotPermitted, match=r"retry in 20\.0s") as refused:
        breaker.call(call)

    assert called == []
    assert refused.value.retry_after == pytest.approx(20.0)


def test_it_half_opens_after_its_open_period_and_closes_after_good_probes() -> None:
    breaker, clock, events = make()
    trip(breaker)
    clock.advance(29.9)
    assert breaker.try_acquire() is None

    clock.advance(0.1)
    for _ in range(3):
        assert run(breaker, ok) == "ok"

    assert [e.current for e in events] == [BreakerState.OPEN, BreakerState.HALF_OPEN, BreakerState.CLOSED]
    assert breaker.state is BreakerState.CLOSED
    assert breaker.snapshot().calls == 0  # a fresh window after closing


def test_half_open_lets_exactly_the_configured_number_of_probes_through() -> None:
    breaker, clock, _ = make()
    trip(breaker)
    clock.advance(30)

    permits = [breaker.try_acquire() for _ in range(4)]

    assert [p is not None for p in permits] == [True, True, True, False]
    assert breaker.state is BreakerState.HALF_OPEN


def test_a_failed_probe_reopens_with_a_longer_open_period() -> None:
    breaker, clock, events = make()
    trip(breaker)
    clock.advance(30)
    for fn in (ok, down, down):
        run(breaker, fn)

    assert breaker.state is BreakerState.OPEN
    assert events[-1].open_for == 60.0  # 30 s doubled
    clock.advance(59)
    assert breaker.try_acquire() is None
    clock.advance(1)
    assert breaker.try_acquire() is not None


def test_business_rejections_count_as_neither_success_nor_failure() -> None:
    breaker, clock, _ = make()
    for _ in range(20):
        with pytest.raises(InsufficientFunds):
            breaker.call(rejected)
    assert breaker.state is BreakerState.CLOSED
    assert breaker.snapshot().calls == 0

    trip(breaker)
    clock.advance(30)
    for _ in range(5):
        run(breaker, rejected)  # each gives its probe back
    for _ in range(3):
        run(breaker, ok)
    assert breaker.state is BreakerState.CLOSED


def test_the_time_window_forgets_old_failures() -> None:
    config = BreakerConfig(
        failure_rate_threshold=50, window_type=WindowType.TIME, window_size=10, minimum_calls=4, open_wait_jitter=0
    )
    breaker, clock, _ = make(config)
    for _ in range(3):
        run(breaker, down)
    clock.advance(11)  # those three failures age out
    for fn in (ok, ok, ok, down):
        run(breaker, fn)

    assert breaker.state is BreakerState.CLOSED
    assert breaker.snapshot().failure_rate == 25.0


def test_an_outcome_from_before_a_state_change_is_not_counted_after_it() -> None:
    breaker, clock, _ = make()
    straggler = breaker.try_acquire()
    assert straggler is not None
    trip(breaker)
    clock.advance(30)
    assert breaker.try_acquire() is not None  # half-open now

    straggler.failure(ServiceDown("late"))  # let in while closed: says nothing about the probes

    assert breaker.snapshot().calls == 0
    assert breaker.state is BreakerState.HALF_OPEN


def test_four_concurrent_slow_calls_run_in_parallel_through_one_breaker() -> None:
    """No lock is held around the call: pybreaker, which holds one, takes 0.8 s for these four."""
    breaker = CircuitBreaker("parallel", BreakerConfig(slow_call_duration=10.0), SystemClock())
    inside = threading.Barrier(4, timeout=5)  # passes only if all four calls are inside at once

    def call() -> str:
        inside.wait()
        time.sleep(0.2)  # the call under test: simulated exchange latency, not synchronisation
        return "ok"

    results: list[str] = []
    threads = [threading.Thread(target=lambda: results.append(breaker.call(call))) for _ in range(4)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=5)
    elapsed = time.monotonic() - started

    assert results == ["ok"] * 4
    assert elapsed < 0.6, f"four 0.2 s calls took {elapsed:.2f}s: they were serialised"
    assert breaker.snapshot().calls == 4


def test_bad_configurations_are_refused() -> None:
    with pytest.raises(ValueError, match="percentage"):
        BreakerConfig(failure_rate_threshold=0)
    with pytest.raises(ValueError, match="at least 1"):
        BreakerConfig(half_open_calls=0)
    with pytest.raises(ValueError, match="open_wait_max"):
        BreakerConfig(open_wait=60, open_wait_max=30)
