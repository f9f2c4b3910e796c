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
from crocbot.store.backups import Backups
from crocbot.store.journal import Journal
from crocbot.store.recovery import missing_fills, open_journal
from crocbot.store.tradelog import TradeLog, fill_record, trade_record

__all__ = ["Persistence", "ReadJournal"]


@dataclass(frozen=True, slots=True)
class ReadJournal:
    """Run `read(journal)` in the persistence thread and answer its result (start-up rebuilds, status)."""

    read: Any  # Callable[[Journal], Any]


@dataclass(frozen=True, slots=True)
class _Backup:
    """Timer: time for a verified backup of the journal."""


class Persistence(SupervisedActor):
    def __init__(
        self,
        ctx: ChildContext,
        journal_path: Path,
        trade_log_path: Path,
        *,
        backup_dir: Path | None = None,
        backup_every: float = 3600.0,
        keep_backups: int = 5,
    ) -> None:
        super().__init__(ctx)
        self._journal_path = journal_path
        self._trade_log_path = trade_log_path
        self._backups = Backups(backup_dir or journal_path.parent / "backups", keep=keep_backups, clock=self.clock.now)
        self._backup_every = backup_every
        self._journal: Journal | None = None
        self._trade_log: TradeLog | None = None

    def started(self) -> None:
        self._repair_trade_log()
        journal, report = open_journal(self._journal_path, self._backups, clock=self.clock.now)
        self._journal = journal
        if report.restored_from is not None:
            logger.critical("journal: {}", report.text())
        elif report.problems:
            logger.warning("journal: {}", report.text())
        missing = missing_fills(journal, self._trade_log_path)
        if missing:
            ids = ", ".join(str(record["fill_id"]) for record in missing[:10])
            logger.critical(
                "journal: {} fills in the trade log are not in the journal ({}{}): they must be backfilled before "
                "the ledger can be trusted",
                len(missing),
                ids,
                ", ..." if len(missing) > 10 else "",
            )
        self._trade_log = TradeLog(
            self._trade_log_path,
            fallback=self._trade_log_path.with_name(self._trade_log_path.stem + ".fallback.jsonl"),
            alert=self._alert,
        )
        if self._backup_every > 0:
            self.send_later(self._backup_every, _Backup())

    def _repair_trade_log(self) -> None:
        repair = TradeLog.repair(self._trade_log_path)
        if repair.torn_tail_bytes:
            logger.error(
                "trade log: the last record was cut off by an interrupted write; its {} bytes were moved to {}",
                repair.torn_tail_bytes,
                repair.kept_in,
            )
        if repair.torn_middle_lines:
            lines = ", ".join(map(str, repair.torn_middle_lines))
            logger.critical(
                "trade log: unreadable lines {} in {} (left in place for analysis)", lines, self._trade_log_path
            )

    def _backup(self) -> None:
        if self._journal is None:
            return
        try:
            self._backups.take(self._journal)
        except Exception as error:  # noqa: BLE001 - a failed backup is loud but must not stop the journal
            logger.error("journal backup failed: {}", error)

    def stopping(self) -> None:
        if self._journal is not None:
            self._backup()
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
        if isinstance(message, _Backup):
            self._backup()
            self.send_later(self._backup_every, _Backup())
            return None
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
