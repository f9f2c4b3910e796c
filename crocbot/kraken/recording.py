"""Recording WS frames to JSON lines, and replaying a recording through the codec and the books.

A recording holds one JSON object per line: `{"t": "<receive time, RFC3339 UTC, microseconds>", "dir": "in" |
"out", "frame": "<the exact text frame>"}`. `verify_recording` runs every `in` frame through a fresh codec and
fresh L2 books, with each book's subscribed depth taken from the recorded subscribe requests or acks, and the
instrument precisions from an `instrument` frame in the file when there is one, else from a catalog.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from crocbot.core.messages import BookUpdate
from crocbot.kraken.book import DEPTHS, Apply, L2Book
from crocbot.kraken.codec import Codec
from crocbot.kraken.instruments import Catalog
from crocbot.kraken.wire import Ack, InstrumentUpdate, Malformed

__all__ = ["Recorder", "ReplaySummary", "verify_recording", "read_recording"]


class Recorder:
    """Appends frames to a JSON-lines file; safe to call from the receive thread and senders at once."""

    def __init__(self, path: Path, *, now: Any = None) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._handle: TextIO = path.open("a", encoding="utf-8")
        self._lock = threading.Lock()
        self._now = now or (lambda: datetime.now(UTC))
        self.frames = 0

    def __call__(self, direction: str, frame: str) -> None:
        stamp = self._now().astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        line = json.dumps({"t": stamp, "dir": direction, "frame": frame}, ensure_ascii=False)
        with self._lock:
            self._handle.write(line + "\n")
            self.frames += 1

    def close(self) -> None:
        with self._lock:
            self._handle.flush()
            self._handle.close()


def read_recording(path: Path) -> Iterator[tuple[str, str, str]]:
    """(time, direction, frame) per line; a damaged line is skipped here and counted by the verifier."""
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            try:
                row = json.loads(line)
                yield str(row["t"]), str(row["dir"]), str(row["frame"])
            except (ValueError, KeyError, TypeError):
                yield "", "bad", line


@dataclass
class ReplaySummary:
    """What a replay found. A recording verifies when every line parsed and every book checksum matched."""

    frames: int = 0
    channels: Counter[str] = field(default_factory=Counter)
    book_messages: int = 0
    checksums_ok: int = 0
    checksum_mismatches: int = 0
    unverified: int = 0  # book updates after a mismatch, before the next snapshot: nothing to check them against
    malformed: int = 0
    bad_lines: int = 0
    symbols: set[str] = field(default_factory=set)
    mismatched: list[str] = field(default_factory=list)  # the frames whose checksum failed (first 20)

    @property
    def problems(self) -> list[str]:
        """Why the recording does not verify, one phrase each (empty: it does)."""
        counts = (
            (self.checksum_mismatches, "book checksum mismatches"),
            (self.unverified, "book updates not verifiable after a mismatch"),
            (self.bad_lines, "damaged or truncated lines"),
            (self.malformed, "malformed frames"),
        )
        return [f"{count} {what}" for count, what in counts if count]

    def as_json(self) -> dict[str, Any]:
        return {
            "frames": self.frames,
            "frames_per_channel": dict(sorted(self.channels.items())),
            "book_messages": self.book_messages,
            "checksums_ok": self.checksums_ok,
            "checksum_mismatches": self.checksum_mismatches,
            "unverified_after_mismatch": self.unverified,
            "malformed": self.malformed,
            "bad_lines": self.bad_lines,
            "symbols": sorted(self.symbols),
        }


def _depths_from_request(frame: str, depths: dict[str, int]) -> None:
    try:
        message = json.loads(frame)
    except ValueError:
        return
    params = message.get("params") if isinstance(message, dict) else None
    if not isinstance(params, dict) or message.get("method") != "subscribe" or params.get("channel") != "book":
        return
    depth = params.get("depth", 10)
    for symbol in params.get("symbol") or ():
        if depth in DEPTHS:
            depths[str(symbol)] = depth


def verify_recording(path: Path, catalog: Catalog | None = None) -> ReplaySummary:
    summary = ReplaySummary()
    codec = Codec()
    catalog = catalog or Catalog()
    file_catalog = Catalog()
    depths: dict[str, int] = {}
    books: dict[str, L2Book] = {}
    for _, direction, frame in read_recording(path):
        if direction == "bad":
            summary.bad_lines += 1
            continue
        if direction == "out":
            _depths_from_request(frame, depths)
            continue
        summary.frames += 1
        for message in codec.decode(frame):
            if isinstance(message, Malformed):
                summary.malformed += 1
            elif isinstance(message, InstrumentUpdate):
                file_catalog.update_from_ws({"assets": message.assets, "pairs": message.pairs})
            elif isinstance(message, Ack) and message.success and message.channel == "book" and message.symbol:
                depth = (message.result or {}).get("depth")
                if depth in DEPTHS:
                    depths[message.symbol] = int(depth)
            elif isinstance(message, BookUpdate):
                summary.book_messages += 1
                summary.symbols.add(message.symbol)
                book = books.get(message.symbol)
                if book is None or (message.snapshot and book.depth != depths.get(message.symbol, book.depth)):
                    instrument = file_catalog.get(message.symbol) or catalog.get(message.symbol)
                    book = books[message.symbol] = L2Book(
                        message.symbol,
                        depths.get(message.symbol, 10),
                        price_precision=instrument.price_precision if instrument else None,
                        qty_precision=instrument.qty_precision if instrument else None,
                    )
                result = book.apply(message)
                if result is Apply.OK and message.checksum is not None:
                    summary.checksums_ok += 1
                elif result is Apply.MISMATCH:
                    summary.checksum_mismatches += 1
                    if len(summary.mismatched) < 20:
                        summary.mismatched.append(frame)
                elif result is Apply.WAITING:
                    summary.unverified += 1
    summary.channels = codec.per_channel
    summary.malformed = codec.malformed
    return summary
