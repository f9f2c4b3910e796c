"""The paper account's own file: saved durably, backed up apart from the journal, restored when damaged."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from crocbot.store.backups import Backups
from crocbot.store.paper_account import PaperAccountStore

T0 = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)


class Ticking:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


def open_store(path: Path, backup_dir: Path, clock: Ticking) -> PaperAccountStore:
    return PaperAccountStore.open(path, Backups(backup_dir, clock=clock), clock=clock, what="paper account")


def test_an_account_round_trips_exactly_and_survives_reopening(tmp_path: Path) -> None:
    account = {"balances": {"USD": Decimal("9999.12345678")}, "open_orders": []}
    store = open_store(tmp_path / "paper.sqlite3", tmp_path / "backups", Ticking())
    assert store.load() is None
    store.save(account)
    store.close()

    again = open_store(tmp_path / "paper.sqlite3", tmp_path / "backups", Ticking())
    try:
        assert again.load() == account
    finally:
        again.close()


def test_a_damaged_file_is_set_aside_and_its_newest_backup_restored(tmp_path: Path) -> None:
    path, backups, clock = tmp_path / "paper.sqlite3", tmp_path / "backups" / "paper", Ticking()
    store = open_store(path, backups, clock)
    store.save({"balances": {"USD": Decimal(1)}})
    store.backup()
    store.save({"balances": {"USD": Decimal(2)}})
    store.close()
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])

    restored = open_store(path, backups, clock)
    try:
        assert restored.load() == {"balances": {"USD": Decimal(1)}}  # the backup's, loudly (a CRITICAL line)
    finally:
        restored.close()
    assert list((tmp_path / "corrupt").rglob("paper.sqlite3"))
