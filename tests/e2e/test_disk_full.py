"""A full disk or a read-only journal is a loud error that halts entries, never a silent loss of a fill.

The disk is made full where crocbot meets it, without root and without filling the machine's disk:

- the journal and the paper account's file (SQLite): every connection to them may not grow by a page (`PRAGMA
  max_page_count` at its current size: SQLITE_FULL, "database or disk is full"), or is read-only (`PRAGMA
  query_only`: SQLITE_READONLY); connections opened meanwhile (a restarted persistence actor) get the same limit;
- the trade log (JSON lines): `fsync`, the call that makes a line durable, fails with ENOSPC for the log, and then
  for its fallback file as well.

While the journal refuses writes the bot keeps trading what it holds: an exit and a stop both fill, entries are
halted (safe mode, `/readyz` 503), CRITICAL lines say why, and every fill is on disk in the trade log. Once there
is space again, what waited is journaled and entries resume; the records then agree as after any run. A trade log
that cannot take a line puts it in the fallback file; when that fails too, entries halt until the line is written.

A read-only state directory at start refuses the start, saying which directory and what to do. Each scenario runs
on the paper venue and on the live one (which has no paper account's file on the disk).
"""

from __future__ import annotations

import contextlib
import errno
import os
import sqlite3
import subprocess
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from crocbot.actors.messages import ReadJournal
from crocbot.app import JOURNAL_FILE, TRADE_LOG_FILE, StartupError
from crocbot.core.messages import ExitRequest
from crocbot.store.journal import Journal, JournalUnwritable
from crocbot.store.paper_account import PAPER_ACCOUNT_FILE
from tests.support.e2e import Paper, started
from tests.support.restart_safety import (
    OVERRIDES,
    PRE_ROLL,
    SYMBOL,
    check_invariants,
    cycle_start,
    cycling_market,
    entries,
    long_signal,
    protected,
    trade_log_fills,
    wait_for,
)

OTHER = "ETH/USD"  # synthetic and quiet: its position is closed by an exit while the disk is full
NO_LIMIT = 1_073_741_823  # SQLite's default max_page_count
FILLER = "~disk-filler-"


class Disk:
    """The journal's and the trade log's view of the disk; `journal` is "ok", "full" or "read-only"."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.journal = "ok"
        self.refuse_logs: tuple[str, ...] = ()  # trade-log file names whose fsync fails with ENOSPC
        self.paper_accounts: list[Journal] = []  # connections to the paper account's file (the journal's format)
        setup = Journal._setup
        disk = self

        def limited_setup(journal: Journal, conn: Any) -> None:
            setup(journal, conn)
            disk.limit(conn)
            if journal.path.name == PAPER_ACCOUNT_FILE:
                disk.paper_accounts.append(journal)

        real_fsync = os.fsync

        def fsync(fd: int) -> None:
            if disk.refuse_logs:
                try:
                    name = Path(os.readlink(f"/proc/self/fd/{fd}")).name
                except OSError:
                    name = ""
                if name in disk.refuse_logs:
                    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            real_fsync(fd)

        monkeypatch.setattr(Journal, "_setup", limited_setup)
        monkeypatch.setattr(os, "fsync", fsync)

    def limit(self, conn: Any) -> None:
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
        conn.execute(f"PRAGMA max_page_count = {pages if self.journal == 'full' else NO_LIMIT}")
        conn.execute(f"PRAGMA query_only = {1 if self.journal == 'read-only' else 0}")

    def set_journal(self, paper: Paper, state: str) -> int:
        """Change the disk under the running bot's journal connection (and any opened later); a full disk is
        filled to the last byte SQLite can place (filler documents in the state table, like a file filling a
        disk), so that the journal's next growth fails. Returns the number of filler documents."""
        self.journal = state
        bot, _ = paper.running
        answer: int = bot.ask("persistence", ReadJournal(self._apply), timeout=60)
        # The paper account's file is on the same disk. Its connection belongs to the venue actor, which is idle
        # now: the conductor moves event time only when every actor is quiet, and none is between steps.
        for account in self.paper_accounts:  # the venue's, and any a check opened and closed
            with contextlib.suppress(sqlite3.ProgrammingError):  # closed
                answer += self._apply(account)
        return answer

    def _apply(self, journal: Journal) -> int:
        conn = journal._conn
        if self.journal != "full":
            self.limit(conn)
            if self.journal == "ok":  # the filler goes, as a file filling a disk would be deleted
                conn.execute(f"DELETE FROM state WHERE key LIKE '{FILLER}%'")
            return 0
        self.limit(conn)
        written = 0
        for size in (3000, 300, 30, 3, 0):
            while written < 10_000:
                try:
                    journal.save_state(f"{FILLER}{written:05d}", {"f": "f" * size})
                except JournalUnwritable:
                    break
                written += 1
        return written


