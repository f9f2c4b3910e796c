"""The router's write-ahead queue (`crocbot.actors.router.write_ahead`): one batch per event, what waits while the
journal cannot take writes, and a batch the journal refuses."""

from __future__ import annotations

from collections import deque
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from crocbot.actors.router import WriteAhead, wait_for_journal
from crocbot.core.messages import (
    Fill,
    Liquidity,
    OrderEvent,
    OrderIntent,
    OrderPurpose,
    OrderStatus,
    OrderType,
    Side,
)
from crocbot.core.messages.journal import JournalRecord, RecordBatch, RecordEvent, RecordFill, RecordIntent, SaveState
from crocbot.store.journal import JournalUnwritable
from crocbot.store.tradelog import TradeLogError

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def _event(n: int) -> RecordEvent:
    return RecordEvent(OrderEvent(f"cbs{n}", OrderStatus.ACKED, T0, filled_qty=Decimal(0)))


def test_records_wait_in_order_and_a_state_document_keeps_only_its_newest_copy() -> None:
    waiting: deque[tuple[JournalRecord, ...]] = deque()
    for record in (
        SaveState("ledger", {"v": 1}),
        _event(1),
        SaveState("risk", {"v": 1}),
        SaveState("ledger", {"v": 2}),
        _event(2),
        SaveState("ledger", {"v": 3}),
    ):
        wait_for_journal(waiting, (record,))

    assert [r for batch in waiting for r in batch] == [
        _event(1),
        SaveState("risk", {"v": 1}),
        _event(2),
        SaveState("ledger", {"v": 3}),
    ]


def test_an_events_records_wait_as_one_batch_and_lose_only_a_stale_state_document() -> None:
    waiting: deque[tuple[JournalRecord, ...]] = deque()
    wait_for_journal(waiting, (_event(1), SaveState("ledger", {"v": 1}), SaveState("risk", {"v": 1})))
    wait_for_journal(waiting, (_event(2), SaveState("ledger", {"v": 2})))

    assert list(waiting) == [
        (_event(1), SaveState("risk", {"v": 1})),
        (_event(2), SaveState("ledger", {"v": 2})),
    ]


class _Journal:
    """Persistence as the write-ahead queue sees it: a batch is all or nothing; `full` makes every write fail for
    now, `refuse` names the orders whose intent breaks a rule (the whole batch is rolled back)."""

    def __init__(self) -> None:
        self.full = False
        self.trade_log_full = False
        self.refuse: set[str] = set()
        self.written: list[object] = []

    def ask(self, message: object) -> Any:
        if self.full:
            raise JournalUnwritable("disk full")
        records = message.records if isinstance(message, RecordBatch) else (message,)
        for record in records:
            if isinstance(record, RecordIntent) and record.intent.cl_ord_id in self.refuse:
                raise ValueError(f"intent {record.intent.cl_ord_id} refused")
        self.written += records
        if self.trade_log_full and any(isinstance(r, RecordFill) for r in records):
            raise TradeLogError("trade log: disk full")  # after the commit, as persistence does
        return tuple(True for _ in records) if isinstance(message, RecordBatch) else True


def _intent(cl_ord_id: str, purpose: OrderPurpose) -> RecordIntent:
    intent = OrderIntent(cl_ord_id, "SOL/USD", Side.SELL, OrderType.MARKET, Decimal(1), purpose, T0)
    return RecordIntent(intent, "p1")


def test_a_batch_the_journal_cannot_take_waits_whole_without_its_entry_and_goes_first_on_retry() -> None:
    journal, failures = _Journal(), list[BaseException]()
    queue = WriteAhead(journal.ask, failures.append)
    journal.full = True
    entry, stop = _intent("cbe1", OrderPurpose.ENTRY), _intent("cbs1", OrderPurpose.STOP)

    outcome = queue.commit((_event(1), entry, stop))

    assert outcome.failure is not None
    assert len(failures) == 1
    later = queue.commit((_event(2),))  # behind what waits, without asking
    assert later.failure is not None
    journal.full = False
    assert queue.retry() == 3
    assert journal.written == [_event(1), stop, _event(2)]  # in order, and the entry never (it was not sent)


def test_a_refused_batch_is_written_record_by_record_and_only_the_refused_intent_is_held_back() -> None:
    journal, failures = _Journal(), list[BaseException]()
    queue = WriteAhead(journal.ask, failures.append)
    journal.refuse.add("cbx1")
    exit_, stop = _intent("cbx1", OrderPurpose.EXIT), _intent("cbs2", OrderPurpose.STOP)

    outcome = queue.commit((_event(1), exit_, stop))

    assert outcome.failure is None
    assert outcome.refused == {"cbx1"}
    assert journal.written == [_event(1), stop]
    assert len(failures) == 1


def test_a_batch_journaled_whose_trade_log_line_failed_sends_what_it_announced_and_only_the_fill_goes_again() -> None:
    journal, failures = _Journal(), list[BaseException]()
    queue = WriteAhead(journal.ask, failures.append)
    journal.trade_log_full = True
    fill = RecordFill(
        Fill(
            "F1",
            "cbe1",
            "Ocbe1",
            "SOL/USD",
            Side.BUY,
            Decimal(1),
            Decimal(100),
            Decimal("0.4"),
            "USD",
            Liquidity.TAKER,
            T0,
        ),
        "p1",
    )
    stop = _intent("cbs1", OrderPurpose.STOP)

    outcome = queue.commit((fill, stop))

    assert outcome.failure is None  # journaled: the stop goes out as usual
    assert len(failures) == 1  # entries halt until the trade log has its line
    journal.trade_log_full = False
    assert queue.retry() == 1
    assert journal.written == [fill, stop, fill]  # the fill again (a replay to the journal), never the intent
