"""A journal-format SQLite file as an actor keeps it, whether the journal itself or the paper account's file.

Opened through `open_journal` (integrity check; a damaged file set aside and the newest verified backup restored,
said at CRITICAL), backed up on request without ever raising (a failed backup is loud but must not stop what the
file is for), closed at the end, and closed quietly after a crash (the file may be what failed).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Self

from loguru import logger

from crocbot.store.backups import Backups
from crocbot.store.journal import Journal
from crocbot.store.recovery import open_journal

__all__ = ["GuardedJournal"]


class GuardedJournal:
    def __init__(self, db: Journal, backups: Backups, what: str) -> None:
        self.db = db
        self._backups = backups
        self._what = what

    @classmethod
    def open(cls, path: Path, backups: Backups, *, clock: Callable[[], datetime], what: str) -> Self:
        db, report = open_journal(path, backups, clock=clock)
        if report.restored_from is not None:
            logger.critical("{}: {}", what, report.text())
        return cls(db, backups, what)

    def backup(self) -> None:
        try:
            self._backups.take(self.db)
        except Exception as error:  # noqa: BLE001 - loud, and the next backup tries again
            logger.error("{} backup failed: {}", self._what, error)

    def close(self) -> None:
        self.db.close()

    def close_after_backup(self) -> None:
        """A normal stop: the last backup, then closed (the backup never raises, so the file is always closed)."""
        self.backup()
        self.close()

    def close_after_crash(self) -> None:
        try:
            self.db.close()
        except Exception:  # noqa: BLE001 - the file may be what failed; the crash is already reported
            logger.opt(exception=True).error("closing the {} after a crash failed", self._what)
