"""Runs exchange calls off the actors' threads and hands the outcome back as a message.

An actor never blocks on the exchange: it submits a call and later receives exactly one `CallResult`, by the
call's deadline at the latest. Calls run in a bounded pool of worker threads behind a bounded queue; a full
queue answers BUSY at once. The deadline is given to the call (so the I/O itself can time out) and is also
enforced here by a timer: if the call ignores it, the actor hears TIMED_OUT at the deadline and the late
result is discarded (an `ask` timeout in pykka cancels nothing, so this is the only real deadline). A call that
is still queued when its deadline passes is never started. Each call can go through a circuit breaker.
"""

from __future__ import annotations

import itertools
import queue
import threading
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Generic, TypeVar

import pykka
from loguru import logger

from crocbot.actors.breaker import CircuitBreaker, Permit
from crocbot.actors.scheduler import Scheduler, TimerHandle
from crocbot.core.clock import Clock

__all__ = ["Gateway", "CallResult", "CallOutcome", "Deadline", "DeadlineExceeded"]

T = TypeVar("T")


class CallOutcome(StrEnum):
    OK = "ok"
    FAILED = "failed"  # counted by the breaker
    REJECTED = "rejected"  # a business rejection (on the breaker's ignore list)
    TIMED_OUT = "timed_out"  # the outcome is unknown: the request may have reached the exchange
    EXPIRED = "expired"  # the deadline passed while the call waited for a worker; nothing was sent
    NOT_PERMITTED = "not_permitted"  # the breaker is open; nothing was sent
    BUSY = "busy"  # the gateway's queue is full; nothing was sent


class DeadlineExceeded(TimeoutError):
    pass


@dataclass(frozen=True, slots=True)
class Deadline:
    """Handed to every call so that its I/O can time out on its own."""

    expires: float
    clock: Clock

    def remaining(self) -> float:
        return max(0.0, self.expires - self.clock.monotonic())

    @property
    def expired(self) -> bool:
        return self.clock.monotonic() >= self.expires


@dataclass(frozen=True, slots=True)
class CallResult(Generic[T]):
    call_id: int
    tag: Hashable
    outcome: CallOutcome
    value: T | None = None
    error: BaseException | None = None
    elapsed: float = 0.0  # seconds from submit to outcome

    @property
    def ok(self) -> bool:
        return self.outcome is CallOutcome.OK

    @property
    def sent(self) -> bool:
        """False when the gateway is sure nothing reached the exchange."""
        return self.outcome not in (CallOutcome.NOT_PERMITTED, CallOutcome.BUSY, CallOutcome.EXPIRED)


ReplyTo = pykka.ActorRef[Any] | Callable[[CallResult[Any]], None]


@dataclass(eq=False, slots=True)
class _Call:
    call_id: int
    tag: Hashable
    fn: Callable[[Deadline], Any]
    deadline: Deadline
    reply_to: ReplyTo
    breaker: CircuitBreaker | None
    permit: Permit | None
    submitted: float
    started: float | None = None
    timer: TimerHandle | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)
    settled: bool = False


_STOP = object()


