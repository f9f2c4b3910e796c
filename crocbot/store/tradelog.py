"""The JSONL trade log: one line per fill and per closed trade, readable by any script.

Each line is one JSON object with money as strings (`"0.00000001"`, never a float) and times as ISO-8601 UTC with
microseconds; `crocbot.store.trade_records` says what a fill's and a trade's lines hold. An append is written,
flushed, fsynced, and then read back from disk and compared byte for byte. A failed append is retried; when every
try fails the record goes to the fallback file the same way and the caller is alerted; when that fails too,
`TradeLogError` tells the caller to halt new entries. A record is never dropped without one of those outcomes.

Single writer: the Persistence actor owns the log (a lock keeps concurrent misuse from interleaving lines).

A crash can still leave the end of the file torn; `TradeLog.repair`, run before the writer starts, moves a torn
end into a file of its own and reports torn lines it finds earlier in the log.
"""

from __future__ import annotations

import errno
import json
import os
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from enum import Enum
from pathlib import Path
from typing import Any, BinaryIO

from loguru import logger

from crocbot.store.backups import fsync_directory
from crocbot.store.codec import dec_text, text_dec, text_ts, ts_text
from crocbot.store.trade_records import MONEY_FIELDS, TIME_FIELDS, fill_from_record, fill_record, trade_record

__all__ = [
    "TradeLog",
    "TradeLogError",
    "TradeLogRecords",
    "TradeLogRepair",
    "fill_record",
    "fill_from_record",
    "trade_record",
]


class TradeLogError(Exception):
    """Both the trade log and its fallback failed: the caller halts new entries and alerts."""


class TradeLogRecords(list[dict[str, Any]]):
    """The records `TradeLog.read` could parse, in file order, and which lines it could not.

    `torn` counts lines that are cut off (no trailing newline) or not a valid record; a crash during a write
    leaves at most the last line torn. They are reported here, not raised, and left for a repair step.
    """

    def __init__(self, records: list[dict[str, Any]], torn_lines: tuple[int, ...]) -> None:
        super().__init__(records)
        self.torn_lines = torn_lines  # 1-based line numbers

    @property
    def torn(self) -> int:
        return len(self.torn_lines)


@dataclass(frozen=True)
class TradeLogRepair:
    """What `TradeLog.repair` did: the size of the torn end it cut off and the file that keeps those bytes (0 and
    None when the end was sound), and the torn lines it left in place before the last valid record (1-based; the
    caller alerts on them, since a torn line there means a record may be lost)."""

    torn_tail_bytes: int = 0
    kept_in: Path | None = None
    torn_middle_lines: tuple[int, ...] = ()


