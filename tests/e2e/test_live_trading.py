"""The whole bot in live mode against the simulator's private WS and REST, in lockstep: it gets ready (the start-up
reconciliation reads the account through `LiveAccountView`), a signal's entry fills on the simulator, the position
gets a resting stop-loss there, and an exit request sells it; a dropped private WS, once back, has the account
reconciled again. The simulator's own records are the judge; nothing on the way is logged as an error."""

from __future__ import annotations

import urllib.request
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from crocbot.app.bot import ORDERS_BREAKER, PRIVATE_BREAKER
from crocbot.core.messages import ExitReason, ExitRequest, PositionSide, Side, Signal
from crocbot.matching.types import OrderSnapshot
from crocbot.sim.catalog import DEFAULT_INSTRUMENTS
from tests.support.e2e import Paper, started, step_until
from tests.support.sim import API_KEY

SYMBOL = "BTC/USD"
STEP = next(i for i in DEFAULT_INSTRUMENTS if i.symbol == SYMBOL).price_increment


@pytest.fixture
def live(tmp_path: Path) -> Iterator[Paper]:
    with started(Paper(tmp_path, sources={}, symbols=(SYMBOL,), live=True)) as paper:
        yield paper


def _orders(paper: Paper) -> list[OrderSnapshot]:
    engine = paper.simulator.exchange.accounts[API_KEY].engine
    return engine.open_orders() + engine.closed_orders()


def test_a_live_bot_enters_protects_and_exits_on_the_venue(live: Paper, lines: list[tuple[str, str]]) -> None:
    bot, _ = live.running
    assert bot.live is not None  # the live venue, not the paper one
    assert bot.server is not None
    _, body = live.readyz()
    with urllib.request.urlopen(bot.server.url + "/metrics", timeout=10) as response:
        scrape = response.read().decode()

    _enter_protected(live)
    (position,) = bot.status().positions
    on_venue = _orders(live)
    bought = [o for o in on_venue if o.side is Side.BUY and o.status == "closed"]
    stops = [o for o in on_venue if o.order_type == "stop-loss" and o.status == "open"]

    bot.runtime.bus.publish(
        ExitRequest(position.position_id, SYMBOL, "operator exit", live.simulator.clock.now(), ExitReason.MANUAL)
    )
    step_until(live, "the position closed", lambda: not bot.status().positions)
    after = _orders(live)
    sold = [o for o in after if o.side is Side.SELL and o.order_type != "stop-loss" and o.status == "closed"]
    stop_after = [o for o in after if o.order_type == "stop-loss"]

    for session in live.simulator.ws.sessions():
        if session.private:
            session.close()
    step_until(live, "a reconciliation after the private WS came back", lambda: _asked_again(lines))
    live.advance(5.0)  # the run it asked for reads the account through the private gateway
    errors = [(level, text) for level, text in list(lines) if level in ("ERROR", "CRITICAL")]

    assert body["checks"]["reconciled"]["ok"], body
    assert set(body["failing"]) <= {"not_safe_mode"}, body
    for name in (ORDERS_BREAKER, PRIVATE_BREAKER, "kraken-rest"):
        assert f'crocbot_breaker_state{{breaker="{name}"}} 0.0' in scrape
    assert len(bought) == 1
    assert bought[0].cum_qty == position.qty
    assert bought[0].cl_ord_id is not None
    assert len(stops) == 1
    assert stops[0].qty == position.qty
    assert stops[0].trigger_price == position.stop
    assert sum(o.cum_qty for o in sold) == position.qty
    assert [o.status for o in stop_after] == ["canceled"]  # the stop went before the exit sold
    assert live.seen.fills  # the probe heard the venue's fills on the bus
    assert errors == []


def _enter_protected(live: Paper) -> None:
    """A long signal just above the ask, by hand; back once its position's stop rests on the venue."""
    bot, _ = live.running
    ask = live.simulator.exchange.markets[SYMBOL].book.asks(1)[0][0]
    entry = (ask * Decimal("1.002")).quantize(STEP)
    stop = (entry * Decimal("0.97")).quantize(STEP)
    now = live.simulator.clock.now()
    bot.runtime.bus.publish(
        Signal(SYMBOL, PositionSide.LONG, entry, stop, (entry * Decimal("1.1")).quantize(STEP), "by-hand", now)
    )
    step_until(live, "a protected position", lambda: any(p.stop_live for p in bot.status().positions))


def _asked_again(lines: list[tuple[str, str]]) -> bool:
    return any("reconciliation asked for: the private WS reconnected" in text for _, text in list(lines))


def test_a_restarted_live_bot_finds_its_position_and_its_one_stop_on_the_venue(
    live: Paper, lines: list[tuple[str, str]]
) -> None:
    bot, _ = live.running
    _enter_protected(live)
    (before,) = bot.status().positions

    live.restart()
    bot, _ = live.running
    (after,) = bot.status().positions
    step_until(live, "the stop live again", lambda: all(p.stop_live for p in bot.status().positions))
    stops = [o for o in _orders(live) if o.order_type == "stop-loss" and o.status == "open"]
    alarms = [(level, text) for level, text in list(lines) if level == "CRITICAL"]

    assert (after.position_id, after.qty) == (before.position_id, before.qty)
    assert len(stops) == 1
    assert stops[0].qty == before.qty
    assert alarms == []
