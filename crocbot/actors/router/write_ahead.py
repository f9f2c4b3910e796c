"""The router's write-ahead queue: each event's records go to the journal as one unit, ahead of what they announce.

One `RecordBatch` per event: one durable commit (all its records, or none of them). When the journal cannot take
it now (a full disk, a read-only file, persistence restarting) the batch waits here, whole and in order, behind any
batch already waiting (a later batch never overtakes an earlier one: the journal's order stays the order of
events), and is written again when the router retries. An entry's intent never waits: an entry not journaled is not
sent, so it is taken out of a batch that has to wait. A state document replaces an older copy of itself still
waiting. A fill that waits is in the trade log meanwhile (persistence logs it ahead when a batch fails; a batch that
waits without asking is logged ahead here).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pykka
from loguru import logger

from crocbot.actors.messages import LogFillAhead
from crocbot.core.messages import OrderPurpose
from crocbot.core.messages.journal import (
    JournalRecord,
    KnownFill,
    RecordBatch,
    RecordFill,
    RecordIntent,
    RecordPositionClosed,
    SaveState,
)
from crocbot.store.journal import JournalUnwritable
from crocbot.store.tradelog import TradeLogError

__all__ = ["WriteAhead", "Outcome", "JOURNALED", "journal_unavailable", "wait_for_journal"]


def journal_unavailable(error: BaseException) -> bool:
    """A failure that may pass (a full disk, a read-only file, persistence restarting), not a refused record."""
    return isinstance(error, JournalUnwritable | TradeLogError | RuntimeError | pykka.ActorDeadError | pykka.Timeout)


@dataclass(frozen=True, slots=True)
class Outcome:
    """How an event's records fared: journaled, or waiting for the journal (`failure`: why); `refused`: the orders
    whose intent the journal refused (they are not sent)."""

    failure: BaseException | None = None
    refused: frozenset[str] = frozenset()
    new_fills: int = 0  # fills the journal had not held before


JOURNALED = Outcome()


class WriteAhead:
    """`ask` asks persistence (and raises what it raised); `failed` hears of every failure to write."""

    def __init__(self, ask: Callable[[object], Any], failed: Callable[[BaseException], None]) -> None:
        self._ask = ask
        self._failed = failed
        self._waiting: deque[tuple[JournalRecord, ...]] = deque()  # one event's records to a batch, oldest first

    @property
    def waiting(self) -> bool:
        return bool(self._waiting)

    def known_fill(self, fill_id: str) -> bool:
        """Whether the journal held this fill before it came now (a read); False when it cannot say (the ledger
        knows its recent fills), or while records wait for the journal."""
        if self._waiting:
            return False
        try:
            return bool(self._ask(KnownFill(fill_id)))
        except Exception:  # noqa: BLE001 - the write that follows finds out whether the journal works
            return False

    def commit(self, records: tuple[JournalRecord, ...]) -> Outcome:
        """Journal one event's records in one transaction."""
        if self._waiting:  # behind records that wait, a batch waits too, without asking
            failure = RuntimeError(f"{sum(map(len, self._waiting))} earlier records are still waiting for the journal")
            return self._wait(records, failure, asked=False)
        try:
            answers = self.write(records)
        except TradeLogError as error:
            # The batch is journaled; only trade-log lines are missing. Those records go again (the journal takes
            # them as replays and persistence writes the lines it owes); what they announced is journaled.
            if owed := _logged(records):
                wait_for_journal(self._waiting, owed)
            self._failed(error)
            return JOURNALED
        except Exception as error:  # noqa: BLE001 - a journal failure halts entries; it must not stop exits
            if journal_unavailable(error):
                return self._wait(records, error, asked=True)
            return self._one_by_one(records, error)
        return Outcome(new_fills=_new_fills(records, answers))

    def _wait(self, records: tuple[JournalRecord, ...], failure: BaseException, *, asked: bool) -> Outcome:
        entries = [r for r in records if isinstance(r, RecordIntent) and r.intent.purpose is OrderPurpose.ENTRY]
        kept = tuple(r for r in records if r not in entries)
        if kept:
            wait_for_journal(self._waiting, kept)
            for record in kept if not asked else ():  # persistence logged those it was asked for ahead itself
                if isinstance(record, RecordFill):
                    self._log_ahead(record)
        if asked or entries:
            self._failed(failure)
        return Outcome(failure)

    def _one_by_one(self, records: tuple[JournalRecord, ...], error: BaseException) -> Outcome:
        """The journal refused the batch (one of its records broke a rule, and the transaction was rolled back): its
        records go one at a time, so that the others are journaled as they would be alone. A refused record is
        lost, loudly, and an order whose intent it was is not sent; a refused fill raises (the router restarts from
        the journal, and reconciliation books the fill)."""
        self._failed(error)
        refused: set[str] = set()
        answers: list[Any] = []
        for i, record in enumerate(records):
            try:
                answers.append(self._ask(record))
            except Exception as failure:
                if journal_unavailable(failure):
                    waited = self._wait(records[i:], failure, asked=True)
                    return Outcome(waited.failure, frozenset(refused), _new_fills(records[:i], answers))
                if isinstance(record, RecordFill):
                    raise
                logger.opt(exception=failure).critical("the journal refused a record: {}", record)
                answers.append(None)
                if isinstance(record, RecordIntent):
                    refused.add(record.intent.cl_ord_id)
        return Outcome(refused=frozenset(refused), new_fills=_new_fills(records, answers))

    def write(self, records: tuple[JournalRecord, ...]) -> tuple[Any, ...]:
        """One durable commit for `records`; each record's answer."""
        answers: tuple[Any, ...] = self._ask(RecordBatch(records))
        return answers

    def retry(self) -> int | None:
        """Write what waits, oldest batch first: the number of records written, or None while the journal still
        cannot take them (the rest keeps waiting). A batch the journal refuses is written record by record: only the
        refused records are lost (loudly), as when they waited one by one."""
        written = 0
        while self._waiting:
            batch = self._waiting[0]
            try:
                self.write(batch)
            except TradeLogError as error:  # journaled: only the records owing trade-log lines wait on
                self._waiting[0] = _logged(batch)
                self._failed(error)
                return None
            except Exception as error:  # noqa: BLE001 - still failing: try again later; refused: record by record
                if journal_unavailable(error):
                    self._failed(error)
                    return None
                for i, record in enumerate(batch):
                    try:
                        self._ask(record)
                    except Exception as failure:  # noqa: BLE001 - as above, for one record
                        if journal_unavailable(failure):
                            self._waiting[0] = batch[i:]
                            self._failed(failure)
                            return None
                        logger.opt(exception=failure).critical("the journal refused a waiting record: {}", record)
            written += len(self._waiting.popleft())
        return written

    def last_words(self) -> None:
        """Records that never reached the journal are not dropped in silence: one more try, then say which."""
        if not self._waiting:
            return
        self.retry()
        if self._waiting:
            records = [r for batch in self._waiting for r in batch]
            fills = [r.fill.fill_id for r in records if isinstance(r, RecordFill)]
            logger.critical(
                "{} records never reached the journal ({} fills: {}); the fills are in the trade log, and the "
                "reconciler books them again at the next start",
                len(records),
                len(fills),
                ", ".join(fills) or "none",
            )

    def _log_ahead(self, record: RecordFill) -> None:
        try:  # on disk meanwhile: the trade log takes it now, the journal when it can
            self._ask(LogFillAhead(record))
        except Exception as error:  # noqa: BLE001 - persistence says so loudly; the fill waits here all the same
            logger.error("fill {} could not be written to the trade log ahead: {}", record.fill.fill_id, error)


def _logged(records: tuple[JournalRecord, ...]) -> tuple[JournalRecord, ...]:
    """The records with a trade-log line (fills, closed trades): the journal takes them again as replays."""
    return tuple(r for r in records if isinstance(r, RecordFill | RecordPositionClosed))


def _new_fills(records: tuple[JournalRecord, ...], answers: list[Any] | tuple[Any, ...]) -> int:
    """The fills among `records` the journal had not held before (its answer to a `RecordFill`)."""
    return sum(1 for r, a in zip(records, answers, strict=False) if isinstance(r, RecordFill) and a is True)


def wait_for_journal(waiting: deque[tuple[JournalRecord, ...]], batch: tuple[JournalRecord, ...]) -> None:
    """Queue one event's records, as one unit, behind those the journal has not taken yet. A state document replaces
    an older copy of itself still waiting (only the newest is worth writing): hours of a full disk then cost one
    ledger, not one per fill."""
    keys = {r.key for r in batch if isinstance(r, SaveState)}
    if keys:
        for i, old in enumerate(waiting):
            waiting[i] = tuple(r for r in old if not (isinstance(r, SaveState) and r.key in keys))
        for empty in [old for old in waiting if not old]:
            waiting.remove(empty)
    waiting.append(batch)
