"""The health actor's tape of recent events, which the demo's view shows: a closed trade's P&L in its quote's
precision, not the 28 digits of a VWAP (issue 12)."""

from __future__ import annotations

from decimal import Decimal

from crocbot.actors.health import Health
from crocbot.actors.runtime import Runtime
from crocbot.actors.supervisor import ChildSpec, Policy
from crocbot.core.clock import SimClock
from crocbot.core.messages import PositionClosed, PositionSide
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
