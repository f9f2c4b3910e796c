"""The SL manager's fail-safe (a position whose stop is not live within `place_within` is exited) counts from when
the venue can act: while the paper venue holds every command to catch up with the market it missed, the stop is
waiting there with everything else, and an exit could not go out either. Found by the kill -9 harness: a position
opened by the start-up reconciliation was exited for want of a stop that the catch-up was holding."""

from __future__ import annotations

import queue
from decimal import Decimal
from typing import Any

from crocbot.actors.runtime import Runtime
from crocbot.actors.sl_manager import SLManager
from crocbot.actors.supervisor import ChildSpec, Policy
from crocbot.config.model import StopSettings
from crocbot.config.policies import stop_policy
from crocbot.core.clock import SimClock
from crocbot.core.messages import (
    ExitRequest,
    Position,
    PositionOpened,
    PositionSide,
    StartupReconciled,
    VenueCatchUp,
)
from tests.support.actors import Tap, settle

SYMBOL = "BTC/USD"


def start(runtime: Runtime, *, reconciled: bool = True) -> queue.Queue[Any]:
    exits: queue.Queue[Any] = queue.Queue()
    runtime.start(
        [
            ChildSpec.actor("tap", Tap, exits, (ExitRequest,)),
            ChildSpec.actor("sl_manager", SLManager, stop_policy(StopSettings()), {SYMBOL: Decimal("0.1")}),
        ],
        Policy(),
    )
    if reconciled:
        runtime.bus.publish(StartupReconciled("books agree", runtime.clock.now()))
    return exits


def opened(clock: SimClock) -> PositionOpened:
    position = Position("p1", SYMBOL, PositionSide.LONG, Decimal("0.1"), Decimal(40_000), Decimal(39_000), clock.now())
    return PositionOpened(position)


def test_without_a_live_stop_a_position_is_exited_after_the_placement_deadline(
    runtime: Runtime, clock: SimClock
) -> None:
    exits = start(runtime)
    runtime.bus.publish(opened(clock))
    settle()
    clock.advance(1.0)
    settle()
    assert exits.get(timeout=5).position_id == "p1"


def test_while_the_venue_catches_up_the_deadline_waits_and_counts_again_from_when_it_is_done(
    runtime: Runtime, clock: SimClock
) -> None:
    exits = start(runtime)
    runtime.bus.publish(VenueCatchUp(False, "fetching", clock.now()))
    runtime.bus.publish(opened(clock))
    settle()
    for _ in range(10):  # ten deadlines pass while the venue holds
        clock.advance(1.0)
        settle()
    assert exits.empty()

    runtime.bus.publish(VenueCatchUp(True, "done", clock.now()))
    settle()
    clock.advance(1.0)
    settle()

    assert exits.get(timeout=5).position_id == "p1"  # the stop never came live after all: the fail-safe holds


def test_until_the_start_up_reconciliation_has_run_the_deadline_waits_for_it(runtime: Runtime, clock: SimClock) -> None:
    """Found by the live kill -9 harness: killed between a fill's journal write and its stop's sending, the restarted
    bot exited the position before its start-up reconciliation (slowed by Kraken's REST budget) had placed the stop
    the crash left unsent; the exit's cancel of that stop was refused, and the position ended in safe mode, bare."""
    exits = start(runtime, reconciled=False)
    runtime.bus.publish(opened(clock))
    settle()
    for _ in range(10):  # ten deadlines pass while the reconciliation runs
        clock.advance(1.0)
        settle()
    waited = exits.empty()

    runtime.bus.publish(StartupReconciled("books agree", clock.now()))
    settle()
    clock.advance(1.0)
    settle()

    assert waited
    assert exits.get(timeout=5).position_id == "p1"  # the reconciliation did not protect it: the fail-safe holds


def test_a_reconciliation_that_never_ends_holds_the_deadline_back_for_a_bounded_time(
    runtime: Runtime, clock: SimClock
) -> None:
    exits = start(runtime, reconciled=False)
    runtime.bus.publish(opened(clock))
    settle()
    for _ in range(121):
        clock.advance(1.0)
        settle()

    assert exits.get(timeout=5).position_id == "p1"