@pytest.fixture
def disk(monkeypatch: pytest.MonkeyPatch) -> Disk:
    if not Path("/proc/self/fd").is_dir():
        pytest.skip("needs /proc/self/fd to tell the trade log's file descriptors")
    return Disk(monkeypatch)


def _paper(tmp_path: Path, symbols: tuple[str, ...], venue: str = "paper") -> Paper:
    return Paper(
        tmp_path,
        sources={SYMBOL: cycling_market(2)},
        symbols=symbols,
        pre_roll=PRE_ROLL,
        overrides=OVERRIDES,
        mean_interval=60.0,
        live=venue == "live",
    )


def _halted(paper: Paper, critical: list[str], *said: str) -> None:
    """Entries are halted because of the disk (safe mode, `/readyz` 503), and CRITICAL lines said so."""
    bot, _ = paper.running
    reasons = set(bot.status().safe_reasons)
    assert reasons & {"journal failing", "the paper account cannot be saved"}, reasons
    code, body = paper.readyz()
    assert code == 503
    assert "not_safe_mode" in body["failing"]
    assert critical
    for text in said:
        assert any(text in line for line in critical), (text, critical)


def _nothing_lost(paper: Paper) -> None:
    """Every fill the venue reported is on disk: in the journal or in the trade log."""
    with paper.seen.lock:
        seen = {f.fill_id for f in paper.seen.fills}
    assert seen <= _journaled(paper) | _logged(paper)


def _journaled(paper: Paper) -> set[str]:
    with paper.journal() as journal:
        return {f.fill_id for f in journal.fills()}


def _logged(paper: Paper) -> set[str]:
    return {r["fill_id"] for r in trade_log_fills(paper)}


@pytest.mark.parametrize("state", ["full", "read-only"])
def test_a_journal_that_refuses_writes_halts_entries_loudly_while_exits_and_stops_fill_and_no_fill_is_lost(
    tmp_path: Path, disk: Disk, critical: list[str], state: str, venue: str
) -> None:
    with started(_paper(tmp_path, (SYMBOL, OTHER), venue)) as paper:
        bot, _ = paper.running
        paper.run_until(cycle_start(0) + timedelta(seconds=30))
        for symbol in (SYMBOL, OTHER):
            long_signal(paper, symbol)
            wait_for(paper, f"a protected {symbol} position", lambda s=symbol: protected(paper, s))
        check_invariants(paper, "both protected")
        sent = entries(paper)

        disk.set_journal(paper, state)

        # An exit still sells: the position is closed and its fill is on disk, if not in the journal then in the
        # trade log. A full disk refuses what has to grow (the paper account's save at least), a read-only one
        # refuses every write: either way entries halt, loudly.
        other = next(p for p in bot.status().positions if p.symbol == OTHER)
        bot.runtime.bus.publish(ExitRequest(other.position_id, OTHER, "operator exit", paper.simulator.clock.now()))
        wait_for(paper, "the exit", lambda: all(p.symbol != OTHER for p in bot.status().positions))
        _halted(paper, critical)
        _nothing_lost(paper)
        if state == "read-only":
            assert "journal failing" in bot.status().safe_reasons
            assert any("sent before its intent could be journaled" in line for line in critical), critical
            assert _logged(paper) - _journaled(paper), "the exit's fill should be in the trade log already"

        # No entry while the disk refuses writes.
        long_signal(paper, OTHER)
        paper.advance(30)
        assert entries(paper) == sent

        # The venue's stop still fills in the fall, its fill on disk, entries still halted: on paper the paper
        # account's save keeps meeting the full disk. Live nothing but the journal writes to this disk, and a full
        # one takes its small writes again in the pages the refused write left free (SQLite's page granularity):
        # there the fill must be on disk, and entries resume as the journal takes writes. A read-only journal
        # refuses them all on either venue.
        paper.run_until(cycle_start(1))
        assert bot.status().positions == ()
        if not paper.live:
            _halted(paper, critical, "the paper account could not be saved")
        elif state == "read-only":
            _halted(paper, critical, "the journal could not be written")
        _nothing_lost(paper)

        # Space again: what waited is journaled, entries resume, the records agree.
        disk.set_journal(paper, "ok")
        wait_for(paper, "entries to resume", lambda: not bot.status().safe_reasons)
        check_invariants(paper, "after the disk was freed")
        assert len(paper.journal().closed_trades()) == 2
        paper.run_until(cycle_start(1) + timedelta(seconds=30))
        long_signal(paper)
        wait_for(paper, "a new protected position", lambda: protected(paper, SYMBOL))
        check_invariants(paper, "trading again")


