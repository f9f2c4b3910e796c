"""Protection: the protective stop placed for what a position holds, confirmed amends taken (stops only tighten,
and only once the venue confirmed), refused or unanswered commands, and the SL manager's wishes paced by the
pair's trading counter (`crocbot.core.desk.stop_updates`)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from decimal import Decimal

from crocbot.core.desk.actions import Action, Emit, Note, Record
from crocbot.core.desk.events import LookupDue, StopBudgetDue
from crocbot.core.desk.safety import protected_again
from crocbot.core.desk.state import Book, PositionState
from crocbot.core.desk.stop_updates import worth
from crocbot.core.messages import (
    RATE_LIMITED,
    UNSENT,
    CommandRejected,
    CommandUnknown,
    OrderAmended,
    OrderIntent,
    OrderPurpose,
    OrderType,
    PositionChanged,
    PositionSide,
    StopAmendRequest,
    StopKind,
)
from crocbot.core.messages.commands import Amend, Cancel, Submit
from crocbot.core.messages.journal import (
    RecordIntent,
    RecordStop,
)
from crocbot.core.money import fmt
from crocbot.core.order_state import IllegalTransition, TrackedOrder

# Refusals a new order would earn too: the level itself is wrong (a new stop there would be refused as well, after
# the old one was cancelled), the order is gone (its end comes as its own event), or a lookup's. Every other refusal
# of a stop's amend is the amend's, and the stop is replaced instead (`replace_stop`).
_AMEND_REFUSALS = ("EOrder:", "EGeneral:Invalid arguments")  # the order's own; not the service's, not the session's
_NOT_REPLACED = (
    "EOrder:Invalid price",
    "EOrder:Tick size",
    "EOrder:Order minimum",
    "EOrder:Cost minimum",
    "EOrder:Insufficient funds",
    "EOrder:Invalid order",
    "EOrder:Unknown order",
    "EService:Market in",  # cancel_only / post_only: no new order either
    "EGeneral:Invalid arguments:price",
    "EGeneral:Invalid arguments:trigger_price",
    "looked up",
)

__all__ = [
    "replace_stop",
    "stop_live",
    "on_amended",
    "stop_in_flight",
    "apply_amend",
    "on_command_rejected",
    "on_command_unknown",
    "on_lookup_due",
    "on_stop_budget",
    "sending",
    "place_stop",
    "stop_covers",
    "on_stop_amend",
    "tighten_initial",
]


def stop_live(book: Book, order: TrackedOrder, ts: datetime) -> list[Action]:
    position = book.positions.get(order.position_id or "")
    if position is None or position.stop_order != order.cl_ord_id or position.closed:
        return []
    position.stop_live = True
    position.refusals = 0
    position.replacing = None
    position.held_stop, position.hold_retry = False, 0.0
    stop = RecordStop(position.position_id, position.stop, position.stop_kind, ts, order.cl_ord_id)
    # a stop wished for while this order was on its way goes out now that it can be amended
    wished = book.stop_updates.send_next(book, position, ts)
    return [Record(stop), Emit(PositionChanged(position.message())), *wished, *protected_again(book, position, ts)]


def on_amended(book: Book, event: OrderAmended, now: datetime) -> list[Action]:
    book.stop_updates.answered(event.cl_ord_id, now)
    position, asked = stop_in_flight(book, event.cl_ord_id)
    actions = apply_amend(book, event, now)
    if position is not None and asked is not None and position.pending_stop is None:
        actions += book.stop_updates.ended(book, position, asked, now)  # the next wish, if it is still worth it
    return actions


def stop_in_flight(book: Book, cl_ord_id: str) -> tuple[PositionState | None, tuple[Decimal, StopKind] | None]:
    """The position whose stop order `cl_ord_id` is, and the level its amend in flight asks for (if any)."""
    order = book.orders.get(cl_ord_id)
    position = book.positions.get(order.position_id or "") if order is not None else None
    if position is None or position.stop_order != cl_ord_id:
        return None, None
    return position, position.pending_stop


def apply_amend(book: Book, event: OrderAmended, now: datetime) -> list[Action]:
    order = book.orders.get(event.cl_ord_id)
    if order is None:
        return []
    if order.status.is_terminal:
        # Live, the venue's answer to an amend (from the order call) and the order's last fill (from the executions
        # feed) travel apart: the fill came first, and it is the fact that counts. Nothing is wrong and nothing to do.
        text = f"order {order.cl_ord_id}: the venue confirmed an amend after the order was {order.status}; no change"
        return [Note("INFO", text, order.symbol)]
    try:
        order.amended(event.ts, qty=event.qty, limit_price=event.limit_price, trigger_price=event.trigger_price)
    except IllegalTransition as error:  # an amend below what has filled
        return [Note("ERROR", str(error), order.symbol)]
    position = book.positions.get(order.position_id or "")
    if order.purpose is not OrderPurpose.STOP or position is None or position.closed:
        return []
    trigger = event.trigger_price
    if trigger is None or position.stop_order != order.cl_ord_id:
        return []  # a size-only amend (a trigger amend may still be in flight), or a stop no longer in use
    long = position.side is PositionSide.LONG
    pending = position.pending_stop
    kind = StopKind.TRAILING  # a move crocbot is not waiting for
    if pending is not None:
        if trigger == pending[0]:
            position.pending_stop, kind = None, pending[1]
        elif trigger != position.stop and not (pending[0] > trigger if long else pending[0] < trigger):
            position.pending_stop = None  # the venue moved it past what was asked: nothing more to wait for
        # else a size-only amend's confirmation (the venue repeats the trigger), or an older trigger amend's:
        # the newest is still in flight
    if trigger == position.stop:
        return []
    if trigger < position.initial_stop if long else trigger > position.initial_stop:
        text = f"stop {order.cl_ord_id} confirmed at {fmt(trigger)}, looser than the initial stop"
        return [Note("ERROR", f"{text} {fmt(position.initial_stop)}: not taken", order.symbol)]
    position.stop, position.stop_kind = trigger, kind
    tighten_initial(position)
    record = RecordStop(position.position_id, position.stop, position.stop_kind, event.ts, order.cl_ord_id)
    return [Record(record), Emit(PositionChanged(position.message()))]


def on_command_rejected(book: Book, event: CommandRejected, now: datetime) -> list[Action]:
    updates = book.stop_updates
    updates.answered(event.cl_ord_id, now)
    order = book.orders.get(event.cl_ord_id)
    symbol = order.symbol if order is not None else None
    position, asked = stop_in_flight(book, event.cl_ord_id)
    if position is not None and event.command == "amend":
        position.pending_stop = None  # the trigger amend in flight (if any) is not coming
    if event.command == "cancel":
        book.stop_cancels.discard(event.cl_ord_id)  # not cancelled by us after all: still live, or gone
    if event.reason == RATE_LIMITED and symbol is not None:
        updates.counter.exceeded(symbol, now)  # Kraken's counter is full, whatever the estimate said
    level = "INFO" if event.reason == "EOrder:Invalid order" else "WARNING"  # an order already gone
    actions: list[Action] = [Note(level, f"{event.command} of {event.cl_ord_id} refused: {event.reason}", symbol)]
    if position is None or symbol is None:
        return actions
    if event.command == "amend" and asked is not None:
        kept = updates.refused(position, asked, event.reason)
        if kept and event.reason == UNSENT:
            # nothing reached the venue (queue full, breaker open): the same wish, after a pause, not at once
            return [*actions, *updates.wait_for(position, updates.retry, now)]
        replaceable = (
            not kept and event.reason.startswith(_AMEND_REFUSALS) and not event.reason.startswith(_NOT_REPLACED)
        )
        if replaceable and (replaced := replace_stop(book, position, asked, now)):
            return [*actions, *replaced, *updates.drain(book, symbol, now)]
        actions += updates.send_next(book, position, now)
    return [*actions, *updates.drain(book, symbol, now)]


def on_command_unknown(book: Book, event: CommandUnknown, now: datetime) -> list[Action]:
    """A cancel, amend or lookup got no answer by its deadline: it may have taken effect or not. The order is
    looked up; an amend of a stop stays in flight until the lookup says how it ended."""
    return book.stop_updates.unknown(book, event, now)


def on_lookup_due(book: Book, timer: LookupDue, now: datetime) -> list[Action]:
    return book.stop_updates.lookup_due(book, timer, now)


def on_stop_budget(book: Book, timer: StopBudgetDue, now: datetime) -> list[Action]:
    """The pair's trading counter should have room again for the stop amends waiting for it."""
    return book.stop_updates.budget_due(book, timer, now)


