"""Test actors and probes: they record what happens to them so tests can wait on events, never on sleeps."""

from __future__ import annotations

import queue
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from crocbot.actors.activity import ACTIVITY
from crocbot.actors.base import ChildContext, SupervisedActor

WAIT = 5.0  # seconds: the bound on every wait in these tests; a healthy run never gets near it


@dataclass(frozen=True)
class Crash:
    """Told to a `Worker`: raise from the handler (a crash, since it came by `tell`)."""

    text: str = "boom"


@dataclass(frozen=True)
class Hang:
    """Told to a `Worker`: block the actor's thread until `release` is set."""

    release: threading.Event


@dataclass(frozen=True)
class Fail:
    """Asked of a `Worker`: raise `error` from the handler."""

    error: Exception


@dataclass(frozen=True)
class Echo:
    value: Any


@dataclass(frozen=True)
class StopSelf:
    """Told to a `Worker`: stop normally, of its own accord."""


class FatalError(Exception):
    pass


@dataclass
class Probe:
    """What the instances of one or more test actors did, across restarts."""

    events: queue.Queue[tuple[str, str, int]] = field(default_factory=queue.Queue)
    starts: list[tuple[str, int]] = field(default_factory=list)
    stops: list[str] = field(default_factory=list)
    received: list[tuple[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, kind: str, name: str, instance: int) -> None:
        with self.lock:
            if kind == "start":
                self.starts.append((name, instance))
            elif kind == "stop":
                self.stops.append(name)
        self.events.put((kind, name, instance))

    def wait(self, kind: str, name: str, timeout: float = WAIT) -> int:
        """Block until `name` records `kind`; returns the instance. Events of other kinds are skipped."""
        while True:
            event_kind, event_name, instance = self.events.get(timeout=timeout)
            if event_kind == kind and event_name == name:
                return instance

    def start_count(self, name: str) -> int:
        with self.lock:
            return sum(1 for started, _ in self.starts if started == name)


class Worker(SupervisedActor):
    fatal_ask_errors = (FatalError,)

    def __init__(self, ctx: ChildContext, probe: Probe, *, fail_start: int = 0) -> None:
        super().__init__(ctx)
        self.probe = probe
        self.fail_start = fail_start  # this many starts of this name fail in on_start

    def started(self) -> None:
        if self.probe.start_count(self.name) < self.fail_start:
            self.probe.record("start", self.name, self.ctx.instance)
            raise RuntimeError(f"{self.name} cannot start")
        self.probe.record("start", self.name, self.ctx.instance)
        self.probe.record("ready", self.name, self.ctx.instance)

    def stopping(self) -> None:
        self.probe.record("stop", self.name, self.ctx.instance)

    def handle(self, message: Any) -> Any:
        with self.probe.lock:
            self.probe.received.append((self.name, message))
        if isinstance(message, Crash):
            raise RuntimeError(message.text)
        if isinstance(message, Hang):
            self.probe.record("hang", self.name, self.ctx.instance)
            message.release.wait(timeout=30)
            return None
        if isinstance(message, Fail):
            raise message.error
        if isinstance(message, StopSelf):
            self.stop()
            return None
        if isinstance(message, Echo):
            return message.value
        self.probe.record("message", self.name, self.ctx.instance)
        return None


class Tap(SupervisedActor):
    """Subscribes to the bus and hands every message to a queue the test reads."""

    def __init__(self, ctx: ChildContext, sink: queue.Queue[Any], topics: tuple[type[Any], ...]) -> None:
        super().__init__(ctx)
        self.sink = sink
        self.topics = topics

    def started(self) -> None:
        for topic in self.topics:
            self.services.bus.subscribe(topic, self.name)

    def handle(self, message: Any) -> Any:
        self.sink.put(message)
        return None


def settle() -> None:
    """Until no actor has a message told and not handled (bounded): what was published has been acted on."""
    for _ in range(1000):
        if ACTIVITY.quiet():
            return
        time.sleep(0.005)
    raise AssertionError("the actors never went quiet")


def take(events: queue.Queue[Any], kind: type[Any], *, timeout: float = WAIT, **match: Any) -> Any:
    """The next event of `kind` whose attributes equal `match`, skipping others; fails after `timeout` seconds."""
    for _ in range(1000):
        item = events.get(timeout=timeout)
        if isinstance(item, kind) and all(getattr(item, name) == value for name, value in match.items()):
            return item
    raise AssertionError(f"no {kind.__name__} among 1000 events")
