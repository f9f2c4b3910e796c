"""Whether the actors are quiet: no message told and not yet handled, anywhere in the process.

A lockstep simulation (the demo, the end-to-end tests) moves the event clock only when the bot has finished
reacting to the last market event, so that event time means the same as it would live. Every crocbot actor's
inbox counts what is put into it; the actor counts down after handling. Reading all counters cannot be atomic,
so a change counter is read before and after: the actors were quiet only if nothing changed in between.
An inbox of a stopped actor no longer counts (whatever was left in it will never be handled).
"""

from __future__ import annotations

import queue
import threading
import weakref
from typing import Any

__all__ = ["Activity", "ACTIVITY", "CountingInbox"]


class CountingInbox(queue.Queue[Any]):
    def __init__(self) -> None:
        super().__init__()
        self.outstanding = 0  # put and not yet handled; changed under ACTIVITY's lock
        self.stopped: threading.Event | None = None  # the owning actor's stop flag
        self.current: Any = None  # the envelope being handled (only the owning actor's thread takes from the queue)

    def get(self, block: bool = True, timeout: float | None = None) -> Any:
        item = super().get(block, timeout)
        self.current = item
        return item

    @property
    def asked(self) -> bool:
        """Whether the message being handled came with `ask` (someone waits for its answer)."""
        return getattr(self.current, "reply_to", None) is not None

    def put(self, item: Any, block: bool = True, timeout: float | None = None) -> None:
        ACTIVITY.note(self, 1)  # counted before it is visible, so a reader never sees it uncounted
        super().put(item, block, timeout)

    def handled(self) -> None:
        ACTIVITY.note(self, -1)

    @property
    def live(self) -> bool:
        return self.stopped is None or not self.stopped.is_set()


class Activity:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._inboxes: weakref.WeakSet[CountingInbox] = weakref.WeakSet()
        self._changes = 0

    def note(self, inbox: CountingInbox, delta: int) -> None:
        with self._lock:
            if delta > 0 and inbox.outstanding == 0:
                self._inboxes.add(inbox)
            inbox.outstanding += delta
            self._changes += 1

    def outstanding(self) -> int:
        """Messages told to live actors and not handled yet (a snapshot; see `quiet`)."""
        with self._lock:
            inboxes = list(self._inboxes)
        return sum(i.outstanding for i in inboxes if i.live)

    def quiet(self) -> bool:
        """True when, over the whole check, no live actor had a message to handle or was handling one."""
        with self._lock:
            before = self._changes
            inboxes = list(self._inboxes)
        if any(i.outstanding > 0 and i.live for i in inboxes):
            return False
        with self._lock:
            return self._changes == before


ACTIVITY = Activity()
