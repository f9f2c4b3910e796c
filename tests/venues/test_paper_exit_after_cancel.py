"""An exit that replaces a resting stop goes out only if the stop's cancel succeeds (issue 11, part 1).

The router sends a stop's cancel and the exit as one request (`PaperVenue.execute_all`); the exit carries the
stop's client id in `after_cancels`. Both orders of the race are pinned: the stop filled first (its cancel is
refused, the exit is held back and nothing more is sold), and the cancel first (the exit sells the position).
"""

from __future__ import annotations

import dataclasses
from decimal import Decimal

from crocbot.core.clock import SimClock
from crocbot.core.messages import HELD_BACK, OrderPurpose, OrderType, Side
from crocbot.venues.paper import PaperVenue
from crocbot.venues.protocol import Cancel, VenueCommand
from tests.venues.paper_support import book, make_venue, public_trade, submit, summary

SELL = Side.SELL
D = Decimal


def _long_with_a_stop() -> tuple[PaperVenue, SimClock]:
    """1 BTC held (and nothing else), its stop-loss sell resting at 95."""
    venue, clock = make_venue({"USD": D(1000), "BTC": D(1)})
    venue.on_book("BTC/USD", book(("99.0", "10")), book(("99.5", "10")))
    venue.execute(submit("stop1", SELL, OrderType.STOP_LOSS, "1", trigger="95.0", clock=clock))
    return venue, clock


def _cancel_then_exit(clock: SimClock) -> tuple[VenueCommand, ...]:
    exit_ = submit("exit1", SELL, OrderType.MARKET, "1", clock=clock, purpose=OrderPurpose.EXIT)
    return Cancel("stop1", "BTC/USD", clock.now()), dataclasses.replace(exit_, after_cancels=("stop1",))


def test_a_stop_that_filled_before_its_cancel_holds_the_exit_back_and_nothing_more_is_sold() -> None:
    venue, clock = _long_with_a_stop()
    venue.on_book("BTC/USD", book(("94.0", "10")), book(("94.5", "10")))
    stopped = venue.on_trade(public_trade("94.5", "0.1", clock=clock))
    assert [s[:3] for s in summary(stopped)][-1] == ("order", "stop1", "filled")
    assert venue.balances()["BTC"] == 0

    events = venue.execute_all(_cancel_then_exit(clock))

    assert summary(events) == [
        ("refused", "stop1", "cancel", "EOrder:Invalid order"),
        ("order", "exit1", "cancelled", D(0), None, HELD_BACK),
    ]
    assert venue.balances()["BTC"] == 0
    assert [o.cl_ord_id for o in venue.engine.closed_orders()] == ["stop1"]  # the exit never reached the engine


def test_when_the_exits_cancel_wins_the_stop_is_cancelled_and_the_exit_sells_the_position() -> None:
    venue, clock = _long_with_a_stop()

    events = venue.execute_all(_cancel_then_exit(clock))

    assert [s[:3] for s in summary(events)] == [
        ("order", "stop1", "cancelled"),
        ("order", "exit1", "acked"),
        ("fill", "exit1", "sell"),
        ("order", "exit1", "filled"),
    ]
    assert venue.balances()["BTC"] == 0


def test_an_order_waiting_for_a_cancel_that_was_not_in_its_request_is_held_back() -> None:
    venue, clock = _long_with_a_stop()
    exit_ = submit("exit1", SELL, OrderType.MARKET, "1", clock=clock, purpose=OrderPurpose.EXIT)

    events = venue.execute_all((dataclasses.replace(exit_, after_cancels=("stop1",)),))

    assert summary(events) == [("order", "exit1", "cancelled", D(0), None, HELD_BACK)]
    assert venue.balances()["BTC"] == 1
