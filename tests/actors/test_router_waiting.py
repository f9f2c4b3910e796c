"""What the router keeps while the journal cannot take writes (`crocbot.actors.router.write_ahead`)."""

from __future__ import annotations

from collections import deque
from datetime import UTC, datetime
from decimal import Decimal

from crocbot.actors.router import wait_for_journal
from crocbot.core.messages import OrderEvent, OrderStatus
from crocbot.core.messages.journal import JournalRecord, RecordEvent, SaveState

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