class TradeLog:
    """Appends verified JSON lines to `path`, falling back to `fallback`; see the module docstring.

    `retries` is the number of further tries after a failed first write of a record, per file. Retries follow
    at once (no sleeping inside an actor); they cover short-lived errors, and the fallback covers the rest.
    """

    def __init__(
        self,
        path: Path,
        *,
        fallback: Path | None = None,
        alert: Callable[[str], None] | None = None,
        retries: int = 3,
    ) -> None:
        if retries < 0:
            raise ValueError(f"retries must be >= 0, got {retries}")
        self.path = path
        self.fallback = fallback
        self._alert = alert
        self._retries = retries
        self._lock = threading.Lock()
        self.fallback_writes = 0  # records that went to the fallback since start

    fill_record = staticmethod(fill_record)
    trade_record = staticmethod(trade_record)

    def append(self, record: Mapping[str, Any]) -> None:
        """Write `record` as one verified line; raises `TradeLogError` only when the fallback failed as well.

        A record that cannot be expressed as JSON (a float, an object) raises `TypeError` before anything is
        written: that is a bug in the caller, not a disk problem.
        """
        data = (encode_line(record) + "\n").encode("utf-8")
        with self._lock:
            error = self._append_with_retries(self.path, data)
            if error is None:
                return
            logger.error("trade log {}: append failed after {} tries: {}", self.path.name, self._retries + 1, error)
            if self.fallback is None:
                raise TradeLogError(f"trade log {self.path}: {error}; no fallback configured")
            fallback_error = self._append_with_retries(self.fallback, data)
            if fallback_error is not None:
                logger.critical("trade log fallback {}: append failed too: {}", self.fallback.name, fallback_error)
                raise TradeLogError(f"trade log {self.path}: {error}; fallback {self.fallback}: {fallback_error}")
            self.fallback_writes += 1
            self._send_alert(f"trade log {self.path} failed ({error}); record written to {self.fallback}")

    def _append_with_retries(self, path: Path, data: bytes) -> str | None:
        """None once `data` is on disk and verified, else a short description of the last error."""
        error = ""
        for _attempt in range(self._retries + 1):
            try:
                _append_verified(path, data)
            except OSError as exc:
                error = f"{type(exc).__name__}: {exc.strerror or exc}"
                if exc.errno == errno.ENOSPC:
                    error += " (the disk is full: free space on it)"
            else:
                return None
        return error

    def _send_alert(self, message: str) -> None:
        if self._alert is None:
            return
        try:
            self._alert(message)
        except Exception:  # noqa: BLE001 - the record is safe in the fallback; a broken notifier must not undo that
            logger.exception("trade log: the alert callback failed")

    @staticmethod
    def read(path: Path) -> TradeLogRecords:
        """Every complete record in `path`, money as `Decimal` and times as `datetime`; torn lines are counted
        in the result's `torn`, not raised. A missing file raises `FileNotFoundError`."""
        data = path.read_bytes()
        lines = data.split(b"\n")
        # after the last newline there is either nothing (a clean end) or a line whose write never finished
        tail = lines.pop()
        records: list[dict[str, Any]] = []
        torn: list[int] = []
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            record = decode_line(line)
            if record is None:
                torn.append(number)
            else:
                records.append(record)
        if tail.strip():
            torn.append(len(lines) + 1)
        return TradeLogRecords(records, tuple(torn))

    @staticmethod
    def repair(path: Path, *, now: datetime | None = None) -> TradeLogRepair:
        """Cut a torn end off the log at `path`, keeping its bytes in `<name>.torn-<UTC time>Z` beside it.

        The torn end is everything after the last line that holds a valid record, when that is more than
        whitespace: usually one line cut off by a crash, sometimes after complete lines that are no records
        (zeros a filesystem left after a power cut). Taking all of it, not just the last line, makes a second
        repair a no-op. Torn lines before the last valid record are left as they are and reported. `now` names
        the kept file (the wall clock when None). Run it before the log's writer starts; a missing file is fine.
        """
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return TradeLogRepair()
        end, torn_middle = _scan_for_torn(data)
        tail = data[end:]
        if not tail.strip():
            return TradeLogRepair(torn_middle_lines=torn_middle)
        kept_in = _keep_torn(path, tail, datetime.now(UTC) if now is None else now)
        with path.open("r+b") as handle:
            handle.truncate(end)
            handle.flush()
            os.fsync(handle.fileno())
        fsync_directory(path.parent)
        logger.warning("trade log {}: cut off a torn end of {} bytes, kept in {}", path.name, len(tail), kept_in.name)
        return TradeLogRepair(torn_tail_bytes=len(tail), kept_in=kept_in, torn_middle_lines=torn_middle)


def _scan_for_torn(data: bytes) -> tuple[int, tuple[int, ...]]:
    """(the offset just past the last line holding a valid record, the torn lines before that line)."""
    end = 0
    last_valid = 0
    torn: list[int] = []
    start = 0
    number = 0
    while (newline := data.find(b"\n", start)) >= 0:
        number += 1
        line = data[start:newline]
        if line.strip():
            if decode_line(line) is None:
                torn.append(number)
            else:
                end, last_valid = newline + 1, number
        start = newline + 1
    return end, tuple(line for line in torn if line < last_valid)


