"""Supervision with OTP semantics, driven by a simulated clock; every wait is bounded, none is a sleep."""

from __future__ import annotations

import queue
import random
import threading
from typing import Any

import pykka
import pytest

from crocbot.actors.base import ActorRetired
from crocbot.actors.protocol import ChildExited, ExitCause
from crocbot.actors.runtime import Runtime
from crocbot.actors.supervisor import ChildSpec, Policy, Restart, RestartStrategy, WhichChildren
from crocbot.core.clock import SimClock
from crocbot.core.messages import ActorEscalated, ActorExited, ActorRestarted
from tests.support.actors import WAIT, Crash, Echo, Fail, FatalError, Hang, Probe, StopSelf, Tap, Worker

AT_ONCE = Policy(backoff_initial=0)


@pytest.fixture
def probe() -> Probe:
    return Probe()


def worker(name: str, probe: Probe, **kwargs: Any) -> ChildSpec:
    restart = kwargs.pop("restart", Restart.PERMANENT)
    return ChildSpec.actor(name, Worker, probe, restart=restart, **kwargs)


def tap(sink: queue.Queue[Any], *topics: type[Any]) -> ChildSpec:
    return ChildSpec.actor("tap", Tap, sink, topics)


def children_of(ref: pykka.ActorRef[Any]) -> dict[str, Any]:
    return {info.name: info for info in ref.ask(WhichChildren(), block=True, timeout=WAIT)}


def test_a_child_crashed_by_a_tell_is_restarted_with_a_new_ref_that_the_directory_returns(
    runtime: Runtime, probe: Probe
) -> None:
    runtime.start([worker("a", probe)], AT_ONCE)
    first = runtime.directory.entry("a")
    assert first is not None

    first.ref.tell(Crash())
    second = runtime.directory.wait_for("a", newer_than=first.instance, timeout=WAIT)

    assert second.ref is not first.ref
    assert runtime.directory.get("a") is second.ref
    assert not first.ref.is_alive()
    assert second.ref.ask(Echo(42), timeout=WAIT) == 42


def test_rest_for_one_restarts_the_crashed_child_and_the_later_siblings_only(runtime: Runtime, probe: Probe) -> None:
    runtime.start(
        [worker("a", probe), worker("b", probe), worker("c", probe)],
        Policy(strategy=RestartStrategy.REST_FOR_ONE, backoff_initial=0),
    )
    before = {name: entry for name in "abc" if (entry := runtime.directory.entry(name)) is not None}
    assert before.keys() == set("abc")

    before["b"].ref.tell(Crash())
    b = runtime.directory.wait_for("b", newer_than=before["b"].instance, timeout=WAIT)
    c = runtime.directory.wait_for("c", newer_than=before["c"].instance, timeout=WAIT)

    assert runtime.directory.entry("a") == before["a"]  # the earlier sibling was left alone
    assert "c" in probe.stops
    assert "a" not in probe.stops
    assert probe.starts[-2:] == [("b", b.instance), ("c", c.instance)]  # restarted in start order


def test_one_for_one_leaves_the_siblings_alone(runtime: Runtime, probe: Probe) -> None:
    runtime.start([worker("a", probe), worker("b", probe)], AT_ONCE)
    a, b = runtime.directory.entry("a"), runtime.directory.entry("b")
    assert a is not None
    assert b is not None

    a.ref.tell(Crash())
    runtime.directory.wait_for("a", newer_than=a.instance, timeout=WAIT)

    assert runtime.directory.entry("b") == b
    assert probe.stops == []


def test_a_failing_on_start_is_caught_and_restarted(runtime: Runtime, probe: Probe) -> None:
    # pykka calls neither on_failure nor on_stop when on_start raises; the base actor reports it anyway.
    runtime.start([worker("a", probe, fail_start=2)], AT_ONCE)

    entry = runtime.directory.wait_for("a", timeout=WAIT)

    assert probe.start_count("a") == 3
    assert entry.ref.ask(Echo("up"), timeout=WAIT) == "up"


def test_exceeding_the_restart_intensity_escalates_to_the_parent(probe: Probe) -> None:
    clock = SimClock()
    escalations: queue.Queue[ChildExited] = queue.Queue()
    events: queue.Queue[Any] = queue.Queue()
    runtime = Runtime(clock=clock, rng=random.Random(1), on_escalate=escalations.put)
    try:
        runtime.start(
            [tap(events, ActorEscalated), worker("a", probe)], Policy(max_restarts=2, within=10, backoff_initial=0)
        )
        for _ in range(2):
            entry = runtime.directory.entry("a")
            assert entry is not None
            entry.ref.tell(Crash())
            runtime.directory.wait_for("a", newer_than=entry.instance, timeout=WAIT)
        assert escalations.empty()
        last = runtime.directory.entry("a")
        assert last is not None
        last.ref.tell(Crash())  # the third crash within 10 s: one more than allowed

        exited = escalations.get(timeout=WAIT)
        assert exited.reason is ExitCause.CRASH
        assert "2 restarts within 10" in exited.error
        assert isinstance(events.get(timeout=WAIT), ActorEscalated)
        assert runtime.root is not None
        assert not runtime.root.is_alive()
        assert runtime.directory.get("a") is None
    finally:
        runtime.shutdown(timeout=WAIT)


