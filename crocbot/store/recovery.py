"""Opening the journal at start-up: a damaged journal is set aside and the newest verified backup put in its place.

What counts as damaged: the file fails SQLite's quick_check or is not a database (cut off, flipped bytes, a
checkpoint torn by a crash and its -wal lost), the journal file is gone while its -wal still holds commits, or it
is empty although a verified backup exists. Damaged files are moved, never deleted, to
`<state dir>/corrupt/<UTC time>/`. When no verified backup exists the damaged files stay where they are and the
start fails with advice: a restarted crocbot must not quietly begin with an empty journal.

What SQLite does not count as damage: a -wal that was deleted, or damaged after a valid prefix, loses the commits
it alone held, and the file opens cleanly without them. The trade log still has those fills; `missing_fills`
lists them for the reconciler to backfill.

A restore copies the backup to `<journal>.restoring` first and renames it into place only after the damaged
files are moved away, so a crash between the two leaves a complete copy that the next start finishes with, not a
missing journal that would look like a first start.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from loguru import logger

from crocbot.core.messages import Fill
from crocbot.store.backups import Backups, file_stamp, fsync_directory
from crocbot.store.journal import Journal
from crocbot.store.journal.integrity import JournalCorrupt, JournalError, check_file
from crocbot.store.tradelog import TradeLog

__all__ = ["RecoveryReport", "open_journal", "missing_fills", "unlogged_fills"]


@dataclass(frozen=True)
class RecoveryReport:
    """What `open_journal` found and did: the backup it restored (None when the journal opened as it was), where
    the damaged files went, and what was wrong or worth knowing ('' when nothing)."""

    restored_from: Path | None = None
    quarantined: tuple[Path, ...] = ()
    problems: str = ""

    def text(self) -> str:
        """One line for the log."""
        if self.restored_from is not None:
            line = f"journal was damaged ({self.problems}); restored from backup {self.restored_from}"
        elif self.problems:
            line = f"journal opened: {self.problems}"
        else:
            line = "journal opened and passed its integrity check"
        if self.quarantined:
            line += f"; damaged files kept in {self.quarantined[0].parent}"
        return " ".join(line.split())


def open_journal(path: Path, backups: Backups, *, clock: Callable[[], datetime]) -> tuple[Journal, RecoveryReport]:
    """Open the journal at `path`, restoring the newest good backup in place of a damaged one (see the module
    docstring). Raises `JournalCorrupt` when it is damaged and no backup can replace it, and `JournalError` when
    it cannot be opened for another reason (those are not fixed by a restore)."""
    restoring = _sidecar(path, ".restoring")
    if not path.exists() and restoring.exists():
        return _finish_restore(path, restoring, backups, clock)
    restoring.unlink(missing_ok=True)  # a copy from a restore that never started its moves: the backup has it
    damage, note = _inspect(path, backups)
    if not damage:
        try:
            journal = Journal(path)
        except JournalCorrupt as exc:
            damage = exc.detail  # sound when read alone, damaged once opened for writing (e.g. in the -wal)
        else:
            report = RecoveryReport(problems=note)
            if note:
                logger.warning("{}", report.text())
            return journal, report
    return _replace_damaged(path, backups, damage, clock)


def missing_fills(journal: Journal, trade_log_path: Path) -> list[dict[str, Any]]:
    """Fill records of the trade log whose fill_id the journal lacks, in log order, each fill_id once; a missing
    trade log lacks nothing."""
    try:
        records = TradeLog.read(trade_log_path)
    except FileNotFoundError:
        return []
    known = journal.fill_ids()
    missing: list[dict[str, Any]] = []
    for record in records:
        fill_id = record.get("fill_id")
        if record.get("type") != "fill" or not isinstance(fill_id, str) or fill_id in known:
            continue
        known.add(fill_id)
        missing.append(record)
    return missing


def unlogged_fills(journal: Journal, trade_log_path: Path) -> list[Fill]:
    """Journaled fills the trade log lacks (a crash between the journal's commit and the log's append), oldest
    first."""
    try:
        logged = {r.get("fill_id") for r in TradeLog.read(trade_log_path) if r.get("type") == "fill"}
    except FileNotFoundError:
        logged = set()
    return [fill for fill in journal.fills() if fill.fill_id not in logged]


def _inspect(path: Path, backups: Backups) -> tuple[str, str]:
    """(what makes the files at `path` damaged or '', a note worth logging or ''), read-only."""
    wal = _sidecar(path, "-wal")
    wal_size = wal.stat().st_size if wal.exists() else 0
    if not path.exists():
        if wal_size:
            return f"{path.name} is missing while {wal.name} still holds {wal_size} bytes of its commits", ""
        if backups.list():
            return "", (
                f"there was no journal at {path}, so a new, empty one was started although backups exist in "
                f"{backups.directory}; restore one by hand if the journal was not meant to be new"
            )
        return "", ""
    if path.stat().st_size == 0 and not wal_size:
        # SQLite opens an empty file as a new database: right after a first start that crashed before SQLite
        # wrote anything, wrong for a journal cut to nothing; a verified backup tells the two apart
        if backups.newest_good() is not None:
            return f"{path.name} is empty (0 bytes) although a verified backup of it exists", ""
        return "", ""
    # the read-only check creates a -wal and -shm that were missing; they are removed again so that the
    # quarantine holds what the crash left, and a restored journal is not paired with a stranger's -shm
    created = [sidecar for sidecar in (wal, _sidecar(path, "-shm")) if not sidecar.exists()]
    try:
        return check_file(path), ""
    except sqlite3.Error as exc:
        # not damage SQLite can see (a lock, a folder without access): opening it says what is wrong
        logger.warning("journal {}: read-only integrity check could not run ({})", path, exc)
        return "", ""
    finally:
        for sidecar in created:
            with contextlib.suppress(OSError):  # left behind, it is merely moved with the rest or reused
                sidecar.unlink(missing_ok=True)


def _replace_damaged(
    path: Path, backups: Backups, damage: str, clock: Callable[[], datetime]
) -> tuple[Journal, RecoveryReport]:
    good = backups.newest_good()
    if good is None:
        raise JournalCorrupt(_no_backup_advice(path, backups, damage), damage)
    restoring = _sidecar(path, ".restoring")
    try:
        _copy_durably(good, restoring)
        quarantined = _quarantine(path, clock)
        restoring.replace(path)
    except OSError as exc:
        raise JournalError(
            f"journal {path} is damaged ({damage}) and putting backup {good} in its place failed ({exc}); fix "
            f"that (free space, permissions, a program holding the files open) and start again"
        ) from exc
    fsync_directory(path.parent)
    journal = _open_restored(path, f"the backup {good}", backups, quarantined)
    report = RecoveryReport(restored_from=good, quarantined=quarantined, problems=damage)
    logger.error("{}", report.text())
    return journal, report


def _finish_restore(
    path: Path, restoring: Path, backups: Backups, clock: Callable[[], datetime]
) -> tuple[Journal, RecoveryReport]:
    # the damaged journal's -wal may not have been moved yet: SQLite would replay it onto the restored copy
    leftovers = _quarantine(path, clock)
    restoring.replace(path)
    fsync_directory(path.parent)
    # which backup it was is not recorded anywhere; the log of the interrupted start names it
    report = RecoveryReport(
        quarantined=leftovers,
        problems=f"finished a restore from backup that was interrupted after the damaged journal was moved to "
        f"{path.parent / 'corrupt'}",
    )
    journal = _open_restored(path, "the backup copy of an interrupted restore", backups, leftovers)
    logger.error("{}", report.text())
    return journal, report


def _open_restored(path: Path, source: str, backups: Backups, quarantined: tuple[Path, ...]) -> Journal:
    try:
        return Journal(path)
    except JournalCorrupt as exc:
        kept = f" (the damaged journal is kept in {quarantined[0].parent})" if quarantined else ""
        raise JournalCorrupt(
            f"journal {path}: {source}, put in place of the damaged journal{kept}, fails its integrity check as "
            f"well ({exc.detail}). Stop crocbot, move {path.name} aside, copy an older backup from "
            f"{backups.directory} to {path} and start again.",
            exc.detail,
        ) from exc


def _quarantine(path: Path, clock: Callable[[], datetime]) -> tuple[Path, ...]:
    """Move those of the journal, its -wal and its -shm that exist into a new `corrupt/<time>/` folder beside it
    and return where they went. The journal goes first: interrupted, that leaves a -wal without its journal,
    which the next start moves too before it uses the journal's place."""
    sources = [source for source in (path, _sidecar(path, "-wal"), _sidecar(path, "-shm")) if source.exists()]
    if not sources:
        return ()
    folder = _new_folder(path.parent / "corrupt", file_stamp(clock()) + "Z")
    moved: list[Path] = []
    for source in sources:
        target = folder / source.name
        shutil.move(source, target)
        moved.append(target)
    fsync_directory(folder)
    fsync_directory(path.parent)
    return tuple(moved)


