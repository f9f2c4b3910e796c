"""Orders the venue knows and the journal lost, put back into the desk's books.

A journal restored from an older backup has lost the orders sent since; the venue (and the trade log) still know
them, and their fills. Left unknown, the books go wrong in the worst way: a position closed since looks open (its
"missing" stop is replaced, or it is exited with coins that belong to the position opened after it), and the
position opened since has no owner. crocbot's client order ids say what an order was for (`cbe` entry, `cbx`
exit, `cbs` stop, `cbt` take-profit) and the desk keeps one position per symbol, so an order of crocbot's own can
be put back where it belongs:

- an entry's fill opens the position its id names (`p` + the id after its purpose letter), protected by the
  venue's resting stop on that symbol if there is one, else by the widest stop the risk limit allows;
- an exit's, stop's or take-profit's fill belongs to the symbol's open position, and closes or shrinks it;
- a resting stop on a symbol whose position has no stop order becomes that position's stop.

Each adopted order's intent is journaled (with the reason), so the journal is whole again. Anything else (an id
crocbot did not make, an entry while another position holds the symbol) stays unknown, for the reconciler's
foreign-order policy.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from crocbot.core.desk.actions import Action, Record
from crocbot.core.desk.state import Book, PositionState
from crocbot.core.messages import (
    Fill,
    OrderEvent,
    OrderIntent,
    OrderPurpose,
    OrderStatus,
    OrderType,
    PositionSide,
    Side,
    StopKind,
    valid_cl_ord_id,
)
from crocbot.core.messages.journal import RecordEvent, RecordIntent, RecordStop
from crocbot.core.order_state import TrackedOrder
from crocbot.core.risk_sizing import widest_stop

__all__ = ["VenueStop", "purpose_of", "adopt_filled", "adopt_stop", "stop_adopted", "ADOPTED"]

ADOPTED = "adopted from the venue: the journal had lost it"
_PURPOSES = {"e": OrderPurpose.ENTRY, "x": OrderPurpose.EXIT, "s": OrderPurpose.STOP, "t": OrderPurpose.TAKE_PROFIT}
_ID_LENGTH = 16  # crocbot.core.ids


@dataclass(frozen=True, slots=True)
class VenueStop:
    """A stop order resting on the venue, as reconciliation saw it."""

    cl_ord_id: str
    symbol: str
    side: Side
    qty: Decimal
    trigger: Decimal
    venue_id: str
    ts: datetime


def purpose_of(cl_ord_id: str | None) -> OrderPurpose | None:
    """What an order of crocbot's own was for; None for an id crocbot did not make."""
    if cl_ord_id is None or len(cl_ord_id) != _ID_LENGTH or not cl_ord_id.startswith("cb"):
        return None
    if not valid_cl_ord_id(cl_ord_id):
        return None
    return _PURPOSES.get(cl_ord_id[2])


def adopt_filled(
    book: Book, fill: Fill, qty: Decimal, now: datetime, *, stop: VenueStop | None = None
) -> list[Action] | None:
    """Take the order behind `fill` (filled `qty` in all, as far as reconciliation knows) into the books, before the
    fill is booked; None when it cannot be placed. An entry gets `stop` (the venue's resting stop on its symbol)
    as its protection; `stop_adopted` journals that stop once the fill has opened the position."""
    purpose = purpose_of(fill.cl_ord_id)
    if purpose is None or fill.cl_ord_id in book.orders or fill.symbol not in book.instruments:
        return None
    if purpose is OrderPurpose.ENTRY:
        position = _entry_position(book, fill, qty, stop)
    else:
        held = book.by_symbol.get(fill.symbol)
        position = book.positions.get(held) if held is not None else None
    if position is None:
        return None
    order_type = OrderType.STOP_LOSS if purpose is OrderPurpose.STOP else OrderType.MARKET
    intent = OrderIntent(
        fill.cl_ord_id,
        fill.symbol,
        fill.side,
        order_type,
        qty,
        purpose,
        fill.ts,
        trigger_price=fill.price if order_type is OrderType.STOP_LOSS else None,
    )
    order = TrackedOrder(intent, position.position_id, venue_id=fill.order_id)
    order.move(OrderStatus.SUBMITTED, fill.ts)
    order.move(OrderStatus.ACKED, fill.ts)
    book.orders[intent.cl_ord_id] = order
    actions: list[Action] = [Record(RecordIntent(intent, position.position_id, ADOPTED))]
    acked = OrderEvent(intent.cl_ord_id, OrderStatus.ACKED, fill.ts, order_id=fill.order_id, reason=ADOPTED)
    actions.append(Record(RecordEvent(acked)))
    if purpose is OrderPurpose.ENTRY and stop is not None:
        actions += _take_stop(book, position, stop, now)
    return actions


