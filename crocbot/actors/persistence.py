"""Persistence: the single writer of the journal (SQLite) and the trade log (JSON lines).

Other actors `ask` it and wait: when the answer comes back, the record is durable (committed with
synchronous=FULL, or flushed and fsynced). A failure comes back as an exception, so the asker can halt entries;
nothing is dropped silently. The journal is opened in `started()`, so a restart reopens it (and a corrupt file
is reported at once).

A full disk or a read-only journal (`JournalUnwritable`) is answered as an error, and the asker keeps the record
to send again; a fill is written to the trade log at once all the same, so that it is on disk somewhere even if
crocbot stops before the journal takes writes again (the reconciler backfills the journal from the trade log at
the next start). A trade-log line that cannot be written after its journal record was committed is written when
the record comes again. Either way each fill and each trade is logged once.

A `RecordBatch` is one journal transaction (one commit, all its records or none of them), then the same trade-log
lines its records would have had one by one; a full disk or a read-only journal rolls it all back, and its fills
are logged ahead as a single fill's are. `KnownFill` is a read: does the journal hold the fill?
"""

from __future__ import annotations

import contextlib
import time
from pathlib import Path
from typing import Any, TypeGuard, assert_never, get_args

from loguru import logger

from crocbot.actors.base import ChildContext
from crocbot.actors.guarded_file import BackupDue, GuardedFileActor
from crocbot.actors.messages import FillsOnlyLogged, LogFillAhead, ReadJournal
from crocbot.core.messages import Fill
from crocbot.core.messages.journal import (
    JournalRecord,
    KnownFill,
    LoadState,
    RecordAmend,
    RecordBatch,
    RecordEvent,
    RecordFill,
    RecordIntent,
    RecordPositionChanged,
    RecordPositionClosed,
    RecordPositionOpened,
    RecordStop,
    SaveState,
)
from crocbot.ops import failpoints
from crocbot.ops.metrics import METRICS, Metrics
from crocbot.store.backups import Backups
from crocbot.store.guarded import GuardedJournal
from crocbot.store.journal import Journal, JournalUnwritable
from crocbot.store.recovery import missing_fills, unlogged_fills
from crocbot.store.tradelog import TradeLog, TradeLogError, fill_from_record, fill_record, trade_record

__all__ = ["Persistence", "ReadJournal", "FillsOnlyLogged", "LogFillAhead"]


# Every record that changes the journal, each durable (committed, synchronous=FULL) on return; read from the union
# so that a record added to it cannot fall through to "ignored".
_RECORDS: tuple[type, ...] = get_args(JournalRecord)
# Timed for `crocbot_journal_write_seconds`: a batch once, as one transaction.
_WRITES = (*_RECORDS, RecordBatch)
COMMITS_METRIC = "crocbot_journal_commits_total"


def _is_record(message: object) -> TypeGuard[JournalRecord]:
    return isinstance(message, _RECORDS)


