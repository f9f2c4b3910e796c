"""`open_journal` puts the newest verified backup in place of a damaged journal and keeps the damaged files,
refuses to start empty when no backup can replace them, and, with `missing_fills`, leaves no fill of the trade
log unaccounted for.

What SQLite (3.40 here) does in each case these tests build:

- the file cut to half, or cut in the middle of a page: quick_check reports "database disk image is malformed";
- the first bytes of a page in the middle overwritten: malformed as well (bytes flipped inside a record's payload,
  a price digit say, are not found: SQLite keeps no page checksums);
- the header's magic string flipped: "file is not a database"; its schema-format byte flipped: "unsupported file
  format", which crocbot's own journal never has, so it is treated as damage;
- the -wal deleted while it held commits not yet checkpointed: no error at all; the file opens as it was at the
  last checkpoint and those commits are simply gone (the trade log still has their fills);
- the -wal damaged in the middle: frames from the damaged one on fail their checksum chain and are ignored;
  the commits before it survive, the later ones are gone, again without an error;
- a checkpoint torn by a crash (its first pages new, the rest old) whose -wal is then lost: malformed.
"""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from crocbot.core.clock import SimClock
from crocbot.store import Journal, JournalCorrupt, JournalError, TradeLog, fill_record
from crocbot.store.backups import Backups, file_stamp
from crocbot.store.journal.rows import fill_params
from crocbot.store.recovery import RecoveryReport, missing_fills, open_journal
from crocbot.store.tradelog import encode_line
from tests.store.test_journal import at, fill, trade

START = datetime(2025, 3, 10, 12, 0, tzinfo=UTC)
PAGE = 4096  # SQLite's default page size, which the journal keeps


@dataclass
class Bot:
    """A state folder laid out as crocbot lays it out, on a simulated clock."""

    root: Path
    clock: SimClock

    @property
    def journal(self) -> Path:
        return self.root / "journal.sqlite3"

    @property
    def trades(self) -> Path:
        return self.root / "trades.jsonl"

    @property
    def backups(self) -> Backups:
        return Backups(self.root / "backups", keep=3, clock=self.clock.now)

    def sidecar(self, suffix: str) -> Path:
        return self.journal.with_name(self.journal.name + suffix)

    def open(self) -> tuple[Journal, RecoveryReport]:
        return open_journal(self.journal, self.backups, clock=self.clock.now)

    def corrupt_folder(self) -> Path:
        return self.root / "corrupt" / f"{file_stamp(self.clock.now())}Z"


@pytest.fixture
def bot(tmp_path: Path) -> Bot:
    return Bot(tmp_path / "state", SimClock(START))


def ids(prefix: str, count: int) -> set[str]:
    return {f"{prefix}{index:04d}" for index in range(count)}


def add_fills(bot: Bot, prefix: str, count: int, journal: Journal | None = None) -> None:
    """Journal `count` fills, then log them in the trade log, as Persistence does. Without `journal` they go in
    through a plain connection as one transaction, which keeps a journal of many pages quick to build."""
    fills = [fill(f"{prefix}{index:04d}", at(index)) for index in range(count)]
    if journal is not None:
        for item in fills:
            journal.record_fill(item)
    else:
        with closing(sqlite3.connect(bot.journal, isolation_level=None)) as raw:
            raw.execute("BEGIN")
            raw.executemany(
                "INSERT INTO fills (fill_id, cl_ord_id, order_id, symbol, side, qty, price, fee, fee_currency,"
                " liquidity, ts) VALUES (:fill_id, :cl_ord_id, :order_id, :symbol, :side, :qty, :price, :fee,"
                " :fee_currency, :liquidity, :ts)",
                [fill_params(item) for item in fills],
            )
            raw.execute("COMMIT")
    bot.trades.parent.mkdir(parents=True, exist_ok=True)
    with bot.trades.open("a", encoding="utf-8") as handle:
        handle.writelines(encode_line(fill_record(item, position_id=None)) + "\n" for item in fills)