def test_a_trade_log_that_cannot_write_uses_its_fallback_then_halts_entries_until_the_line_is_written(
    tmp_path: Path, disk: Disk, critical: list[str], venue: str
) -> None:
    fallback = Path(TRADE_LOG_FILE).stem + ".fallback.jsonl"
    with started(_paper(tmp_path, (SYMBOL,), venue)) as paper:
        bot, _ = paper.running
        paper.run_until(cycle_start(0) + timedelta(seconds=30))
        long_signal(paper)
        wait_for(paper, "a protected position", lambda: protected(paper))

        # The log's disk is full, its fallback's is not: the stop's fill goes to the fallback, trading goes on.
        disk.refuse_logs = (TRADE_LOG_FILE,)
        paper.run_until(cycle_start(1))
        assert bot.status().positions == ()
        assert any("record written to" in line for line in critical), critical
        assert not bot.status().safe_reasons
        check_invariants(paper, "fallback")

        # Both full: the next fill is journaled but cannot be logged; entries halt until it is.
        disk.refuse_logs = (TRADE_LOG_FILE, fallback)
        paper.run_until(cycle_start(1) + timedelta(seconds=30))
        long_signal(paper)
        wait_for(paper, "a protected position", lambda: protected(paper))
        _halted(paper, critical, "the journal could not be written")
        assert _journaled(paper) - _logged(paper), "the entry's fill should wait for the trade log"

        disk.refuse_logs = ()
        wait_for(paper, "entries to resume", lambda: not bot.status().safe_reasons)
        check_invariants(paper, "after the trade log was freed")


def _immutable(paths: list[Path]) -> Callable[[], None]:
    """Make `paths` read-only for this user, root included (`chattr +i`); returns the undo. Skips if impossible."""
    if os.geteuid() != 0:
        modes = [(path, path.stat().st_mode) for path in paths]
        for path, mode in modes:
            path.chmod(mode & 0o555)

        def restore_modes() -> None:
            for path, mode in modes:
                path.chmod(mode)

        return restore_modes
    done: list[Path] = []
    for path in paths:
        result = subprocess.run(["chattr", "+i", str(path)], capture_output=True, check=False, timeout=10)
        if result.returncode != 0:
            for undo in done:
                subprocess.run(["chattr", "-i", str(undo)], capture_output=True, check=False, timeout=10)
            pytest.skip(f"cannot make {path} read-only as root: {result.stderr.decode().strip()}")
        done.append(path)

    def make_mutable() -> None:
        for path in done:
            subprocess.run(["chattr", "-i", str(path)], check=True, timeout=10)

    return make_mutable


@pytest.mark.parametrize("what", ["directory", "journal"])
def test_a_read_only_state_directory_or_journal_refuses_the_start_and_says_what_to_fix(
    tmp_path: Path, what: str, venue: str
) -> None:
    paper = _paper(tmp_path, (SYMBOL,), venue)
    state = tmp_path / "state"
    state.mkdir()
    with Journal(state / JOURNAL_FILE):
        pass  # a journal from an earlier run
    undo = _immutable([state] if what == "directory" else [state / JOURNAL_FILE])
    try:
        with pytest.raises(StartupError, match="is not writable") as refused:
            paper.start()
        assert str(state) in str(refused.value)
        assert paper.bot is not None
        assert not paper.bot.runtime.directory.entries()  # nothing was started
    finally:
        undo()
        paper.stop()
