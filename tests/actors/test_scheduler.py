"""Timers on the injected clock: due timers fire inside `advance()`, periodic ones do not pile up."""

from __future__ import annotations

import queue
import threading

from crocbot.actors.scheduler import Scheduler
from crocbot.core.clock import SimClock, SystemClock


def test_a_timer_fires_when_the_simulated_clock_reaches_it_and_not_before() -> None:
    clock = SimClock()
    scheduler = Scheduler(clock)
    fired: list[float] = []
    scheduler.call_later(5.0, lambda: fired.append(clock.monotonic()))

    clock.advance(4.999)
    assert fired == []
    clock.advance(0.001)
    assert fired == [5.0]
    clock.advance(100)
    assert fired == [5.0]


def test_timers_fire_in_deadline_order() -> None:
    clock = SimClock()
    scheduler = Scheduler(clock)
    fired: list[str] = []
    scheduler.call_later(3, lambda: fired.append("c"))
    scheduler.call_later(1, lambda: fired.append("a"))
    scheduler.call_later(2, lambda: fired.append("b"))

    clock.advance(10)

    assert fired == ["a", "b", "c"]


def test_a_cancelled_timer_never_fires() -> None:
    clock = SimClock()
    scheduler = Scheduler(clock)
    fired: list[int] = []
    handle = scheduler.call_later(1, lambda: fired.append(1))

    handle.cancel()
    clock.advance(2)

    assert fired == []
    assert scheduler.pending == 0


def test_a_periodic_timer_fires_once_per_interval_and_once_after_a_jump() -> None:
    clock = SimClock()
    scheduler = Scheduler(clock)
    fired: list[float] = []
    scheduler.call_every(1.0, lambda: fired.append(clock.monotonic()))

    for _ in range(3):
        clock.advance(1.0)
    clock.advance(3600)  # an hour in one step: one tick, not 3,600
    clock.advance(1.0)

    assert fired == [1.0, 2.0, 3.0, 3603.0, 3604.0]


def test_a_failing_callback_does_not_stop_the_others() -> None:
    clock = SimClock()
    scheduler = Scheduler(clock)
    fired: list[str] = []

    def broken() -> None:
        raise RuntimeError("broken timer")

    scheduler.call_later(1, broken)
    scheduler.call_later(1, lambda: fired.append("ok"))
    clock.advance(1)

    assert fired == ["ok"]


def test_the_wall_clock_scheduler_runs_its_own_thread() -> None:
    scheduler = Scheduler(SystemClock())
    scheduler.start()
    try:
        fired: queue.Queue[str] = queue.Queue()
        scheduler.call_later(0.01, lambda: fired.put("late"))
        scheduler.call_later(0.0, lambda: fired.put("now"))
        assert [fired.get(timeout=5), fired.get(timeout=5)] == ["now", "late"]
    finally:
        scheduler.stop()
    assert not any(t.name == "scheduler" and t.is_alive() for t in threading.enumerate())
