"""The simulated clock moves only when driven, never backwards, and tells its listeners each time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from crocbot.core.clock import Clock, SimClock, SystemClock


def test_both_clocks_satisfy_the_protocol_and_give_aware_utc() -> None:
    for clock in (SystemClock(), SimClock()):
        assert isinstance(clock, Clock)
        assert clock.now().tzinfo is UTC


def test_sim_clock_advances_exactly_and_notifies_listeners_synchronously() -> None:
    clock = SimClock(datetime(2025, 1, 1, tzinfo=UTC))
    seen: list[datetime] = []
    assert clock.on_advance(lambda: seen.append(clock.now())) is True

    for _ in range(1000):
        clock.advance(0.001)  # a float sum would drift here; whole microseconds do not
    clock.advance(timedelta(minutes=1))

    assert clock.monotonic() == 61.0
    assert clock.now() == datetime(2025, 1, 1, 0, 1, 1, tzinfo=UTC)
    assert len(seen) == 1001
    assert seen[-1] == clock.now()


def test_sim_clock_never_goes_backwards() -> None:
    clock = SimClock(datetime(2025, 1, 1, tzinfo=UTC))
    clock.set(datetime(2025, 1, 2, tzinfo=UTC))
    with pytest.raises(ValueError, match="never goes backwards"):
        clock.set(datetime(2025, 1, 1, tzinfo=UTC))
    with pytest.raises(ValueError, match="never goes backwards"):
        clock.advance(-1)


def test_sim_clock_converts_other_zones_to_utc_and_refuses_naive_times() -> None:
    clock = SimClock(datetime(2025, 1, 1, 2, 0, tzinfo=timezone(timedelta(hours=2))))
    assert clock.now() == datetime(2025, 1, 1, 0, 0, tzinfo=UTC)
    with pytest.raises(ValueError, match="naive"):
        SimClock(datetime(2025, 1, 1))  # noqa: DTZ001 - the point of the test


def test_system_clock_does_not_drive_listeners() -> None:
    assert SystemClock().on_advance(lambda: None) is False