def history(bot: Bot) -> Path:
    """1000 fills (a journal of many pages), a backup, and 20 fills after it; returns the backup."""
    Journal(bot.journal).close()
    add_fills(bot, "a", 1000)
    with Journal(bot.journal) as journal:
        backup = bot.backups.take(journal)
    bot.clock.advance(60)
    add_fills(bot, "b", 20)
    return backup


def crash_snapshot(bot: Bot, journal: Journal) -> dict[Path, bytes]:
    """The journal's files as a crash would leave them while `journal` is open (closing it later folds the -wal
    into the file and deletes it, so the snapshot is written back after that)."""
    return {path: path.read_bytes() for path in (bot.journal, bot.sidecar("-wal"), bot.sidecar("-shm"))}


def write_back(snapshot: dict[Path, bytes]) -> None:
    for path, data in snapshot.items():
        path.write_bytes(data)


def flip(path: Path, offset: int, count: int) -> None:
    with path.open("r+b") as handle:
        handle.seek(offset)
        data = handle.read(count)
        handle.seek(offset)
        handle.write(bytes(byte ^ 0xFF for byte in data))


def cut_to_half(path: Path) -> None:
    with path.open("r+b") as handle:
        handle.truncate(path.stat().st_size // 2)


def cut_mid_page(path: Path) -> None:
    with path.open("r+b") as handle:
        handle.truncate(path.stat().st_size // 2 + 1000)


def flip_a_middle_page(path: Path) -> None:
    flip(path, (path.stat().st_size // PAGE // 2) * PAGE, 64)  # the page header and its cell pointers


def flip_the_magic_string(path: Path) -> None:
    flip(path, 0, 16)


def flip_the_schema_format(path: Path) -> None:
    flip(path, 47, 1)


def assert_every_logged_fill_is_accounted_for(journal: Journal, trades: Path) -> None:
    logged = {record["fill_id"] for record in TradeLog.read(trades) if record["type"] == "fill"}
    missing = {record["fill_id"] for record in missing_fills(journal, trades)}
    journaled = journal.fill_ids()
    assert logged <= journaled | missing
    assert not missing & journaled


DAMAGE: list[Callable[[Path], None]] = [
    cut_to_half,
    cut_mid_page,
    flip_a_middle_page,
    flip_the_magic_string,
    flip_the_schema_format,
]


@pytest.mark.parametrize("damage", DAMAGE, ids=lambda damage: damage.__name__)
def test_a_damaged_journal_is_set_aside_and_the_newest_backup_put_in_its_place(
    bot: Bot, damage: Callable[[Path], None]
) -> None:
    backup = history(bot)
    damage(bot.journal)
    damaged = bot.journal.read_bytes()
    journal, report = bot.open()
    with journal:
        assert report.restored_from == backup
        assert report.quarantined == (bot.corrupt_folder() / "journal.sqlite3",)
        assert report.quarantined[0].read_bytes() == damaged  # kept as it was, for analysis
        assert report.problems
        assert journal.integrity_ok()
        assert journal.settings()["journal_mode"] == "wal"
        assert journal.fill_ids() == ids("a", 1000)
        assert {record["fill_id"] for record in missing_fills(journal, bot.trades)} == ids("b", 20)
        assert_every_logged_fill_is_accounted_for(journal, bot.trades)
    assert not bot.journal.with_name("journal.sqlite3.restoring").exists()


@pytest.mark.parametrize("lost", [("-wal",), ("-wal", "-shm")])
def test_a_deleted_wal_loses_its_commits_without_damage_and_missing_fills_finds_them(
    bot: Bot, lost: tuple[str, ...]
) -> None:
    history(bot)
    live = Journal(bot.journal)
    add_fills(bot, "c", 3, live)
    snapshot = crash_snapshot(bot, live)
    live.close()
    write_back(snapshot)
    for suffix in lost:
        bot.sidecar(suffix).unlink()
    journal, report = bot.open()
    with journal:
        assert report == RecoveryReport()  # SQLite sees nothing wrong: the file is as at its last checkpoint
        assert journal.integrity_ok()
        assert journal.fill_ids() == ids("a", 1000) | ids("b", 20)
        assert [record["fill_id"] for record in missing_fills(journal, bot.trades)] == sorted(ids("c", 3))
        assert_every_logged_fill_is_accounted_for(journal, bot.trades)


def test_the_same_crash_with_its_wal_kept_loses_nothing(bot: Bot) -> None:
    history(bot)
    live = Journal(bot.journal)
    add_fills(bot, "c", 3, live)
    snapshot = crash_snapshot(bot, live)
    live.close()
    write_back(snapshot)
    journal, report = bot.open()
    with journal:
        assert report == RecoveryReport()
        assert ids("c", 3) <= journal.fill_ids()
        assert missing_fills(journal, bot.trades) == []


def test_a_wal_damaged_in_the_middle_keeps_the_commits_before_the_damage_and_loses_the_rest(bot: Bot) -> None:
    history(bot)
    live = Journal(bot.journal)
    add_fills(bot, "c", 6, live)
    snapshot = crash_snapshot(bot, live)
    live.close()
    write_back(snapshot)
    wal = bot.sidecar("-wal")
    flip(wal, wal.stat().st_size // 2, 8)
    journal, report = bot.open()
    with journal:
        assert report == RecoveryReport()
        assert journal.integrity_ok()
        kept = journal.fill_ids() & ids("c", 6)
        lost = {record["fill_id"] for record in missing_fills(journal, bot.trades)}
        assert kept
        assert lost
        assert kept | lost == ids("c", 6)
        assert_every_logged_fill_is_accounted_for(journal, bot.trades)


def test_a_checkpoint_torn_by_a_crash_whose_wal_is_lost_is_damage_and_the_backup_restored(bot: Bot) -> None:
    backup = history(bot)
    before = bot.journal.read_bytes()
    add_fills(bot, "c", 300)  # committed and checkpointed into the file when the connection closes
    after = bot.journal.read_bytes()
    # A checkpoint copies pages in page order: cut short, it leaves the first changed pages new, the rest old.
    changed = [
        page
        for page in range(len(after) // PAGE)
        if before[page * PAGE : (page + 1) * PAGE] != after[page * PAGE : (page + 1) * PAGE]
    ]
    torn = bytearray(before)
    for page in changed[: len(changed) // 2]:
        torn[page * PAGE : (page + 1) * PAGE] = after[page * PAGE : (page + 1) * PAGE]
    bot.journal.write_bytes(bytes(torn))
    journal, report = bot.open()
    with journal:
        assert report.restored_from == backup
        assert {record["fill_id"] for record in missing_fills(journal, bot.trades)} == ids("b", 20) | ids("c", 300)
        assert_every_logged_fill_is_accounted_for(journal, bot.trades)


def test_a_damaged_journal_is_moved_with_its_wal_byte_for_byte(bot: Bot) -> None:
    """The check is read-only: a read-write open would fold the -wal into the damaged file and delete it."""
    history(bot)
    live = Journal(bot.journal)
    add_fills(bot, "c", 3, live)
    snapshot = crash_snapshot(bot, live)
    live.close()
    write_back(snapshot)
    flip_a_middle_page(bot.journal)
    damaged = bot.journal.read_bytes()
    journal, report = bot.open()
    journal.close()
    folder = bot.corrupt_folder()
    assert report.quarantined == (
        folder / "journal.sqlite3",
        folder / "journal.sqlite3-wal",
        folder / "journal.sqlite3-shm",
    )
    assert (folder / "journal.sqlite3").read_bytes() == damaged
    assert (folder / "journal.sqlite3-wal").read_bytes() == snapshot[bot.sidecar("-wal")]


def test_a_wal_without_its_journal_is_damage_not_a_first_start(bot: Bot) -> None:
    backup = history(bot)
    live = Journal(bot.journal)
    add_fills(bot, "c", 3, live)
    wal = crash_snapshot(bot, live)[bot.sidecar("-wal")]
    live.close()
    bot.journal.unlink()
    bot.sidecar("-wal").write_bytes(wal)
    journal, report = bot.open()
    with journal:
        assert report.restored_from == backup
        assert report.quarantined == (bot.corrupt_folder() / "journal.sqlite3-wal",)
        assert "missing" in report.problems
        assert_every_logged_fill_is_accounted_for(journal, bot.trades)


def test_the_newest_backup_that_passes_its_check_is_the_one_restored(bot: Bot) -> None:
    older = history(bot)
    with Journal(bot.journal) as journal:
        newer = bot.backups.take(journal)
    flip_a_middle_page(newer)
    cut_to_half(bot.journal)
    journal, report = bot.open()
    with journal:
        assert report.restored_from == older
        assert journal.fill_ids() == ids("a", 1000)


def test_without_a_good_backup_the_damaged_journal_stays_and_every_start_fails_with_advice(bot: Bot) -> None:
    backup = history(bot)
    flip_the_magic_string(backup)
    flip_a_middle_page(bot.journal)
    damaged = bot.journal.read_bytes()
    for _restart in range(2):  # a supervisor restarting crocbot gets the same answer, never an empty journal
        with pytest.raises(JournalCorrupt) as caught:
            bot.open()
        message = str(caught.value)
        assert str(bot.journal) in message
        assert "no verified backup" in message
        assert ".recover" in message
        assert "move journal.sqlite3" in message
        assert caught.value.detail in message
        assert bot.journal.read_bytes() == damaged
    assert not (bot.root / "corrupt").exists()


def test_a_missing_journal_is_a_first_start(bot: Bot) -> None:
    journal, report = bot.open()
    with journal:
        assert report == RecoveryReport()
        assert report.text() == "journal opened and passed its integrity check"
        assert journal.fill_ids() == set()
    assert not (bot.root / "corrupt").exists()


def test_a_missing_journal_beside_backups_starts_a_new_one_and_says_so(bot: Bot) -> None:
    history(bot)
    bot.journal.unlink()
    journal, report = bot.open()
    with journal:
        assert journal.fill_ids() == set()
        assert report.restored_from is None
        assert "backups exist" in report.problems


def test_an_empty_journal_file_is_restored_when_a_backup_exists(bot: Bot) -> None:
    backup = history(bot)
    bot.journal.write_bytes(b"")
    journal, report = bot.open()
    with journal:
        assert report.restored_from == backup
        assert "empty" in report.problems


def test_an_empty_journal_file_without_a_backup_is_a_first_start(bot: Bot) -> None:
    bot.root.mkdir(parents=True)
    bot.journal.write_bytes(b"")  # a first start that crashed before SQLite wrote anything
    journal, report = bot.open()
    with journal:
        assert report == RecoveryReport()
        journal.record_fill(fill("f1"))


def test_a_sound_journal_opens_as_it_is(bot: Bot) -> None:
    history(bot)
    journal, report = bot.open()
    with journal:
        assert report == RecoveryReport()
        assert journal.fill_ids() == ids("a", 1000) | ids("b", 20)
    assert not (bot.root / "corrupt").exists()


def test_a_restore_cut_short_after_the_damaged_files_moved_is_finished_at_the_next_start(bot: Bot) -> None:
    backup = history(bot)
    restoring = bot.journal.with_name("journal.sqlite3.restoring")
    shutil.copyfile(backup, restoring)  # where a crash between the moves and the final rename leaves things
    bot.journal.unlink()
    journal, report = bot.open()
    with journal:
        assert journal.fill_ids() == ids("a", 1000)
        assert report.restored_from is None
        assert report.quarantined == ()
        assert "interrupted" in report.problems
    assert not restoring.exists()
    assert not (bot.root / "corrupt").exists()  # nothing was left to move


def test_a_restore_cut_short_before_the_wal_moved_does_not_replay_that_wal_onto_the_backup(bot: Bot) -> None:
    backup = history(bot)
    live = Journal(bot.journal)
    add_fills(bot, "c", 3, live)
    snapshot = crash_snapshot(bot, live)
    live.close()
    write_back(snapshot)
    shutil.copyfile(backup, bot.journal.with_name("journal.sqlite3.restoring"))
    bot.journal.unlink()  # moved to corrupt/ just before the crash; its -wal and -shm were next
    journal, report = bot.open()
    with journal:
        assert journal.integrity_ok()
        assert journal.fill_ids() == ids("a", 1000)
        assert report.quarantined == (
            bot.corrupt_folder() / "journal.sqlite3-wal",
            bot.corrupt_folder() / "journal.sqlite3-shm",
        )
        assert report.quarantined[0].read_bytes() == snapshot[bot.sidecar("-wal")]
        assert_every_logged_fill_is_accounted_for(journal, bot.trades)


def test_a_stale_restore_copy_beside_a_journal_is_dropped(bot: Bot) -> None:
    history(bot)
    restoring = bot.journal.with_name("journal.sqlite3.restoring")
    restoring.write_bytes(b"half a copy")
    journal, report = bot.open()
    with journal:
        assert report == RecoveryReport()
        assert journal.fill_ids() == ids("a", 1000) | ids("b", 20)
    assert not restoring.exists()


def test_damage_twice_at_the_same_time_goes_to_two_folders(bot: Bot) -> None:
    history(bot)
    for _ in range(2):
        cut_to_half(bot.journal)
        journal, report = bot.open()
        journal.close()
    folder = bot.corrupt_folder()
    assert report.quarantined == (folder.with_name(folder.name + "-2") / "journal.sqlite3",)
    assert (folder / "journal.sqlite3").exists()


def test_a_journal_error_that_is_not_damage_is_raised_as_it_is(bot: Bot) -> None:
    history(bot)
    with closing(sqlite3.connect(bot.journal, isolation_level=None)) as raw:
        raw.execute("INSERT INTO schema_version (version, applied_at) VALUES (99, 'later')")
    with pytest.raises(JournalError, match="newer") as caught:
        bot.open()
    assert not isinstance(caught.value, JournalCorrupt)
    assert not (bot.root / "corrupt").exists()


def test_the_report_is_one_line_naming_the_backup_and_where_the_damage_went(bot: Bot) -> None:
    backup = history(bot)
    flip_a_middle_page(bot.journal)
    journal, report = bot.open()
    journal.close()
    line = report.text()
    assert "\n" not in line
    assert backup.name in line
    assert str(bot.corrupt_folder()) in line


def test_missing_fills_lists_each_missing_fill_once_and_ignores_trades_and_torn_lines(bot: Bot) -> None:
    with Journal(bot.journal) as journal:
        journal.record_fill(fill("f1"))
        log = TradeLog(bot.trades)
        for fill_id in ("f1", "f2", "f2", "f3"):
            log.append(fill_record(fill(fill_id), position_id=None))
        log.append(TradeLog.trade_record(trade()))
        with bot.trades.open("ab") as handle:
            handle.write(b'{"type": "fill", "fill_id": "f4", "qt')  # torn: not a record yet
        assert [record["fill_id"] for record in missing_fills(journal, bot.trades)] == ["f2", "f3"]
        assert missing_fills(journal, bot.root / "no-such-log.jsonl") == []


def test_the_quarantine_folder_is_named_by_the_clock_in_utc(bot: Bot) -> None:
    history(bot)
    bot.clock.advance(timedelta(hours=1, microseconds=7))
    cut_to_half(bot.journal)
    journal, report = bot.open()
    journal.close()
    assert report.quarantined[0].parent.name == "20250310T130100000007Z"
