"""A circuit breaker with resilience4j's semantics, for calls to the exchange.

CLOSED records each call's outcome in a sliding window (the last N calls, or the last N seconds). Once the
window holds at least `minimum_calls`, a failure rate or a slow-call rate at or above its threshold OPENs the
breaker: calls are refused at once for an open period that grows exponentially, with jitter, each time the
breaker re-opens without having closed. After the open period the next caller moves it to HALF_OPEN, where a
fixed number of probe calls is let through; their rates decide between CLOSED and OPEN again. Exceptions on
the ignore list (business rejections such as insufficient funds) count as neither success nor failure.

No lock is held while a call runs (pybreaker holds one, which serialises every caller): permission is taken
and the outcome recorded under a short lock each. `try_acquire()` and `Permit` split the two halves for
callers whose outcome arrives later, such as the gateway.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import ParamSpec, TypeVar

from crocbot.core.clock import Clock
from crocbot.core.messages import BreakerState, BreakerStateChanged

__all__ = ["BreakerConfig", "WindowType", "CircuitBreaker", "Permit", "CallNotPermitted", "BreakerSnapshot"]

P = ParamSpec("P")
R = TypeVar("R")


class WindowType(StrEnum):
    COUNT = "count"  # the last `window_size` calls
    TIME = "time"  # the calls of the last `window_size` seconds


@dataclass(frozen=True, slots=True)
class BreakerConfig:
    failure_rate_threshold: float = 50.0  # percent
    slow_call_rate_threshold: float = 100.0  # percent
    slow_call_duration: float = 5.0  # seconds; a call at least this long is slow, whatever its outcome
    window_type: WindowType = WindowType.COUNT
    window_size: int = 20
    minimum_calls: int = 10
    open_wait: float = 30.0  # seconds in OPEN the first time
    open_wait_multiplier: float = 2.0  # each re-open without closing in between waits this much longer
    open_wait_max: float = 300.0
    open_wait_jitter: float = 0.2  # +/- fraction
    half_open_calls: int = 3
    ignore: tuple[type[BaseException], ...] = ()

    def __post_init__(self) -> None:
        for name in ("failure_rate_threshold", "slow_call_rate_threshold"):
            if not 0 < getattr(self, name) <= 100:
                raise ValueError(f"{name} is a percentage in (0, 100], got {getattr(self, name)}")
        if self.window_size < 1 or self.minimum_calls < 1 or self.half_open_calls < 1:
            raise ValueError("window_size, minimum_calls and half_open_calls must be at least 1")
        if self.slow_call_duration <= 0 or self.open_wait <= 0 or self.open_wait_max < self.open_wait:
            raise ValueError("slow_call_duration and open_wait must be positive, open_wait_max >= open_wait")
        if self.open_wait_multiplier < 1 or not 0 <= self.open_wait_jitter < 1:
            raise ValueError("open_wait_multiplier must be >= 1 and open_wait_jitter in [0, 1)")


class CallNotPermitted(Exception):
    """The breaker is open (or its half-open probes are all taken); the call was not made."""

    def __init__(self, name: str, state: BreakerState, retry_after: float) -> None:
        super().__init__(f"circuit breaker {name!r} is {state}; retry in {retry_after:.1f}s")
        self.name = name
        self.state = state
        self.retry_after = retry_after


@dataclass(frozen=True, slots=True)
class BreakerSnapshot:
    state: BreakerState
    calls: int
    failure_rate: float
    slow_call_rate: float


class _CountWindow:
    """Outcomes of the last `size` calls, with running totals."""

    def __init__(self, size: int) -> None:
        self._ring: list[tuple[bool, bool] | None] = [None] * size
        self._next = 0
        self.calls = self.failures = self.slow = 0

    def add(self, failed: bool, slow: bool, now: float) -> None:
        old = self._ring[self._next]
        if old is not None:
            self.calls -= 1
            self.failures -= old[0]
            self.slow -= old[1]
        self._ring[self._next] = (failed, slow)
        self._next = (self._next + 1) % len(self._ring)
        self.calls += 1
        self.failures += failed
        self.slow += slow

    def totals(self, now: float) -> tuple[int, int, int]:
        return self.calls, self.failures, self.slow


class _TimeWindow:
    """Outcomes of the last `seconds`, in one bucket per whole second (memory bounded by the window length)."""

    def __init__(self, seconds: int) -> None:
        self._buckets: list[list[int]] = [[-1, 0, 0, 0] for _ in range(seconds)]  # second, calls, failures, slow

    def add(self, failed: bool, slow: bool, now: float) -> None:
        second = int(now)
        bucket = self._buckets[second % len(self._buckets)]
        if bucket[0] != second:
            bucket[:] = [second, 0, 0, 0]
        bucket[1] += 1
        bucket[2] += failed
        bucket[3] += slow

    def totals(self, now: float) -> tuple[int, int, int]:
        oldest = int(now) - len(self._buckets)
        live = [b for b in self._buckets if b[0] > oldest]
        return sum(b[1] for b in live), sum(b[2] for b in live), sum(b[3] for b in live)


class Permit:
    """Permission for one call. Settle it exactly once: `success`, `failure` or `release`."""

    __slots__ = ("_breaker", "_epoch", "_settled", "started")

    def __init__(self, breaker: CircuitBreaker, epoch: int, started: float) -> None:
        self._breaker = breaker
        self._epoch = epoch
        self.started = started
        self._settled = False

    def success(self, duration: float | None = None) -> None:
        self._settle("success", duration)

    def failure(self, error: BaseException, duration: float | None = None) -> None:
        """Record a failed call; an ignored (business) error only gives the permit back."""
        self._settle("ignored" if self._breaker.is_ignored(error) else "failure", duration)

    def release(self) -> None:
        """The call was not made, or its outcome says nothing about the service's health."""
        self._settle("ignored", None)

    def _settle(self, outcome: str, duration: float | None) -> None:
        if self._settled:
            return
        self._settled = True
        self._breaker._record(self._epoch, outcome, duration, self.started)


