"""A full disk, a read-only journal and a disk I/O error are reported as `JournalUnwritable` with the file, the
cause and the fix; the failed write leaves nothing behind and the journal stays readable. The trade log reports
a full disk through its fallback and `TradeLogError`.

Tests run as root, whom file permissions do not stop, so a read-only journal is a SQLite connection opened with
`mode=ro`, and a full disk is `PRAGMA max_page_count` on the journal's own connection (or /dev/full for the
trade log). Both make SQLite and the OS raise the real errors (SQLITE_READONLY, SQLITE_FULL, ENOSPC).
"""

from __future__ import annotations

import errno
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from crocbot.store import Journal, JournalError, TradeLog, TradeLogError, fill_record
from crocbot.store.journal.integrity import JournalUnwritable, unwritable_error
from tests.store.test_journal import at, fill, intent, position

REAL_CONNECT = sqlite3.connect


@pytest.fixture
def path(tmp_path: Path) -> Path:
    path = tmp_path / "state" / "journal.sqlite3"
    with Journal(path) as journal:
        journal.record_intent(intent(), position_id=None)
        journal.record_fill(fill("f1"))
        journal.save_state("risk", {"day": "2025-03-10"})
    return path


@pytest.fixture
def full(path: Path) -> Iterator[Journal]:
    """The journal on a disk with no room for one more page (test hook: the connection is private)."""
    with Journal(path) as journal:
        conn = journal._conn
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
        conn.execute(f"PRAGMA max_page_count = {pages}")
        yield journal


def test_a_full_disk_is_journal_unwritable_naming_the_file_the_cause_and_the_fix(full: Journal) -> None:
    with pytest.raises(JournalUnwritable) as caught:
        full.save_state("big", {"blob": "x" * 200_000})
    message = str(caught.value)
    assert str(full.path) in message
    assert "save_state big" in message
    assert "disk is full" in message
    assert "Free space" in message
    assert "rolled back" in message
    assert isinstance(caught.value, JournalError)  # callers that catch JournalError keep working
    assert isinstance(caught.value.__cause__, sqlite3.Error)
    assert caught.value.__cause__.sqlite_errorname == "SQLITE_FULL"


def test_after_a_full_disk_the_earlier_data_is_intact_readable_and_writes_resume(full: Journal) -> None:
    for index in range(200):  # small writes until the last page is used up
        try:
            full.record_fill(fill(f"g{index:03d}", at(index)))
        except JournalUnwritable:
            break
    else:
        pytest.fail("the disk never filled")
    failed = f"g{index:03d}"
    assert not full._conn.in_transaction  # rolled back, not left half-written
    assert failed not in full.fill_ids()
    assert {"f1", "g000"} <= full.fill_ids()
    assert full.order("c1") is not None
    assert full.load_state("risk") == {"day": "2025-03-10"}
    assert full.integrity_ok()
    full._conn.execute("PRAGMA max_page_count = 1000000")  # the operator freed space
    assert full.record_fill(fill(failed, at(index)))


def test_a_write_of_several_rows_that_hits_a_full_disk_leaves_none_of_them(full: Journal) -> None:
    def open_positions_until_full() -> None:
        for index in range(200):
            full.open_position(position(f"p{index:03d}"))  # a position row and its first stop, together

    with pytest.raises(JournalUnwritable):
        open_positions_until_full()
    for journaled in full.positions():
        assert [kind for _, _, kind, _ in full.stops(journaled.position_id)]  # no position without its stop
    assert full.integrity_ok()


def read_only_connect(database: Any, *args: Any, **kwargs: Any) -> sqlite3.Connection:
    connection: sqlite3.Connection = REAL_CONNECT(
        Path(database).resolve().as_uri() + "?mode=ro", *args, uri=True, **kwargs
    )
    return connection


def test_a_read_only_journal_is_journal_unwritable_and_stays_readable(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sqlite3, "connect", read_only_connect)  # test hook: what a read-only disk gives
    with Journal(path) as journal:
        with pytest.raises(JournalUnwritable) as caught:
            journal.record_fill(fill("f2"))
        message = str(caught.value)
        assert str(path) in message
        assert "read-only" in message
        assert "writable" in message
        assert caught.value.__cause__ is not None
        assert getattr(caught.value.__cause__, "sqlite_errorname", "").startswith("SQLITE_READONLY")
        assert journal.fill_ids() == {"f1"}
        assert journal.load_state("risk") == {"day": "2025-03-10"}
        with pytest.raises(JournalUnwritable):
            journal.save_state("risk", {"day": "2025-03-11"})
        assert journal.load_state("risk") == {"day": "2025-03-10"}


def sqlite_error(text: str, name: str | None) -> sqlite3.Error:
    error = sqlite3.OperationalError(text)
    if name is not None:
        error.sqlite_errorname = name  # as SQLite sets it; a hand-made error has none
    return error


@pytest.mark.parametrize(
    ("text", "name", "cause"),
    [
        ("disk I/O error", "SQLITE_IOERR_FSYNC", "I/O error"),
        ("disk I/O error", None, "I/O error"),
        ("attempt to write a readonly database", "SQLITE_READONLY_DBMOVED", "read-only"),
        ("database or disk is full", None, "disk is full"),
    ],
)
def test_io_errors_and_extended_codes_are_unwritable_too(
    tmp_path: Path, text: str, name: str | None, cause: str
) -> None:
    # SQLite raises SQLITE_IOERR only when the OS fails a read or write, which a test cannot provoke honestly
    error = unwritable_error(tmp_path / "journal.sqlite3", "record_fill f1", sqlite_error(text, name))
    assert error is not None
    assert cause in str(error)
    assert "record_fill f1" in str(error)


def test_other_errors_are_not_unwritable(tmp_path: Path) -> None:
    for error in (sqlite_error("no such table: fills", "SQLITE_ERROR"), sqlite_error("UNIQUE constraint", None)):
        assert unwritable_error(tmp_path / "j.sqlite3", "write", error) is None


def test_a_full_disk_sends_a_trade_log_record_to_its_fallback_with_the_cause_in_the_alert(tmp_path: Path) -> None:
    if not Path("/dev/full").exists():
        pytest.skip("needs /dev/full, a device that is always full")
    alerts: list[str] = []
    fallback = tmp_path / "fallback.jsonl"
    log = TradeLog(Path("/dev/full"), fallback=fallback, alert=alerts.append, retries=1)
    record = fill_record(fill(), position_id=None)
    log.append(record)
    assert TradeLog.read(fallback) == [record]
    [alert] = alerts
    assert "No space left on device" in alert
    assert "disk is full" in alert


def test_a_full_disk_under_the_log_and_its_fallback_is_trade_log_error_and_leaves_no_half_record(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def full_disk(fd: int) -> None:
        # where a full disk often shows first: the data was buffered and fsync cannot place it
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    primary = tmp_path / "trades.jsonl"
    fallback = tmp_path / "fallback.jsonl"
    primary.write_bytes(b"")
    monkeypatch.setattr(os, "fsync", full_disk)
    with pytest.raises(TradeLogError) as caught:
        TradeLog(primary, fallback=fallback, retries=1).append(fill_record(fill(), position_id=None))
    assert "disk is full" in str(caught.value)
    assert str(primary) in str(caught.value)
    assert str(fallback) in str(caught.value)
    assert primary.read_bytes() == b""  # the failed tries were cut back
    assert fallback.read_bytes() == b""
