"""Rebuilding the desk's positions and orders from the journal when the router (re)starts.

A crashed actor's memory is gone; the journal is not. The ledger learns which journaled fills it has not booked
(those journaled after the stamp its state was saved with: a crash came between the two), for the start-up
reconciliation to book. Open positions come back with their current stop and its order; open orders come back
with their last known state. An entry that was still waiting for its first
fill is returned for cancellation (its TTL and chase lived only in memory); its position comes back empty, with
the brackets journaled beside the entry, so a fill the venue reports later still opens a protected position.
The reconciler then compares all of this with the venue; this is the router's own starting point.
"""

from __future__ import annotations

from crocbot.core.desk import LEDGER_KEY, Desk
from crocbot.core.desk_types import PositionState
from crocbot.core.messages import OrderPurpose, OrderStatus, PositionSide, Side
from crocbot.core.order_state import TrackedOrder
from crocbot.store.journal import Journal, JournalOrder

__all__ = ["restore"]


def restore(desk: Desk, journal: Journal) -> tuple[str, list[tuple[str, str]]]:
    """Fill `desk` from `journal`; returns a summary and the (cl_ord_id, symbol) of entries to cancel.

    `desk.ledger` must be the one loaded from the journal's ledger state: nothing has journaled a fill or saved the
    ledger since (the router journals fills and saves the ledger, and it is starting), so the state's stamp and the
    fills after it belong together."""
    unbooked = desk.ledger.settle(journal.fill_ids_after(journal.state_fills_seq(LEDGER_KEY)))
    open_orders = journal.open_orders()
    positions = [p for p in journal.positions() if p.is_open]
    for row in open_orders:
        tracked = TrackedOrder(
            row.intent,
            row.position_id,
            # journaled but never answered: it may or may not have reached the venue, so reconciliation looks
            # it up by client order id (and a fill may come first)
            status=OrderStatus.UNKNOWN if row.status in (OrderStatus.CREATED, OrderStatus.SUBMITTED) else row.status,
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
    closed = {p.position_id for p in journal.positions() if not p.is_open}
    desk.closed_positions |= {o.position_id for o in open_orders if o.position_id in closed}
    entries: dict[str | None, JournalOrder] = {}
    for order in journal.orders():  # a position's first entry order, as journaled
        if order.intent.purpose is OrderPurpose.ENTRY:
            entries.setdefault(order.position_id, order)
    for pos in positions:
        entry_order = entries.get(pos.position_id)
        entry = entry_order.cl_ord_id if entry_order is not None else ""
        # the strategy and the signal's entry, journaled with the entry, are what the trade log names at the close
        brackets = entry_order.brackets if entry_order is not None else None
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
            strategy=brackets.strategy if brackets is not None else "",
            intended_entry=brackets.entry if brackets is not None else None,
        )
        desk.by_symbol[pos.symbol] = pos.position_id
    stale = [
        (o.cl_ord_id, o.symbol)
        for o in open_orders
        if o.intent.purpose is OrderPurpose.ENTRY and o.position_id not in known
    ]
    for order in open_orders:
        if order.intent.purpose is not OrderPurpose.ENTRY or order.position_id in known or order.brackets is None:
            continue
        if order.position_id is None or order.symbol in desk.by_symbol:
            continue
        # Its TTL and chase died with the old process, so it is cancelled; but it may have filled meanwhile (the
        # reconciler finds out), and then its position must open with the stop it was sent with.
        brackets = order.brackets
        desk.positions[order.position_id] = PositionState(
            order.position_id,
            order.symbol,
            PositionSide.LONG if order.intent.side is Side.BUY else PositionSide.SHORT,
            order.cl_ord_id,
            initial_stop=brackets.initial_stop,
            stop=brackets.initial_stop,
            take_profit=brackets.take_profit,
            strategy=brackets.strategy,
            intended_entry=brackets.entry,
        )
        desk.by_symbol[order.symbol] = order.position_id
    summary = f"{len(positions)} open positions, {len(open_orders)} open orders" if open_orders or positions else ""
    if unbooked:
        named = ", ".join(unbooked[:10]) + (", ..." if len(unbooked) > 10 else "")
        summary += f"{'; ' if summary else ''}{len(unbooked)} journaled fills not booked yet ({named})"
    return summary, stale
