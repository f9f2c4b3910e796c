"""The watchdog treats an actor that stops answering heartbeats like a crashed one."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from crocbot.actors.protocol import HEARTBEAT
from crocbot.actors.runtime import Runtime
from crocbot.actors.supervisor import ChildSpec, Policy
from crocbot.actors.watchdog import HungActors, Watchdog
from crocbot.core.clock import SimClock
from tests.support.actors import WAIT, Echo, Hang, Probe, Worker


@pytest.fixture
def release() -> Iterator[threading.Event]:
    event = threading.Event()
    yield event
    event.set()  # let the abandoned thread finish, so that the test ends cleanly


def heard_from(runtime: Runtime, name: str) -> None:
    """Ask `name` for a heartbeat of our own, queued behind the watchdog's: once it answers, so has the watchdog's.
    These tests move seconds of clock time within a few wall milliseconds, less than a thread may wait for its turn,
    so an actor that is not hung must be given the chance to answer before the clock moves on."""
    ref = runtime.directory.get(name)
    assert ref is not None
    assert ref.ask(HEARTBEAT, timeout=WAIT) is True


def test_a_hung_actor_is_detected_by_the_watchdog_and_replaced(
    runtime: Runtime, clock: SimClock, release: threading.Event
) -> None:
    probe = Probe()
    runtime.start(
        [
            ChildSpec.actor("watchdog", Watchdog, interval=1.0, timeout=3.0),
            ChildSpec.actor("worker", Worker, probe),
        ],
        Policy(backoff_initial=0),
    )
    watchdog = runtime.directory.get("watchdog")
    hung = runtime.directory.entry("worker")
    assert watchdog is not None
    assert hung is not None

    hung.ref.tell(Hang(release))
    clock.advance(1.0)  # tick: heartbeats go out, the hung worker's stays unanswered
    assert watchdog.ask(HungActors(), timeout=WAIT) == ()
    heard_from(runtime, "root")
    clock.advance(2.0)  # 2 s unanswered: not yet
    assert watchdog.ask(HungActors(), timeout=WAIT) == ()
    heard_from(runtime, "root")
    clock.advance(1.0)  # 3 s unanswered: hung

    replacement = runtime.directory.wait_for("worker", newer_than=hung.instance, timeout=WAIT)
    assert watchdog.ask(HungActors(), timeout=WAIT) == ("worker",)
    assert replacement.ref.ask(Echo("alive"), timeout=WAIT) == "alive"
    assert hung.retired.is_set()


def test_a_busy_but_answering_actor_is_left_alone(runtime: Runtime, clock: SimClock) -> None:
    probe = Probe()
    runtime.start(
        [
            ChildSpec.actor("watchdog", Watchdog, interval=1.0, timeout=3.0),
            ChildSpec.actor("worker", Worker, probe),
        ],
        Policy(backoff_initial=0),
    )
    watchdog = runtime.directory.get("watchdog")
    worker = runtime.directory.entry("worker")
    assert watchdog is not None
    assert worker is not None

    for _ in range(10):
        clock.advance(1.0)
        watchdog.ask(HungActors(), timeout=WAIT)  # the tick is handled: the heartbeats are out
        assert worker.ref.ask(Echo(None), timeout=WAIT) is None  # the heartbeat ahead of it was answered
        heard_from(runtime, "root")

    assert watchdog.ask(HungActors(), timeout=WAIT) == ()
    assert runtime.directory.entry("worker") == worker
