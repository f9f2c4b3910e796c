"""The journal's errors, its integrity check, and verified backups.

SQLite reports a damaged file as SQLITE_CORRUPT ("database disk image is malformed") or SQLITE_NOTADB ("file
is not a database"), sometimes on the first statement, sometimes only from `PRAGMA quick_check`. Both are
turned into `JournalCorrupt` with a message that tells the operator what to do, since the bot runs unattended
and the person reading it may not know SQLite.
"""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path

__all__ = [
    "JournalError",
    "JournalCorrupt",
    "JournalConflict",
    "UnknownOrder",
    "UnknownPosition",
    "quick_check",
    "is_corruption",
    "corrupt_error",
    "backup_verified",
]

_PROBLEMS_SHOWN = 5  # quick_check can list thousands of damaged cells; the first few say enough


class JournalError(Exception):
    """The journal could not do what was asked; nothing was written."""


class JournalCorrupt(JournalError):
    """The file failed SQLite's integrity check. Trading must not start on it."""


class JournalConflict(JournalError):
    """A key (cl_ord_id, position_id) came back with different content than the journal holds."""


class UnknownOrder(JournalError):
    """An event for a cl_ord_id without a journaled intent: the intent must be recorded (or adopted) first."""


class UnknownPosition(JournalError):
    """A stop or a close for a position the journal never opened."""


def quick_check(conn: sqlite3.Connection) -> str:
    """'' when the file is sound, else the first problems SQLite reports (short enough for a log line)."""
    rows = [str(row[0]) for row in conn.execute(f"PRAGMA quick_check({_PROBLEMS_SHOWN})").fetchall()]
    if rows == ["ok"]:
        return ""
    return "; ".join(" ".join(row.split()) for row in rows)[:300]


def is_corruption(exc: sqlite3.Error) -> bool:
    name = getattr(exc, "sqlite_errorname", "")
    text = str(exc)
    return name in ("SQLITE_CORRUPT", "SQLITE_NOTADB") or "malformed" in text or "not a database" in text


def corrupt_error(path: Path, detail: str) -> JournalCorrupt:
    return JournalCorrupt(
        f"journal {path.name} failed SQLite's integrity check ({detail}). Stop crocbot and keep the file for "
        f"analysis: move it (with any {path.name}-wal and {path.name}-shm) out of {path.parent}, put the latest "
        "verified backup in its place, and start again; the reconciler then rebuilds the rest from the venue."
    )


def backup_verified(source: sqlite3.Connection, source_path: Path, target: Path) -> None:
    """Copy `source` to `target` with SQLite's online backup API and verify the copy with quick_check.

    The copy is written to `<target>.partial` and renamed over `target` only once it passes, so a failed backup
    never replaces a good one. The copy is switched out of WAL mode so that it stands alone as one file.
    """
    partial = target.with_name(target.name + ".partial")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        partial.unlink(missing_ok=True)
        with contextlib.closing(sqlite3.connect(partial, isolation_level=None)) as copy:
            source.backup(copy)
            copy.execute("PRAGMA journal_mode=DELETE")
            problems = quick_check(copy)
        if problems:
            raise JournalError(f"backup {target.name} failed verification ({problems}); the journal is unchanged")
        partial.replace(target)
    except (sqlite3.Error, OSError) as exc:
        raise JournalError(f"backup of {source_path.name} to {target} failed ({exc})") from exc
    finally:
        with contextlib.suppress(OSError):
            partial.unlink(missing_ok=True)
