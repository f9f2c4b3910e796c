"""The end of an actor that keeps one journal-format file (`GuardedJournal`): the persistence actor's journal and
the paper venue's account file. Both back it up and close it on a stop, and close it quietly after a crash."""

from __future__ import annotations

from crocbot.actors.base import SupervisedActor
from crocbot.store.guarded import GuardedJournal

__all__ = ["GuardedFileActor"]


class GuardedFileActor(SupervisedActor):
    """A `SupervisedActor` whose `_store` (set once the file is open, in `started`) is closed when it ends."""

    _store: GuardedJournal | None = None

    def stopping(self) -> None:
        if self._store is not None:
            self._store.close_after_backup()

    def crashed(self, error: BaseException) -> None:
        if self._store is not None:
            self._store.close_after_crash()
