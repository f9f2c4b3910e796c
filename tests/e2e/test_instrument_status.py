"""Kraken changing a symbol's status while crocbot holds a position there, on both venues: the change is said once,
no entry goes out, an exit asked for meanwhile leaves the stop resting and waits, and when the symbol is back online
the exit goes, the stop cancelled first. Nothing on the way is an error."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from crocbot.core.messages import ExitReason, ExitRequest, PositionSide, Signal
from crocbot.sim.catalog import DEFAULT_INSTRUMENTS
from tests.support.e2e import Paper, started, step_until
from tests.support.restart_safety import crash, crashable  # noqa: F401 - the fixture, used by name

SYMBOL = "BTC/USD"
STEP = next(i for i in DEFAULT_INSTRUMENTS if i.symbol == SYMBOL).price_increment


@pytest.fixture(params=["paper", "live"])
def bot(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Paper]:
    with started(Paper(tmp_path, sources={}, symbols=(SYMBOL,), live=request.param == "live")) as paper:
        yield paper


def _said(lines: list[tuple[str, str]], level: str, text: str) -> int:
    return sum(1 for lv, message in list(lines) if lv == level and text in message)


def test_a_symbol_leaving_online_holds_entries_and_exits_and_keeps_the_stop(
    bot: Paper, lines: list[tuple[str, str]]
) -> None:
    running, _ = bot.running
    ask = bot.simulator.exchange.markets[SYMBOL].book.asks(1)[0][0]
    entry = (ask * Decimal("1.002")).quantize(STEP)
    stop = (entry * Decimal("0.97")).quantize(STEP)
    take_profit = (entry * Decimal("1.1")).quantize(STEP)
    now = bot.simulator.clock.now()
    running.runtime.bus.publish(Signal(SYMBOL, PositionSide.LONG, entry, stop, take_profit, "by-hand", now))
    step_until(bot, "a protected position", lambda: any(p.stop_live for p in running.status().positions))
    (position,) = running.status().positions

    bot.simulator.exchange.set_instrument_status(SYMBOL, "cancel_only")
    step_until(bot, "the change said", lambda: _said(lines, "WARNING", f"{SYMBOL} is cancel_only on Kraken") > 0)
    exit_request = ExitRequest(position.position_id, SYMBOL, "operator exit", now, ExitReason.MANUAL)
    running.runtime.bus.publish(exit_request)
    step_until(bot, "the exit held", lambda: _said(lines, "WARNING", f"exit of {position.position_id}") > 0)
    bot.advance(30.0)  # market time passes: nothing more goes out, nothing more is said
    report = running.status()
    (waiting,) = report.positions
    exits_sent = [o for o in report.orders if o.purpose == "exit"]
    said_while_halted = _said(lines, "WARNING", SYMBOL)

    bot.simulator.exchange.set_instrument_status(SYMBOL, "online")
    step_until(bot, "the position sold", lambda: not running.status().positions)
    errors = [(level, text) for level, text in list(lines) if level in ("ERROR", "CRITICAL")]

    assert waiting.stop_live  # the stop rests as it was
    assert exits_sent == []  # and no sale beside it
    assert said_while_halted == 2  # the change, and the exit that waits: once each
    assert _said(lines, "INFO", f"{SYMBOL} is online again on Kraken") == 1
    assert errors == []


def test_a_start_while_a_symbol_is_not_online_says_so_once(tmp_path: Path, lines: list[tuple[str, str]]) -> None:
    with started(Paper(tmp_path, sources={}, symbols=(SYMBOL,))) as bot:
        bot.simulator.exchange.set_instrument_status(SYMBOL, "maintenance")
        step_until(bot, "the change said", lambda: _said(lines, "WARNING", f"{SYMBOL} is maintenance on Kraken") > 0)
        bot.restart()
        bot.advance(5.0)

    assert _said(lines, "WARNING", f"{SYMBOL} is maintenance on Kraken: no entries for it until it is online") == 1


@pytest.mark.usefixtures("crashable")
def test_a_router_restarted_during_a_halt_keeps_what_kraken_said_since_the_start(
    tmp_path: Path, lines: list[tuple[str, str]]
) -> None:
    """Found in review: a restarted router rebuilt its desk on the status of the process's start, and the feed had
    nothing new to say, so entries went out into a halt (or stayed refused after one) until the next change."""
    with started(Paper(tmp_path, sources={}, symbols=(SYMBOL,))) as bot:
        bot.simulator.exchange.set_instrument_status(SYMBOL, "maintenance")
        step_until(bot, "the change said", lambda: _said(lines, "WARNING", f"{SYMBOL} is maintenance on Kraken") > 0)
        crash(bot, "router", "during the halt")

    # the restarted router's desk starts from the status Kraken gave since (said once, by its start)
    assert _said(lines, "WARNING", f"{SYMBOL} is maintenance on Kraken: no entries for it until it is online") == 1