class Persistence(GuardedFileActor):
    def __init__(
        self,
        ctx: ChildContext,
        journal_path: Path,
        trade_log_path: Path,
        *,
        backup_dir: Path | None = None,
        backup_every: float = 3600.0,
        keep_backups: int = 5,
        metrics: Metrics = METRICS,
    ) -> None:
        super().__init__(ctx)
        self._write_seconds = metrics.histogram("crocbot_journal_write_seconds")
        self._commits = metrics.counter(COMMITS_METRIC)
        self._journal_path = journal_path
        self._trade_log_path = trade_log_path
        self._backups = Backups(backup_dir or journal_path.parent / "backups", keep=keep_backups, clock=self.clock.now)
        self._backup_every = backup_every
        self._store: GuardedJournal | None = None
        self._journal: Journal | None = None  # the store's
        self._trade_log: TradeLog | None = None
        self._logged_only: set[str] = set()  # fill ids in the trade log that the journal has not taken yet
        self._unlogged: set[str] = set()  # fill and trade ids journaled whose trade-log line failed

    def started(self) -> None:
        self._repair_trade_log()
        self._store = GuardedJournal.open(self._journal_path, self._backups, clock=self.clock.now, what="journal")
        journal = self._journal = self._store.db
        missing = missing_fills(journal, self._trade_log_path)
        self._logged_only = {str(record["fill_id"]) for record in missing}  # journaling them must not log them again
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
        self._log_unlogged_fills(journal, self._trade_log)
        self._start_backups()

    def _log_unlogged_fills(self, journal: Journal, trade_log: TradeLog) -> None:
        """A crash between the journal's commit of a fill and the trade log's append left the log short: append
        those fills now, marked backfilled, so the log stays a complete record for scripts and audits."""
        unlogged = unlogged_fills(journal, self._trade_log_path)
        for fill in unlogged:
            order = journal.order(fill.cl_ord_id)
            position_id = order.position_id if order is not None else None
            trade_log.append(fill_record(fill, position_id=position_id, backfilled=True))
        if unlogged:
            logger.warning(
                "trade log: {} journaled fills were missing from it (a crash before the append); appended them, "
                "marked backfilled: {}",
                len(unlogged),
                ", ".join(f.fill_id for f in unlogged[:10]),
            )

    def _fills_only_logged(self) -> list[Fill]:
        assert self._journal is not None
        out: list[Fill] = []
        for record in missing_fills(self._journal, self._trade_log_path):
            try:
                out.append(fill_from_record(record))
            except (KeyError, ValueError) as error:
                logger.error("trade log: fill record {} cannot be read back ({})", record.get("fill_id"), error)
        return out

    def _record(
        self, journal: Journal, trade_log: TradeLog, records: tuple[JournalRecord, ...], *, batch: bool
    ) -> list[bool]:
        """Journal `records` (in one transaction when `batch`), then write their trade-log lines; answers each
        record's answer, in order."""
        news: list[bool] = []
        try:
            with journal.batch(f"a batch of {len(records)} records") if batch else contextlib.nullcontext():
                news.extend(self._journal_one(journal, record) for record in records)
        except JournalUnwritable:
            for record in records:
                if isinstance(record, RecordFill):
                    self._log_ahead(journal, trade_log, record)  # the asker keeps it for the journal; on disk meanwhile
            raise
        if any(isinstance(record, RecordFill) for record in records):
            failpoints.hit("persistence.after_fill_commit")  # crash tests: journaled, not in the trade log
        self._log_committed(trade_log, records, news)
        return [new if isinstance(record, RecordFill) else True for record, new in zip(records, news, strict=True)]

    @staticmethod
    def _journal_one(journal: Journal, record: JournalRecord) -> bool:
        """Write one record (inside the open batch, if any); False for a replayed fill or closed trade."""
        if isinstance(record, RecordIntent):
            journal.record_intent(
                record.intent, position_id=record.position_id, reason=record.reason, brackets=record.brackets
            )
        elif isinstance(record, RecordEvent):
            journal.record_order_event(record.event)
        elif isinstance(record, RecordAmend):
            journal.record_amend(record.amended)
        elif isinstance(record, RecordFill):
            return journal.record_fill(record.fill, backfilled=record.backfilled)
        elif isinstance(record, RecordPositionOpened):
            journal.open_position(record.position)
        elif isinstance(record, RecordStop):
            journal.update_stop(record.position_id, record.stop, record.kind, record.ts, record.stop_cl_ord_id)
        elif isinstance(record, RecordPositionChanged):
            journal.update_position(record.position_id, record.qty, record.entry_price)
        elif isinstance(record, RecordPositionClosed):
            return journal.close_position(record.position_id, record.ts, record.trade)
        elif isinstance(record, SaveState):
            journal.save_state(record.key, record.value)
        else:
            assert_never(record)
        return True

    def _log_committed(self, trade_log: TradeLog, records: tuple[JournalRecord, ...], news: list[bool]) -> None:
        """The trade-log lines of committed records. Every line is tried even after one fails (each failure is
        remembered in `_unlogged`, for when the asker sends the records again), then the first failure is raised."""
        failure: TradeLogError | None = None
        for record, new in zip(records, news, strict=True):
            try:
                if isinstance(record, RecordFill):
                    fill = record.fill
                    if fill.fill_id in self._logged_only:
                        self._logged_only.discard(fill.fill_id)  # logged when the journal could not take it
                    elif new or fill.fill_id in self._unlogged:  # a replayed fill is in the trade log already
                        line = fill_record(fill, position_id=record.position_id, backfilled=record.backfilled)
                        self._append_line(trade_log, fill.fill_id, line)
                elif isinstance(record, RecordPositionClosed):
                    trade = record.trade
                    # a replayed close is logged already
                    if trade is not None and (new or trade.trade_id in self._unlogged):
                        self._append_line(trade_log, trade.trade_id, trade_record(trade, record.context))
            except TradeLogError as error:
                failure = failure or error
        if failure is not None:
            raise failure

    def _log_ahead(self, journal: Journal, trade_log: TradeLog, message: RecordFill) -> bool:
        fill = message.fill
        if fill.fill_id in self._logged_only or journal.has_fill(fill.fill_id):
            return True
        record = fill_record(fill, position_id=message.position_id, backfilled=message.backfilled)
        try:
            trade_log.append(record)
        except TradeLogError as error:
            logger.critical("fill {} is in neither the journal nor the trade log yet: {}", fill.fill_id, error)
            return False
        self._logged_only.add(fill.fill_id)
        return True

    def _append_line(self, trade_log: TradeLog, key: str, record: dict[str, Any]) -> None:
        """Append a line whose journal record is committed; if that fails, the asker sends the record again."""
        try:
            trade_log.append(record)
        except TradeLogError:
            self._unlogged.add(key)
            raise
        self._unlogged.discard(key)

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

    @staticmethod
    def _alert(message: str) -> None:
        logger.critical("trade log: {}", message)

    def handle(self, message: Any) -> Any:
        started = time.perf_counter()  # wall time: the disk's latency, whatever the event clock does
        commits = self._journal.commits if self._journal is not None else 0
        try:
            return self._handle(message)
        finally:
            if isinstance(message, _WRITES):
                self._write_seconds.observe(time.perf_counter() - started)
            if self._journal is not None:  # a `ReadJournal` may write too
                self._commits.inc(self._journal.commits - commits)

    def _handle(self, message: Any) -> Any:
        journal, trade_log = self._journal, self._trade_log
        assert journal is not None
        assert trade_log is not None
        if isinstance(message, BackupDue):
            self._backup_due()
            return None
        if _is_record(message):
            return self._record(journal, trade_log, (message,), batch=False)[0]
        if isinstance(message, RecordBatch):
            if not message.records:
                return ()
            return tuple(self._record(journal, trade_log, message.records, batch=True))
        if isinstance(message, KnownFill):
            return journal.has_fill(message.fill_id)
        if isinstance(message, LoadState):
            return journal.load_state(message.key)
        if isinstance(message, ReadJournal):
            return message.read(journal)
        if isinstance(message, LogFillAhead):
            return self._log_ahead(journal, trade_log, message.fill)
        if isinstance(message, FillsOnlyLogged):
            return self._fills_only_logged()
        return super().handle(message)
