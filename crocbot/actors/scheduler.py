"""Timers for actors, driven by the injected clock (pykka has none).

One scheduler delivers every timer. With a `SimClock` it fires due timers inside `advance()`, in the thread
that moved the clock, so a test knows every due timer message has been sent when `advance()` returns. With the
system clock (or a `ReplayClock`) it runs one daemon thread that sleeps until the next deadline, converting event
seconds to wall seconds at the clock's rate. Timer callbacks must not block: the usual one is `ActorRef.tell`.
"""

from __future__ import annotations

import functools
import heapq
import itertools
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pykka
from loguru import logger

from crocbot.core.clock import Clock, wall_rate

__all__ = ["Scheduler", "TimerHandle"]

_IDLE_WAIT = 1.0  # seconds; a safety net only, every schedule wakes the thread


@dataclass(eq=False, slots=True)
class TimerHandle:
    """Returned by every schedule call; `cancel()` is safe from any thread and idempotent."""

    deadline: float
    callback: Callable[[], None]
    interval: float | None = None
    cancelled: bool = field(default=False)

    def cancel(self) -> None:
        self.cancelled = True


class Scheduler:
    def __init__(self, clock: Clock, *, name: str = "scheduler") -> None:
        self._clock = clock
        self._name = name
        self._heap: list[tuple[float, int, TimerHandle]] = []
        self._seq = itertools.count()
        self._cond = threading.Condition()
        self._stopped = False
        self._thread: threading.Thread | None = None
        self._driven = clock.on_advance(self._fire_due)
        self._rate = wall_rate(clock)  # event seconds per wall second

    def start(self) -> None:
        """Start the wall-clock thread; a simulated clock needs none."""
        if self._driven or self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 2.0) -> None:
        with self._cond:
            self._stopped = True
            self._heap.clear()
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout)

    @property
    def clock(self) -> Clock:
        return self._clock

    def next_deadline(self) -> float | None:
        """The earliest live timer's deadline (clock monotonic seconds), for a driver that advances time."""
        with self._cond:
            while self._heap and self._heap[0][2].cancelled:
                heapq.heappop(self._heap)
            return self._heap[0][0] if self._heap else None

    @property
    def pending(self) -> int:
        with self._cond:
            return sum(1 for _, _, timer in self._heap if not timer.cancelled)

    def call_at(self, deadline: float, callback: Callable[[], None]) -> TimerHandle:
        """Run `callback` once the clock's monotonic time reaches `deadline`."""
        return self._add(TimerHandle(deadline, callback))

    def call_later(self, delay: float, callback: Callable[[], None]) -> TimerHandle:
        return self._add(self._timer(delay, callback))

    def call_every(self, interval: float, callback: Callable[[], None], *, first: float | None = None) -> TimerHandle:
        """Run `callback` every `interval` seconds; intervals skipped by a jump of the clock fire once, not many."""
        return self._add(self._periodic(interval, callback, first))

    def send_later(self, delay: float, ref: pykka.ActorRef[Any], message: object) -> TimerHandle:
        """Tell `message` to `ref` after `delay`; dropped if the actor has died meanwhile."""
        timer = self._timer(delay, _noop)
        timer.callback = functools.partial(_tell, ref, message, timer)
        return self._add(timer)

    def send_every(
        self, interval: float, ref: pykka.ActorRef[Any], message: object, *, first: float | None = None
    ) -> TimerHandle:
        """Tell `message` to `ref` every `interval`; the timer cancels itself once the actor is gone."""
        timer = self._periodic(interval, _noop, first)
        timer.callback = functools.partial(_tell, ref, message, timer)
        return self._add(timer)

    def _timer(self, delay: float, callback: Callable[[], None]) -> TimerHandle:
        return TimerHandle(self._clock.monotonic() + max(0.0, delay), callback)

    def _periodic(self, interval: float, callback: Callable[[], None], first: float | None) -> TimerHandle:
        if interval <= 0:
            raise ValueError(f"interval must be positive, got {interval}")
        start = interval if first is None else max(0.0, first)
        return TimerHandle(self._clock.monotonic() + start, callback, interval)

    def _add(self, timer: TimerHandle) -> TimerHandle:
        with self._cond:
            if self._stopped:
                timer.cancelled = True
                return timer
            heapq.heappush(self._heap, (timer.deadline, next(self._seq), timer))
            self._cond.notify()
        if self._driven and timer.deadline <= self._clock.monotonic():
            self._fire_due()
        return timer

    def _take_due(self) -> list[TimerHandle]:
        now = self._clock.monotonic()
        due: list[TimerHandle] = []
        with self._cond:
            while self._heap and self._heap[0][0] <= now:
                _, _, timer = heapq.heappop(self._heap)
                if timer.cancelled:
                    continue
                due.append(timer)
                if timer.interval is not None:
                    following = timer.deadline + timer.interval
                    timer.deadline = following if following > now else now + timer.interval
                    heapq.heappush(self._heap, (timer.deadline, next(self._seq), timer))
        return due

    def _fire_due(self) -> None:
        for timer in self._take_due():
            if timer.cancelled:
                continue
            try:
                timer.callback()
            except Exception:  # noqa: BLE001 - whatever a callback raises, the other timers fire
                # A broken timer must not stop the others; the actor it served is supervised on its own.
                logger.opt(exception=True).error("timer callback failed in {}", self._name)

    def _run(self) -> None:
        while True:
            with self._cond:
                if self._stopped:
                    return
                wait = _IDLE_WAIT
                if self._heap:
                    # Deadlines are event seconds; at 20x a timer 20 event seconds away is 1 wall second away.
                    wait = min(wait, max(0.0, self._heap[0][0] - self._clock.monotonic()) / self._rate)
                if wait > 0:
                    self._cond.wait(wait)
            self._fire_due()


def _noop() -> None:
    return None


def _tell(ref: pykka.ActorRef[Any], message: object, handle: TimerHandle) -> None:
    try:
        ref.tell(message)
    except pykka.ActorDeadError:
        handle.cancel()