class CircuitBreaker:
    def __init__(
        self,
        name: str,
        config: BreakerConfig,
        clock: Clock,
        *,
        on_state_change: Callable[[BreakerStateChanged], None] | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.name = name
        self.config = config
        self._clock = clock
        self._on_state_change = on_state_change
        self._rng = rng or random.Random()
        self._lock = threading.Lock()
        self._state = BreakerState.CLOSED
        self._epoch = 0  # bumps on every transition: outcomes of calls let in under an older state are dropped
        self._window = self._new_window()
        self._opened_at = 0.0
        self._open_for = 0.0
        self._open_count = 0  # consecutive opens without a close, for the growing open period
        self._probes_issued = 0
        self._probe_window = _CountWindow(config.half_open_calls)

    @property
    def state(self) -> BreakerState:
        return self._state

    def snapshot(self) -> BreakerSnapshot:
        with self._lock:
            if self._state is BreakerState.HALF_OPEN:
                calls, failures, slow = self._probe_window.totals(self._clock.monotonic())
            else:
                calls, failures, slow = self._window.totals(self._clock.monotonic())
            return BreakerSnapshot(self._state, calls, _rate(failures, calls), _rate(slow, calls))

    def is_ignored(self, error: BaseException) -> bool:
        return isinstance(error, self.config.ignore)

    def retry_after(self) -> float:
        with self._lock:
            if self._state is not BreakerState.OPEN:
                return 0.0
            return max(0.0, self._opened_at + self._open_for - self._clock.monotonic())

    def try_acquire(self) -> Permit | None:
        """A permit for one call, or None when the breaker refuses calls right now."""
        events: list[BreakerStateChanged] = []
        with self._lock:
            now = self._clock.monotonic()
            if self._state is BreakerState.OPEN:
                if now < self._opened_at + self._open_for:
                    return None
                events.append(self._transition(BreakerState.HALF_OPEN, now))
            if self._state is BreakerState.HALF_OPEN:
                if self._probes_issued >= self.config.half_open_calls:
                    permit = None
                else:
                    self._probes_issued += 1
                    permit = Permit(self, self._epoch, now)
            else:
                permit = Permit(self, self._epoch, now)
        self._emit(events)
        return permit

    def call(self, fn: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
        """Run `fn` under the breaker. Raises `CallNotPermitted` without calling it when open."""
        permit = self.try_acquire()
        if permit is None:
            raise CallNotPermitted(self.name, self._state, self.retry_after())
        try:
            result = fn(*args, **kwargs)
        except Exception as error:
            permit.failure(error)
            raise
        except BaseException:
            permit.release()  # an interrupt says nothing about the exchange
            raise
        permit.success()
        return result

    # -- recording ------------------------------------------------------------------------------------

    def _record(self, epoch: int, outcome: str, duration: float | None, started: float) -> None:
        events: list[BreakerStateChanged] = []
        with self._lock:
            now = self._clock.monotonic()
            if epoch != self._epoch:
                return
            if outcome == "ignored":
                if self._state is BreakerState.HALF_OPEN:
                    self._probes_issued -= 1  # give the probe back for another caller
                return
            elapsed = now - started if duration is None else duration
            failed = outcome == "failure"
            slow = elapsed >= self.config.slow_call_duration
            if self._state is BreakerState.CLOSED:
                self._window.add(failed, slow, now)
                calls, failures, slows = self._window.totals(now)
                needed = self.config.minimum_calls
                if self.config.window_type is WindowType.COUNT:
                    needed = min(needed, self.config.window_size)
                if calls >= needed and self._tripped(calls, failures, slows):
                    events.append(self._transition(BreakerState.OPEN, now))
            elif self._state is BreakerState.HALF_OPEN:
                self._probe_window.add(failed, slow, now)
                calls, failures, slows = self._probe_window.totals(now)
                if calls >= self.config.half_open_calls:
                    tripped = self._tripped(calls, failures, slows)
                    events.append(self._transition(BreakerState.OPEN if tripped else BreakerState.CLOSED, now))
        self._emit(events)

    def _tripped(self, calls: int, failures: int, slow: int) -> bool:
        return (
            _rate(failures, calls) >= self.config.failure_rate_threshold
            or _rate(slow, calls) >= self.config.slow_call_rate_threshold
        )

    def _transition(self, to: BreakerState, now: float) -> BreakerStateChanged:
        window = self._probe_window if self._state is BreakerState.HALF_OPEN else self._window
        calls, failures, slow = window.totals(now)
        previous = self._state
        self._state = to
        self._epoch += 1
        if to is BreakerState.OPEN:
            config = self.config
            base = min(config.open_wait_max, config.open_wait * config.open_wait_multiplier**self._open_count)
            jitter = self._rng.uniform(-config.open_wait_jitter, config.open_wait_jitter)
            self._open_for = min(config.open_wait_max, base * (1 + jitter))
            self._opened_at = now
            self._open_count += 1
        elif to is BreakerState.HALF_OPEN:
            self._probes_issued = 0
            self._probe_window = _CountWindow(self.config.half_open_calls)
        else:
            self._open_count = 0
            self._window = self._new_window()
        return BreakerStateChanged(
            self.name,
            previous,
            to,
            self._clock.now(),
            _rate(failures, calls),
            _rate(slow, calls),
            calls,
            self._open_for if to is BreakerState.OPEN else 0.0,
        )

    def _emit(self, events: list[BreakerStateChanged]) -> None:
        if self._on_state_change is None:
            return
        for event in events:
            self._on_state_change(event)

    def _new_window(self) -> _CountWindow | _TimeWindow:
        if self.config.window_type is WindowType.TIME:
            return _TimeWindow(self.config.window_size)
        return _CountWindow(self.config.window_size)


def _rate(part: int, whole: int) -> float:
    return 100.0 * part / whole if whole else 0.0
