"""Rebuilding the desk's positions and orders from the journal when the router (re)starts.

A crashed actor's memory is gone; the journal is not. The router asks persistence for a `JournalSnapshot` (a read,
built on the persistence thread from the journal's rows) and hands it to the desk on its own thread, so nothing but
the desk ever changes the desk. The ledger learns which journaled fills it has not booked (those journaled after the
stamp its state was saved with: a crash came between the two), for the start-up reconciliation to book. Open
positions come back with their current stop and its order; open orders come back with their last known state. An
entry that was still waiting for its first fill is kept for cancellation (its TTL and chase lived only in memory);
its position comes back empty, with the brackets journaled beside the entry, so a fill the venue reports later
still opens a protected position. The reconciler then compares all of this with the venue.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from crocbot.core.desk.actions import Action, Emit, Note
from crocbot.core.desk.exits import exit_position
from crocbot.core.desk.fills import fit_brackets
from crocbot.core.desk.protection import place_stop, stop_covers
from crocbot.core.desk.state import Book, PositionState
from crocbot.core.journaled import JournaledOrder, JournaledPosition
from crocbot.core.messages import ExitReason, OrderPurpose, OrderStatus, PositionChanged, PositionSide, Side
from crocbot.core.money import fmt
from crocbot.core.order_state import TrackedOrder

__all__ = ["JournalSnapshot", "restore"]


@dataclass(frozen=True, slots=True)
class JournalSnapshot:
    """What the desk needs of the journal to start again, read in one go."""

    fills_after_ledger: tuple[str, ...]  # the fills journaled after the ledger state's stamp, in journal order
    open_orders: tuple[JournaledOrder, ...]
    positions: tuple[JournaledPosition, ...]  # open and closed
    first_entries: tuple[JournaledOrder, ...]  # each position's first entry order (its brackets, its strategy)


def restore(book: Book, snapshot: JournalSnapshot) -> tuple[str, list[tuple[str, str]]]:
    """Fill `book` from `snapshot`; returns a summary and the (cl_ord_id, symbol) of entries to cancel.

    `book.ledger` must be the one loaded from the journal's ledger state: nothing has journaled a fill or saved the
    ledger since (the router journals fills and saves the ledger, and it is starting), so the state's stamp and the
    fills after it belong together."""
    unbooked = book.ledger.settle(snapshot.fills_after_ledger)
    open_orders = snapshot.open_orders
    positions = [p for p in snapshot.positions if p.is_open]
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
        book.orders[row.cl_ord_id] = tracked
    known = {p.position_id for p in positions}
    closed = {p.position_id for p in snapshot.positions if not p.is_open}
    book.closed_positions |= {o.position_id for o in open_orders if o.position_id in closed}
    entries = {o.position_id: o for o in snapshot.first_entries}
    for pos in positions:
        entry_order = entries.get(pos.position_id)
        entry = entry_order.cl_ord_id if entry_order is not None else ""
        # the strategy and the signal's entry, journaled with the entry, are what the trade log names at the close
        brackets = entry_order.brackets if entry_order is not None else None
        stop_order = pos.stop_cl_ord_id if pos.stop_cl_ord_id in book.orders else None
        stop_live = stop_order is not None and book.orders[stop_order].status is OrderStatus.ACKED
        book.positions[pos.position_id] = PositionState(
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
        book.by_symbol[pos.symbol] = pos.position_id
        # From now, not only from `resume`: the venue may tell of the stop's cancel before the start-up
        # reconciliation ends (live, the executions feed runs meanwhile), and a stop cancelled for the exit is no
        # stop lost (a second exit and a new stop beside the exit would sell the coins twice).
        _exit_in_flight(book, book.positions[pos.position_id])
    for position_id in known:
        stops = sorted(
            (o for o in open_orders if o.position_id == position_id and o.intent.purpose is OrderPurpose.STOP),
            key=lambda o: o.intent.ts,
        )
        # A replacement was in flight at the crash (`protection.replace_stop`): the newest stop replaces the older
        # ones, whose cancels crocbot had asked for. Whichever end the venue reports first, the position is then
        # protected again (by the newest, or a stop placed anew), not sold for a cancel of its own.
        book.stop_cancels.update(o.cl_ord_id for o in stops[:-1])
    stale = [
        (o.cl_ord_id, o.intent.symbol)
        for o in open_orders
        if o.intent.purpose is OrderPurpose.ENTRY and o.position_id not in known
    ]
    for order in open_orders:
        if order.intent.purpose is not OrderPurpose.ENTRY or order.position_id in known or order.brackets is None:
            continue
        if order.position_id is None or order.intent.symbol in book.by_symbol:
            continue
        # Its TTL and chase died with the old process, so it is cancelled; but it may have filled meanwhile (the
        # reconciler finds out), and then its position must open with the stop it was sent with.
        brackets = order.brackets
        book.positions[order.position_id] = PositionState(
            order.position_id,
            order.intent.symbol,
            PositionSide.LONG if order.intent.side is Side.BUY else PositionSide.SHORT,
            order.cl_ord_id,
            initial_stop=brackets.initial_stop,
            stop=brackets.initial_stop,
            take_profit=brackets.take_profit,
            strategy=brackets.strategy,
            intended_entry=brackets.entry,
        )
        book.by_symbol[order.intent.symbol] = order.position_id
    summary = f"{len(positions)} open positions, {len(open_orders)} open orders" if open_orders or positions else ""
    if unbooked:
        named = ", ".join(unbooked[:10]) + (", ..." if len(unbooked) > 10 else "")
        summary += f"{'; ' if summary else ''}{len(unbooked)} journaled fills not booked yet ({named})"
    return summary, stale


def _exit_in_flight(book: Book, position: PositionState) -> bool:
    """An exit of `position` the books hold open is its exit, and its stops are being cancelled for it."""
    live = book.live_orders(position)
    position.exit_orders = [o.cl_ord_id for o in live if o.purpose is OrderPurpose.EXIT]
    position.exiting = bool(position.exit_orders)
    if position.exiting:
        book.stop_cancels.update(o.cl_ord_id for o in live if o.purpose is OrderPurpose.STOP)
        # what it was for died with the process: its close is reconciliation's
        position.exit_reason = ExitReason.RECONCILIATION
        position.exit_detail = f"exit {', '.join(position.exit_orders)} not sent by this process"
    return position.exiting


def resume(book: Book, now: datetime) -> list[Action]:
    """Carry on once the desk is rebuilt from the journal (`restore`), before anything
    else reaches it: every open position is protected by a stop order, and announced to the SL manager.

    An exit still in flight after the start-up reconciliation (the venue has it and has not acted yet) is the
    position's exit: it went out behind the cancel of the position's stops, so they are being cancelled for it,
    and a stop or a second exit beside it would sell the coins twice. Its outcome comes from the venue as for any
    exit: its fill closes the position, its failure protects the position again.
    """
    actions: list[Action] = []
    for position in list(book.positions.values()):
        if not position.open or position.entry_price is None or position.opened_at is None:
            continue
        symbol = position.symbol
        if _exit_in_flight(book, position):
            text = f"exit {', '.join(position.exit_orders)} of {position.position_id} is still in flight"
            actions += [Note("INFO", text, symbol), Emit(PositionChanged(position.message()))]
            continue
        instrument = book.instruments.get(symbol)
        if instrument is not None:
            notes, through = fit_brackets(book, position, instrument)  # a journal the desk could not describe
            actions += notes
            if through:
                actions += exit_position(
                    book, position, f"restored through its stop at {fmt(position.entry_price)}", now
                )
                actions.append(Emit(PositionChanged(position.message())))
                continue
        if position.stop_order is None:
            adopted = book.open_stop_order(position)
            if adopted is not None:  # sent, but its stop was not journaled as the position's before the crash
                position.stop_order = adopted.cl_ord_id
                position.stop_live = adopted.status is OrderStatus.ACKED
        if position.stop_order is None:
            text = f"position {position.position_id} has no stop order after the restart: placing one at"
            actions.append(Note("WARNING", f"{text} {fmt(position.stop)}", symbol))
            actions += place_stop(book, position, now)
        else:
            actions += stop_covers(book, position, now)
        actions.append(Emit(PositionChanged(position.message())))
    return actions
