"""`TradeLog.repair` moves a torn end of the trade log into a file of its own, cuts the log back to its last
complete record, leaves torn lines before that in place and reports them, and does nothing the second time."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from crocbot.store import TradeLog, fill_record
from crocbot.store.tradelog import TradeLogRepair, encode_line
from tests.store.test_journal import fill

NOW = datetime(2025, 3, 10, 12, 0, 0, 654321, tzinfo=UTC)
TORN = b'{"type": "fill", "fill_id": "f9", "qty": "0.0'  # what a crash in the middle of a write leaves


def line(fill_id: str) -> bytes:
    return (encode_line(fill_record(fill(fill_id), position_id=None)) + "\n").encode()


@pytest.fixture
def log(tmp_path: Path) -> Path:
    path = tmp_path / "trades.jsonl"
    path.write_bytes(line("f1") + line("f2"))
    return path


def test_a_torn_last_line_is_moved_beside_the_log_and_the_log_cut_back_to_its_last_record(log: Path) -> None:
    sound = log.read_bytes()
    with log.open("ab") as handle:
        handle.write(TORN)
    result = TradeLog.repair(log, now=NOW)
    kept = log.with_name("trades.jsonl.torn-20250310T120000654321Z")
    assert result == TradeLogRepair(torn_tail_bytes=len(TORN), kept_in=kept, torn_middle_lines=())
    assert kept.read_bytes() == TORN
    assert log.read_bytes() == sound
    assert TradeLog.read(log).torn == 0


@pytest.mark.parametrize(
    "tail",
    [b"not json at all\n", b"\x00" * 600, b"\x00" * 300 + b"\n", b"[1, 2]\n" + TORN, b"\n\n" + TORN + b"  "],
    ids=["invalid-line", "zeros", "zeros-line", "invalid-then-torn", "blank-lines-then-torn"],
)
def test_everything_after_the_last_valid_record_is_the_torn_end(log: Path, tail: bytes) -> None:
    sound = log.read_bytes()
    with log.open("ab") as handle:
        handle.write(tail)
    result = TradeLog.repair(log, now=NOW)
    assert result.torn_tail_bytes == len(tail)
    assert result.kept_in is not None
    assert result.kept_in.read_bytes() == tail
    assert log.read_bytes() == sound


def test_torn_lines_in_the_middle_are_reported_and_left_in_place(log: Path) -> None:
    log.write_bytes(line("f1") + TORN + b"\n" + line("f2") + b"garbage\n" + line("f3") + TORN)
    torn_middle = log.read_bytes()[: -len(TORN)]
    result = TradeLog.repair(log, now=NOW)
    assert result.torn_middle_lines == (2, 4)
    assert result.torn_tail_bytes == len(TORN)
    assert log.read_bytes() == torn_middle
    assert [record["fill_id"] for record in TradeLog.read(log)] == ["f1", "f2", "f3"]


def test_a_log_with_only_middle_damage_is_not_changed(log: Path) -> None:
    log.write_bytes(line("f1") + b"garbage\n" + line("f2"))
    before = log.read_bytes()
    assert TradeLog.repair(log, now=NOW) == TradeLogRepair(torn_middle_lines=(2,))
    assert log.read_bytes() == before
    assert list(log.parent.iterdir()) == [log]


def test_repair_is_idempotent(log: Path) -> None:
    with log.open("ab") as handle:
        handle.write(b"bad line\n" + TORN)
    first = TradeLog.repair(log, now=NOW)
    after_first = log.read_bytes()
    second = TradeLog.repair(log, now=NOW + timedelta(seconds=1))
    assert first.kept_in is not None
    assert second == TradeLogRepair()
    assert log.read_bytes() == after_first
    assert sorted(path.name for path in log.parent.iterdir()) == ["trades.jsonl", first.kept_in.name]


def test_a_sound_log_a_missing_log_and_an_empty_log_need_nothing(tmp_path: Path, log: Path) -> None:
    before = log.read_bytes()
    assert TradeLog.repair(log, now=NOW) == TradeLogRepair()
    assert log.read_bytes() == before
    assert TradeLog.repair(tmp_path / "missing.jsonl") == TradeLogRepair()
    assert not (tmp_path / "missing.jsonl").exists()
    empty = tmp_path / "empty.jsonl"
    empty.write_bytes(b"")
    assert TradeLog.repair(empty) == TradeLogRepair()


def test_a_log_that_is_all_torn_is_moved_whole(tmp_path: Path) -> None:
    path = tmp_path / "trades.jsonl"
    path.write_bytes(TORN)
    result = TradeLog.repair(path, now=NOW)
    assert result.torn_tail_bytes == len(TORN)
    assert path.read_bytes() == b""


def test_a_second_torn_end_at_the_same_time_gets_its_own_file(log: Path) -> None:
    kept = []
    for _ in range(2):
        with log.open("ab") as handle:
            handle.write(TORN)
        result = TradeLog.repair(log, now=NOW)
        assert result.kept_in is not None
        kept.append(result.kept_in)
    assert kept[1].name == kept[0].name + "-2"
    assert kept[1].read_bytes() == TORN


def test_the_kept_file_is_named_in_utc_and_a_naive_time_is_refused(log: Path) -> None:
    with log.open("ab") as handle:
        handle.write(TORN)
    with pytest.raises(ValueError, match="naive"):
        TradeLog.repair(log, now=datetime(2025, 3, 10))  # noqa: DTZ001 - a naive time on purpose: it must be refused
    assert log.read_bytes().endswith(TORN)  # nothing happened
    result = TradeLog.repair(log, now=NOW.astimezone(timezone(timedelta(hours=-5))))
    assert result.kept_in == log.with_name("trades.jsonl.torn-20250310T120000654321Z")


def test_the_kept_bytes_and_the_cut_are_fsynced(log: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    synced: list[int] = []
    real_fsync = os.fsync

    def counting_fsync(fd: int) -> None:
        synced.append(fd)
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", counting_fsync)
    with log.open("ab") as handle:
        handle.write(TORN)
    TradeLog.repair(log, now=NOW)
    assert len(synced) >= 2  # the kept file and the log (plus the folder where the OS allows it)


def test_appends_after_a_repair_continue_on_a_clean_line(log: Path) -> None:
    with log.open("ab") as handle:
        handle.write(TORN)
    TradeLog.repair(log, now=NOW)
    TradeLog(log).append(fill_record(fill("f3"), position_id=None))
    records = TradeLog.read(log)
    assert [record["fill_id"] for record in records] == ["f1", "f2", "f3"]
    assert records.torn == 0
