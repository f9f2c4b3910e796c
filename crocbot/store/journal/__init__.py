"""The SQLite journal: intents, order events, fills, positions, stops, closed trades and state documents.

Written by one actor (Persistence) only. Each write method is one transaction (`BEGIN IMMEDIATE` … `COMMIT`), or
joins the open `batch()` so that several records become durable in one commit, and the file runs in WAL mode with
`synchronous=FULL`: when a write (or a batch) returns, its records are on disk, and a crash half-way through
leaves the state from before it; `commits` counts the durable commits. Every write is keyed, so a replay is a
no-op (see `writes`).

The package's modules: `connection` (opening, transactions, health), `writes`, `reads`, `rows` (what reads hand
back and the row conversions), `schema` (tables and migrations) and `integrity` (errors, checks, backups).
"""

from crocbot.store.journal.integrity import (
    JournalConflict,
    JournalCorrupt,
    JournalError,
    JournalUnwritable,
    UnknownOrder,
    UnknownPosition,
)
from crocbot.store.journal.reads import Reads
from crocbot.store.journal.writes import Writes

__all__ = [
    "Journal",
    "JournalError",
    "JournalCorrupt",
    "JournalUnwritable",
    "JournalConflict",
    "UnknownOrder",
    "UnknownPosition",
]


class Journal(Writes, Reads):
    """The write-ahead journal; see the package docstring for the durability and idempotency rules, and
    `batch` for one commit over several writes."""
