"""A paper stop resting while the bot is down fills on restart exactly as the market's prints say it would have.

The simulator replays a crafted BTC/USD market: flat, then (while the bot is stopped) 3 % down over half an
hour, in prints every 5 seconds, then flat again. The bot opens a protected long in the flat, is stopped for a
simulated hour, and started again on the same state directory. On restart the paper venue fetches the public
trades it missed (REST `Trades`) and judges its resting stop against them: the stop fills at the first print at
or below its trigger, at that print's price and time, and the position is closed in the journal and the trade
log, with the ledger still equal to a FIFO recomputation from the trade log.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from crocbot.core.messages import OrderPurpose, PositionSide, Side, Signal
from crocbot.sim.catalog import DEFAULT_INSTRUMENTS
from crocbot.sim.market import MarketTrade
from tests.support.e2e import Paper, fifo_realized

SYMBOL = "BTC/USD"
START = datetime(2024, 2, 6, 9, 0, tzinfo=UTC)
PRE_ROLL = timedelta(hours=1)
FLAT = timedelta(minutes=10)
FALL = timedelta(minutes=30)
DOWNTIME = timedelta(hours=1)
TOP = Decimal(40_000)
EVERY = timedelta(seconds=5)
STEP = next(i for i in DEFAULT_INSTRUMENTS if i.symbol == SYMBOL).price_increment
WALL_BOUND = 60.0


def market() -> Iterator[MarketTrade]:
    qty = Decimal("0.02")
    t, n = START, 0
    while t < START + PRE_ROLL + FLAT:
        side = Side.BUY if n % 2 else Side.SELL
        yield MarketTrade(SYMBOL, t, TOP + (STEP if side is Side.BUY else 0), qty, side)
        t, n = t + EVERY, n + 1
    low = (TOP * Decimal("0.97")).quantize(STEP)
    steps = int(FALL / EVERY)
    for i in range(1, steps + 1):
        yield MarketTrade(SYMBOL, t, (TOP - (TOP - low) * i / steps).quantize(STEP), qty, Side.SELL)
        t += EVERY
    while t < START + PRE_ROLL + FLAT + DOWNTIME + timedelta(hours=1):
        yield MarketTrade(SYMBOL, t, low, qty, Side.SELL)
        t += EVERY


@pytest.fixture
def paper(tmp_path: Path) -> Iterator[Paper]:
    paper = Paper(tmp_path, sources={SYMBOL: market()}, symbols=(SYMBOL,), pre_roll=PRE_ROLL)
    try:
        yield paper.start()
    finally:
        paper.stop()


def _open_protected_long(paper: Paper) -> tuple[str, Decimal, datetime]:
    bot, _ = paper.running
    ask = paper.simulator.exchange.markets[SYMBOL].book.asks(1)[0][0]
    entry = (ask * Decimal("1.002")).quantize(STEP)
    now = paper.simulator.clock.now()
    stop = (entry * Decimal("0.985")).quantize(STEP)
    bot.runtime.bus.publish(
        Signal(SYMBOL, PositionSide.LONG, entry, stop, (entry * Decimal("1.05")).quantize(STEP), "by-hand", now)
    )
    deadline = time.monotonic() + WALL_BOUND
    while not any(p.stop_live for p in bot.status().positions):
        assert time.monotonic() < deadline, "no protected position"
        paper.advance(1.0)
    order = next(o for o in paper.journal().orders() if o.intent.purpose is OrderPurpose.STOP)
    assert order.intent.trigger_price is not None
    return order.cl_ord_id, order.intent.trigger_price, paper.simulator.clock.now()


def test_a_paper_stop_resting_through_a_downtime_fills_on_restart_as_the_prints_say(paper: Paper) -> None:
    paper.run_until(START + PRE_ROLL + timedelta(minutes=1))
    stop_id, trigger, placed = _open_protected_long(paper)

    paper.restart(downtime=DOWNTIME)

    # What the market says: the first print at or below the trigger after the stop was placed.
    prints = [r.trade for r in paper.simulator.exchange.markets[SYMBOL].trades]
    hit = next(p for p in prints if p.ts > placed and p.price <= trigger)
    bot, _ = paper.running
    assert bot.status().positions == ()
    journal = paper.journal()
    fills = [f for f in journal.fills() if f.cl_ord_id == stop_id]
    assert [(f.price, f.ts) for f in fills] == [(hit.price, hit.ts)]
    closed = [p for p in journal.positions() if not p.is_open]
    assert len(closed) == 1
    assert closed[0].closed_at == hit.ts
    logged = [r for r in paper.trade_log() if r["type"] == "fill"]
    assert stop_id in {r["cl_ord_id"] for r in logged}
    assert fifo_realized(logged).quantize(Decimal("0.01")) == bot.status().realized.quantize(Decimal("0.01"))
