"""Persistence: the single writer of the journal (SQLite) and the trade log (JSON lines).

Other actors `ask` it and wait: when the answer comes back, the record is durable (committed with
synchronous=FULL, or flushed and fsynced). A failure comes back as an exception, so the asker can halt entries;
nothing is dropped silently. The journal is opened in `started()`, so a restart reopens it (and a corrupt file
is reported at once).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from loguru import logger

from crocbot.actors.base import ChildContext, SupervisedActor
from crocbot.core.messages.journal import (
    LoadState,
    RecordAmend,
    RecordEvent,
    RecordFill,
    RecordIntent,
    RecordPositionChanged,
    RecordPositionClosed,
    RecordPositionOpened,
    RecordStop,
    SaveState,
)
from crocbot.store.journal import Journal
from crocbot.store.tradelog import TradeLog, fill_record, trade_record

__all__ = ["Persistence", "ReadJournal"]


@dataclass(frozen=True, slots=True)
class ReadJournal:
    """Run `read(journal)` in the persistence thread and answer its result (start-up rebuilds, status)."""

    read: Any  # Callable[[Journal], Any]


class Persistence(SupervisedActor):
    def __init__(self, ctx: ChildContext, journal_path: Path, trade_log_path: Path) -> None:
        super().__init__(ctx)
        self._journal_path = journal_path
        self._trade_log_path = trade_log_path
        self._journal: Journal | None = None
        self._trade_log: TradeLog | None = None

    def started(self) -> None:
        self._journal = Journal(self._journal_path)
        self._trade_log = TradeLog(
            self._trade_log_path,
            fallback=self._trade_log_path.with_name(self._trade_log_path.stem + ".fallback.jsonl"),
            alert=self._alert,
        )

    def stopping(self) -> None:
        if self._journal is not None:
            self._journal.close()

    def crashed(self, error: BaseException) -> None:
        if self._journal is not None:
            try:
                self._journal.close()
            except Exception:  # noqa: BLE001 - the journal may be what failed; the crash is already reported
                logger.opt(exception=True).error("closing the journal after a crash failed")

    @staticmethod
    def _alert(message: str) -> None:
        logger.critical("trade log: {}", message)

    def handle(self, message: Any) -> Any:
        journal, trade_log = self._journal, self._trade_log
        assert journal is not None
        assert trade_log is not None
        if isinstance(message, RecordIntent):
            journal.record_intent(message.intent, position_id=message.position_id, reason=message.reason)
        elif isinstance(message, RecordEvent):
            journal.record_order_event(message.event)
        elif isinstance(message, RecordAmend):
            journal.record_amend(message.amended)
        elif isinstance(message, RecordFill):
            new = journal.record_fill(message.fill)
            if new:  # a replayed fill is in the trade log already
                trade_log.append(fill_record(message.fill, position_id=message.position_id))
            return new
        elif isinstance(message, RecordPositionOpened):
            journal.open_position(message.position)
        elif isinstance(message, RecordStop):
            journal.update_stop(message.position_id, message.stop, message.kind, message.ts, message.stop_cl_ord_id)
        elif isinstance(message, RecordPositionChanged):
            journal.update_position(message.position_id, message.qty, message.entry_price)
        elif isinstance(message, RecordPositionClosed):
            if journal.close_position(message.position_id, message.ts, message.trade) and message.trade is not None:
                trade_log.append(trade_record(message.trade))  # only a new trade: a replayed close is logged already
        elif isinstance(message, SaveState):
            journal.save_state(message.key, message.value)
        elif isinstance(message, LoadState):
            return journal.load_state(message.key)
        elif isinstance(message, ReadJournal):
            return message.read(journal)
        else:
            return super().handle(message)
        return True
