"""The desk's two halves of handling an event: `decide` (the event to the behaviour that answers it) and `finish`
(what goes out: one `Commit` of the event's records first, every sell held to the inventory fence, amends and
cancels charged to their pair's trading counter)."""

from __future__ import annotations

from collections import deque
from datetime import datetime

from crocbot.core.desk.actions import Action, Commit, Note, Record
from crocbot.core.desk.entries import on_entry_ttl, on_signal
from crocbot.core.desk.events import (
    DeskEvent,
    EntryTTL,
    FillSeen,
    LookupDue,
    NotSent,
    ProtectionDue,
    StopBudgetDue,
    Submitted,
)
from crocbot.core.desk.exits import on_exit_request
from crocbot.core.desk.fills import on_fill
from crocbot.core.desk.halted import on_protection_due
from crocbot.core.desk.orders import not_sent_at_all, on_order_event, on_order_looked_up, submitted
from crocbot.core.desk.protection import (
    on_amended,
    on_command_rejected,
    on_command_unknown,
    on_lookup_due,
    on_stop_amend,
    on_stop_budget,
    sending,
)
from crocbot.core.desk.safety import on_anomaly, on_breaker, on_escalated, on_feed_health
from crocbot.core.desk.state import Book
from crocbot.core.desk.status_changes import on_instrument_status
from crocbot.core.fence import OpenSell, fence_breach
from crocbot.core.messages import (
    BreakerStateChanged,
    CommandRejected,
    CommandUnknown,
    ExitRequest,
    FeedHealth,
    InstrumentStatusChanged,
    OrderAmended,
    OrderEvent,
    OrderLookedUp,
    Side,
    Signal,
    StopAmendRequest,
    VenueAnomaly,
)
from crocbot.core.messages.commands import Amend, Cancel, Submit
from crocbot.core.messages.journal import (
    JournalRecord,
    RecordAmend,
    RecordEvent,
    RecordFill,
    RecordIntent,
)

__all__ = ["handle", "decide", "finish", "fence"]


def fence(book: Book, action: Action) -> str | None:
    """Why sending `action` would sell more than crocbot holds and has not promised to its other sells, or None
    (`crocbot.core.fence`). The orders handed out before it count as promised, although the router has not reported
    them sent yet (`Book.handed_out`)."""
    if isinstance(action, Submit):
        intent = action.intent
        if intent.side is not Side.SELL:
            return None
        symbol, cl_ord_id, qty, after = intent.symbol, intent.cl_ord_id, intent.qty, action.after_cancels
    elif isinstance(action, Amend) and action.qty is not None:
        order = book.orders.get(action.cl_ord_id)
        if order is None or order.intent.side is not Side.SELL:
            return None
        symbol, cl_ord_id, qty, after = order.symbol, order.cl_ord_id, action.qty - order.filled, ()
    else:
        return None
    sells = (
        OpenSell(o.cl_ord_id, o.remaining)
        for o in book.orders.values()
        if o.symbol == symbol and o.intent.side is Side.SELL and (o.is_open or o.cl_ord_id in book.handed_out)
    )
    held = book.ledger.position(symbol)
    return fence_breach(symbol, cl_ord_id, qty, held=held, open_sells=sells, after_cancels=after)


def handle(book: Book, event: DeskEvent, now: datetime) -> list[Action]:
    """The actions for `event`, finished (`Desk.on`)."""
    return finish(book, decide(book, event, now), now)


