"""The journal's errors, its integrity check, and verified backups.

SQLite reports a damaged file as SQLITE_CORRUPT ("database disk image is malformed") or SQLITE_NOTADB ("file
is not a database"), sometimes on the first statement, sometimes only from `PRAGMA quick_check`. Both are
turned into `JournalCorrupt` with a message that tells the operator what to do, since the bot runs unattended
and the person reading it may not know SQLite.

A write that fails because of the machine rather than the file (SQLITE_FULL, SQLITE_READONLY, SQLITE_IOERR and
their extended codes) becomes `JournalUnwritable`: the caller must stop acting on writes that did not happen, and
the operator needs different advice (free space, fix permissions, check the disk) than for a damaged file.
"""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path

__all__ = [
    "JournalError",
    "JournalCorrupt",
    "JournalUnwritable",
    "JournalConflict",
    "UnknownOrder",
    "UnknownPosition",
    "quick_check",
    "check_file",
    "is_corruption",
    "corrupt_error",
    "unwritable_error",
    "backup_verified",
]

_PROBLEMS_SHOWN = 5  # quick_check can list thousands of damaged cells; the first few say enough


class JournalError(Exception):
    """The journal could not do what was asked; nothing was written."""


class JournalCorrupt(JournalError):
    """The file failed SQLite's integrity check. Trading must not start on it.

    `detail` is what SQLite reported, without the advice around it, for reports that quote it.
    """

    def __init__(self, message: str, detail: str = "") -> None:
        super().__init__(message)
        self.detail = detail or message


class JournalUnwritable(JournalError):
    """A write failed because the disk is full, the journal is read-only or the disk reported an I/O error.

    The transaction was rolled back, so none of the write is in the journal; reads still work, and writes work
    again once the operator has removed the cause.
    """


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


def check_file(path: Path) -> str:
    """'' when the SQLite file at `path` (with its -wal, if any) is sound, else what SQLite found wrong with it.

    The connection is read-only, so the check changes no byte of the database or its -wal: a read-write
    connection folds the -wal into the database file and deletes it when it closes, even when the database is
    damaged, which destroys what an analysis of the damage needs. (SQLite may create an empty -wal and -shm.)
    Raises `sqlite3.Error` when it cannot tell, e.g. the file is locked or the folder is not readable.
    """
    try:
        with contextlib.closing(
            sqlite3.connect(path.resolve().as_uri() + "?mode=ro", uri=True, isolation_level=None)
        ) as conn:
            return quick_check(conn)
    except sqlite3.DatabaseError as exc:
        # a flipped byte 47 of the header reads as a newer file format; crocbot's own journals never have one
        if is_corruption(exc) or "unsupported file format" in str(exc):
            return str(exc)
        raise


def is_corruption(exc: sqlite3.Error) -> bool:
    name = getattr(exc, "sqlite_errorname", "")
    text = str(exc)
    return name in ("SQLITE_CORRUPT", "SQLITE_NOTADB") or "malformed" in text or "not a database" in text


def corrupt_error(path: Path, detail: str) -> JournalCorrupt:
    return JournalCorrupt(
        f"journal {path.name} failed SQLite's integrity check ({detail}). Stop crocbot and keep the file for "
        f"analysis: move it (with any {path.name}-wal and {path.name}-shm) out of {path.parent}, put the latest "
        "verified backup in its place, and start again; the reconciler then rebuilds the rest from the venue.",
        detail,
    )


def unwritable_error(path: Path, what: str, exc: sqlite3.Error) -> JournalUnwritable | None:
    """A `JournalUnwritable` naming the file, the cause and the fix when `exc` is one of the machine's write
    failures; None for every other error."""
    name = str(getattr(exc, "sqlite_errorname", ""))
    text = str(exc)
    if name == "SQLITE_FULL" or "disk is full" in text:
        cause = "the disk is full"
        fix = (
            f"Free space on the disk that holds {path.parent} (the journal grows by its -wal file before a "
            "checkpoint folds it in); what the journal held before can still be read."
        )
    elif name.startswith("SQLITE_READONLY") or "readonly database" in text:
        cause = "the journal is read-only"
        fix = (
            f"Make {path.name}, its -wal and -shm files and the folder {path.parent} writable for the user "
            "running crocbot, and check that the disk is not mounted read-only; what the journal held before can "
            "still be read."
        )
    elif name.startswith("SQLITE_IOERR") or "disk I/O error" in text:
        cause = "the disk reported an I/O error"
        fix = (
            "Check the disk (the system log, free space, a network drive that went away); once it is healthy, "
            "restart crocbot, which checks the journal's integrity as it opens it."
        )
    else:
        return None
    return JournalUnwritable(
        f"journal {path}: {what} was not saved because {cause} ({text}). {fix} The write was rolled back, so "
        "the journal holds none of it."
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
