"""Rebuilding the desk's positions and orders from the journal when the router (re)starts.

A crashed actor's memory is gone; the journal is not. Open positions come back with their current stop and
its order; open orders come back with their last known state. An entry that was still waiting for its first
fill cannot be rebuilt (its stop and target lived only in memory), so it is returned for cancellation.
Issue 5's reconciler compares all of this with the venue; this is the router's own starting point.
"""

from __future__ import annotations

from crocbot.core.desk import Desk
from crocbot.core.desk_types import PositionState
from crocbot.core.messages import OrderPurpose, OrderStatus
from crocbot.core.order_state import TrackedOrder
from crocbot.store.journal import Journal

__all__ = ["restore"]


def restore(desk: Desk, journal: Journal) -> tuple[str, list[tuple[str, str]]]:
    """Fill `desk` from `journal`; returns a summary and the (cl_ord_id, symbol) of entries to cancel."""
    open_orders = journal.open_orders()
    positions = [p for p in journal.positions() if p.is_open]
    for row in open_orders:
        tracked = TrackedOrder(
            row.intent,
            row.position_id,
            status=row.status,
            venue_id=row.order_id,
            limit_price=row.limit_price,
            trigger_price=row.trigger_price,
            qty=row.qty,
        )
        tracked.filled = row.filled_qty
        if row.avg_price is not None:
            tracked.cost = row.filled_qty * row.avg_price
        desk.orders[row.cl_ord_id] = tracked
    known = {p.position_id for p in positions}
    for pos in positions:
        entry = next(
            (
                o.cl_ord_id
                for o in journal.orders()
                if o.position_id == pos.position_id and o.intent.purpose is OrderPurpose.ENTRY
            ),
            "",
        )
        stop_order = pos.stop_cl_ord_id if pos.stop_cl_ord_id in desk.orders else None
        stop_live = stop_order is not None and desk.orders[stop_order].status is OrderStatus.ACKED
        desk.positions[pos.position_id] = PositionState(
            pos.position_id,
            pos.symbol,
            pos.side,
            entry,
            initial_stop=pos.initial_stop,
            stop=pos.stop_price,
            take_profit=pos.take_profit,
            qty=pos.qty,
            entry_price=pos.entry_price,
            opened_at=pos.opened_at,
            stop_order=stop_order,
            stop_live=stop_live,
            stop_kind=pos.stop_kind,
        )
        desk.by_symbol[pos.symbol] = pos.position_id
    stale = [
        (o.cl_ord_id, o.symbol)
        for o in open_orders
        if o.intent.purpose is OrderPurpose.ENTRY and o.position_id not in known
    ]
    if not open_orders and not positions:
        return "", []
    return f"{len(positions)} open positions, {len(open_orders)} open orders", stale