def test_restarts_spread_out_in_event_time_do_not_escalate(runtime: Runtime, clock: SimClock, probe: Probe) -> None:
    runtime.start([worker("a", probe)], Policy(max_restarts=1, within=10, backoff_initial=0))
    for _ in range(4):
        entry = runtime.directory.entry("a")
        assert entry is not None
        entry.ref.tell(Crash())
        runtime.directory.wait_for("a", newer_than=entry.instance, timeout=WAIT)
        clock.advance(11)  # the previous restart falls out of the window

    assert not runtime.escalated.is_set()
    assert probe.start_count("a") == 5


def test_a_nested_supervisor_that_gives_up_is_restarted_by_its_parent(runtime: Runtime, probe: Probe) -> None:
    inner = ChildSpec.supervisor("inner", [worker("w", probe)], Policy(max_restarts=1, within=10, backoff_initial=0))
    runtime.start([inner], Policy(max_restarts=5, within=10, backoff_initial=0))
    first_inner = runtime.directory.entry("inner")
    first_w = runtime.directory.entry("w")
    assert first_inner is not None
    assert first_w is not None

    first_w.ref.tell(Crash())  # inner restarts w
    second_w = runtime.directory.wait_for("w", newer_than=first_w.instance, timeout=WAIT)
    second_w.ref.tell(Crash())  # beyond inner's intensity: inner gives up, root restarts inner and so w

    new_inner = runtime.directory.wait_for("inner", newer_than=first_inner.instance, timeout=WAIT)
    third_w = runtime.directory.wait_for("w", newer_than=second_w.instance, timeout=WAIT)
    assert new_inner.ref.is_alive()
    assert third_w.ref.is_alive()
    assert not runtime.escalated.is_set()
    assert probe.start_count("w") == 3


def test_restarts_wait_an_exponential_backoff_on_the_clock(clock: SimClock, probe: Probe) -> None:
    events: queue.Queue[Any] = queue.Queue()
    runtime = Runtime(clock=clock, rng=random.Random(3))
    policy = Policy(max_restarts=5, within=60, backoff_initial=1.0, backoff_multiplier=2.0, backoff_jitter=0.0)
    try:
        root = runtime.start([tap(events, ActorRestarted), worker("a", probe)], policy)
        for expected_delay in (1.0, 2.0, 4.0):
            entry = runtime.directory.entry("a")
            assert entry is not None
            entry.ref.tell(Crash())
            assert isinstance(events.get(timeout=WAIT), ActorRestarted)  # the restart is scheduled

            clock.advance(expected_delay - 0.01)
            assert not children_of(root)["a"].running  # not yet: the supervisor handled any due timer first
            clock.advance(0.02)
            runtime.directory.wait_for("a", newer_than=entry.instance, timeout=WAIT)
    finally:
        runtime.shutdown(timeout=WAIT)


def test_a_transient_child_that_stops_normally_is_not_restarted_but_a_crash_is(runtime: Runtime, probe: Probe) -> None:
    events: queue.Queue[Any] = queue.Queue()
    root = runtime.start([tap(events, ActorExited), worker("t", probe, restart=Restart.TRANSIENT)], AT_ONCE)
    first = runtime.directory.entry("t")
    assert first is not None
    first.ref.tell(Crash())
    second = runtime.directory.wait_for("t", newer_than=first.instance, timeout=WAIT)

    second.ref.tell(StopSelf())
    exited = events.get(timeout=WAIT)
    info = children_of(root)["t"]

    assert (exited.name, exited.reason) == ("t", "normal")

    assert not info.running
    assert info.instance is None
    assert probe.start_count("t") == 2


def test_a_permanent_child_that_stops_normally_is_restarted(runtime: Runtime, probe: Probe) -> None:
    runtime.start([worker("p", probe)], AT_ONCE)
    first = runtime.directory.entry("p")
    assert first is not None

    first.ref.tell(StopSelf())

    assert runtime.directory.wait_for("p", newer_than=first.instance, timeout=WAIT).ref.is_alive()


