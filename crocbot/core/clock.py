"""Time as an injected dependency: the system clock for live runs, a simulated clock for tests and replays.

Event time (candle closes, order TTLs, cooldowns, UTC day boundaries, restart windows) comes from a `Clock`.
A `SimClock` moves only when it is told to, and tells its listeners synchronously each time it moves, so a
scheduler driven by it has delivered every due timer by the time `advance()` returns.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Protocol, runtime_checkable

from crocbot.core.checks import utc

__all__ = ["Clock", "SystemClock", "SimClock", "EPOCH_2024"]

EPOCH_2024 = datetime(2024, 1, 1, tzinfo=UTC)


@runtime_checkable
class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, aware and in UTC."""
        ...

    def monotonic(self) -> float:
        """Seconds on a clock that never goes backwards, for deadlines and durations."""
        ...

    def on_advance(self, listener: Callable[[], None]) -> bool:
        """Ask to be called each time the time moves.

        Returns True when the clock will do so (a simulated clock), False when time moves by itself and the
        caller has to wait on the wall clock instead (the system clock).
        """
        ...


class SystemClock:
    """Wall-clock time."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()

    def on_advance(self, listener: Callable[[], None]) -> bool:
        return False


class SimClock:
    """A clock that tests and accelerated replays drive. Thread-safe; never goes backwards.

    Elapsed time is kept in whole microseconds (the resolution of `datetime`) so that a million small
    steps do not drift the way a float sum would.
    """

    def __init__(self, start: datetime = EPOCH_2024) -> None:
        self._start = utc(start, "start")
        self._elapsed_us = 0
        self._lock = threading.Lock()
        self._listeners: list[Callable[[], None]] = []

    def now(self) -> datetime:
        return self._start + timedelta(microseconds=self._elapsed_us)

    def monotonic(self) -> float:
        return self._elapsed_us / 1_000_000

    def on_advance(self, listener: Callable[[], None]) -> bool:
        with self._lock:
            self._listeners.append(listener)
        return True

    def remove_listener(self, listener: Callable[[], None]) -> None:
        with self._lock:
            if listener in self._listeners:
                self._listeners.remove(listener)

    def advance(self, seconds: float | timedelta) -> datetime:
        """Move time forward and run every listener (in the caller's thread) before returning."""
        step = seconds if isinstance(seconds, timedelta) else timedelta(seconds=seconds)
        step_us = round(step / timedelta(microseconds=1))
        if step_us < 0:
            raise ValueError(f"a clock never goes backwards; cannot advance by {step}")
        with self._lock:
            self._elapsed_us += step_us
            now, listeners = self.now(), tuple(self._listeners)
        return self._notify(now, listeners)

    def set(self, when: datetime) -> datetime:
        """Jump to an event time (a replay's next frame); refuses to go backwards."""
        target = utc(when, "when")
        with self._lock:
            target_us = round((target - self._start) / timedelta(microseconds=1))
            if target_us < self._elapsed_us:
                raise ValueError(
                    f"a clock never goes backwards; now {self.now().isoformat()}, asked {target.isoformat()}"
                )
            self._elapsed_us = target_us
            now, listeners = self.now(), tuple(self._listeners)
        return self._notify(now, listeners)

    @staticmethod
    def _notify(now: datetime, listeners: tuple[Callable[[], None], ...]) -> datetime:
        # Outside the lock: a listener (the scheduler) reads the clock and may schedule further timers.
        for listener in listeners:
            listener()
        return now