def sending(book: Book, action: Action, now: datetime) -> None:
    """The router is sending `action` to the venue: the pair's trading counter is charged for it."""
    book.stop_updates.sending(book, action, now)


def replace_stop(book: Book, position: PositionState, asked: tuple[Decimal, StopKind], now: datetime) -> list[Action]:
    """Kraken refused to amend the stop to `asked` for a reason of the order's own (not the rate limit, not an order
    already gone): cancel it and place a new one there. On spot the stop holds the coins, so a second stop cannot
    rest beside the first: the new one goes out only once the venue confirmed the cancel unfilled (the venue holds it
    back otherwise: the old stop has sold, or is selling, the position). Meanwhile the old stop protects; in the gap
    between the cancel and the new order resting, the SL manager's backstop watches the old level: the position is
    not announced as unprotected for a replacement (which can take longer than the SL manager's 1 s to place a
    stop, and would have it exit a protected position); the new stop is announced once it rests. [] when the level
    is no longer worth it (the market moved), or nothing can be placed."""
    old = book.orders.get(position.stop_order or "")
    if old is None or not old.is_open or not position.stop_live or position.exiting or position.replacing:
        return []
    if not worth(position, asked[0], book.marks.get(position.symbol)):
        return []
    position.pending_stop = asked  # what the new order carries (`place_stop`)
    placed = place_stop(book, position, now)
    if not any(isinstance(a, Submit) for a in placed):
        position.pending_stop = None
        return placed  # too small to place: the old stop stays
    book.stop_cancels.add(old.cl_ord_id)
    position.replacing = old.cl_ord_id
    text = (
        f"amend of stop {old.cl_ord_id} refused: replacing it with {position.stop_order} at {fmt(position.stop)} "
        "(placed once the old one is cancelled)"
    )
    after = (old.cl_ord_id,)
    return [
        Note("WARNING", text, position.symbol),
        Cancel(old.cl_ord_id, position.symbol, now),
        *(replace(a, after_cancels=after) if isinstance(a, Submit) else a for a in placed),
    ]


