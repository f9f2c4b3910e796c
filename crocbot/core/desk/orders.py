"""Order events: what the venue says about an order (acknowledged, ended, looked up), what the router did with it
(sent, not sent), and what an order's end means for its position: an entry that never filled leaves no position, a
stop that ended unasked means an exit (a refused one, after too many refusals, halts entries), an exit that failed
leaves the position protected again."""

from __future__ import annotations

from datetime import datetime

from crocbot.core.desk.actions import Action, Emit, Note, Record
from crocbot.core.desk.exits import exit_position
from crocbot.core.desk.halted import halted_refusal, hold_exit, hold_stop
from crocbot.core.desk.protection import apply_amend, on_command_rejected, place_stop, stop_in_flight, stop_live
from crocbot.core.desk.safety import give_up
from crocbot.core.desk.state import Book, PositionState
from crocbot.core.desk.trading_status import amends_allowed
from crocbot.core.messages import (
    HELD_BACK,
    CommandRejected,
    OrderAmended,
    OrderEvent,
    OrderLookedUp,
    OrderPurpose,
    OrderStatus,
    PositionChanged,
)
from crocbot.core.messages.commands import Amend, Submit
from crocbot.core.messages.journal import (
    RecordAmend,
    RecordEvent,
)
from crocbot.core.order_state import IllegalTransition, TrackedOrder
from crocbot.core.reconcile import NEVER_SENT

__all__ = ["submitted", "not_sent", "on_order_event", "order_ended", "on_order_looked_up", "not_sent_at_all"]

_ENDED = (OrderStatus.REJECTED, OrderStatus.CANCELLED, OrderStatus.EXPIRED, OrderStatus.ERROR)
# A venue that refuses a position's stop and then its exit, again and again (the account does not hold what the
# books say), must not be hammered with orders: after this many refusals in a row the desk stops trying, halts
# entries and says so; reconciliation or a person has to settle the difference.
_MAX_REFUSALS = 3


def submitted(book: Book, cl_ord_id: str, now: datetime) -> None:
    """The intent is journaled and on its way."""
    book.handed_out.discard(cl_ord_id)
    book.orders[cl_ord_id].move(OrderStatus.SUBMITTED, now)


def not_sent(book: Book, cl_ord_id: str, now: datetime, why: str) -> list[Action]:
    """Journaling the intent failed: nothing was sent, and nothing may be."""
    book.handed_out.discard(cl_ord_id)
    order = book.orders[cl_ord_id]
    before = order.status
    order.move(OrderStatus.REJECTED, now, why)
    book.count_end(order, before)
    return order_ended(book, order, OrderStatus.REJECTED, now, why)


def on_order_event(book: Book, event: OrderEvent, now: datetime) -> list[Action]:
    book.stop_updates.answered(event.cl_ord_id, now, ended=event.status.is_terminal)
    order = book.orders.get(event.cl_ord_id)
    if order is None:
        return [Note("WARNING", f"venue event {event.status} for unknown order {event.cl_ord_id}")]
    if event.order_id:
        order.venue_id = event.order_id
    before = order.status
    try:
        changed = order.move(event.status, event.ts, event.reason)
    except IllegalTransition as error:
        return [Note("ERROR", str(error), order.symbol)]
    book.count_end(order, before)
    if not changed:
        return []
    if event.status is OrderStatus.ACKED and order.purpose is OrderPurpose.STOP:
        return stop_live(book, order, event.ts)
    if event.status in _ENDED:
        return order_ended(book, order, event.status, now, event.reason)
    return []


