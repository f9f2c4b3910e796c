"""A supervisor with essential children (the root, whose essential child is the core): beyond its intensity, only an
essential child makes it give up; any other child is restarted after the longest backoff and reported."""

from __future__ import annotations

import queue
import random
from typing import Any

from crocbot.actors.protocol import ChildExited
from crocbot.actors.runtime import Runtime
from crocbot.actors.supervisor import ChildSpec, Policy, Restart
from crocbot.core.clock import SimClock
from crocbot.core.messages import ActorEscalated, ActorRestarted
from tests.support.actors import WAIT, Crash, Probe, Tap, Worker, take

POLICY = Policy(max_restarts=2, within=10, backoff_initial=0, backoff_max=5.0, essential=frozenset({"core"}))


def _worker(name: str, probe: Probe) -> ChildSpec:
    return ChildSpec.actor(name, Worker, probe, restart=Restart.PERMANENT)


def _crash(runtime: Runtime, name: str) -> int:
    entry = runtime.directory.entry(name)
    assert entry is not None
    entry.ref.tell(Crash())
    return entry.instance


def test_a_non_essential_child_beyond_the_intensity_is_restarted_slowly_and_reported_not_escalated() -> None:
    clock = SimClock()
    escalations: queue.Queue[ChildExited] = queue.Queue()
    events: queue.Queue[Any] = queue.Queue()
    restarts: queue.Queue[Any] = queue.Queue()  # published once a restart is scheduled: then the clock may move
    probe = Probe()
    runtime = Runtime(clock=clock, rng=random.Random(1), on_escalate=escalations.put)
    try:
        runtime.start(
            [
                ChildSpec.actor("tap", Tap, events, (ActorEscalated,)),
                ChildSpec.actor("restarts", Tap, restarts, (ActorRestarted,)),
                _worker("core", probe),
                _worker("health", probe),
            ],
            POLICY,
        )
        for _ in range(2):  # within the intensity: restarted at once
            before = _crash(runtime, "health")
            runtime.directory.wait_for("health", newer_than=before, timeout=WAIT)
        assert events.empty()

        before = _crash(runtime, "health")  # one more than allowed within 10 s
        escalated = events.get(timeout=WAIT)
        assert isinstance(escalated, ActorEscalated)
        assert "health" in escalated.reason
        assert runtime.directory.get("health") is None  # waiting for the longest backoff, not given up
        take(restarts, ActorRestarted, name="health", restarts_in_window=3)
        clock.advance(5.01)
        runtime.directory.wait_for("health", newer_than=before, timeout=WAIT)

        core = runtime.directory.entry("core")
        assert core is not None
        assert core.ref.is_alive()  # the essential child never stopped
        assert probe.start_count("core") == 1
        assert escalations.empty()
        assert not runtime.escalated.is_set()

        before = _crash(runtime, "health")  # still failing: restarted again, reported once
        take(restarts, ActorRestarted, name="health", restarts_in_window=4)
        clock.advance(5.01)
        runtime.directory.wait_for("health", newer_than=before, timeout=WAIT)
        assert events.empty()
    finally:
        runtime.shutdown(timeout=WAIT)


def test_an_essential_child_beyond_the_intensity_makes_the_supervisor_give_up() -> None:
    clock = SimClock()
    escalations: queue.Queue[ChildExited] = queue.Queue()
    probe = Probe()
    runtime = Runtime(clock=clock, rng=random.Random(2), on_escalate=escalations.put)
    try:
        runtime.start([_worker("core", probe), _worker("health", probe)], POLICY)
        for _ in range(2):
            before = _crash(runtime, "core")
            runtime.directory.wait_for("core", newer_than=before, timeout=WAIT)
        _crash(runtime, "core")

        exited = escalations.get(timeout=WAIT)
        assert "2 restarts within 10" in exited.error
        assert runtime.escalated.is_set()
        assert runtime.directory.get("health") is None  # given up: every child stopped
    finally:
        runtime.shutdown(timeout=WAIT)
