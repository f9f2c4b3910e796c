"""What the desk needs of the journal to start again (`crocbot.core.desk.restore`), read in one go.

The router asks persistence to run `journal_snapshot` on its thread (`ReadJournal`): it only reads, and the desk is
rebuilt from the frozen result on the router's own thread, so nothing but the desk ever changes the desk.
"""

from __future__ import annotations

from crocbot.core.desk import LEDGER_KEY, JournalSnapshot
from crocbot.core.journaled import JournaledOrder
from crocbot.core.messages import OrderPurpose
from crocbot.store.journal import Journal

__all__ = ["journal_snapshot"]


def journal_snapshot(journal: Journal) -> JournalSnapshot:
    first_entries: dict[str | None, JournaledOrder] = {}
    for order in journal.orders():  # a position's first entry order, as journaled
        if order.intent.purpose is OrderPurpose.ENTRY:
            first_entries.setdefault(order.position_id, order)
    return JournalSnapshot(
        fills_after_ledger=tuple(journal.fill_ids_after(journal.state_fills_seq(LEDGER_KEY))),
        open_orders=tuple(journal.open_orders()),
        positions=tuple(journal.positions()),
        first_entries=tuple(first_entries.values()),
    )
