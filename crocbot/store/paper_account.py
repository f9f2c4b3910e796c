"""Where the paper account lives: its own SQLite file beside the journal, written by the venue alone.

In paper mode the paper account is the exchange. A real exchange does not lose its records when crocbot's journal
is damaged, and the paper one must not either: if the account lived in the journal, restoring a damaged journal
from a backup would also roll the "exchange" back to the backup, and the fills made since could never be learnt
from it again. In a file of its own it stays the truth the reconciler brings a restored journal up to date from.

The file has the journal's format (`Journal`: WAL, `synchronous=FULL`, integrity check at open, a damaged file set
aside and the newest verified backup restored, `JournalUnwritable` for a full disk or a read-only file) and uses
only its state table. Backups go to their own folder, taken by the venue actor.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from loguru import logger

from crocbot.store.backups import Backups
from crocbot.store.journal import Journal
from crocbot.store.recovery import open_journal

__all__ = ["PaperAccountStore", "PAPER_ACCOUNT_FILE", "PAPER_ACCOUNT_KEY", "PAPER_BACKUP_DIR"]

PAPER_ACCOUNT_FILE = "paper_account.sqlite3"
PAPER_ACCOUNT_KEY = "paper_account"
PAPER_BACKUP_DIR = "paper"  # under the state directory's backup folder


class PaperAccountStore:
    """The paper account's file; `open` checks (and if need be restores) it."""

    def __init__(self, db: Journal, backups: Backups) -> None:
        self._db = db
        self._backups = backups

    @classmethod
    def open(cls, path: Path, backup_dir: Path, *, clock: Callable[[], datetime], keep: int = 5) -> PaperAccountStore:
        backups = Backups(backup_dir, keep=keep, clock=clock)
        db, report = open_journal(path, backups, clock=clock)
        if report.restored_from is not None:
            logger.critical("paper account: {}", report.text())
        return cls(db, backups)

    def load(self) -> dict[str, Any] | None:
        return self._db.load_state(PAPER_ACCOUNT_KEY)

    def save(self, account: Mapping[str, Any]) -> None:
        """Durable when it returns; `JournalUnwritable` when the disk refuses (a full disk, a read-only file)."""
        self._db.save_state(PAPER_ACCOUNT_KEY, account)

    def backup(self) -> None:
        try:
            self._backups.take(self._db)
        except Exception as error:  # noqa: BLE001 - a failed backup is loud but must not stop the venue
            logger.error("paper account backup failed: {}", error)

    def close(self) -> None:
        self._db.close()
