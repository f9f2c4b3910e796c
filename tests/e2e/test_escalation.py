"""Exceeding a supervisor's restart intensity escalates to safe mode with the stops intact.

Each test opens a protected long in the crafted market of `tests.support.restart_safety`, then crashes one actor
faster than its supervisor allows:

- `health`, a child of the root, six times within a minute: the root holds on (the core is its only essential
  child), restarts health slowly, and the bot goes safe;
- `router`, six times within a minute: the core supervisor gives up, the root restarts the whole core, and the new
  router comes back safe;
- the core itself, six times within a minute: the root gives up and the bot shuts down in order.

In every case the venue's resting stop is the one it had before, with the same quantity, a CRITICAL line says what
happened, and no entry is sent afterwards. Where the bot keeps running the stop still works: the market's fall
fills it and closes the position, with every invariant of the crash tests intact.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from tests.support.e2e import Paper, started
from tests.support.restart_safety import (
    WALL_BOUND,
    Crash,
    check_invariants,
    crash,
    crashable,  # noqa: F401 - the fixture, used by name
    cycle_start,
    cycling_paper,
    entries,
    long_signal,
    paper_account,
    protected,
    resting_stops,
    wait_for,
)

pytestmark = pytest.mark.usefixtures("crashable")

TIMES = 6  # one more than the root's and the core's 5 restarts within 60 s


@pytest.fixture
def paper(tmp_path: Path) -> Iterator[Paper]:
    with started(cycling_paper(tmp_path)) as paper:
        yield paper


def _open_protected(paper: Paper) -> dict[tuple[str, str], Decimal]:
    paper.run_until(cycle_start(0) + timedelta(seconds=30))
    long_signal(paper)
    wait_for(paper, "a protected position", lambda: protected(paper))
    paper.advance(5)
    stops = resting_stops(paper_account(paper))
    assert len(stops) == 1
    check_invariants(paper, "protected")
    return stops


def _safe_and_stops_intact(paper: Paper, stops: dict[tuple[str, str], Decimal], critical: list[str], said: str) -> None:
    bot, _ = paper.running
    assert any(said in line for line in critical), critical
    assert any("entries are halted" in line for line in critical), critical
    assert any("supervisor" in reason for reason in bot.status().safe_reasons), bot.status().safe_reasons
    code, body = paper.readyz()
    assert code == 503
    assert "not_safe_mode" in body["failing"]
    assert resting_stops(paper_account(paper)) == stops  # the same stop order, the same quantity
    check_invariants(paper, "after the escalation")


def _stop_still_works_and_no_entry_follows(paper: Paper) -> None:
    bot, _ = paper.running
    paper.run_until(cycle_start(1))  # the fall runs through the stop
    assert bot.status().positions == ()
    assert len(paper.journal().closed_trades()) == 1
    check_invariants(paper, "stopped out")
    before = entries(paper)
    paper.run_until(cycle_start(1) + timedelta(seconds=30))
    long_signal(paper)
    paper.advance(60)
    assert entries(paper) == before
    assert bot.status().positions == ()


def test_a_root_child_failing_beyond_the_intensity_leaves_the_core_running_safe_with_its_stops(
    paper: Paper, critical: list[str]
) -> None:
    stops = _open_protected(paper)
    bot, _ = paper.running
    core = bot.runtime.directory.entry("core")

    for _ in range(TIMES):
        crash(paper, "health", "flapping")

    assert bot.runtime.directory.entry("core") == core  # the money path was never touched
    assert not bot.escalated.is_set()
    _safe_and_stops_intact(paper, stops, critical, "supervisor root holds on")
    _stop_still_works_and_no_entry_follows(paper)


def test_a_router_failing_beyond_the_core_intensity_restarts_the_core_safe_with_its_stops(
    paper: Paper, critical: list[str]
) -> None:
    stops = _open_protected(paper)
    bot, _ = paper.running

    for _ in range(TIMES):
        crash(paper, "router", "flapping")

    assert not bot.escalated.is_set()
    _safe_and_stops_intact(paper, stops, critical, "supervisor core gives up")
    _stop_still_works_and_no_entry_follows(paper)


def test_a_core_that_cannot_be_kept_alive_shuts_the_bot_down_in_order_with_the_stops_on_the_venue(
    paper: Paper, critical: list[str]
) -> None:
    stops = _open_protected(paper)
    bot, _ = paper.running
    for _ in range(TIMES - 1):
        crash(paper, "core", "flapping")
    core = bot.runtime.directory.entry("core")
    assert core is not None
    core.ref.tell(Crash("once more"))  # the root gives up at once: no event time needs to pass

    assert bot.stop_requested.wait(WALL_BOUND), "the root did not give up"
    assert bot.escalated.is_set()
    assert any("the supervision tree gave up" in line for line in critical), critical
    bot.stop()
    assert resting_stops(paper_account(paper)) == stops
