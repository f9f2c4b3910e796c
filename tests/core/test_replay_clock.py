"""The replay clock: event time a fixed factor faster than the wall clock from an anchor that several processes
share; its text form round-trips, bad specs say what is wrong, and timers on it wait wall time, not event time."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta, timezone

import pytest

from crocbot.actors.scheduler import Scheduler
from crocbot.core.clock import Clock, IoClock, ReplayClock, SimClock, SystemClock, wall_rate

ANCHOR = datetime(2026, 1, 5, 14, 30, tzinfo=UTC)
SPEC = "2026-01-05T14:30:00+00:00@1763700000.25x20"


def test_the_spec_round_trips_and_names_anchor_wall_epoch_and_speed() -> None:
    clock = ReplayClock.parse(SPEC)

    assert (clock.anchor, clock.anchor_wall, clock.speed) == (ANCHOR, 1763700000.25, 20.0)
    assert clock.spec == SPEC
    fractional = ReplayClock(ANCHOR, 1763700000.123456, 2.5)
    again = ReplayClock.parse(fractional.spec)
    assert (again.anchor, again.anchor_wall, again.speed) == (ANCHOR, 1763700000.123456, 2.5)


def test_an_anchor_in_another_zone_is_kept_in_utc() -> None:
    clock = ReplayClock.parse("2026-01-05T15:30:00+01:00@100x2")

    assert clock.anchor == ANCHOR
    assert clock.anchor.tzinfo is UTC
    assert clock.spec == "2026-01-05T14:30:00+00:00@100x2"


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("2026-01-05T14:30:00+00:00", "expected ANCHOR_ISO@WALL_EPOCHxSPEED"),
        ("2026-01-05T14:30:00+00:00@1763700000", "expected ANCHOR_ISO@WALL_EPOCHxSPEED"),
        ("@1763700000x20", "expected ANCHOR_ISO@WALL_EPOCHxSPEED"),
        ("yesterday@1763700000x20", "is not an ISO 8601 time"),
        ("2026-01-05T14:30:00@1763700000x20", "has no UTC offset"),
        ("2026-01-05T14:30:00+00:00@soonx20", "must be numbers"),
        ("2026-01-05T14:30:00+00:00@1763700000xfast", "must be numbers"),
        ("2026-01-05T14:30:00+00:00@1763700000x0", "speed must be > 0 and <= 1000"),
        ("2026-01-05T14:30:00+00:00@1763700000x-5", "speed must be > 0 and <= 1000"),
        ("2026-01-05T14:30:00+00:00@1763700000x1001", "speed must be > 0 and <= 1000"),
        ("2026-01-05T14:30:00+00:00@1763700000xinf", "speed must be > 0 and <= 1000"),
        ("2026-01-05T14:30:00+00:00@1763700000xnan", "speed must be > 0 and <= 1000"),
        ("2026-01-05T14:30:00+00:00@nanx20", "wall epoch must be a finite number"),
    ],
)
def test_a_bad_spec_is_refused_with_what_is_wrong(spec: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ReplayClock.parse(spec)


def test_a_naive_anchor_is_refused_when_built_directly_too() -> None:
    with pytest.raises(ValueError, match="has no UTC offset"):
        ReplayClock(datetime(2026, 1, 5), 0.0, 20)  # noqa: DTZ001 - the naive time under test
    ReplayClock(datetime(2026, 1, 5, tzinfo=timezone(timedelta(hours=-5))), 0.0, 1000)  # the upper bound is allowed


def test_two_clocks_on_one_spec_agree_because_both_count_from_the_wall_epoch() -> None:
    """What lets the simulator and the bot, in two processes, and a bot restarted after kill -9, share market time."""
    wall = time.time() - 100.0
    spec = ReplayClock(ANCHOR, wall, 20).spec
    first, second = ReplayClock.parse(spec), ReplayClock.parse(spec)

    before = time.time()
    seen = (first.now(), second.now())
    after = time.time()

    low = ANCHOR + timedelta(seconds=(before - wall) * 20)
    high = ANCHOR + timedelta(seconds=(after - wall) * 20)
    for now in seen:
        assert low <= now <= high
        assert now.tzinfo is UTC
    assert low >= ANCHOR + timedelta(seconds=1999)  # 100 wall seconds since the epoch are 2000 market seconds


def test_monotonic_counts_event_seconds_and_the_clock_is_a_clock_that_is_not_driven() -> None:
    clock = ReplayClock(ANCHOR, time.time(), 50)

    before = time.monotonic()
    event = clock.monotonic()
    after = time.monotonic()

    assert isinstance(clock, Clock)
    assert clock.on_advance(lambda: None) is False
    assert before * 50 <= event <= after * 50
    assert clock.monotonic() >= event


def test_wall_rate_is_the_speed_of_a_replay_clock_and_one_otherwise() -> None:
    replay = ReplayClock(ANCHOR, 0.0, 20)

    assert wall_rate(replay) == 20.0
    assert wall_rate(SystemClock()) == 1.0
    assert wall_rate(SimClock()) == 1.0
    assert wall_rate(IoClock(replay)) == 1.0


def test_an_io_clock_keeps_event_timestamps_but_counts_deadlines_in_wall_seconds() -> None:
    replay = ReplayClock(ANCHOR, time.time(), 20)
    io = IoClock(replay)

    before = time.monotonic()
    deadline_clock = io.monotonic()
    after = time.monotonic()

    assert before <= deadline_clock <= after
    assert abs((io.now() - replay.now()).total_seconds()) < 20.0  # the same event time, read a moment apart
    assert io.on_advance(lambda: None) is False


def test_a_scheduler_on_a_replay_clock_waits_wall_seconds_not_event_seconds() -> None:
    """At 50x, a timer 5 event seconds away fires after about 0.1 wall seconds (not 5, and not at once)."""
    scheduler = Scheduler(ReplayClock(ANCHOR, time.time(), 50), name="replay-test")
    scheduler.start()
    fired = threading.Event()
    try:
        started = time.monotonic()
        scheduler.call_later(5.0, fired.set)
        assert fired.wait(timeout=5.0), "the 5 event-second timer did not fire within 5 wall seconds"
        elapsed = time.monotonic() - started
    finally:
        scheduler.stop()

    assert 0.09 <= elapsed < 2.0, elapsed  # 0.1 s expected; the upper bound only guards against a wall-time wait
