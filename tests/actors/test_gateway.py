"""The gateway: exchange calls off the actor's thread, one result per call, by the deadline at the latest."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from crocbot.actors.breaker import BreakerConfig, CircuitBreaker
from crocbot.actors.gateway import CallOutcome, CallResult, Deadline, DeadlineExceeded, Gateway
from crocbot.actors.scheduler import Scheduler
from crocbot.core.clock import SimClock, SystemClock
from crocbot.core.messages import BreakerState
from tests.support.actors import WAIT


class Rejected(Exception):
    pass


@pytest.fixture
def clock() -> SimClock:
    return SimClock()


@pytest.fixture
def release() -> Iterator[threading.Event]:
    event = threading.Event()
    yield event
    event.set()


_started: list[tuple[Gateway, Scheduler]] = []


@pytest.fixture(autouse=True)
def _stop_gateways() -> Iterator[None]:
    yield
    while _started:
        gw, scheduler = _started.pop()
        gw.stop(timeout=WAIT)
        scheduler.stop()


def gateway(clock: SimClock | SystemClock, workers: int = 2, queue_size: int = 8) -> Gateway:
    scheduler = Scheduler(clock)
    scheduler.start()
    gw = Gateway("rest", scheduler, workers=workers, queue_size=queue_size)
    gw.start()
    _started.append((gw, scheduler))
    return gw


def state_of(breaker: CircuitBreaker) -> BreakerState:
    """Read through a call: mypy keeps `breaker.state` narrowed by an earlier assert across the calls that change
    it, and would call the next assert unreachable."""
    return breaker.state


def blocking(started: threading.Event, release: threading.Event, value: str = "done") -> Callable[[Deadline], str]:
    def call(deadline: Deadline) -> str:
        started.set()
        release.wait(timeout=30)
        return value

    return call


def test_a_result_comes_back_as_a_message_with_the_callers_tag(clock: SimClock) -> None:
    results: queue.Queue[CallResult[Any]] = queue.Queue()
    gw = gateway(clock)

    call_id = gw.submit(lambda deadline: deadline.remaining(), reply_to=results.put, timeout=5.0, tag="ticker")

    result = results.get(timeout=WAIT)
    assert (result.call_id, result.tag, result.outcome, result.value) == (call_id, "ticker", CallOutcome.OK, 5.0)


def test_a_call_that_ignores_its_deadline_times_out_on_time_and_its_late_result_is_dropped(
    clock: SimClock, release: threading.Event
) -> None:
    results: queue.Queue[CallResult[Any]] = queue.Queue()
    gw = gateway(clock)
    started = threading.Event()
    gw.submit(blocking(started, release, "too late"), reply_to=results.put, timeout=2.0, tag="AddOrder")
    assert started.wait(WAIT)

    clock.advance(2.0)
    result = results.get(timeout=WAIT)
    release.set()
    follow_up: queue.Queue[CallResult[Any]] = queue.Queue()
    gw.submit(lambda d: "next", reply_to=follow_up.put, timeout=5.0)  # the freed worker takes the next call
    assert follow_up.get(timeout=WAIT).value == "next"

    assert result.outcome is CallOutcome.TIMED_OUT  # sent, outcome unknown: to be looked up, never resent
    assert isinstance(result.error, DeadlineExceeded)
    assert result.sent
    assert results.empty()


def test_a_call_still_queued_at_its_deadline_is_never_started(clock: SimClock, release: threading.Event) -> None:
    results: queue.Queue[CallResult[Any]] = queue.Queue()
    gw = gateway(clock, workers=1)
    started = threading.Event()
    gw.submit(blocking(started, release), reply_to=results.put, timeout=60.0, tag="first")
    assert started.wait(WAIT)
    ran: list[str] = []

    def second(deadline: Deadline) -> str:
        ran.append("second")
        return "x"

    gw.submit(second, reply_to=results.put, timeout=1.0, tag="second")

    clock.advance(1.0)
    expired = results.get(timeout=WAIT)
    release.set()
    first = results.get(timeout=WAIT)

    assert (expired.tag, expired.outcome, expired.sent) == ("second", CallOutcome.EXPIRED, False)
    assert (first.tag, first.outcome) == ("first", CallOutcome.OK)
    assert ran == []


def test_a_full_queue_answers_busy_at_once(clock: SimClock, release: threading.Event) -> None:
    results: queue.Queue[CallResult[Any]] = queue.Queue()
    gw = gateway(clock, workers=1, queue_size=1)
    started = threading.Event()
    gw.submit(blocking(started, release), reply_to=results.put, timeout=60.0, tag="running")
    assert started.wait(WAIT)
    gw.submit(lambda d: "queued", reply_to=results.put, timeout=60.0, tag="queued")

    gw.submit(lambda d: "refused", reply_to=results.put, timeout=60.0, tag="overflow")

    busy = results.get(timeout=WAIT)
    assert (busy.tag, busy.outcome, busy.sent) == ("overflow", CallOutcome.BUSY, False)


def test_an_open_breaker_refuses_and_business_rejections_do_not_count(clock: SimClock) -> None:
    results: queue.Queue[CallResult[Any]] = queue.Queue()
    breaker = CircuitBreaker(
        "private",
        BreakerConfig(window_size=4, minimum_calls=4, open_wait_jitter=0, ignore=(Rejected,)),
        clock,
    )
    gw = gateway(clock)

    def reject(deadline: Deadline) -> str:
        raise Rejected("EOrder:Insufficient funds")

    def fail(deadline: Deadline) -> str:
        raise ConnectionError("connection reset")

    for _ in range(6):
        gw.submit(reject, reply_to=results.put, timeout=5.0, breaker=breaker)
        assert results.get(timeout=WAIT).outcome is CallOutcome.REJECTED
    assert breaker.state is BreakerState.CLOSED
    for _ in range(4):
        gw.submit(fail, reply_to=results.put, timeout=5.0, breaker=breaker)
        assert results.get(timeout=WAIT).outcome is CallOutcome.FAILED
    ran: list[int] = []

    def call(deadline: Deadline) -> str:
        ran.append(1)
        return "x"

    gw.submit(call, reply_to=results.put, timeout=5.0, breaker=breaker)

    refused = results.get(timeout=WAIT)
    assert state_of(breaker) is BreakerState.OPEN
    assert (refused.outcome, refused.sent, ran) == (CallOutcome.NOT_PERMITTED, False, [])


def test_four_concurrent_slow_calls_through_the_gateway_and_one_breaker_take_one_call_time() -> None:
    results: queue.Queue[CallResult[Any]] = queue.Queue()
    clock = SystemClock()
    breaker = CircuitBreaker("parallel", BreakerConfig(slow_call_duration=10.0), clock)
    gw = gateway(clock, workers=4)
    inside = threading.Barrier(4, timeout=5)

    def call(deadline: Deadline) -> str:
        inside.wait()
        time.sleep(0.2)  # simulated exchange latency, the subject of the test
        return "ok"

    started = time.monotonic()
    for i in range(4):
        gw.submit(call, reply_to=results.put, timeout=5.0, tag=i, breaker=breaker)
    outcomes = [results.get(timeout=WAIT).outcome for _ in range(4)]
    elapsed = time.monotonic() - started

    assert outcomes == [CallOutcome.OK] * 4
    assert elapsed < 0.6, f"took {elapsed:.2f}s"


def test_a_worker_stuck_past_its_deadline_is_replaced_and_retires_when_its_call_returns(
    clock: SimClock, release: threading.Event
) -> None:
    results: queue.Queue[CallResult[Any]] = queue.Queue()
    gw = gateway(clock, workers=1)
    stuck: list[threading.Thread] = []
    started = threading.Event()

    def hung_socket(deadline: Deadline) -> str:
        stuck.append(threading.current_thread())
        started.set()
        release.wait(timeout=30)
        return "too late"

    gw.submit(hung_socket, reply_to=results.put, timeout=1.0, tag="hung socket")
    assert started.wait(WAIT)
    clock.advance(0.5)
    gw.submit(lambda d: "queued", reply_to=results.put, timeout=60.0, tag="queued")  # waits: the worker is busy
    clock.advance(0.5)
    by_tag = {r.tag: r for r in (results.get(timeout=WAIT), results.get(timeout=WAIT))}
    timed_out, served = by_tag["hung socket"], by_tag["queued"]  # served by a replacement worker
    threads_while_stuck = gw.threads
    release.set()
    stuck[0].join(timeout=WAIT)

    assert (timed_out.tag, timed_out.outcome) == ("hung socket", CallOutcome.TIMED_OUT)
    assert (served.tag, served.value) == ("queued", "queued")
    assert threads_while_stuck == 2
    assert not stuck[0].is_alive()  # it left once its call returned
    assert gw.threads == 1
