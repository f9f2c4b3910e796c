"""The bus: reliable subscriptions lose nothing across restarts; conflated ones keep only the newest per key."""

from __future__ import annotations

import queue
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from crocbot.actors.activity import CountingInbox
from crocbot.actors.base import ChildContext, SupervisedActor
from crocbot.actors.runtime import Runtime
from crocbot.actors.supervisor import ChildSpec, Policy
from crocbot.core.clock import SimClock
from crocbot.core.messages import ActorRestarted
from tests.support.actors import WAIT, Crash, Tap


@dataclass(frozen=True, slots=True)
class Note:
    seq: int


@dataclass(frozen=True, slots=True)
class Tick:
    key: str
    seq: int


class Collector(SupervisedActor):
    """Subscribes on start (as every real actor does, so it survives restarts) and forwards what it gets."""

    def __init__(self, ctx: ChildContext, sink: queue.Queue[Any], gate: threading.Event | None = None) -> None:
        super().__init__(ctx)
        self.sink = sink
        self.gate = gate

    def started(self) -> None:
        self.services.bus.subscribe(Note, self.name)
        self.services.bus.subscribe_conflated(Tick, self.name, key=lambda tick: tick.key)

    def handle(self, message: Any) -> Any:
        if isinstance(message, Crash):
            raise RuntimeError("boom")
        self.sink.put((self.ctx.instance, message))
        if self.gate is not None and not self.gate.is_set():
            self.sink.put("blocked")
            self.gate.wait(timeout=30)
        return None


@pytest.fixture
def gate() -> Iterator[threading.Event]:
    event = threading.Event()
    yield event
    event.set()


def drain_until(sink: queue.Queue[Any], done: Any) -> list[Any]:
    seen = []
    while True:
        item = sink.get(timeout=WAIT)
        seen.append(item)
        if done(seen):
            return seen


def test_reliable_messages_arrive_in_order_and_survive_a_restart_of_the_subscriber(
    runtime: Runtime, clock: SimClock
) -> None:
    sink: queue.Queue[Any] = queue.Queue()
    events: queue.Queue[Any] = queue.Queue()
    runtime.start(
        [ChildSpec.actor("tap", Tap, events, (ActorRestarted,)), ChildSpec.actor("collector", Collector, sink)],
        Policy(backoff_initial=1.0, backoff_jitter=0.0),
    )
    bus = runtime.bus
    for seq in range(100):
        bus.publish(Note(seq))
    first = drain_until(sink, lambda seen: len(seen) == 100)
    old = runtime.directory.entry("collector")
    assert old is not None

    old.ref.tell(Crash())
    events.get(timeout=WAIT)  # the restart is scheduled one second of clock time out: the collector is down
    for seq in range(100, 250):
        bus.publish(Note(seq))
    assert bus.backlog("collector") == 150
    clock.advance(1.0)
    second = drain_until(sink, lambda seen: len(seen) == 150)

    assert [note.seq for _, note in first] == list(range(100))
    assert [note.seq for _, note in second] == list(range(100, 250))
    assert {instance for instance, _ in second} == {runtime.directory.wait_for("collector", timeout=WAIT).instance}
    assert bus.backlog("collector") == 0


def test_reliable_messages_keep_their_order_while_a_publisher_races_the_subscribers_restarts(
    runtime: Runtime, clock: SimClock
) -> None:
    """Publishing goes on from another thread while the subscriber crashes and its backlog is flushed to the new
    instance: whatever arrives, arrives in publish order (what was in a crashed inbox is lost with it)."""
    sink: queue.Queue[Any] = queue.Queue()
    events: queue.Queue[Any] = queue.Queue()
    runtime.start(
        [ChildSpec.actor("tap", Tap, events, (ActorRestarted,)), ChildSpec.actor("collector", Collector, sink)],
        Policy(max_restarts=10, backoff_initial=1.0, backoff_multiplier=1.0, backoff_jitter=0.0),
    )
    bus = runtime.bus
    stop = threading.Event()
    last = 5_000_000  # a bound, far beyond what three restarts take

    def publish() -> None:
        for seq in range(last):
            if stop.is_set():
                return
            bus.publish(Note(seq))

    publisher = threading.Thread(target=publish)
    switch = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # threads interleave between almost any two bytecodes, the race windows included
    publisher.start()
    try:
        for _ in range(3):
            old = runtime.directory.entry("collector")
            assert old is not None
            old.ref.tell(Crash())
            events.get(timeout=WAIT)  # down, with a backlog growing while the publisher goes on
            clock.advance(1.0)  # registered again: the backlog is flushed while new messages come
            runtime.directory.wait_for("collector", newer_than=old.instance, timeout=WAIT)
    finally:
        stop.set()
        publisher.join(timeout=WAIT)
        sys.setswitchinterval(switch)
    assert not publisher.is_alive()
    bus.publish(Note(last))  # the last word, to a live instance: after it, nothing more is on its way
    received = drain_until(sink, lambda seen: seen[-1][1] == Note(last))

    seqs = [note.seq for _, note in received]
    assert seqs == sorted(seqs)
    assert len(set(seqs)) == len(seqs)