def adopt_stop(book: Book, stop: VenueStop, now: datetime) -> list[Action] | None:
    """Make a resting stop of crocbot's the protection of its symbol's open position, if that has no stop order;
    None when it cannot be placed (then it is a foreign order)."""
    if purpose_of(stop.cl_ord_id) is not OrderPurpose.STOP or stop.cl_ord_id in book.orders:
        return None
    held = book.by_symbol.get(stop.symbol)
    position = book.positions.get(held) if held is not None else None
    if position is None or not position.open or position.stop_order is not None:
        return None
    if stop.side is not position.side.exit_side:
        return None
    return [*_take_stop(book, position, stop, now), *stop_adopted(book, position.position_id)]


def stop_adopted(book: Book, position_id: str) -> list[Action]:
    """Journal an adopted stop as its position's, once the position is open in the journal."""
    position = book.positions.get(position_id)
    if position is None or position.stop_order is None or not position.open:
        return []
    order = book.orders[position.stop_order]
    ts = order.updated_at or order.intent.ts
    return [Record(RecordStop(position_id, position.stop, position.stop_kind, ts, position.stop_order))]


def _entry_position(book: Book, fill: Fill, qty: Decimal, stop: VenueStop | None) -> PositionState | None:
    position_id = "p" + fill.cl_ord_id[3:]
    existing = book.positions.get(position_id)
    if existing is not None:
        return existing if not existing.closed else None
    if fill.symbol in book.by_symbol:
        return None  # another position holds the symbol: this entry is not the desk's to place
    side = PositionSide.LONG if fill.side is Side.BUY else PositionSide.SHORT
    if stop is not None:
        level = stop.trigger
    else:
        instrument = book.instruments[fill.symbol]
        limit = book.risk.limits.fail_safe_loss(book.equity())
        slippage = book.risk.limits.slippage_allowance
        widest = widest_stop(side, qty=qty, entry=fill.price, max_loss=limit, instrument=instrument, slippage=slippage)
        # None: no stop fits; a level at the price makes the desk open the position and exit it at once
        level = widest if widest is not None else fill.price
    position = PositionState(position_id, fill.symbol, side, fill.cl_ord_id, level, level, None, strategy="adopted")
    book.positions[position_id] = position
    book.by_symbol[fill.symbol] = position_id
    return position


def _take_stop(book: Book, position: PositionState, stop: VenueStop, now: datetime) -> list[Action]:
    intent = OrderIntent(
        stop.cl_ord_id,
        stop.symbol,
        stop.side,
        OrderType.STOP_LOSS,
        stop.qty,
        OrderPurpose.STOP,
        stop.ts,
        trigger_price=stop.trigger,
    )
    order = TrackedOrder(intent, position.position_id, venue_id=stop.venue_id)
    order.move(OrderStatus.SUBMITTED, stop.ts)
    order.move(OrderStatus.ACKED, stop.ts)
    book.orders[stop.cl_ord_id] = order
    position.stop_order, position.stop_live = stop.cl_ord_id, True
    long = position.side is PositionSide.LONG
    if position.qty == 0:  # opened by an adopted entry: this stop is all that is known of its brackets
        position.stop = position.initial_stop = stop.trigger
        position.stop_kind = StopKind.INITIAL
    elif stop.trigger > position.stop if long else stop.trigger < position.stop:
        position.stop = stop.trigger  # the venue's is tighter than the journal's: it is what protects the position
    return [
        Record(RecordIntent(intent, position.position_id, ADOPTED)),
        Record(RecordEvent(OrderEvent(stop.cl_ord_id, OrderStatus.ACKED, now, order_id=stop.venue_id, reason=ADOPTED))),
    ]