def place_stop(book: Book, position: PositionState, now: datetime) -> list[Action]:
    dust = book.dust(position, position.stop)
    if dust is not None:  # Kraken would refuse it; an exit too: the position waits to grow (it risks its value)
        text = f"position {position.position_id}: no stop can be placed yet: {dust}"
        return [Note("WARNING", text, position.symbol)]
    if position.pending_stop is not None:
        # an amend of the previous stop order was in flight: the new order carries the level it asked for
        level, kind = position.pending_stop
        position.pending_stop = None
        long = position.side is PositionSide.LONG
        if level > position.stop if long else level < position.stop:
            position.stop, position.stop_kind = level, kind
            tighten_initial(position)
    cl_ord_id = book.ids.new(OrderPurpose.STOP, now)
    intent = OrderIntent(
        cl_ord_id=cl_ord_id,
        symbol=position.symbol,
        side=position.side.exit_side,
        order_type=OrderType.STOP_LOSS,
        qty=position.qty,
        purpose=OrderPurpose.STOP,
        ts=now,
        trigger_price=position.stop,
    )
    book.orders[cl_ord_id] = TrackedOrder(intent, position.position_id)
    position.stop_order, position.stop_live = cl_ord_id, False
    reason = f"protective stop at {position.stop}"
    return [Record(RecordIntent(intent, position.position_id, reason)), Submit(intent)]


def stop_covers(book: Book, position: PositionState, now: datetime) -> list[Action]:
    """The stop order sells what the position holds: a size amend lost with a crashed process (journaled fill,
    amend not yet sent) would leave the rest of the position unprotected, and the venue agrees with the journal
    on the old size, so reconciliation cannot see it."""
    stop = book.orders.get(position.stop_order or "")
    if stop is None or not stop.is_open or stop.remaining == position.qty:
        return []
    text = (
        f"stop {stop.cl_ord_id} covers {fmt(stop.remaining)} of the position's {fmt(position.qty)} (a size amend "
        "lost in the restart): amending it"
    )
    amend = Amend(stop.cl_ord_id, position.symbol, now, qty=stop.filled + position.qty)
    return [Note("WARNING", text, position.symbol), amend]


def on_stop_amend(book: Book, request: StopAmendRequest, now: datetime) -> list[Action]:
    """The SL manager wants a tighter stop: sent now, or when the amend in flight ends, or when the pair's
    trading counter has room; a newer wish replaces one not sent yet (`crocbot.core.desk.stop_updates`)."""
    return book.stop_updates.desire(book, request, now)


def tighten_initial(position: PositionState) -> None:
    """A stop of kind INITIAL is the initial stop tightened after a worse entry fill: once it is the position's
    stop (confirmed by the venue), it is its initial stop too, which R is measured from."""
    entry, stop = position.entry_price, position.stop
    if position.stop_kind is not StopKind.INITIAL or entry is None:
        return
    long = position.side is PositionSide.LONG
    if position.initial_stop < stop < entry if long else entry < stop < position.initial_stop:
        position.initial_stop = stop
