"""The persistence actor journals a `RecordBatch` in one commit, all or nothing, answers each record's answer, and
writes each trade-log line once whatever fails on the way (a read-only journal, a trade-log line); `KnownFill` reads
whether the journal holds a fill; the commits are counted in `/metrics`."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from crocbot.actors.messages import ReadJournal
from crocbot.actors.persistence import COMMITS_METRIC, Persistence
from crocbot.actors.runtime import Runtime
from crocbot.actors.supervisor import ChildSpec, Policy
from crocbot.core.messages import OrderEvent, OrderStatus, StopKind
from crocbot.core.messages.journal import (
    JournalRecord,
    KnownFill,
    RecordBatch,
    RecordEvent,
    RecordFill,
    RecordIntent,
    RecordPositionClosed,
    RecordPositionOpened,
    RecordStop,
    SaveState,
)
from crocbot.ops import failpoints
from crocbot.ops.metrics import Metrics
from crocbot.store import Journal, TradeLog, TradeLogError
from crocbot.store.journal import JournalUnwritable, UnknownPosition
from tests.store.test_journal import at, fill, intent, position, trade
from tests.support.actors import WAIT

D = Decimal


@dataclass
class Store:
    """A running persistence actor, its files and its metrics."""

    runtime: Runtime
    trade_log: Path
    metrics: Metrics

    def ask(self, message: object) -> Any:
        return self.runtime.directory.ask("persistence", message, timeout=WAIT)

    def read(self, read: Callable[[Journal], Any]) -> Any:
        return self.ask(ReadJournal(read))

    def commits(self) -> int:
        return int(self.read(lambda journal: journal.commits))

    def lines(self) -> list[tuple[str, str]]:
        """The trade log's lines as (type, id)."""
        if not self.trade_log.exists():
            return []
        return [(r["type"], r.get("fill_id") or r["trade_id"]) for r in TradeLog.read(self.trade_log)]

    def writable(self, writable: bool) -> None:
        """The journal's connection read-only or writable again (test hook: as test_disk_full makes it)."""
        self.read(lambda journal: journal._conn.execute(f"PRAGMA query_only = {0 if writable else 1}") and None)


@pytest.fixture
def store(runtime: Runtime, tmp_path: Path) -> Store:
    metrics = Metrics()
    trade_log = tmp_path / "trades.jsonl"
    runtime.start(
        [ChildSpec.actor("persistence", Persistence, tmp_path / "journal.sqlite3", trade_log, metrics=metrics)],
        Policy(),
    )
    return Store(runtime, trade_log, metrics)  # the runtime fixture stops it


def entry(fill_id: str = "f1") -> RecordBatch:
    """An entry fill's records, as the router sends them for one event."""
    return RecordBatch(
        (
            RecordFill(fill(fill_id), "p1"),
            RecordEvent(OrderEvent("c1", OrderStatus.FILLED, at(1), order_id="O-1", filled_qty=D("1"))),
            RecordPositionOpened(position("p1")),
            RecordStop("p1", D("64100"), StopKind.TRAILING, at(2), "cbs1"),
            SaveState("ledger", {"cash": D("1.5")}),
        )
    )


def exit_batch() -> RecordBatch:
    return RecordBatch(
        (RecordFill(fill("f9", at(3600)), "p1"), RecordPositionClosed("p1", at(3600), trade()), SaveState("risk", {}))
    )


def test_a_batch_is_one_commit_and_answers_each_records_answer_in_order(store: Store) -> None:
    assert store.ask(RecordIntent(intent(), "p1")) is True
    before = store.commits()
    assert store.ask(entry()) == (True, True, True, True, True)
    assert store.commits() == before + 1
    assert store.read(lambda journal: journal.fill_ids()) == {"f1"}
    assert store.read(lambda journal: journal.load_state("ledger")) == {"cash": D("1.5")}
    assert store.metrics.value(COMMITS_METRIC) == 2
    assert store.metrics.histogram("crocbot_journal_write_seconds").count == 2  # the intent and the batch


def test_a_batch_sent_again_is_replayed_fills_answer_false_and_nothing_is_logged_twice(store: Store) -> None:
    store.ask(RecordIntent(intent(), "p1"))
    store.ask(entry())
    assert store.ask(exit_batch()) == (True, True, True)
    assert store.ask(entry()) == (False, True, True, True, True)
    assert store.ask(exit_batch()) == (False, True, True)
    assert store.lines() == [("fill", "f1"), ("fill", "f9"), ("trade", "t1")]


