"""Whether the actors are quiet: no message told and not yet handled, anywhere in the process.

A lockstep simulation (the demo, the end-to-end tests) moves the event clock only when the bot has finished
reacting to the last market event, so that event time means the same as it would live. Every crocbot actor's
inbox counts what is put into it and what its actor has handled; `quiet` compares the two.

The counting rides on what a message costs anyway, because it is paid on every message of every run, lockstep
or live: a put is counted under the queue's own mutex (which `Queue.put` holds already), before the message is
visible; the handled count is written by the owning actor alone, when it asks for its next message (pykka's loop
asks only once the last one is handled and answered). No lock is shared between inboxes: a global one made
every message of every actor queue for it.

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


class CountingInbox(queue.Queue[Any]):
    """pykka's inbox (a `queue.Queue`), counting puts and handled messages for `Activity`."""

    def __init__(self, activity: Activity | None = None) -> None:
        super().__init__()
        self.puts = 0  # messages ever put; written under self.mutex, before the message is visible
        self.taken = 0  # messages ever taken; written by the owner under self.mutex
        self.handled = 0  # messages handled and answered; written by the owner alone
        self.stopped: threading.Event | None = None  # the owning actor's stop flag
        self.current: Any = None  # the envelope being handled (only the owning actor's thread takes from the queue)
        (activity or ACTIVITY).register(self)

    def get(self, block: bool = True, timeout: float | None = None) -> Any:
        # Only the owner takes, and only after it has handled and answered everything it took before.
        self.handled = self.taken
        return queue.Queue.get(self, block, timeout)  # not super(): this runs once per message

    def _put(self, item: Any) -> None:  # under self.mutex
        self.puts += 1  # before the append: a reader never sees a message it has not counted
        self.queue.append(item)

    def _get(self) -> Any:  # under self.mutex
        item = self.queue.popleft()
        self.taken += 1
        self.current = item
        return item

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