def _new_folder(parent: Path, name: str) -> Path:
    parent.mkdir(parents=True, exist_ok=True)
    for attempt in range(1, 1000):
        folder = parent / (name if attempt == 1 else f"{name}-{attempt}")
        try:
            folder.mkdir()
        except FileExistsError:
            continue
        return folder
    raise FileExistsError(f"no free folder name for {name} in {parent}")


def _copy_durably(source: Path, target: Path) -> None:
    # under a temporary name first: `target` exists only complete, because the next start trusts it as it is
    partial = _sidecar(target, "-partial")
    shutil.copyfile(source, partial)
    with partial.open("rb+") as handle:
        os.fsync(handle.fileno())
    partial.replace(target)


def _sidecar(path: Path, suffix: str) -> Path:
    return path.with_name(path.name + suffix)


def _no_backup_advice(path: Path, backups: Backups, damage: str) -> str:
    return (
        f"journal {path} is damaged ({damage}) and there is no verified backup in {backups.directory} to put in "
        "its place. crocbot does not replace a damaged journal with an empty one by itself, so it stops here; the "
        f"damaged files are untouched. To go on: stop crocbot and move {path.name} (with any {path.name}-wal and "
        f"{path.name}-shm) out of {path.parent}, keeping them for analysis. Then either put a repaired copy at "
        f"{path} (for example: sqlite3 <damaged copy> .recover | sqlite3 {path}), or start crocbot with no "
        "journal there to begin an empty one: the reconciler rebuilds open orders and positions from the venue, "
        "and the trade log still lists every fill."
    )
