"""The journal's SQLite connection: opening the file, its transactions (one per write, or one per batch of
writes), and its health (settings, integrity, verified backups).

The connection is made with `check_same_thread=False` because pykka may run an actor's `on_start` on another
thread than the one that built it; only one thread uses a `Journal` at a time (the actor's), and nothing here
takes a lock for more.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import Self

from loguru import logger

from crocbot.store.journal.integrity import (
    JournalError,
    backup_verified,
    corrupt_error,
    is_corruption,
    quick_check,
    unwritable_error,
)
from crocbot.store.journal.schema import SchemaTooNew, migrate, schema_version

__all__ = ["Connection"]

_BUSY_TIMEOUT_S = 5.0  # an outside reader (a backup script, sqlite3 CLI) may hold the lock briefly


class Connection:
    """An open journal file and its transactions; `Journal` adds the reads and writes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.commits = 0  # durable commits of writes since the file was opened (a batch is one)
        self._batching = False
        self._batch_failed: BaseException | None = None
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=_BUSY_TIMEOUT_S)
        except sqlite3.Error as exc:
            raise JournalError(f"journal {path}: cannot open ({exc})") from exc
        try:
            self._setup(conn)
        except BaseException:
            conn.close()
            raise
        self._conn = conn

    def _setup(self, conn: sqlite3.Connection) -> None:
        conn.row_factory = sqlite3.Row
        try:
            mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                # e.g. a network share without shared memory: without WAL the package's durability argument fails
                raise JournalError(f"journal {self.path}: cannot use WAL mode (SQLite kept {mode!r})")
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute("PRAGMA foreign_keys=ON")
            problems = quick_check(conn)
            if problems:
                raise corrupt_error(self.path, problems)
            migrate(conn)
        except SchemaTooNew as exc:
            raise JournalError(
                f"journal {self.path}: {exc}; run a crocbot at least as new as the one that wrote it"
            ) from exc
        except sqlite3.Error as exc:
            if is_corruption(exc):
                raise corrupt_error(self.path, str(exc)) from exc
            unwritable = unwritable_error(self.path, "opening it", exc)  # a read-only or full disk says how to fix it
            if unwritable is not None:
                raise unwritable from exc
            raise JournalError(f"journal {self.path}: cannot open ({exc})") from exc

    def close(self) -> None:
        """Close the connection (SQLite checkpoints the WAL into the main file); closing twice is harmless."""
        self._conn.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # ---- transactions --------------------------------------------------------------------------------------

    @contextlib.contextmanager
    def batch(self, what: str = "batch") -> Iterator[None]:
        """One durable transaction for every write method called inside: they join it instead of committing
        each, and the batch commits once at the end (`commits` grows by one), or, when any of them fails, rolls
        all of them back and raises (a full disk or a read-only file as `JournalUnwritable`, as a single write
        does). Reads inside see the batch's own writes, so a `save_state` is stamped with a fill written earlier
        in the same batch. Batches do not nest."""
        if self._batching:
            raise JournalError(f"journal {self.path.name}: {what} inside a batch (batches do not nest)")
        with self._write(what):
            self._batching = True
            self._batch_failed = None
            try:
                yield
                # a write that failed inside may have left part of its rows even if the caller went on
                if self._batch_failed is not None:
                    raise JournalError(
                        f"journal {self.path.name}: {what} rolled back: a write in it failed ({self._batch_failed})"
                    ) from self._batch_failed
            finally:
                self._batching = False
                self._batch_failed = None

    @contextlib.contextmanager
    def _write(self, what: str) -> Iterator[sqlite3.Connection]:
        """One durable transaction, or a part of the open batch's; on any error it is rolled back and reported
        as a `JournalError` (a full disk, a read-only file or an I/O error as `JournalUnwritable`)."""
        conn = self._conn
        if self._batching:
            try:
                yield conn
            except BaseException as exc:
                self._batch_failed = exc
                if isinstance(exc, sqlite3.Error):
                    raise self._wrap(what, exc) from exc
                raise
            return
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise self._wrap(what, exc) from exc
        try:
            yield conn
            conn.execute("COMMIT")
        except BaseException as exc:
            if conn.in_transaction:
                try:
                    conn.execute("ROLLBACK")
                except sqlite3.Error:
                    logger.exception("journal {}: rollback after a failed {} failed", self.path.name, what)
            if isinstance(exc, sqlite3.Error):
                raise self._wrap(what, exc) from exc
            raise
        self.commits += 1

    def _wrap(self, what: str, exc: sqlite3.Error) -> JournalError:
        if is_corruption(exc):
            return corrupt_error(self.path, str(exc))
        unwritable = unwritable_error(self.path, what, exc)
        if unwritable is not None:
            return unwritable
        return JournalError(f"journal {self.path.name}: {what} failed ({exc})")

    # ---- health --------------------------------------------------------------------------------------------

    def settings(self) -> dict[str, str | int]:
        """What this connection actually runs with, for health reports and tests (SQLite can silently keep a
        different journal mode)."""
        conn = self._conn
        return {
            "journal_mode": str(conn.execute("PRAGMA journal_mode").fetchone()[0]),
            "synchronous": int(conn.execute("PRAGMA synchronous").fetchone()[0]),  # 2 is FULL
            "foreign_keys": int(conn.execute("PRAGMA foreign_keys").fetchone()[0]),
            "schema_version": schema_version(conn),
        }

    def integrity_ok(self) -> bool:
        """SQLite's quick_check over the whole file (O(size); meant for start-up and occasional checks)."""
        try:
            return not quick_check(self._conn)
        except sqlite3.DatabaseError:
            return False

    def backup(self, target: Path) -> None:
        """Copy the journal to `target` with SQLite's online backup API and verify the copy; a copy that fails
        verification never replaces `target` (see `integrity.backup_verified`)."""
        backup_verified(self._conn, self.path, target)
