"""Where the paper account lives: its own SQLite file beside the journal, written by the venue alone.

In paper mode the paper account is the exchange. A real exchange does not lose its records when crocbot's journal
is damaged, and the paper one must not either: if the account lived in the journal, restoring a damaged journal
from a backup would also roll the "exchange" back to the backup, and the fills made since could never be learnt
from it again. In a file of its own it stays the truth the reconciler brings a restored journal up to date from.

The file has the journal's format and lifecycle (`GuardedJournal`: WAL, `synchronous=FULL`, integrity check at
open, restore from its own backups, `JournalUnwritable` for a full disk or a read-only file) and uses only its
state table. Backups go to their own folder, taken by the venue actor.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from crocbot.store.guarded import GuardedJournal

__all__ = ["PaperAccountStore", "PAPER_ACCOUNT_FILE", "PAPER_ACCOUNT_KEY", "PAPER_BACKUP_DIR"]

PAPER_ACCOUNT_FILE = "paper_account.sqlite3"
PAPER_ACCOUNT_KEY = "paper_account"
PAPER_BACKUP_DIR = "paper"  # under the state directory's backup folder


class PaperAccountStore(GuardedJournal):
    """The paper account's file: `PaperAccountStore.open(path, Backups(...), clock=..., what="paper account")`."""

    def load(self) -> dict[str, Any] | None:
        return self.db.load_state(PAPER_ACCOUNT_KEY)

    def save(self, account: Mapping[str, Any]) -> None:
        """Durable when it returns; `JournalUnwritable` when the disk refuses (a full disk, a read-only file)."""
        self.db.save_state(PAPER_ACCOUNT_KEY, account)