class Gateway:
    """A bounded pool for one family of exchange calls.

    A worker stuck in a call past its deadline is replaced (up to `max_stuck` extra threads), so a socket that
    hangs for good costs a thread, not the pool's capacity; the stuck thread retires when its call returns.
    """

    def __init__(
        self, name: str, scheduler: Scheduler, *, workers: int = 4, queue_size: int = 64, max_stuck: int | None = None
    ) -> None:
        if workers < 1 or queue_size < 1:
            raise ValueError("a gateway needs at least one worker and one queue slot")
        self.name = name
        self._scheduler = scheduler
        self._clock = scheduler.clock
        self._queue: queue.Queue[_Call | object] = queue.Queue(maxsize=queue_size)
        self._ids = itertools.count(1)
        self._capacity = workers
        self._max_threads = workers + (workers if max_stuck is None else max_stuck)
        self._lock = threading.Lock()
        self._threads: set[threading.Thread] = set()
        self._stuck = 0  # workers inside a call whose deadline has passed
        self._spawned = itertools.count()
        self._started = False
        self._unsettled = 0  # submitted, no result delivered yet

    @property
    def in_flight(self) -> int:
        return self._unsettled

    @property
    def threads(self) -> int:
        """Worker threads alive, stuck ones included."""
        with self._lock:
            return len(self._threads)

    def start(self) -> None:
        with self._lock:
            if self._started:
                return
            self._started = True
            for _ in range(self._capacity):
                self._spawn_locked()

    def stop(self, timeout: float = 2.0) -> None:
        """Let the workers finish their current call; calls still queued get EXPIRED when their deadline fires."""
        with self._lock:
            threads = list(self._threads)
        for _ in threads:
            try:
                self._queue.put(_STOP, timeout=timeout)
            except queue.Full:
                break
        for thread in threads:
            thread.join(timeout)

    def _spawn_locked(self) -> None:
        thread = threading.Thread(target=self._work, name=f"{self.name}-worker-{next(self._spawned)}", daemon=True)
        self._threads.add(thread)
        thread.start()

    def submit(
        self,
        fn: Callable[[Deadline], T],
        *,
        reply_to: ReplyTo,
        timeout: float,
        tag: Hashable = None,
        breaker: CircuitBreaker | None = None,
    ) -> int:
        """Queue `fn(deadline)`; exactly one `CallResult` goes to `reply_to` within `timeout` seconds."""
        if timeout <= 0:
            raise ValueError(f"timeout must be positive, got {timeout}")
        now = self._clock.monotonic()
        call_id = next(self._ids)
        permit = breaker.try_acquire() if breaker is not None else None
        call = _Call(call_id, tag, fn, Deadline(now + timeout, self._clock), reply_to, breaker, permit, now)
        if breaker is not None and permit is None:
            error = RuntimeError(f"circuit breaker {breaker.name!r} is {breaker.state}")
            self._deliver(call, CallResult(call_id, tag, CallOutcome.NOT_PERMITTED, error=error))
            return call_id
        call.timer = self._scheduler.call_at(call.deadline.expires, lambda: self._expire(call))
        with self._lock:
            self._unsettled += 1
        try:
            self._queue.put_nowait(call)
        except queue.Full:
            call.settled = True
            call.timer.cancel()
            with self._lock:
                self._unsettled -= 1
            if permit is not None:
                permit.release()
            error = RuntimeError(f"gateway {self.name!r} has {self._queue.maxsize} calls queued")
            self._deliver(call, CallResult(call_id, tag, CallOutcome.BUSY, error=error))
        return call_id

    def _work(self) -> None:
        me = threading.current_thread()
        while True:
            item = self._queue.get()
            if item is _STOP:
                with self._lock:
                    self._threads.discard(me)
                return
            assert isinstance(item, _Call)
            with item.lock:
                if item.settled:
                    continue  # expired while queued
                item.started = self._clock.monotonic()
            try:
                value = item.fn(item.deadline)
            except Exception as error:  # noqa: BLE001 - every failure becomes a CallResult for the actor
                ignored = item.breaker is not None and item.breaker.is_ignored(error)
                late = self._complete(item, CallOutcome.REJECTED if ignored else CallOutcome.FAILED, None, error)
            else:
                late = self._complete(item, CallOutcome.OK, value, None)
            if late and self._retire_if_surplus(me):
                return

    def _retire_if_surplus(self, me: threading.Thread) -> bool:
        """A worker back from an overdue call: it leaves if a replacement took its place meanwhile."""
        with self._lock:
            self._stuck -= 1
            if len(self._threads) - self._stuck > self._capacity:
                self._threads.discard(me)
                return True
        return False

    def _expire(self, call: _Call) -> None:
        with call.lock:
            if call.settled:
                return
            call.settled = True
            started = call.started is not None
        if started:
            with self._lock:
                self._stuck += 1
                if len(self._threads) - self._stuck < self._capacity and len(self._threads) < self._max_threads:
                    self._spawn_locked()
        error = DeadlineExceeded(f"{self.name}: call {call.tag!r} passed its deadline")
        self._finish(call, CallOutcome.TIMED_OUT if started else CallOutcome.EXPIRED, None, error)

    def _complete(self, call: _Call, outcome: CallOutcome, value: Any, error: BaseException | None) -> bool:
        """Settle a call that returned; True if its deadline had already settled it (a late return)."""
        with call.lock:
            late = call.settled
            call.settled = True
        if late:
            logger.warning(
                "{}: call {!r} ended ({}) {:.3f}s after its deadline; that outcome is discarded",
                self.name,
                call.tag,
                outcome,
                self._clock.monotonic() - call.deadline.expires,
            )
            return True
        self._finish(call, outcome, value, error)
        return False

    def _finish(self, call: _Call, outcome: CallOutcome, value: Any, error: BaseException | None) -> None:
        now = self._clock.monotonic()
        if call.timer is not None:
            call.timer.cancel()
        if call.permit is not None:
            if call.started is None:
                call.permit.release()  # never started: says nothing about the exchange
            elif outcome is CallOutcome.OK:
                call.permit.success(now - call.started)
            else:
                call.permit.failure(error or DeadlineExceeded(), now - call.started)
        self._deliver(call, CallResult(call.call_id, call.tag, outcome, value, error, now - call.submitted))
        with self._lock:
            self._unsettled -= 1

    def _deliver(self, call: _Call, result: CallResult[Any]) -> None:
        reply_to = call.reply_to
        try:
            if isinstance(reply_to, pykka.ActorRef):
                reply_to.tell(result)
            else:
                reply_to(result)
        except pykka.ActorDeadError:
            logger.warning(
                "{}: {} for call {!r} has no receiver (the actor restarted)", self.name, result.outcome, call.tag
            )
        except Exception:  # noqa: BLE001 - a broken callback must not kill a worker thread
            logger.opt(exception=True).error("{}: delivering the result of call {!r} failed", self.name, call.tag)