def test_a_slow_conflated_subscriber_sees_the_newest_tick_per_key_and_the_publisher_never_blocks(
    runtime: Runtime, gate: threading.Event
) -> None:
    sink: queue.Queue[Any] = queue.Queue()
    runtime.start([ChildSpec.actor("slow", Collector, sink, gate)], Policy(backoff_initial=0))
    slow = runtime.directory.get("slow")
    assert slow is not None
    inbox = slow.actor_inbox
    assert isinstance(inbox, CountingInbox)
    runtime.bus.publish(Tick("BTC/USD", 0))
    assert drain_until(sink, lambda seen: seen[-1] == "blocked")  # the subscriber is now stuck in its handler

    keys = ("BTC/USD", "ETH/USD", "AAPLx/USD")
    for seq in range(1, 30_001):  # returns although the subscriber cannot take a single message
        runtime.bus.publish(Tick(keys[seq % 3], seq))
    inbox_depth = inbox.qsize()
    gate.set()
    last = {key: max(seq for seq in range(1, 30_001) if keys[seq % 3] == key) for key in keys}
    received = drain_until(sink, lambda seen: {m.seq for _, m in seen if isinstance(m, Tick)} >= set(last.values()))

    ticks = [message for _, message in received if isinstance(message, Tick)]
    assert inbox_depth <= 1  # one wake-up, not 30,000 messages
    assert len(ticks) == 3  # after the stall: exactly the newest per key
    assert {tick.key: tick.seq for tick in ticks} == last


def test_conflated_messages_pending_for_a_restarting_subscriber_go_to_the_new_instance(
    runtime: Runtime, clock: SimClock
) -> None:
    sink: queue.Queue[Any] = queue.Queue()
    events: queue.Queue[Any] = queue.Queue()
    runtime.start(
        [ChildSpec.actor("tap", Tap, events, (ActorRestarted,)), ChildSpec.actor("collector", Collector, sink)],
        Policy(backoff_initial=1.0, backoff_jitter=0.0),
    )
    old = runtime.directory.entry("collector")
    assert old is not None
    old.ref.tell(Crash())
    events.get(timeout=WAIT)

    for seq in range(10):
        runtime.bus.publish(Tick("BTC/USD", seq))
    clock.advance(1.0)

    instance, tick = sink.get(timeout=WAIT)
    assert tick == Tick("BTC/USD", 9)
    assert instance > old.instance


def test_subscribing_twice_delivers_once(runtime: Runtime) -> None:
    sink: queue.Queue[Any] = queue.Queue()
    runtime.start([ChildSpec.actor("collector", Collector, sink)], Policy(backoff_initial=0))
    runtime.bus.subscribe(Note, "collector")  # Collector already subscribed itself on start

    runtime.bus.publish(Note(1))
    runtime.bus.publish(Note(2))

    assert [sink.get(timeout=WAIT)[1], sink.get(timeout=WAIT)[1]] == [Note(1), Note(2)]
    collector = runtime.directory.get("collector")
    assert collector is not None
    collector.ask(Note(3), timeout=WAIT)  # flush: anything duplicated would be queued before this
    assert sink.get(timeout=WAIT)[1] == Note(3)
    assert sink.empty()