def _keep_torn(path: Path, tail: bytes, now: datetime) -> Path:
    """Write `tail` durably to a new sibling file named after `now` (in UTC) and return it."""
    if now.tzinfo is None:
        raise ValueError(f"trade log repair: the time must be aware, got naive {now.isoformat()}")
    name = f"{path.name}.torn-{now.astimezone(UTC).strftime('%Y%m%dT%H%M%S%f')}Z"
    for attempt in range(1, 1000):
        target = path.with_name(name if attempt == 1 else f"{name}-{attempt}")
        try:
            handle = target.open("xb")
        except FileExistsError:
            continue
        try:
            with handle:
                handle.write(tail)
                handle.flush()
                os.fsync(handle.fileno())
        except OSError:
            # a partial copy would look like the whole torn end; the log still holds it, so drop the copy
            target.unlink(missing_ok=True)
            raise
        fsync_directory(path.parent)
        return target
    raise FileExistsError(f"trade log repair: no free name for {name} beside {path}")


def encode_line(record: Mapping[str, Any]) -> str:
    return json.dumps(_jsonable(record, "$"), ensure_ascii=False, allow_nan=False, separators=(",", ":"))


def decode_line(line: bytes) -> dict[str, Any] | None:
    """A parsed record, or None when the line is not one (cut off, not JSON, or a field that does not parse)."""
    try:
        value = json.loads(line.decode("utf-8"), parse_float=Decimal)
        if not isinstance(value, dict):
            return None
        kind = str(value.get("type"))
        for key in MONEY_FIELDS.get(kind, ()):
            if value.get(key) is not None:
                value[key] = text_dec(str(value[key]))
        for key in TIME_FIELDS.get(kind, ()):
            if value.get(key) is not None:
                value[key] = text_ts(str(value[key]))
    except (UnicodeDecodeError, ValueError, TypeError):
        return None
    return value


def _jsonable(value: Any, where: str) -> Any:
    if value is None or isinstance(value, bool | int | str):
        return value.value if isinstance(value, Enum) else value
    if isinstance(value, Decimal):
        return dec_text(value)  # a string: a reader's JSON parser would otherwise turn it into a float
    if isinstance(value, datetime):
        return ts_text(value)
    if isinstance(value, Enum):
        return _jsonable(value.value, where)
    if isinstance(value, Mapping):
        return {str(key): _jsonable(item, f"{where}.{key}") for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(item, f"{where}[{index}]") for index, item in enumerate(value)]
    raise TypeError(f"trade log {where}: cannot write {type(value).__name__} (money is Decimal, never float)")


def _append_verified(path: Path, data: bytes) -> None:
    """Append, flush, fsync, then read the bytes back from the file and compare; OSError on any failure, after
    cutting the file back to where it was (best effort) so a failed try leaves no half record behind."""
    path.parent.mkdir(parents=True, exist_ok=True)
    created = not path.exists()
    # "a+b": every write goes to the end (O_APPEND), and the same handle can seek back to verify and to cut back
    with path.open("a+b") as handle:
        start = handle.seek(0, os.SEEK_END)
        prefix = b""
        if start:
            handle.seek(start - 1)
            if handle.read(1) != b"\n":
                # an earlier write was cut off (a crash): end that fragment so it cannot swallow this record
                prefix = b"\n"
        try:
            handle.write(prefix + data)
            handle.flush()
            os.fsync(handle.fileno())
            handle.seek(start + len(prefix))
            written = handle.read(len(data))
            if written != data:
                raise OSError(f"read-back of {path.name} at offset {start} does not match what was written")
        except OSError:
            _truncate_quietly(handle, start)
            raise
    if created:
        fsync_directory(path.parent)


def _truncate_quietly(handle: BinaryIO, size: int) -> None:
    # if even this fails, the prefix rule above keeps the fragment on a line of its own, where `read` counts it
    try:
        handle.truncate(size)
        handle.flush()
        os.fsync(handle.fileno())
    except OSError:
        logger.warning("trade log: could not cut back a failed write")
