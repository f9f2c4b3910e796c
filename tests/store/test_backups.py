"""Journal backups are verified standalone files named by UTC time, pruned to the newest K, and checked again
before one is trusted for a restore."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from loguru import logger

from crocbot.core.clock import SimClock
from crocbot.store import Journal, JournalError
from crocbot.store.backups import Backups, file_stamp
from tests.store.test_journal import at, fill

START = datetime(2025, 3, 10, 12, 0, 0, 123456, tzinfo=UTC)


@pytest.fixture
def sim() -> SimClock:
    return SimClock(START)


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[Journal]:
    with Journal(tmp_path / "state" / "journal.sqlite3") as j:
        j.record_fill(fill("f1"))
        yield j


@pytest.fixture
def warnings() -> Iterator[list[str]]:
    messages: list[str] = []
    sink = logger.add(lambda message: messages.append(str(message)), level="WARNING", format="{message}")
    yield messages
    logger.remove(sink)


def flip(path: Path, offset: int, count: int) -> None:
    with path.open("r+b") as handle:
        handle.seek(offset)
        data = handle.read(count)
        handle.seek(offset)
        handle.write(bytes(byte ^ 0xFF for byte in data))


def test_a_backup_is_named_by_its_utc_time_and_is_a_verified_standalone_copy(
    tmp_path: Path, journal: Journal, sim: SimClock
) -> None:
    backups = Backups(tmp_path / "backups", clock=sim.now)  # the folder does not exist yet
    path = backups.take(journal)
    assert path == tmp_path / "backups" / "journal-20250310T120000123456Z.sqlite3"
    assert backups.list() == [path]
    with closing(sqlite3.connect(path)) as raw:
        assert raw.execute("PRAGMA quick_check").fetchone()[0] == "ok"
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "delete"  # no -wal needed beside it
    with Journal(path) as copy:
        assert copy.fill_ids() == {"f1"}


def test_the_time_in_the_name_is_utc_whatever_zone_the_clock_reports(tmp_path: Path, journal: Journal) -> None:
    tokyo = START.astimezone(timezone(timedelta(hours=9)))
    assert tokyo.hour == 21
    assert file_stamp(tokyo) == "20250310T120000123456"
    with pytest.raises(ValueError, match="naive"):
        Backups(tmp_path / "b", clock=lambda: datetime(2025, 3, 10)).take(journal)  # noqa: DTZ001 - a naive time on purpose: it must be refused


def test_only_the_newest_k_are_kept_and_list_is_newest_first(tmp_path: Path, journal: Journal, sim: SimClock) -> None:
    backups = Backups(tmp_path / "backups", keep=3, clock=sim.now)
    taken = []
    for index in range(6):
        journal.record_fill(fill(f"g{index}", at(index)))
        taken.append(backups.take(journal))
        sim.advance(timedelta(hours=1))
    assert backups.list() == taken[:2:-1]
    assert [path.exists() for path in taken] == [False, False, False, True, True, True]
    with Journal(backups.list()[0]) as newest:  # the newest name holds the newest content
        assert "g5" in newest.fill_ids()


def test_names_keep_sorting_in_the_order_taken_when_the_clock_stands_still_or_steps_back(
    tmp_path: Path, journal: Journal
) -> None:
    times = iter([START, START, START - timedelta(minutes=5)])
    backups = Backups(tmp_path / "backups", keep=2, clock=lambda: next(times))
    first, second, third = (backups.take(journal) for _ in range(3))
    assert first.name < second.name < third.name
    assert backups.list() == [third, second]


def test_other_files_in_the_folder_are_neither_listed_nor_pruned(
    tmp_path: Path, journal: Journal, sim: SimClock
) -> None:
    folder = tmp_path / "backups"
    folder.mkdir()
    strangers = [folder / "notes.txt", folder / "journal-manual.sqlite3", folder / "journal-2025.sqlite3.partial"]
    for path in strangers:
        path.write_text("keep me")
    backups = Backups(folder, keep=1, clock=sim.now)
    backups.take(journal)
    sim.advance(timedelta(seconds=1))
    newest = backups.take(journal)
    assert backups.list() == [newest]
    assert all(path.read_text() == "keep me" for path in strangers)


def test_newest_good_skips_damaged_backups_with_a_warning_naming_them(
    tmp_path: Path, journal: Journal, sim: SimClock, warnings: list[str]
) -> None:
    backups = Backups(tmp_path / "backups", keep=5, clock=sim.now)
    oldest = backups.take(journal)
    sim.advance(timedelta(hours=1))
    cut = backups.take(journal)
    sim.advance(timedelta(hours=1))
    flipped = backups.take(journal)
    with cut.open("r+b") as handle:
        handle.truncate(cut.stat().st_size // 2)
    flip(flipped, 0, 16)  # the header's magic string
    before = {path: path.read_bytes() for path in backups.list()}
    assert backups.newest_good() == oldest
    assert any(flipped.name in message and "damaged" in message for message in warnings)
    assert any(cut.name in message for message in warnings)
    assert {path: path.read_bytes() for path in backups.list()} == before  # checking changes nothing


def test_newest_good_is_none_without_a_sound_backup(tmp_path: Path, journal: Journal, sim: SimClock) -> None:
    backups = Backups(tmp_path / "backups", clock=sim.now)
    assert backups.list() == []
    assert backups.newest_good() is None
    backups.take(journal).write_bytes(b"not sqlite" * 500)
    assert backups.newest_good() is None


def test_a_backup_that_cannot_be_written_raises_and_keeps_the_older_ones(
    tmp_path: Path, journal: Journal, sim: SimClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    backups = Backups(tmp_path / "backups", keep=1, clock=sim.now)
    kept = backups.take(journal)
    sim.advance(timedelta(hours=1))

    def broken_backup(target: Path) -> None:
        raise JournalError(f"backup to {target} failed (disk full)")

    monkeypatch.setattr(journal, "backup", broken_backup)
    with pytest.raises(JournalError, match="disk full"):
        backups.take(journal)
    assert backups.list() == [kept]


def test_keep_must_be_at_least_one(tmp_path: Path, sim: SimClock) -> None:
    with pytest.raises(ValueError, match="keep"):
        Backups(tmp_path, keep=0, clock=sim.now)


def test_a_routine_backup_leaves_no_info_line(tmp_path: Path, journal: Journal, sim: SimClock) -> None:
    """Two of them an hour (the journal and the paper account) were most of a healthy hour's INFO lines."""
    infos: list[str] = []
    logger.add(lambda message: infos.append(message.record["message"]), level="INFO")

    Backups(tmp_path / "backups", clock=sim.now).take(journal)

    assert infos == []
