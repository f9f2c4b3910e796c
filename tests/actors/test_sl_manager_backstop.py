"""The SL manager's exit on a price through the stop is a backstop to the venue's own stop (issue 11, part 1).

A stop that rests on the venue fills on the same print that takes the price through it; an exit of the SL
manager's beside it raced that fill 23 times in one demo run. So the backstop waits `backstop_grace` seconds of
event time for the venue's stop (whose fill closes the position) and acts at once only when the price is beyond the
stop by more than `backstop_margin`, or when no stop rests on the venue.
"""

from __future__ import annotations

import dataclasses
import queue
from datetime import datetime
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
    PositionChanged,
    PositionClosed,
    PositionOpened,
    PositionSide,
    Side,
    Trade,
)
from tests.support.actors import Tap, settle

SYMBOL = "BTC/USD"
STOP = Decimal(39_000)
GRACE = 5.0


def start(runtime: Runtime) -> queue.Queue[Any]:
    exits: queue.Queue[Any] = queue.Queue()
    settings = StopSettings(trailing="none")
    runtime.start(
        [
            ChildSpec.actor("tap", Tap, exits, (ExitRequest,)),
            ChildSpec.actor(
                "sl_manager",
                SLManager,
                stop_policy(settings),
                {SYMBOL: Decimal("0.1")},
                backstop_grace=GRACE,
                backstop_margin=Decimal("0.005"),
            ),
        ],
        Policy(),
    )
    return exits


def position(clock: SimClock, *, stop_live: bool = True, exiting: bool = False) -> Position:
    return Position(
        "p1",
        SYMBOL,
        PositionSide.LONG,
        Decimal("0.1"),
        Decimal(40_000),
        STOP,
        clock.now(),
        stop_live=stop_live,
        exiting=exiting,
    )


def protected(runtime: Runtime, clock: SimClock, *, stop_live: bool = True) -> None:
    runtime.bus.publish(PositionOpened(position(clock, stop_live=stop_live)))
    settle()


def trade(price: str, ts: datetime) -> Trade:
    return Trade(SYMBOL, Side.SELL, Decimal(price), Decimal("0.01"), ts)


def test_a_price_just_through_a_live_stop_waits_for_the_venues_stop_and_its_fill_ends_the_watch(
    runtime: Runtime, clock: SimClock
) -> None:
    exits = start(runtime)
    protected(runtime, clock)
    runtime.bus.publish(trade("38990", clock.now()))  # 0.03 % through: the venue's stop fires on this print
    settle()
    clock.advance(1.0)
    runtime.bus.publish(PositionClosed("p1", SYMBOL, clock.now()))  # the stop's fill closed the position
    settle()
    clock.advance(GRACE)
    settle()
    assert exits.empty()


def test_a_live_stop_that_has_not_filled_within_the_grace_gets_the_backstop_exit(
    runtime: Runtime, clock: SimClock
) -> None:
    exits = start(runtime)
    protected(runtime, clock)
    runtime.bus.publish(trade("38990", clock.now()))
    settle()
    clock.advance(GRACE - 0.5)
    settle()
    assert exits.empty()
    clock.advance(0.5)
    settle()
    assert exits.get(timeout=5).position_id == "p1"


def test_a_price_that_came_back_above_the_stop_in_the_grace_cancels_the_backstop(
    runtime: Runtime, clock: SimClock
) -> None:
    exits = start(runtime)
    protected(runtime, clock)
    runtime.bus.publish(trade("38990", clock.now()))
    settle()
    clock.advance(1.0)
    runtime.bus.publish(trade("39010", clock.now()))
    settle()
    clock.advance(GRACE)
    settle()
    assert exits.empty()


def test_a_price_beyond_the_stop_by_more_than_the_margin_exits_at_once(runtime: Runtime, clock: SimClock) -> None:
    exits = start(runtime)
    protected(runtime, clock)
    runtime.bus.publish(trade("38700", clock.now()))  # 0.77 % through: the venue's stop is not doing its job
    settle()
    assert exits.get(timeout=5).position_id == "p1"


def test_without_a_live_stop_on_the_venue_a_price_through_the_stop_exits_at_once(
    runtime: Runtime, clock: SimClock
) -> None:
    exits = start(runtime)
    protected(runtime, clock, stop_live=False)
    runtime.bus.publish(trade("38990", clock.now()))
    settle()
    assert exits.get(timeout=5).position_id == "p1"


def test_a_price_that_came_back_and_crossed_again_gets_a_whole_new_grace(runtime: Runtime, clock: SimClock) -> None:
    exits = start(runtime)
    protected(runtime, clock)
    runtime.bus.publish(trade("38990", clock.now()))  # the first grace would end 5 s from here
    settle()
    clock.advance(1.0)
    runtime.bus.publish(trade("39010", clock.now()))
    settle()
    clock.advance(3.0)
    runtime.bus.publish(trade("38990", clock.now()))  # crossed anew at 4 s: its grace ends at 9 s
    settle()
    clock.advance(1.5)
    settle()
    assert exits.empty()
    clock.advance(GRACE)
    settle()
    assert exits.get(timeout=5).position_id == "p1"


def test_after_an_exit_the_router_gave_up_a_price_still_through_the_stop_starts_a_new_grace(
    runtime: Runtime, clock: SimClock
) -> None:
    exits = start(runtime)
    protected(runtime, clock)
    runtime.bus.publish(trade("38990", clock.now()))
    settle()
    clock.advance(GRACE)
    settle()
    assert exits.get(timeout=5).position_id == "p1"
    again = Position(
        "p1", SYMBOL, PositionSide.LONG, Decimal("0.1"), Decimal(40_000), STOP, clock.now(), stop_live=True
    )
    runtime.bus.publish(PositionChanged(again))  # the exit was held back: protected, not exiting
    runtime.bus.publish(trade("38985", clock.now()))
    settle()
    clock.advance(GRACE)
    settle()
    assert exits.get(timeout=5).position_id == "p1"


def test_a_restarted_manager_leaves_an_exit_in_flight_to_the_router(runtime: Runtime, clock: SimClock) -> None:
    exits = start(runtime)
    exiting = Position(
        "p1",
        SYMBOL,
        PositionSide.LONG,
        Decimal("0.1"),
        Decimal(40_000),
        STOP,
        clock.now(),
        stop_live=False,
        exiting=True,
    )
    runtime.bus.publish(PositionChanged(exiting))  # as the router reports one after a restart
    settle()
    clock.advance(2.0)  # past the placement deadline
    runtime.bus.publish(trade("38000", clock.now()))
    settle()
    assert exits.empty()


def test_after_an_exit_the_router_gave_up_no_exit_is_asked_again_before_a_pause(
    runtime: Runtime, clock: SimClock
) -> None:
    """Asking on every tick would spend the pair's trading counter on cancels of the stop (review of issue 11)."""
    exits = start(runtime)
    target = dataclasses.replace(position(clock), take_profit=Decimal(41_000))
    runtime.bus.publish(PositionOpened(target))
    runtime.bus.publish(trade("41000", clock.now()))
    settle()
    assert exits.get(timeout=5).position_id == "p1"
    runtime.bus.publish(PositionChanged(target))  # given up: protected again, not exiting
    settle()
    runtime.bus.publish(trade("41010", clock.now()))
    settle()
    clock.advance(GRACE - 1)
    runtime.bus.publish(trade("41020", clock.now()))
    settle()
    assert exits.empty()
    clock.advance(1)
    runtime.bus.publish(trade("41030", clock.now()))
    settle()
    assert exits.get(timeout=5).position_id == "p1"