def test_a_temporary_child_is_never_restarted(runtime: Runtime, probe: Probe) -> None:
    events: queue.Queue[Any] = queue.Queue()
    root = runtime.start([tap(events, ActorExited), worker("tmp", probe, restart=Restart.TEMPORARY)], AT_ONCE)
    entry = runtime.directory.entry("tmp")
    assert entry is not None

    entry.ref.tell(Crash())
    exited = events.get(timeout=WAIT)

    assert (exited.name, exited.reason) == ("tmp", "crash")

    assert "tmp" not in children_of(root)
    assert runtime.directory.get("tmp") is None
    assert probe.start_count("tmp") == 1


def test_a_fatal_ask_error_crashes_the_actor_and_an_ordinary_one_does_not(runtime: Runtime, probe: Probe) -> None:
    runtime.start([worker("a", probe)], AT_ONCE)
    first = runtime.directory.entry("a")
    assert first is not None

    with pytest.raises(ValueError, match="bad request"):
        first.ref.ask(Fail(ValueError("bad request")), timeout=WAIT)
    assert first.ref.ask(Echo(1), timeout=WAIT) == 1  # an ordinary error goes back to the asker only

    with pytest.raises(FatalError):
        first.ref.ask(Fail(FatalError("corrupt state")), timeout=WAIT)
    second = runtime.directory.wait_for("a", newer_than=first.instance, timeout=WAIT)
    assert second.ref is not first.ref


def test_children_start_in_order_and_stop_in_reverse(clock: SimClock, probe: Probe) -> None:
    runtime = Runtime(clock=clock)
    runtime.start([worker("a", probe), worker("b", probe), worker("c", probe)], AT_ONCE)

    runtime.shutdown(timeout=WAIT)

    assert [name for name, _ in probe.starts] == ["a", "b", "c"]
    assert probe.stops == ["c", "b", "a"]
    assert runtime.directory.entries() == []


def test_a_constructor_that_raises_counts_as_a_crash(runtime: Runtime, probe: Probe) -> None:
    attempts: list[int] = []

    def start(ctx: Any) -> pykka.ActorRef[Any]:
        attempts.append(ctx.instance)
        if len(attempts) == 1:
            raise RuntimeError("bad wiring")
        return Worker.start(ctx, probe)

    runtime.start([ChildSpec("flaky", start)], AT_ONCE)

    assert runtime.directory.wait_for("flaky", timeout=WAIT).instance == attempts[-1]
    assert len(attempts) == 2


def test_an_instance_the_supervisor_replaced_cannot_trigger_another_restart(runtime: Runtime, probe: Probe) -> None:
    runtime.start([worker("a", probe)], AT_ONCE)
    first = runtime.directory.entry("a")
    assert first is not None
    first.ref.tell(Crash())
    second = runtime.directory.wait_for("a", newer_than=first.instance, timeout=WAIT)

    first.report(ChildExited("a", first.instance, ExitCause.CRASH, "late report from a dead instance"))
    root = runtime.root
    assert root is not None
    children_of(root)  # the stale report has been handled

    assert runtime.directory.entry("a") == second


def test_hung_actor_release_is_harmless(runtime: Runtime, probe: Probe) -> None:
    """An abandoned (retired) instance that wakes up ignores its inbox and does not report again."""
    runtime.start([worker("a", probe)], AT_ONCE)
    entry = runtime.directory.entry("a")
    assert entry is not None
    release = threading.Event()

    entry.ref.tell(Hang(release))
    probe.wait("hang", "a")  # the thread is stuck in the handler now
    entry.report(ChildExited("a", entry.instance, ExitCause.HUNG, "test"))
    replacement = runtime.directory.wait_for("a", newer_than=entry.instance, timeout=WAIT)
    entry.ref.tell(Echo("ignored"))

    release.set()
    entry.ref.actor_stopped.wait(WAIT)

    assert not entry.ref.is_alive()
    assert runtime.directory.entry("a") == replacement
    assert ("a", Echo("ignored")) not in probe.received


def test_an_ask_queued_at_a_hung_instance_fails_with_actor_retired_instead_of_answering_none(
    runtime: Runtime, probe: Probe
) -> None:
    """A hung instance that wakes up must not answer the asks it had queued: None would pass for a real answer."""
    runtime.start([worker("a", probe)], AT_ONCE)
    entry = runtime.directory.entry("a")
    assert entry is not None
    release = threading.Event()
    entry.ref.tell(Hang(release))
    probe.wait("hang", "a")
    answer = entry.ref.ask(Echo("stale"), block=False)  # queued behind the hang, before the hang is detected
    entry.report(ChildExited("a", entry.instance, ExitCause.HUNG, "test"))
    runtime.directory.wait_for("a", newer_than=entry.instance, timeout=WAIT)

    release.set()

    with pytest.raises(ActorRetired, match="was replaced"):
        answer.get(timeout=WAIT)
    assert ("a", Echo("stale")) not in probe.received
