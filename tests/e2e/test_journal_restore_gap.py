"""A journal damaged after its newest backup: restored from that backup, then brought up to date from the venue (the
paper account, which has a file of its own and so survives the damage) and the trade log.

Session 1 opens a protected long A and stops (a backup at shutdown). Session 2 closes A by an operator exit and opens
a protected long B, then dies without a backup of its own; the journal is then cut in half, or a page of it
overwritten. At the next start the journal comes back from session 1's backup, which still has A open and knows
nothing of B. The bot must learn what happened since from the venue and the trade log: A's exit and B's entry are
booked and journaled (marked backfilled), A is closed in the books, B is known and protected by the stop it already
had at the venue (the orders the journal lost are taken back by their client ids, `crocbot.core.desk.adoption`),
nothing is sent twice, and the ledger equals a FIFO recomputation from the trade log.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from crocbot.app import BACKUP_DIR, JOURNAL_FILE
from crocbot.core.desk.adoption import ADOPTED
from crocbot.core.messages import ExitRequest, OrderPurpose
from tests.support.e2e import Paper, started
from tests.support.restart_safety import (
    SYMBOL,
    check_invariants,
    cycle_start,
    cycling_paper,
    entries,
    long_signal,
    protected,
    trade_log_fills,
    wait_for,
)


@pytest.fixture
def paper(tmp_path: Path) -> Iterator[Paper]:
    with started(cycling_paper(tmp_path)) as paper:
        yield paper


def cut_in_half(journal: Path) -> None:
    journal.write_bytes(journal.read_bytes()[: journal.stat().st_size // 2])


def flip_a_middle_page(journal: Path) -> None:
    page = 4096
    data = bytearray(journal.read_bytes())
    start = (len(data) // page // 2) * page
    data[start : start + 64] = bytes(b ^ 0xFF for b in data[start : start + 64])  # a page header and its cells
    journal.write_bytes(bytes(data))


@pytest.mark.parametrize("damage", [cut_in_half, flip_a_middle_page], ids=lambda damage: damage.__name__)
def test_a_journal_restored_from_an_older_backup_learns_the_fills_since_from_the_venue_and_the_trade_log(
    paper: Paper, damage: Callable[[Path], None]
) -> None:
    state = paper.tmp_path / "state"
    backups = state / BACKUP_DIR
    paper.run_until(cycle_start(0) + timedelta(seconds=30))
    long_signal(paper)
    wait_for(paper, "a protected position A", lambda: protected(paper, SYMBOL))
    bot, _ = paper.running
    (position_a,) = [p.position_id for p in bot.status().positions]
    bot.stop()
    kept = set(backups.glob("journal-*.sqlite3"))
    assert kept, "no journal backup at shutdown"

    paper._start_bot()  # session 2: A closes, B opens; none of it is in any journal backup
    bot, _ = paper.running
    bot.runtime.bus.publish(ExitRequest(position_a, SYMBOL, "operator exit", paper.simulator.clock.now()))
    wait_for(paper, "A closed", lambda: not bot.status().positions)
    long_signal(paper)
    wait_for(paper, "a protected position B", lambda: protected(paper, SYMBOL))
    (position_b,) = [p.position_id for p in bot.status().positions]
    before = check_invariants(paper, "before the damage")
    sent = entries(paper)
    bot.stop()
    for backup in set(backups.glob("journal-*.sqlite3")) - kept:
        backup.unlink()  # as if session 2 had died before its shutdown backup
    journal = state / JOURNAL_FILE
    with sqlite3.connect(journal) as conn:  # everything in the main file, so that the damage cannot hide behind
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # a newer copy of the page in the -wal
    damage(journal)

    paper._start_bot()

    bot, _ = paper.running
    assert list((state / "corrupt").rglob(JOURNAL_FILE)), "the damaged journal was not kept"
    after = check_invariants(paper, "after the restore")
    assert after.journal == before.journal, "fills lost, or invented, by the restore"
    assert [p.position_id for p in bot.status().positions] == [position_b]
    assert not bot.status().safe_reasons, bot.status().safe_reasons
    backfilled = {r["fill_id"] for r in trade_log_fills(paper) if r.get("backfilled")}
    assert not backfilled, "the trade log had every fill: none is logged again"
    assert entries(paper) == sent, "an entry sent again, or one lost"
    with paper.journal() as restored:
        taken_back = {o.intent.purpose: o for o in restored.orders() if o.reason == ADOPTED}
        b_row = next((p for p in restored.positions() if p.position_id == position_b), None)
    assert sorted(taken_back) == sorted([OrderPurpose.ENTRY, OrderPurpose.EXIT, OrderPurpose.STOP])
    assert taken_back[OrderPurpose.ENTRY].position_id == position_b
    assert taken_back[OrderPurpose.EXIT].position_id == position_a
    assert b_row is not None
    assert b_row.stop_cl_ord_id == taken_back[OrderPurpose.STOP].cl_ord_id  # the venue's stop, not a second one