def decide(book: Book, event: DeskEvent, now: datetime) -> list[Action]:
    if isinstance(event, FillSeen):
        fill = event.fill
        order = book.orders.get(fill.cl_ord_id)
        position_id = order.position_id if order is not None else None
        actions: list[Action] = []
        if not event.journaled:
            actions.append(Record(RecordFill(fill, position_id, event.backfilled)))
        # A fill the journal held before is booked, but for those a crash kept from the ledger (the restore names
        # them); without the journal's word, the ledger knows its recent fills.
        if not book.ledger.booked(fill.fill_id, journaled=event.journaled):
            actions += on_fill(book, fill, now)
        return actions
    if isinstance(event, OrderEvent):
        known = [Record(RecordEvent(event))] if event.cl_ord_id in book.orders else []
        return [*known, *on_order_event(book, event, now)]
    if isinstance(event, OrderAmended):
        known = [Record(RecordAmend(event))] if event.cl_ord_id in book.orders else []
        return [*known, *on_amended(book, event, now)]
    if isinstance(event, Submitted):
        submitted(book, event.cl_ord_id, now)
        order = book.orders[event.cl_ord_id]
        sending(book, Submit(order.intent), now)
        return []
    if isinstance(event, NotSent):
        return not_sent_at_all(book, event.command, event.why, now)
    if isinstance(event, Signal):
        return on_signal(book, event, now)
    if isinstance(event, ExitRequest):
        return on_exit_request(book, event, now)
    if isinstance(event, StopAmendRequest):
        return on_stop_amend(book, event, now)
    if isinstance(event, CommandRejected):
        return on_command_rejected(book, event, now)
    if isinstance(event, CommandUnknown):
        return on_command_unknown(book, event, now)
    if isinstance(event, OrderLookedUp):
        return on_order_looked_up(book, event, now)
    if isinstance(event, EntryTTL):
        return on_entry_ttl(book, event, now)
    if isinstance(event, StopBudgetDue):
        return on_stop_budget(book, event, now)
    if isinstance(event, LookupDue):
        return on_lookup_due(book, event, now)
    if isinstance(event, FeedHealth):
        return on_feed_health(book, event, now)
    if isinstance(event, BreakerStateChanged):
        return on_breaker(book, event, now)
    if isinstance(event, VenueAnomaly):
        return on_anomaly(book, event, now)
    if isinstance(event, ProtectionDue):
        return on_protection_due(book, event, now)
    if isinstance(event, InstrumentStatusChanged):
        return on_instrument_status(book, event, now)
    return on_escalated(book, event, now)


def finish(book: Book, decided: list[Action], now: datetime) -> list[Action]:
    """Gather the records into one `Commit` ahead of the rest, and hold every sell and size amend to the
    inventory fence just before it goes out; the amends and cancels that go are charged to their pair's
    trading counter (an order, once the router has sent it: `Submitted`)."""
    records: list[JournalRecord] = []
    rest: list[Action] = []
    todo = deque(decided)
    while todo:
        action = todo.popleft()
        if isinstance(action, Record):
            records.append(action.message)
            continue
        if isinstance(action, Submit | Amend) and (breach := fence(book, action)) is not None:
            # A sell beyond what crocbot owns never reaches the venue. It means the books lost track of what
            # holds the coins, which no test or demo run may ever show: CRITICAL, counted, and the order refused.
            if isinstance(action, Submit):
                cl_ord_id, symbol = action.intent.cl_ord_id, action.intent.symbol
                # not journaled, and the cancels of the stops it was to replace stay unsent with it
                records = [r for r in records if not (isinstance(r, RecordIntent) and r.intent.cl_ord_id == cl_ord_id)]
                rest = [a for a in rest if not (isinstance(a, Cancel) and a.cl_ord_id in action.after_cancels)]
            else:
                cl_ord_id, symbol = action.cl_ord_id, action.symbol
            book.fenced += 1
            rest.append(Note("CRITICAL", f"{cl_ord_id} not sent: {breach}", symbol))
            todo.extendleft(reversed(not_sent_at_all(book, action, breach, now)))
            continue
        if isinstance(action, Amend | Cancel):
            sending(book, action, now)
        elif isinstance(action, Submit):
            book.handed_out.add(action.intent.cl_ord_id)
        rest.append(action)
    return [Commit(tuple(records)), *rest] if records else rest