def order_ended(book: Book, order: TrackedOrder, status: OrderStatus, now: datetime, reason: str = "") -> list[Action]:
    position = book.positions.get(order.position_id or "")
    if position is None:
        return []
    symbol = order.symbol
    if order.purpose is OrderPurpose.ENTRY:
        if position.qty == 0:
            book.drop(position)
            level = "WARNING" if status is OrderStatus.REJECTED else "INFO"
            return [Note(level, f"entry {order.cl_ord_id} {status} ({reason or 'no reason'}): no position", symbol)]
        return []
    if order.purpose is OrderPurpose.STOP:
        asked = order.cl_ord_id in book.stop_cancels
        book.stop_cancels.discard(order.cl_ord_id)
        if position.stop_order not in (None, order.cl_ord_id):
            return []  # an earlier stop order: the current one protects the position
        if reason == HELD_BACK and position.replacing is not None:
            return _replacement_held_back(book, position, order, now)
        position.replacing = None  # a replacement that ended otherwise is no longer one
        position.stop_order, position.stop_live = None, False
        if not position.open or position.exiting:
            return []
        if (other := book.open_stop_order(position)) is not None:
            # Another stop of the position is open: the one replacing this (a restart may show the old one's end
            # before the new one's, and without the cancel crocbot asked for), or one placed since. It protects;
            # nothing is sold and no third stop placed for this one's end.
            position.stop_order, position.stop_live = other.cl_ord_id, other.status is OrderStatus.ACKED
            text = f"stop {order.cl_ord_id} {status}: stop {other.cl_ord_id} protects the position"
            return [Note("INFO", text, symbol), Emit(PositionChanged(position.message()))]
        if asked and status is OrderStatus.CANCELLED:
            # cancelled for an exit that has failed since: protect what is left again, do not sell into the
            # market that just refused the exit (the SL manager may ask again)
            text = f"stop {order.cl_ord_id} cancelled for an order that was not placed after all: placing it again"
            return [
                Note("WARNING", text, symbol),
                *place_stop(book, position, now),
                Emit(PositionChanged(position.message())),
            ]
        if reason == NEVER_SENT and (resting := book.open_stop_order(position)) is not None:
            # a replacement that never left: the stop it was to replace still rests (its cancel never left either)
            # and protects; a second stop beside it would promise the same coins twice
            position.stop_order, position.stop_live = resting.cl_ord_id, resting.status is OrderStatus.ACKED
            text = f"stop {order.cl_ord_id} was never sent (crocbot stopped first): {resting.cl_ord_id} still rests"
            return [Note("WARNING", text, symbol), Emit(PositionChanged(position.message()))]
        if reason == NEVER_SENT:
            # crocbot died between journaling it and sending it: the venue refused nothing, so the position is
            # protected now, not sold (an exit at start-up would pay fees and slippage for a crash of ours)
            text = f"stop {order.cl_ord_id} was never sent (crocbot stopped first): placing it now"
            return [
                Note("WARNING", text, symbol),
                *place_stop(book, position, now),
                Emit(PositionChanged(position.message())),
            ]
        if halted_refusal(reason) or not amends_allowed(book, symbol):
            return hold_stop(book, position, order.cl_ord_id, status, reason)
        why = f"protective stop {order.cl_ord_id} {status} ({reason or 'no reason'})"
        if status is OrderStatus.REJECTED:
            position.refusals += 1
            if position.refusals >= _MAX_REFUSALS:
                return give_up(book, position, why, now)
        return [Note("CRITICAL", f"{why}: exiting the position", symbol), *exit_position(book, position, why, now)]
    if order.cl_ord_id in position.exit_orders:
        position.exit_orders.remove(order.cl_ord_id)
    if not position.open:
        return []
    if reason == HELD_BACK:
        # The venue could not cancel the stop, so it did not send the exit: the stop has filled or is filling,
        # and its fill closes the position. Nothing to place and nothing to sell while the stop still works;
        # should it end otherwise later, its own event says so and the position is exited then.
        text = f"exit {order.cl_ord_id} not sent: its stop could not be cancelled (filled or filling)"
        if position.exit_orders:
            return [Note("INFO", text, symbol)]
        position.exiting = False
        if position.stop_order is None:
            # The stop's end came first and did not close the position (no liquidity, a part left, expired):
            # nothing protects what is left and nothing was sold, so the exit goes now, with no stop to wait for.
            why = f"exit {order.cl_ord_id} held back behind a stop that has ended without closing the position"
            # Counted as a refusal: an exit held back behind cancels the venue keeps refusing (orders it no longer
            # has, after a restart) was otherwise sent again at once, thousands of times a second.
            position.refusals += 1
            if position.refusals >= _MAX_REFUSALS:
                return [Note("WARNING", why, symbol), *give_up(book, position, why, now)]
            return [Note("WARNING", why, symbol), *exit_position(book, position, why, now)]
        return [Note("INFO", text, symbol), Emit(PositionChanged(position.message()))]
    # rejected, or cancelled / expired / in error before it closed the position (no liquidity); or never sent
    never_sent = reason == NEVER_SENT  # crocbot died first: not a refusal by the venue
    level = "WARNING" if never_sent else "ERROR"
    halted = status is OrderStatus.REJECTED and halted_refusal(reason)  # said by `hold_exit`, below
    actions: list[Action] = [] if halted else [Note(level, f"exit {order.cl_ord_id} {status}: {reason}", symbol)]
    if position.exit_orders:
        return actions  # another exit of the position is still working
    if halted:
        # halted before the desk heard of it: no refusal of a sound order; the exit waits, the stop protects again
        actions += hold_exit(book, position, order.cl_ord_id, reason, position.exit_detail, position.exit_reason)
    elif status is OrderStatus.REJECTED and not never_sent:
        position.refusals += 1
        if position.refusals >= _MAX_REFUSALS:
            position.exiting = False
            return [*actions, *give_up(book, position, f"exit {order.cl_ord_id} rejected ({reason})", now)]
    # Protected again: the stop stays (if its cancel went out with the exit, it is placed again once that
    # lands) or is placed again now for what is left. The SL manager sees `exiting` go and may ask again.
    position.exiting = False
    if position.stop_order is None and (resting := book.open_stop_order(position)) is not None:
        # A stop of the position still works although the books did not name it (a restart before the journal
        # did): it protects, and a second stop beside it would promise the same coins twice.
        position.stop_order, position.stop_live = resting.cl_ord_id, resting.status is OrderStatus.ACKED
    if position.stop_order is None:
        actions += place_stop(book, position, now)
    actions.append(Emit(PositionChanged(position.message())))
    return actions