def test_a_record_refused_in_a_batch_leaves_nothing_of_it_and_no_line(store: Store) -> None:
    store.ask(RecordIntent(intent(), "p1"))
    before = store.commits()
    refused = RecordBatch((RecordFill(fill("f1"), "p1"), RecordStop("nowhere", D("1"), StopKind.TRAILING, at(1), None)))
    with pytest.raises(UnknownPosition):
        store.ask(refused)
    assert store.read(lambda journal: journal.fill_ids()) == set()
    assert store.commits() == before
    assert store.lines() == []


def test_a_fill_and_the_ledger_in_one_batch_stamp_the_ledger_with_that_fill(store: Store) -> None:
    store.ask(RecordIntent(intent(), "p1"))
    store.ask(RecordFill(fill("f0"), "p1"))
    store.ask(entry("f1"))
    stamp = store.read(lambda journal: journal.state_fills_seq("ledger"))
    assert store.read(lambda journal: journal.fill_ids_after(stamp)) == []
    assert store.read(lambda journal: journal.fill_ids_after(0)) == ["f0", "f1"]


def test_a_read_only_journal_rolls_the_batch_back_logs_its_fills_ahead_and_the_retry_logs_nothing_twice(
    store: Store,
) -> None:
    store.ask(RecordIntent(intent(), "p1"))
    store.ask(entry())
    store.writable(False)
    with pytest.raises(JournalUnwritable):
        store.ask(exit_batch())
    assert store.read(lambda journal: journal.fill_ids()) == {"f1"}
    assert store.lines() == [("fill", "f1"), ("fill", "f9")]  # the fill is on disk; the trade waits for the journal
    with pytest.raises(JournalUnwritable):
        store.ask(exit_batch())  # the asker keeps it and sends it again
    store.writable(True)
    assert store.ask(exit_batch()) == (True, True, True)  # new to the journal
    assert store.lines() == [("fill", "f1"), ("fill", "f9"), ("trade", "t1")]
    assert store.ask(exit_batch()) == (False, True, True)
    assert store.lines() == [("fill", "f1"), ("fill", "f9"), ("trade", "t1")]


def test_a_line_that_fails_after_the_commit_does_not_keep_the_others_and_comes_with_the_batch_again(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    append = TradeLog.append
    failing = {"f1"}

    def append_unless_failing(log: TradeLog, record: Mapping[str, Any]) -> None:
        if record.get("fill_id") in failing:
            raise TradeLogError("the trade log and its fallback failed")
        append(log, record)

    monkeypatch.setattr(TradeLog, "append", append_unless_failing)
    store.ask(RecordIntent(intent(), "p1"))
    both = RecordBatch((RecordFill(fill("f1"), "p1"), RecordFill(fill("f2", at(1)), "p1")))
    with pytest.raises(TradeLogError):
        store.ask(both)
    assert store.lines() == [("fill", "f2")]
    failing.clear()
    assert store.ask(both) == (False, False)  # both journaled the first time
    assert store.lines() == [("fill", "f2"), ("fill", "f1")]
    store.ask(both)
    assert store.lines() == [("fill", "f2"), ("fill", "f1")]


def test_the_failpoint_after_a_fill_commit_is_passed_once_per_batch_after_its_commit(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    passed: list[tuple[set[str], list[tuple[str, str]]]] = []

    def hit(name: str) -> None:
        assert name == "persistence.after_fill_commit"
        with Journal(store.trade_log.with_name("journal.sqlite3")) as other:  # what is committed
            passed.append((other.fill_ids(), store.lines()))

    monkeypatch.setattr(failpoints, "hit", hit)
    store.ask(RecordIntent(intent(), "p1"))
    store.ask(RecordBatch((SaveState("risk", {}),)))
    assert passed == []
    store.ask(RecordBatch((RecordFill(fill("f1"), "p1"), RecordFill(fill("f2", at(1)), "p1"))))
    assert passed == [({"f1", "f2"}, [])]


def test_an_empty_batch_answers_an_empty_tuple_without_a_commit(store: Store) -> None:
    assert store.ask(RecordBatch(())) == ()
    assert store.commits() == 0


def test_known_fill_says_whether_the_journal_holds_the_fill_without_a_commit(store: Store) -> None:
    store.ask(RecordIntent(intent(), "p1"))
    before = store.commits()
    assert store.ask(KnownFill("f1")) is False
    store.ask(RecordFill(fill("f1"), "p1"))
    assert store.ask(KnownFill("f1")) is True
    assert store.ask(KnownFill("f2")) is False
    assert store.commits() == before + 1


def test_a_single_record_is_still_its_own_commit(store: Store) -> None:
    records: list[JournalRecord] = [RecordIntent(intent(), "p1"), RecordFill(fill("f1"), "p1")]
    for number, record in enumerate(records, start=1):
        store.ask(record)
        assert store.commits() == number
    assert store.metrics.value(COMMITS_METRIC) == 2
