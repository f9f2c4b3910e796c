"""Every actor type is crashed repeatedly during a run that trades, on the paper venue and on the live one; each is
restarted, rebuilds its state, and the same invariants hold after every restart and at the end.

The run (three cycles of the crafted market of `tests.support.restart_safety`, about 40 simulated minutes) opens a
position in each cycle, moves its stop to breakeven on the rise and is stopped out on the fall; twice an operator
exit closes a position early and a new one is opened. Into this, `SCHEDULE` crashes each of the bot's actors (the
supervisors' children; the core and market supervisors once each as well) two or three times at different moments:
an entry in flight (signal published, venue not reached), an exit in flight, a quiet protected position, the rise
(stop amends), the fall (the stop firing). Crashes are spaced so that no supervisor exceeds its intensity (that is
`test_escalation`). After each restart, and at the end, `check_invariants` holds:

- no fill missing: every fill the venue reported is in the journal and in the trade log, once, and the venue's own
  balances (the paper account's file, or the simulator's account live) are what it started with plus the
  journaled fills;
- no duplicate orders: no client order id with two venue orders, one entry per position;
- every open position protected: the venue's resting stops cover what it holds, and the router knows each
  position with a live stop;
- the ledger's realised P&L equals a FIFO recomputation from the trade log.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from crocbot.app import ACTOR_NAMES
from crocbot.core.messages import ExitRequest
from tests.support.e2e import Paper, started
from tests.support.restart_safety import (
    SYMBOL,
    check_invariants,
    crash,
    crashable,  # noqa: F401 - the fixture, used by name
    cycle_start,
    cycling_paper,
    long_signal,
    wait_for,
)

pytestmark = pytest.mark.usefixtures("crashable")

SUPERVISORS = ("core", "market")
LEAVES = tuple(name for name in ACTOR_NAMES if name not in SUPERVISORS)
SETTLE = 3.0  # event seconds after a restart before the invariants are checked: a stop is placed within 1 s

# (cycle, seconds into it, what happens just before the crash, actor). A cycle is 5 min flat, then a 5 min rise
# (from 300 s) and a 2 min fall (from 600 s). "signal": an entry is in flight; "exit": an exit is in flight.
SCHEDULE: tuple[tuple[int, int, str, str], ...] = (
    (0, 30, "signal", "router"),
    (0, 70, "", "sl_manager"),
    (0, 110, "", "feed"),
    (0, 150, "", "venue"),
    (0, 190, "", "reconciler"),
    (0, 230, "", "candles"),
    (0, 270, "", "persistence"),
    (0, 330, "", "strategy"),
    (0, 360, "", "health"),
    (0, 390, "", "watchdog"),
    (0, 430, "", "router"),
    (0, 610, "", "venue"),
    (1, 30, "signal", "venue"),
    (1, 90, "exit", "router"),
    (1, 150, "signal", "persistence"),
    (1, 210, "", "feed"),
    (1, 250, "", "market"),
    (1, 320, "", "sl_manager"),
    (1, 380, "", "candles"),
    (1, 420, "", "strategy"),
    (1, 460, "", "health"),
    (1, 500, "", "watchdog"),
    (1, 615, "", "reconciler"),
    (2, 30, "signal", "sl_manager"),
    (2, 90, "exit", "venue"),
    (2, 150, "signal", "reconciler"),
    (2, 240, "", "core"),
    (2, 340, "", "persistence"),
    (2, 605, "", "router"),
)
CYCLES = 3


@pytest.fixture
def paper(tmp_path: Path, venue: str) -> Iterator[Paper]:
    with started(cycling_paper(tmp_path, CYCLES, venue=venue)) as paper:
        yield paper


def test_the_schedule_crashes_every_actor_type_at_least_twice() -> None:
    counts = Counter(name for *_, name in SCHEDULE)
    assert set(counts) == set(ACTOR_NAMES)
    assert all(counts[name] >= 2 for name in LEAVES), counts


def test_each_actor_crashed_repeatedly_is_restarted_and_no_fill_order_or_stop_is_lost(paper: Paper) -> None:
    bot, _ = paper.running
    for cycle in range(CYCLES):
        paper.run_until(cycle_start(cycle) + timedelta(seconds=1))
        for at, before, name in [(s, b, n) for c, s, b, n in SCHEDULE if c == cycle]:
            paper.run_until(cycle_start(cycle) + timedelta(seconds=at))
            if before == "signal":
                assert not bot.status().positions, f"cycle {cycle}: a position is still open at {at} s"
                long_signal(paper, why=f"before crashing {name}")
            elif before == "exit":
                position = bot.status().positions[0]
                bot.runtime.bus.publish(
                    ExitRequest(position.position_id, SYMBOL, f"before crashing {name}", paper.simulator.clock.now())
                )
            crash(paper, name, f"cycle {cycle} at {at} s")
            paper.advance(SETTLE)
            if before == "signal" and not bot.status().positions:
                # The crash took the entry with it before it was journaled (nothing was sent): signal again.
                long_signal(paper, why=f"after {name} crashed")
            if before == "signal":
                wait_for(paper, f"the position opened around the {name} crash", lambda: bool(bot.status().positions))
            check_invariants(paper, f"after {name} crashed in cycle {cycle} at {at} s")

    paper.run_until(cycle_start(CYCLES))
    books = check_invariants(paper, "at the end")
    with paper.journal() as journal:
        closed = journal.closed_trades()
    assert len(closed) >= 2 * CYCLES - 1, "each cycle should have closed a trade by exit or stop, and most two"
    assert len(books.journal) >= 2 * len(closed)  # an entry and an exit fill at least per closed trade
    assert bot.status().positions == ()
