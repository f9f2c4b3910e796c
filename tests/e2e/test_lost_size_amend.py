"""A stop's size amend lost with the process is put right at the restart (issue 11, part 2).

The 300-trial kill -9 soak restarted an AAPLx/USD position of 9.12864728 under a stop for 0.18832750: the entry
filled in parts, the stop was placed for the first part, and the process died after booking a later fill and
before the venue took the stop's size amend. The venue and the journal then agree on the old size, so reconciliation
sees nothing to fix.

Here a by-hand limit entry rests at the bid of a flat xStock market that prints at that bid every 10 s: once the
queue ahead of it has traded, each print fills a part of it (its TTL is long, so it is not chased across the
spread). The paper venue's latency is set to 0.5 s of event time, longer than the conductor's 0.25 s step:
once the router has booked a fill the venue's stop does not cover yet, the amend is in the venue's latency window,
and stopping the bot there loses it as a kill would (the venue never received it, the journal only knows the
intent). After the restart the whole position must be covered by its stop within 1 s of readiness.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from crocbot.actors.messages import VenueSnapshot
from crocbot.core.messages import PositionSide, Side, Signal
from crocbot.core.reconcile import VenueView
from crocbot.sim.market import MarketTrade
from tests.support.e2e import Paper

SYMBOL = "AAPLx/USD"
START = datetime(2025, 3, 3, 15, 0, tzinfo=UTC)
PRE_ROLL = timedelta(hours=1)
PRICE = Decimal("230.00")
STEP = Decimal("0.01")
EVERY = timedelta(seconds=5)
WALL_BOUND = 60.0


def market() -> Iterator[MarketTrade]:
    """Flat, with a print every 5 s alternating a tick apart: each one re-centres the thin synthetic book."""
    t, n = START, 0
    while t < START + PRE_ROLL + timedelta(hours=2):
        side = Side.BUY if n % 2 else Side.SELL
        yield MarketTrade(SYMBOL, t, PRICE + (STEP if side is Side.BUY else 0), Decimal(5), side)
        t, n = t + EVERY, n + 1


@pytest.fixture
def paper(tmp_path: Path) -> Iterator[Paper]:
    paper = Paper(
        tmp_path,
        sources={SYMBOL: market()},
        symbols=(SYMBOL,),
        pre_roll=PRE_ROLL,
        overrides={"execution": {"paper_latency_ms": 500, "limit_ttl": 3600.0}, "stops": {"trailing": "none"}},
    )
    try:
        yield paper.start()
    finally:
        paper.stop()


def _venue_stop_qty(paper: Paper) -> Decimal | None:
    """What the venue's open stop still has to sell (None: no stop rests on the venue)."""
    bot, _ = paper.running
    view: VenueView = bot.ask("venue", VenueSnapshot((), None))
    stops = [o for o in view.orders if o.is_open and o.order_type.startswith("stop-loss")]
    assert len(stops) <= 1, stops
    if not stops or stops[0].qty is None:
        return None
    return stops[0].qty - stops[0].filled


def _position_qty(paper: Paper) -> Decimal | None:
    bot, _ = paper.running
    positions = bot.status().positions
    return positions[0].qty if positions else None


def _until(paper: Paper, what: str, check: object) -> None:
    deadline = time.monotonic() + WALL_BOUND
    while not check():  # type: ignore[operator]  # a zero-argument predicate
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        paper.advance(0.25)


def test_a_stop_whose_size_amend_was_lost_with_the_process_covers_the_whole_position_within_a_second_of_ready(
    paper: Paper,
) -> None:
    paper.run_until(START + PRE_ROLL + timedelta(minutes=1))
    bot, _ = paper.running
    now = paper.simulator.clock.now()
    stop, target = (PRICE * Decimal("0.985")).quantize(STEP), (PRICE * Decimal("1.05")).quantize(STEP)
    bot.runtime.bus.publish(Signal(SYMBOL, PositionSide.LONG, PRICE, stop, target, "by-hand", now, "rests at the bid"))

    def amend_in_flight() -> bool:
        held, covered = _position_qty(paper), _venue_stop_qty(paper)
        return held is not None and covered is not None and covered < held

    _until(paper, "a fill the venue's stop does not cover yet", amend_in_flight)
    before = (_position_qty(paper), _venue_stop_qty(paper))

    paper.restart()  # the amend waiting out the venue's latency dies with the process

    ready_at = paper.simulator.clock.now()
    _until(paper, "the whole position covered", lambda: _venue_stop_qty(paper) == _position_qty(paper))
    held, covered = _position_qty(paper), _venue_stop_qty(paper)
    assert held is not None
    assert before[0] is not None
    assert before[1] is not None
    assert before[1] < before[0]  # the restart began with part of the position uncovered
    assert covered == held >= before[0]
    assert paper.simulator.clock.now() - ready_at <= timedelta(seconds=1)
