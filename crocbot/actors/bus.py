"""Publish/subscribe between actors, with two kinds of subscription.

- *Reliable* (orders, fills, position changes): every message reaches the subscriber in publish order. While
  the subscriber is being restarted, messages wait in a backlog that is handed to the new instance. The bus
  never drops one; a backlog that keeps growing is reported as an overflow, loudly, and still kept.
- *Conflated* (market data): the subscriber gets only the newest message per key. The bus keeps one pending
  message per key and at most one wake-up in the subscriber's inbox, so a slow consumer never makes an inbox
  grow and a publisher never waits.

Subscribers are names, resolved through the directory when a message is published, so subscriptions survive
restarts. Publishing never blocks beyond a short, uncontended lock, and a reliable route whose subscriber is up
with nothing waiting takes none.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

import pykka
from loguru import logger

from crocbot.actors.directory import Directory, Entry

__all__ = ["Bus", "ConflatedReady", "ConflatedSlot"]

M = TypeVar("M")

BACKLOG_ALARM = 10_000  # reliable messages waiting for one subscriber before the bus raises the alarm


class ConflatedSlot:
    """The newest pending message per key for one subscriber and one message type."""

    __slots__ = ("_armed", "_key", "_lock", "_pending", "subscriber", "topic")

    def __init__(self, subscriber: str, topic: type[Any], key: Callable[[Any], Hashable]) -> None:
        self.subscriber = subscriber
        self.topic = topic
        self._key = key
        self._lock = threading.Lock()
        self._pending: dict[Hashable, object] = {}
        self._armed = False  # a ConflatedReady for this slot sits in the subscriber's inbox

    def offer(self, message: object, directory: Directory) -> None:
        key = self._key(message)
        with self._lock:
            self._pending[key] = message
            if not self._armed:
                self._arm_locked(directory)

    def drain(self) -> list[object]:
        """Take everything pending; called by the subscriber when it handles its ConflatedReady."""
        with self._lock:
            items = list(self._pending.values())
            self._pending.clear()
            self._armed = False
        return items

    def rearm(self, directory: Directory) -> None:
        """A new instance registered: the old wake-up died with the old inbox."""
        with self._lock:
            self._armed = False
            if self._pending:
                self._arm_locked(directory)

    @property
    def depth(self) -> int:
        return len(self._pending)

    def _arm_locked(self, directory: Directory) -> None:
        ref = directory.get(self.subscriber)
        if ref is None:
            return
        try:
            ref.tell(ConflatedReady(self))
        except pykka.ActorDeadError:
            return
        self._armed = True


class ConflatedReady:
    """Wake-up for a subscriber: drain `slot` and handle each message."""

    __slots__ = ("slot",)

    def __init__(self, slot: ConflatedSlot) -> None:
        self.slot = slot


class _ReliableRoute:
    __slots__ = ("_alarmed", "_backlog", "_lock", "_on_overflow", "subscriber")

    def __init__(self, subscriber: str, on_overflow: Callable[[str, int], None]) -> None:
        self.subscriber = subscriber
        self._lock = threading.Lock()
        self._backlog: deque[object] = deque()
        self._alarmed = False
        self._on_overflow = on_overflow

    def deliver(self, message: object, directory: Directory) -> None:
        # The usual case takes no lock (taking it was about 0.2 us of a 1.5 us publish). With nothing waiting and
        # nobody holding the lock (a flush, a delivery to a backlog), everything published before this message has
        # been told, so telling it now keeps the order. Anything else goes the locked way, which keeps it too.
        if not self._backlog and not self._lock.locked():
            ref = directory.get(self.subscriber)
            if ref is not None:
                try:
                    ref.tell(message)
                except pykka.ActorDeadError:
                    pass
                else:
                    return
        with self._lock:
            ref = directory.get(self.subscriber)
            if not self._backlog and ref is not None and _tell(ref, message):
                return
            self._backlog.append(message)
            if ref is not None:
                self._flush_locked(ref)
            self._check_backlog_locked()

    def flush(self, directory: Directory) -> None:
        with self._lock:
            ref = directory.get(self.subscriber)
            if ref is not None:
                self._flush_locked(ref)

    @property
    def depth(self) -> int:
        return len(self._backlog)

    def _flush_locked(self, ref: pykka.ActorRef[Any]) -> None:
        while self._backlog and _tell(ref, self._backlog[0]):
            self._backlog.popleft()
        if not self._backlog:
            self._alarmed = False

    def _check_backlog_locked(self) -> None:
        if len(self._backlog) >= BACKLOG_ALARM and not self._alarmed:
            self._alarmed = True
            self._on_overflow(self.subscriber, len(self._backlog))


class Bus:
    def __init__(self, directory: Directory, *, on_overflow: Callable[[str, int], None] | None = None) -> None:
        self._directory = directory
        self._lock = threading.Lock()
        self._reliable: dict[type[Any], tuple[_ReliableRoute, ...]] = {}
        self._conflated: dict[type[Any], tuple[ConflatedSlot, ...]] = {}
        self._on_overflow = on_overflow or _log_overflow
        directory.watch(self._on_directory_change)

    def subscribe(self, topic: type[M], subscriber: str) -> None:
        """Deliver every `topic` message to `subscriber`, in order, none dropped. Idempotent."""
        with self._lock:
            routes = self._reliable.get(topic, ())
            if any(route.subscriber == subscriber for route in routes):
                return
            self._reliable[topic] = (*routes, _ReliableRoute(subscriber, self._on_overflow))

    def subscribe_conflated(self, topic: type[M], subscriber: str, key: Callable[[M], Hashable]) -> None:
        """Deliver the newest `topic` message per `key(message)` to `subscriber`. Idempotent."""
        with self._lock:
            slots = self._conflated.get(topic, ())
            if any(slot.subscriber == subscriber for slot in slots):
                return
            self._conflated[topic] = (*slots, ConflatedSlot(subscriber, topic, key))

    def unsubscribe(self, subscriber: str) -> None:
        with self._lock:
            self._reliable = {
                t: tuple(r for r in routes if r.subscriber != subscriber) for t, routes in self._reliable.items()
            }
            self._conflated = {
                t: tuple(s for s in slots if s.subscriber != subscriber) for t, slots in self._conflated.items()
            }

    def publish(self, message: object) -> None:
        topic = type(message)
        # Route tuples are replaced, never mutated, so reading them needs no lock.
        for route in self._reliable.get(topic, ()):
            route.deliver(message, self._directory)
        for slot in self._conflated.get(topic, ()):
            slot.offer(message, self._directory)

    def backlog(self, subscriber: str) -> int:
        """Reliable messages waiting for `subscriber` (nonzero only while it is down)."""
        return sum(r.depth for routes in self._reliable.values() for r in routes if r.subscriber == subscriber)

    def _on_directory_change(self, name: str, entry: Entry | None) -> None:
        if entry is None:
            return
        for routes in self._reliable.values():
            for route in routes:
                if route.subscriber == name:
                    route.flush(self._directory)
        for slots in self._conflated.values():
            for slot in slots:
                if slot.subscriber == name:
                    slot.rearm(self._directory)


def _tell(ref: pykka.ActorRef[Any], message: object) -> bool:
    try:
        ref.tell(message)
    except pykka.ActorDeadError:
        return False
    return True


def _log_overflow(subscriber: str, depth: int) -> None:
    logger.critical(
        "{} reliable messages are waiting for {!r}, which is not running; they are kept, not dropped",
        depth,
        subscriber,
    )
