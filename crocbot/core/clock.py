"""Time as an injected dependency: the system clock for live runs, a simulated clock for tests and replays.

Event time (candle closes, order TTLs, cooldowns, UTC day boundaries, restart windows) comes from a `Clock`.
A `SimClock` moves only when it is told to, and tells its listeners synchronously each time it moves, so a
scheduler driven by it has delivered every due timer by the time `advance()` returns. A `ReplayClock` runs
event time a fixed factor faster than the wall clock from an anchor that several processes share (the simulator
and the bot of a crash harness), so they agree on the market's time without talking to each other.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Protocol, runtime_checkable

from crocbot.core.checks import utc

__all__ = ["Clock", "SystemClock", "SimClock", "ReplayClock", "IoClock", "wall_rate", "EPOCH_2024", "MAX_SPEED"]

EPOCH_2024 = datetime(2024, 1, 1, tzinfo=UTC)
MAX_SPEED = 1000.0  # beyond this a 1 ms scheduling hiccup is a second of market time; nothing is tested there


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


class ReplayClock:
    """Event time `speed` times faster than the wall clock: `now() = anchor + (time.time() - anchor_wall) * speed`.

    `now()` is computed from the wall epoch, not from when this object was made, so two processes (or one process
    and its restart after a kill -9) given the same spec agree on the time. It follows the wall clock, so a step of
    the system clock (NTP) moves it too. `monotonic()` never goes backwards and runs at `speed` as well: it is what
    in-process timers and deadlines count in (event seconds).
    """

    def __init__(self, anchor: datetime, anchor_wall: float, speed: float) -> None:
        if not isinstance(anchor, datetime) or anchor.utcoffset() is None:
            raise ValueError(
                f"replay clock: the anchor {anchor} has no UTC offset; write e.g. 2026-01-05T14:30:00+00:00"
            )
        if not math.isfinite(anchor_wall) or anchor_wall < 0:
            raise ValueError(f"replay clock: the wall epoch must be a finite number of seconds >= 0, got {anchor_wall}")
        if not math.isfinite(speed) or not 0 < speed <= MAX_SPEED:
            raise ValueError(f"replay clock: the speed must be > 0 and <= {MAX_SPEED:g}, got {speed}")
        self.anchor = utc(anchor, "anchor")
        self.anchor_wall = float(anchor_wall)
        self.speed = float(speed)

    @classmethod
    def parse(cls, spec: str) -> ReplayClock:
        """`ANCHOR_ISO@WALL_EPOCHxSPEED`, e.g. `2026-01-05T14:30:00+00:00@1763700000.25x20`."""
        text = spec.strip()
        anchor_text, at, rest = text.rpartition("@")
        wall_text, x, speed_text = rest.rpartition("x")
        if not at or not x or not anchor_text or not wall_text or not speed_text:
            raise ValueError(
                f"replay clock {spec!r}: expected ANCHOR_ISO@WALL_EPOCHxSPEED, "
                "e.g. 2026-01-05T14:30:00+00:00@1763700000x20"
            )
        try:
            anchor = datetime.fromisoformat(anchor_text)
        except ValueError:
            raise ValueError(f"replay clock {spec!r}: the anchor {anchor_text!r} is not an ISO 8601 time") from None
        try:
            wall, speed = float(wall_text), float(speed_text)
        except ValueError:
            raise ValueError(
                f"replay clock {spec!r}: the wall epoch {wall_text!r} and the speed {speed_text!r} must be numbers"
            ) from None
        return cls(anchor, wall, speed)

    @property
    def spec(self) -> str:
        """The text `parse` reads back to an equal clock."""
        return f"{self.anchor.isoformat()}@{_number(self.anchor_wall)}x{_number(self.speed)}"

    def now(self) -> datetime:
        return self.anchor + timedelta(seconds=(time.time() - self.anchor_wall) * self.speed)

    def monotonic(self) -> float:
        # The same in every ReplayClock of this process at this speed; only differences of it mean anything.
        return time.monotonic() * self.speed

    def on_advance(self, listener: Callable[[], None]) -> bool:
        return False

    def __repr__(self) -> str:
        return f"ReplayClock({self.spec!r})"


class IoClock:
    """An event clock's `now()` with the wall clock's `monotonic()`.

    For I/O deadlines and circuit-breaker windows under a `ReplayClock`: Kraken (or the simulator) answers in wall
    time, so a 30 s budget for a REST call must stay 30 wall seconds at 20x, while timestamps stay event time.
    """

    def __init__(self, events: Clock) -> None:
        self.events = events

    def now(self) -> datetime:
        return self.events.now()

    def monotonic(self) -> float:
        return time.monotonic()

    def on_advance(self, listener: Callable[[], None]) -> bool:
        return False


def wall_rate(clock: Clock) -> float:
    """Event seconds per wall second: a clock's `speed` if it has one (a `ReplayClock`), else 1.

    Divide event seconds by it to get the wall seconds to wait; multiply a wall-time margin by it to express the
    margin in event seconds.
    """
    speed = getattr(clock, "speed", None)
    if isinstance(speed, int | float) and math.isfinite(speed) and speed > 0:
        return float(speed)
    return 1.0


def _number(value: float) -> str:
    """Shortest text that reads back to the same float; whole numbers without a trailing `.0`."""
    return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