def _replacement_held_back(book: Book, position: PositionState, new: TrackedOrder, now: datetime) -> list[Action]:
    """The venue did not place the stop replacing the position's old one (`protection.replace_stop`): the old one
    could not be cancelled unfilled, so it has sold, or is selling, the position. The old stop is the position's
    again: still working, its own end decides; ended already, that end is taken now (a part left unsold is
    protected again)."""
    old = book.orders.get(position.replacing or "")
    position.replacing = None
    position.stop_order, position.stop_live = None, False
    text = f"replacement stop {new.cl_ord_id} not placed: the stop it replaces could not be cancelled unfilled"
    note = Note("INFO", text, position.symbol)
    if old is None:
        return [note, *place_stop(book, position, now)] if position.open and not position.exiting else [note]
    position.stop_order = old.cl_ord_id
    if old.is_open:
        # its cancel was refused, never sent or unanswered: it still rests (a lookup says if it ended) and protects,
        # and its wishes go out again as amends
        book.stop_cancels.discard(old.cl_ord_id)
        position.stop_live = old.status in (OrderStatus.ACKED, OrderStatus.PARTIALLY_FILLED)
        return [note, Emit(PositionChanged(position.message()))] if position.open else [note]
    if old.status is OrderStatus.FILLED:
        return [note]  # its fills close the position
    book.stop_cancels.add(old.cl_ord_id)  # its cancel was asked for: what is left is protected again
    return [note, *order_ended(book, old, old.status, now)]


def on_order_looked_up(book: Book, event: OrderLookedUp, now: datetime) -> list[Action]:
    """The venue's word on an order whose cancel or amend got no answer: its terms are applied as the events
    that were lost with the answer (an amend that took effect, an order that ended); an amend of a stop that did
    not take effect ends there, and the newest wish goes out."""
    updates = book.stop_updates
    order = book.orders.get(event.cl_ord_id)
    if order is None or not updates.looking_up(event.cl_ord_id):
        return []  # an answer nobody waits for (a lookup asked twice)
    updates.looked_up(event.cl_ord_id)
    updates.answered(event.cl_ord_id, now)
    position, asked = stop_in_flight(book, event.cl_ord_id)
    symbol = order.symbol
    actions: list[Action] = []
    status = event.status
    if status is None:
        actions.append(Note("ERROR", f"the venue does not know {order.cl_ord_id}: left to reconciliation", symbol))
    elif not status.is_terminal:
        amended = OrderAmended(
            order.cl_ord_id,
            event.ts,
            qty=event.qty if event.qty is not None and event.qty != order.qty else None,
            limit_price=event.limit_price if event.limit_price != order.limit_price else None,
            trigger_price=event.trigger_price if event.trigger_price != order.trigger_price else None,
        )
        if amended.qty is not None or amended.limit_price is not None or amended.trigger_price is not None:
            actions += [Record(RecordAmend(amended)), *apply_amend(book, amended, now)]
        if order.cl_ord_id in book.stop_cancels and order.purpose is OrderPurpose.STOP:
            # a cancel without an answer that did not take effect: the stop still rests and protects
            actions += on_command_rejected(book, CommandRejected(order.cl_ord_id, "cancel", "looked up", now), now)
    elif status is not OrderStatus.FILLED:  # ended without the fills a lookup cannot carry: they come as fills
        ended = OrderEvent(order.cl_ord_id, status, event.ts, filled_qty=event.filled, reason="looked up")
        actions += [Record(RecordEvent(ended)), *on_order_event(book, ended, now)]
    if position is not None and asked is not None and position.pending_stop == asked:
        # The stop does not have what the amend asked for: it did not happen, and nothing happened to the stop.
        # The level is still wished for, unless a newer wish came meanwhile.
        position.pending_stop = None
        if position.wanted_stop is None:
            position.wanted_stop = asked
    if position is not None and asked is not None and position.pending_stop is None:
        actions += updates.ended(book, position, asked, now)
    return actions


def not_sent_at_all(book: Book, action: Submit | Amend, why: str, now: datetime) -> list[Action]:
    """The router did not send `action` (the fence refused it, or its intent could not be journaled). An order
    ends as refused (a stop refused like this is a refusal like the venue's: the position is exited, and after
    repeated refusals entries halt); the cancels it was to wait for were not sent either, so those stops still
    protect. An amend is refused like one the venue turned down."""
    if isinstance(action, Amend):
        return on_command_rejected(book, CommandRejected(action.cl_ord_id, "amend", why, now), now)
    for cl_ord_id in action.after_cancels:
        book.stop_cancels.discard(cl_ord_id)
    return not_sent(book, action.intent.cl_ord_id, now, why)
