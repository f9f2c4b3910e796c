"""What the router keeps while the journal cannot take writes (`crocbot.actors.router.wait_for_journal`)."""

from __future__ import annotations

from collections import deque

from crocbot.actors.router import wait_for_journal
from crocbot.core.messages.journal import SaveState


def test_records_wait_in_order_and_a_state_document_keeps_only_its_newest_copy() -> None:
    waiting: deque[object] = deque()
    for record in (
        SaveState("ledger", {"v": 1}),
        "fill 1",
        SaveState("risk", {"v": 1}),
        SaveState("ledger", {"v": 2}),
        "fill 2",
        SaveState("ledger", {"v": 3}),
    ):
        wait_for_journal(waiting, record)

    assert list(waiting) == ["fill 1", SaveState("risk", {"v": 1}), "fill 2", SaveState("ledger", {"v": 3})]
