"""The life of an actor that keeps one journal-format file (`GuardedJournal`): the persistence actor's journal and
the paper venue's account file. Both back it up every `backup_every` seconds and once more on a stop, then close
it, and close it quietly after a crash."""

from __future__ import annotations

from dataclasses import dataclass

from crocbot.actors.base import SupervisedActor
from crocbot.store.guarded import GuardedJournal

__all__ = ["BackupDue", "GuardedFileActor"]


@dataclass(frozen=True, slots=True)
class BackupDue:
    """Timer: time for a verified backup of the actor's file."""


class GuardedFileActor(SupervisedActor):
    """A `SupervisedActor` whose `_store` is set once the file is open (in `started`, which then calls
    `_start_backups`), and whose `handle` passes `BackupDue` to `_backup_due`."""

    _store: GuardedJournal | None = None
    _backup_every: float = 0.0  # seconds between backups; 0: only the one on a stop

    def _start_backups(self) -> None:
        if self._backup_every > 0:
            self.send_later(self._backup_every, BackupDue())

    def _backup_due(self) -> None:
        if self._store is not None:
            self._store.backup()
        self.send_later(self._backup_every, BackupDue())

    def stopping(self) -> None:
        if self._store is not None:
            self._store.close_after_backup()

    def crashed(self, error: BaseException) -> None:
        if self._store is not None:
            self._store.close_after_crash()
