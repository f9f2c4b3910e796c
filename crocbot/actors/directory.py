"""Where actors find each other's *current* ref.

A restart makes a new actor instance with a new `ActorRef`, so nobody keeps refs: they look names up here at
the moment they send. The supervisor that owns a name is the only one that registers and unregisters it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pykka

from crocbot.actors.protocol import ChildExited

__all__ = ["Entry", "Directory", "NotRunning"]


class NotRunning(RuntimeError):
    """The named actor has no live instance right now (it is being restarted, or was never started)."""


@dataclass(frozen=True, slots=True)
class Entry:
    name: str
    ref: pykka.ActorRef[Any]
    instance: int
    report: Callable[[ChildExited], None]  # tells the owning supervisor that this instance failed
    retired: threading.Event  # set when the instance is abandoned (hung): it must ignore its inbox


Watcher = Callable[[str, Entry | None], None]


class Directory:
    def __init__(self) -> None:
        self._entries: dict[str, Entry] = {}
        self._cond = threading.Condition()
        self._watchers: list[Watcher] = []

    def register(self, entry: Entry) -> None:
        with self._cond:
            self._entries[entry.name] = entry
            self._cond.notify_all()
            watchers = tuple(self._watchers)
        for watcher in watchers:
            watcher(entry.name, entry)

    def unregister(self, name: str, instance: int) -> bool:
        """Remove `name` if it still points at `instance` (a newer registration is left alone)."""
        with self._cond:
            current = self._entries.get(name)
            if current is None or current.instance != instance:
                return False
            del self._entries[name]
            self._cond.notify_all()
            watchers = tuple(self._watchers)
        for watcher in watchers:
            watcher(name, None)
        return True

    def get(self, name: str) -> pykka.ActorRef[Any] | None:
        entry = self._entries.get(name)  # a single dict read is atomic; senders never take the lock
        return entry.ref if entry is not None else None

    def entry(self, name: str) -> Entry | None:
        return self._entries.get(name)

    def entries(self) -> list[Entry]:
        with self._cond:
            return list(self._entries.values())

    def watch(self, watcher: Watcher) -> None:
        """Call `watcher(name, entry)` after every registration and `watcher(name, None)` after removal."""
        with self._cond:
            self._watchers.append(watcher)

    def tell(self, name: str, message: object) -> bool:
        """Send to the current instance of `name`; False if there is none alive right now."""
        ref = self.get(name)
        if ref is None:
            return False
        try:
            ref.tell(message)
        except pykka.ActorDeadError:
            return False
        return True

    def ask(self, name: str, message: object, *, timeout: float) -> Any:
        """Ask the current instance of `name` and wait at most `timeout` s for its answer. Raises `NotRunning` when
        there is none (a restart in progress), pykka's `ActorDeadError` / `Timeout` as they come."""
        ref = self.get(name)
        if ref is None:
            raise NotRunning(f"the {name} actor is not running")
        return ref.ask(message, timeout=timeout)

    def wait_for(self, name: str, *, newer_than: int | None = None, timeout: float) -> Entry:
        """Block until `name` is registered (with an instance newer than `newer_than`), at most `timeout` s."""
        with self._cond:
            ok = self._cond.wait_for(lambda: _is_newer(self._entries.get(name), newer_than), timeout)
            entry = self._entries.get(name)
            if not ok or entry is None:
                raise TimeoutError(f"{name!r} was not registered within {timeout} s")
            return entry


def _is_newer(entry: Entry | None, than: int | None) -> bool:
    return entry is not None and (than is None or entry.instance > than)
