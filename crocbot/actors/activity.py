"""Whether the actors are quiet: no message told and not yet handled, anywhere in the process.

A lockstep simulation (the demo, the end-to-end tests) moves the event clock only when the bot has finished
reacting to the last market event, so that event time means the same as it would live. Every crocbot actor's
inbox counts what is put into it and what its actor has handled; `quiet` compares the two.

The counting is paid on every message of every run, lockstep or live, so it is kept to a few attribute writes:
a put is counted under a lock of its inbox's own (senders are many), before the message is visible; the handled
count is written by the owning actor alone, when it asks for its next message (pykka's loop asks only once the
last one is handled and answered). No lock is shared between inboxes: a global one made every message of every
actor queue for it.

Reading all inboxes cannot be atomic, so `quiet` reads them twice. Both counters only grow and handled never
exceeds puts, so an inbox whose handled count (read first) equals its put count (read after) was idle at that
moment, and one whose put count has not moved by the second pass received nothing in between: it stayed idle.
Every inbox read idle in both passes was idle over the whole gap between the passes, so the process was quiet
then; a message sent anywhere in between moves a put count. A new inbox moves a generation counter. This relies
on the GIL (an int attribute is read and written whole, and writes are seen in program order).

An inbox of a stopped actor no longer counts (whatever was left in it will never be handled).
"""

from __future__ import annotations

import queue
import threading
import weakref
from typing import Any

__all__ = ["Activity", "ACTIVITY", "CountingInbox"]


class CountingInbox:
    """An actor's inbox (pykka's `ActorInbox`: put, get, empty), counting puts and handled messages for `Activity`.

    The messages go through a `queue.SimpleQueue`: FIFO, unbounded, safe from any thread, and written in C, where
    `queue.Queue` (pykka's default) runs a few Python frames and a condition variable per put and per get. Every
    message of every actor pays that, so the inbox is the cheapest one the standard library has.
    """

    __slots__ = ("__weakref__", "_count", "_queue", "current", "handled", "puts", "stopped", "taken")

    def __init__(self, activity: Activity | None = None) -> None:
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._count = threading.Lock()  # senders are many: an increment lost would make a busy actor look idle
        self.puts = 0  # messages ever put; written under self._count, before the message is visible
        self.taken = 0  # messages ever taken; written by the owner alone
        self.handled = 0  # messages handled and answered; written by the owner alone
        self.stopped: threading.Event | None = None  # the owning actor's stop flag
        self.current: Any = None  # the envelope being handled
        (activity or ACTIVITY).register(self)

    def put(self, item: Any, /) -> None:
        with self._count:
            self.puts += 1  # before the put: a reader never sees a message it has not counted
        self._queue.put(item)

    def get(self, timeout: float | None = None) -> Any:
        """Only for the owning actor (pykka's loop), which asks for the next message once the last is answered."""
        self.handled = self.taken
        item = self._queue.get(timeout=timeout)
        self.taken += 1
        self.current = item
        return item

    def empty(self) -> bool:
        return self._queue.empty()

    def qsize(self) -> int:
        return self._queue.qsize()

    @property
    def asked(self) -> bool:
        """Whether the message being handled came with `ask` (someone waits for its answer)."""
        return getattr(self.current, "reply_to", None) is not None

    @property
    def outstanding(self) -> int:
        """Put and not yet handled (a snapshot)."""
        return self.puts - self.handled

    @property
    def live(self) -> bool:
        return self.stopped is None or not self.stopped.is_set()


class Activity:
    def __init__(self) -> None:
        self._lock = threading.Lock()  # taken once per inbox created and once per check, never per message
        self._inboxes: weakref.WeakSet[CountingInbox] = weakref.WeakSet()
        self._generation = 0  # moves whenever an inbox is added

    def register(self, inbox: CountingInbox) -> None:
        with self._lock:
            self._inboxes.add(inbox)
            self._generation += 1

    def outstanding(self) -> int:
        """Messages told to live actors and not handled yet (a snapshot; see `quiet`)."""
        return sum(i.outstanding for i in self._live()[1])

    def quiet(self) -> bool:
        """True when, at some moment during the check, no live actor had a message to handle or was handling one."""
        generation, inboxes = self._live()
        seen = []
        for inbox in inboxes:
            handled = inbox.handled  # first: handled <= puts at every moment, so equal means idle when puts is read
            puts = inbox.puts
            if handled != puts:
                return False
            seen.append((inbox, puts))
        if any(inbox.puts != puts for inbox, puts in seen):
            return False
        with self._lock:
            return self._generation == generation

    def _live(self) -> tuple[int, list[CountingInbox]]:
        with self._lock:
            return self._generation, [i for i in self._inboxes if i.live]


ACTIVITY = Activity()
