"""What the desk needs of the journal to start again (`crocbot.core.desk.restore`), read in one go.

The router asks persistence to run `journal_snapshot` on its thread (`ReadJournal`): it only reads, and the desk is
rebuilt from the frozen result on the router's own thread, so nothing but the desk ever changes the desk.
"""

from __future__ import annotations

from crocbot.core.desk import LEDGER_KEY, JournaledOrder, JournaledPosition, JournalSnapshot
from crocbot.core.messages import OrderPurpose
from crocbot.store.journal import Journal, JournalOrder

__all__ = ["journal_snapshot"]


def journal_snapshot(journal: Journal) -> JournalSnapshot:
    first_entries: dict[str | None, JournalOrder] = {}
    for order in journal.orders():  # a position's first entry order, as journaled
        if order.intent.purpose is OrderPurpose.ENTRY:
            first_entries.setdefault(order.position_id, order)
    return JournalSnapshot(
        fills_after_ledger=tuple(journal.fill_ids_after(journal.state_fills_seq(LEDGER_KEY))),
        open_orders=tuple(_journaled(o) for o in journal.open_orders()),
        positions=tuple(
            JournaledPosition(
                p.position_id,
                p.symbol,
                p.side,
                p.qty,
                p.entry_price,
                p.initial_stop,
                p.stop_price,
                p.stop_kind,
                p.stop_cl_ord_id,
                p.take_profit,
                p.opened_at,
                p.is_open,
            )
            for p in journal.positions()
        ),
        first_entries=tuple(_journaled(o) for o in first_entries.values()),
    )


def _journaled(row: JournalOrder) -> JournaledOrder:
    return JournaledOrder(
        row.intent,
        row.position_id,
        row.status,
        row.order_id,
        row.filled_qty,
        row.avg_price,
        row.qty,
        row.limit_price,
        row.trigger_price,
        row.brackets,
    )
