"""A crafted losing day trips the daily-loss kill switch, which blocks entries and survives a restart.

The simulator replays a crafted BTC/USD market that only ever falls, in steps: 15 minutes flat, then 3 % down in
two minutes. At the start of each flat the test publishes a long signal (stop 1.5 % under the entry); the fall
runs through the stop and the trade closes at a loss. The strategies never enter a market that only falls, so
every entry is the test's. The daily loss limit is 0.6 % and one stopped trade loses about 0.26 % (sized from
risk per trade, fees and slippage allowance), so the switch trips after a few losses: exactly when their sum
reaches the limit, never before. The next signal is refused; a restarted bot on the same state directory still
refuses, and `crocbot status` reads the tripped switch from the state directory. On the paper venue and on the
live one alike.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from crocbot.core.messages import OrderPurpose, PositionSide, Side, Signal
from crocbot.sim.catalog import DEFAULT_INSTRUMENTS
from crocbot.sim.market import MarketTrade
from crocbot.status import collect_status
from tests.support.e2e import Paper, step_until

SYMBOL = "BTC/USD"
START = datetime(2024, 1, 10, 1, 0, tzinfo=UTC)
PRE_ROLL = timedelta(hours=1)
FLAT = timedelta(minutes=15)
FALL = timedelta(minutes=2)
LIMIT = "0.006"  # the daily loss limit: one stopped trade here loses about 0.26 % of equity
MAX_LOSERS = 5
CYCLES = MAX_LOSERS + 2
TOP = Decimal(40_000)
EVERY = timedelta(seconds=5)
WALL_BOUND = 60.0


def falling_market() -> Iterator[MarketTrade]:
    """Flat for the pre-roll, then CYCLES times: flat for FLAT, then 3 % lower over FALL; then flat for an hour."""
    step = next(i for i in DEFAULT_INSTRUMENTS if i.symbol == SYMBOL).price_increment
    qty = Decimal("0.01")
    t, price, n = START, TOP, 0

    def flat(until: datetime) -> Iterator[MarketTrade]:
        nonlocal t, n
        while t < until:
            # Alternating sides one tick apart: a market with a spread and no direction.
            side = Side.BUY if n % 2 else Side.SELL
            yield MarketTrade(SYMBOL, t, price + (step if side is Side.BUY else 0), qty, side)
            t, n = t + EVERY, n + 1

    yield from flat(START + PRE_ROLL)
    for _ in range(CYCLES):
        yield from flat(t + FLAT)
        low = (price * Decimal("0.97")).quantize(step)
        steps = int(FALL / EVERY)
        for i in range(1, steps + 1):
            yield MarketTrade(SYMBOL, t, (price - (price - low) * i / steps).quantize(step), qty, Side.SELL)
            t += EVERY
        price = low
    yield from flat(t + timedelta(hours=1))


def cycle_start(index: int) -> datetime:
    return START + PRE_ROLL + index * (FLAT + FALL)


def _entries(paper: Paper) -> int:
    return sum(1 for o in paper.journal().orders() if o.intent.purpose is OrderPurpose.ENTRY)


def _signal(paper: Paper) -> None:
    bot, _ = paper.running
    ask = paper.simulator.exchange.markets[SYMBOL].book.asks(1)[0][0]
    step = next(i for i in DEFAULT_INSTRUMENTS if i.symbol == SYMBOL).price_increment
    entry = (ask * Decimal("1.002")).quantize(step)
    bot.runtime.bus.publish(
        Signal(
            SYMBOL,
            PositionSide.LONG,
            entry,
            (entry * Decimal("0.985")).quantize(step),
            (entry * Decimal("1.05")).quantize(step),
            "by-hand",
            paper.simulator.clock.now(),
            "a crafted losing trade",
        )
    )


def _losing_trade(paper: Paper, index: int) -> None:
    """Enter at the start of flat number `index`, be protected, and be stopped out by the fall that follows."""
    bot, _ = paper.running
    paper.run_until(cycle_start(index) + timedelta(minutes=1))
    _signal(paper)
    step_until(
        paper,
        f"a protected position in cycle {index}",
        lambda: any(p.stop_live for p in bot.status().positions),
        step=1.0,
        bound=WALL_BOUND,
    )
    paper.run_until(cycle_start(index + 1))
    assert bot.status().positions == (), f"the fall of cycle {index} should have stopped the position out"


@pytest.fixture
def paper(tmp_path: Path, venue: str) -> Iterator[Paper]:
    paper = Paper(
        tmp_path,
        sources={SYMBOL: falling_market()},
        symbols=(SYMBOL,),
        pre_roll=PRE_ROLL,
        live=venue == "live",
        overrides={
            "risk": {
                "risk_per_trade": "0.005",
                "max_loss_per_trade": LIMIT,
                "daily_loss_limit": LIMIT,
                "cooldown_after_loss": 0,
            },
        },
    )
    try:
        yield paper.start()
    finally:
        paper.stop()


def test_a_losing_day_trips_the_kill_switch_which_blocks_entries_and_survives_a_restart(paper: Paper) -> None:
    bot, _ = paper.running
    assert paper.settings is not None
    limit = Decimal(LIMIT) * sum(paper.settings.paper.starting_balances.values())

    # Losing trades until the switch trips: never before the day's loss reaches the limit, always once it has.
    cycle, loss = 0, Decimal(0)
    while not bot.status().kill_switch:
        assert cycle < MAX_LOSERS, f"{cycle} losing trades lost {loss}, and the kill switch did not trip"
        _losing_trade(paper, cycle)
        cycle += 1
        trades = paper.journal().closed_trades()
        assert len(trades) == cycle
        assert trades[-1].realized_pnl < 0
        loss = -sum((t.realized_pnl for t in trades), Decimal(0))
        assert bot.status().kill_switch == (loss >= limit), f"loss {loss} against a limit of {limit}"
    assert cycle >= 2, "the test needs a day that trips the switch only after several losses"
    assert "kill switch tripped" in bot.status().kill_reason

    # Tripped: a valid signal in the next flat is refused, nothing is sent.
    entries = _entries(paper)
    paper.run_until(cycle_start(cycle) + timedelta(minutes=1))
    _signal(paper)
    paper.advance(60)
    assert _entries(paper) == entries
    assert bot.status().positions == ()
    assert paper.metrics.value("crocbot_kill_switch") == 1
    assert paper.metrics.value("crocbot_entries_refused_total", labels={"reason": "kill_switch"}) == 1

    # A restart on the same state directory keeps the switch and keeps refusing.
    paper.restart()
    bot, _ = paper.running
    assert bot.status().kill_switch
    paper.run_until(cycle_start(cycle + 1) + timedelta(minutes=1))
    _signal(paper)
    paper.advance(60)
    assert _entries(paper) == entries
    assert bot.status().positions == ()
    assert paper.metrics.value("crocbot_kill_switch") == 1  # set again by the new router from the restored state

    # The operator's view, read from the state directory.
    status = collect_status(paper.settings, probe=False)
    assert status["kill_switch"] is True
    assert "kill switch tripped" in status["kill_reason"]
