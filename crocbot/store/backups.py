"""Verified backups of the journal, kept in one folder, newest `keep` only.

A backup is a standalone SQLite file written with the online backup API and checked with quick_check before it
gets its final name (see `journal.integrity.backup_verified`), so a file in the folder with a backup's name was
sound when it was written. Disks still rot, so `newest_good` checks again before a backup is trusted for a
restore.

Names carry the UTC time of the backup to the microsecond in a fixed width, e.g.
`journal-20250310T120000000000Z.sqlite3`, so sorting the names sorts the backups by age.
"""

from __future__ import annotations

import builtins
import os
import re
import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from loguru import logger

from crocbot.store.journal import Journal
from crocbot.store.journal.integrity import check_file

__all__ = ["Backups", "file_stamp", "fsync_directory"]

_PREFIX = "journal-"
_SUFFIX = "Z.sqlite3"
_STAMP_FORMAT = "%Y%m%dT%H%M%S%f"
_NAME = re.compile(r"journal-(\d{8}T\d{12})Z\.sqlite3")


def file_stamp(ts: datetime) -> str:
    """`ts` in UTC as `yyyymmddTHHMMSSffffff` (without the `Z`), for names that sort by time."""
    if ts.tzinfo is None:
        raise ValueError(f"a file time stamp needs an aware datetime, got naive {ts.isoformat()}")
    return ts.astimezone(UTC).strftime(_STAMP_FORMAT)


def _taken_at(backup: Path) -> datetime:
    stamp = backup.name[len(_PREFIX) : -len(_SUFFIX)]
    return datetime.strptime(stamp, _STAMP_FORMAT).replace(tzinfo=UTC)


def fsync_directory(directory: Path) -> None:
    """Make a rename or a new file in `directory` durable; POSIX only (Windows cannot open a folder to fsync it
    and makes renames durable itself)."""
    if os.name != "posix":
        return
    try:
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as exc:
        # the file itself is on disk; a crash now could at worst lose its newest name, which callers survive (and
        # raising would make a trade-log append that is already verified on disk be written twice by its retry)
        logger.warning("could not fsync directory {}: {}", directory, exc)


class Backups:
    """The backups of one journal in `directory`; `take` adds one and drops all but the newest `keep`."""

    def __init__(self, directory: Path, *, keep: int = 5, clock: Callable[[], datetime]) -> None:
        if keep < 1:
            raise ValueError(f"keep must be >= 1, got {keep}")
        self.directory = directory
        self.keep = keep
        self._clock = clock

    def take(self, journal: Journal) -> Path:
        """Write a verified backup of `journal` and prune; raises `JournalError` (and keeps every older backup)
        when it cannot be written or fails its check."""
        target = self.directory / f"{_PREFIX}{file_stamp(self._next_time())}{_SUFFIX}"
        journal.backup(target)
        fsync_directory(self.directory)
        self._prune()
        # hourly and routine (the journal's and the paper account's): a healthy hour's INFO is for trading
        logger.debug("journal backup {} written", target.name)
        return target

    def list(self) -> builtins.list[Path]:
        """The backups in the folder, newest first (other files in it are ignored)."""
        try:
            names = [entry.name for entry in self.directory.iterdir() if _NAME.fullmatch(entry.name)]
        except FileNotFoundError:
            return []
        return [self.directory / name for name in sorted(names, reverse=True)]

    def newest_good(self) -> Path | None:
        """The newest backup that opens and passes quick_check; damaged ones are skipped with a warning."""
        for path in self.list():
            try:
                problems = check_file(path)
            except sqlite3.Error as exc:
                problems = f"cannot be read: {exc}"
            if not problems:
                return path
            logger.warning("journal backup {} is damaged ({}); trying an older one", path, problems)
        return None

    def _next_time(self) -> datetime:
        # A clock that stepped back (NTP) or did not move must not give a name that sorts before (or onto) the
        # newest backup: pruning would then drop the backup just taken and keep an older one.
        now = self._clock()
        existing = self.list()
        if not existing:
            return now
        return max(now, _taken_at(existing[0]) + timedelta(microseconds=1))

    def _prune(self) -> None:
        for path in self.list()[self.keep :]:
            try:
                path.unlink()
            except OSError as exc:
                # e.g. Windows while someone has the file open; the next backup tries again
                logger.warning("could not remove old journal backup {}: {}", path, exc)
