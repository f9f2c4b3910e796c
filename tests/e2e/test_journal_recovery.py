"""A corrupt journal and a torn trade-log line at start: the bot restores the newest verified backup (taken at
its last shutdown), keeps the damaged files for analysis, moves the torn bytes aside, and carries on with its
position and stop intact."""

from __future__ import annotations

import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from crocbot.app import BACKUP_DIR, JOURNAL_FILE, TRADE_LOG_FILE
from crocbot.core.messages import PositionSide, Signal
from crocbot.sim.catalog import DEFAULT_INSTRUMENTS
from tests.support.e2e import Paper

SYMBOL = "BTC/USD"
WALL_BOUND = 60.0


@pytest.fixture
def paper(tmp_path: Path) -> Iterator[Paper]:
    paper = Paper(tmp_path, sources={}, symbols=(SYMBOL,), mean_interval=5.0)
    try:
        yield paper.start()
    finally:
        paper.stop()


def _protected_long(paper: Paper) -> str:
    bot, _ = paper.running
    step = next(i for i in DEFAULT_INSTRUMENTS if i.symbol == SYMBOL).price_increment
    entry = (paper.simulator.exchange.markets[SYMBOL].book.asks(1)[0][0] * Decimal("1.002")).quantize(step)
    stop, target = (entry * Decimal("0.97")).quantize(step), (entry * Decimal("1.1")).quantize(step)
    bot.runtime.bus.publish(
        Signal(SYMBOL, PositionSide.LONG, entry, stop, target, "by-hand", paper.simulator.clock.now())
    )
    deadline = time.monotonic() + WALL_BOUND
    while not any(p.stop_live for p in bot.status().positions):
        assert time.monotonic() < deadline, "no protected position"
        paper.advance(1.0)
    return bot.status().positions[0].position_id


def test_a_truncated_journal_is_restored_from_the_shutdown_backup_and_a_torn_trade_log_line_is_set_aside(
    paper: Paper,
) -> None:
    position_id = _protected_long(paper)
    state, logs = paper.tmp_path / "state", paper.tmp_path / "logs"
    bot, _ = paper.running
    bot.stop()
    assert list((state / BACKUP_DIR).glob("journal-*.sqlite3")), "no backup was taken at shutdown"

    journal = state / JOURNAL_FILE
    journal.write_bytes(journal.read_bytes()[: journal.stat().st_size // 2])
    trade_log = logs / TRADE_LOG_FILE
    fills_before = trade_log.read_text(encoding="utf-8")
    with trade_log.open("a", encoding="utf-8") as file:
        file.write('{"type": "fill", "ts": "2026-01-0')  # a write cut off by the crash

    paper._start_bot()

    bot, _ = paper.running
    positions = bot.status().positions
    assert [p.position_id for p in positions] == [position_id]
    assert positions[0].stop_live
    assert list((state / "corrupt").rglob(JOURNAL_FILE)), "the damaged journal was not kept"
    assert trade_log.read_text(encoding="utf-8").startswith(fills_before)
    assert list(logs.glob(f"{TRADE_LOG_FILE}.torn-*")), "the torn bytes were not kept"
    assert paper.trade_log()  # every line reads again
