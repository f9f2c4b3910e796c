"""The health actor's tape of recent events, which the demo's view shows: a closed trade's P&L in its quote's
precision, not the 28 digits of a VWAP (issue 12)."""

from __future__ import annotations

from decimal import Decimal

from crocbot.actors.health import Health
from crocbot.actors.runtime import Runtime
from crocbot.actors.supervisor import ChildSpec, Policy
from crocbot.core.clock import SimClock
from crocbot.core.messages import (
    Position,
    PositionChanged,
    PositionClosed,
    PositionOpened,
    PositionSide,
    PrivateWsHealth,
)
from crocbot.core.messages.trades import ClosedTrade
from crocbot.ops.health import HealthBoard
from tests.support.actors import settle


def test_a_closed_trades_pnl_is_noted_in_its_quotes_precision(runtime: Runtime, clock: SimClock) -> None:
    board = HealthBoard(("health",), runtime.directory)
    runtime.start([ChildSpec.actor("health", Health, board)], Policy())
    trade = ClosedTrade(
        "t1",
        "AAPLx/USD",
        PositionSide.LONG,
        Decimal("10.66"),
        Decimal("235.5776343317068574164862663"),
        Decimal("258.70"),
        Decimal("17.2"),
        Decimal("235.5776343317068574164862663"),
        clock.now(),
        clock.now(),
    )

    runtime.bus.publish(PositionClosed("p1", "AAPLx/USD", clock.now(), trade))
    settle()

    assert [text for _, text in board.events()] == ["AAPLx/USD closed P&L 235.58"]


def test_a_position_that_grows_by_partial_fills_is_told_at_its_whole_size(runtime: Runtime, clock: SimClock) -> None:
    """The demo's tape said `opened 0.06696310 @ 233.71`, the first partial fill of a 10.66 position, and never
    more: each change of size is told, a stop move is not."""
    board = HealthBoard(("health",), runtime.directory)
    runtime.start([ChildSpec.actor("health", Health, board)], Policy())

    def position(qty: str, entry: str, stop: str = "230") -> Position:
        return Position(
            "p1",
            "AAPLx/USD",
            PositionSide.LONG,
            Decimal(qty),
            Decimal(entry),
            Decimal(stop),
            clock.now(),
            initial_stop=Decimal("230"),
        )

    runtime.bus.publish(PositionOpened(position("0.06696310", "233.71")))
    runtime.bus.publish(PositionChanged(position("10.66", "233.7512345678901234567890123")))
    runtime.bus.publish(PositionChanged(position("10.66", "233.7512345678901234567890123", stop="233.9")))
    runtime.bus.publish(PositionChanged(position("4", "233.7512345678901234567890123", stop="233.9")))
    settle()

    assert [text for _, text in board.events()] == [
        "AAPLx/USD opened 0.06696310 @ 233.71, stop 230",
        "AAPLx/USD position grew to 10.66 @ 233.75123457",
        "AAPLx/USD position reduced to 4 @ 233.75123457",
    ]


def test_live_readiness_says_whether_the_private_ws_is_up_and_paper_readiness_has_no_such_check(
    runtime: Runtime, clock: SimClock
) -> None:
    live = HealthBoard(("health",), runtime.directory, live=True)
    paper = HealthBoard(("health",), runtime.directory)
    runtime.start([ChildSpec.actor("health", Health, live)], Policy())

    def check() -> tuple[bool, str]:
        (found,) = [c for c in live.readiness() if c.name == "private_ws_connected"]
        return found.ok, found.detail

    before = check()
    runtime.bus.publish(PrivateWsHealth(True, "connected", clock.now()))
    settle()
    up = check()
    runtime.bus.publish(PrivateWsHealth(False, "disconnected: connection reset", clock.now()))
    settle()
    down = check()

    assert before == (False, "no private WS report yet")
    assert up == (True, "connected")
    assert down == (False, "disconnected: connection reset")
    assert "private WS DOWN: disconnected: connection reset" in [text for _, text in live.events()]
    assert "private_ws_connected" not in [c.name for c in paper.readiness()]
