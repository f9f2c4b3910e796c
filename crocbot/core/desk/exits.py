"""Exits: sell the position at market, but only once the venue confirmed the cancel of its stop (which holds the
base on Kraken): a stop that filled meanwhile has sold the position already. A position too small to sell waits, and
so does one whose symbol Kraken takes no sale for (its status): its stop stays, and the exit goes when the status
comes back (`halted.resume`)."""

from __future__ import annotations

from datetime import datetime

from crocbot.core.desk.actions import Action, Note, Record
from crocbot.core.desk.state import Book, PositionState
from crocbot.core.desk.trading_status import exits_allowed
from crocbot.core.messages import (
    ExitReason,
    ExitRequest,
    OrderIntent,
    OrderPurpose,
    OrderType,
)
from crocbot.core.messages.commands import Cancel, Submit
from crocbot.core.messages.journal import (
    RecordIntent,
)
from crocbot.core.order_state import TrackedOrder

__all__ = ["on_exit_request", "exit_position", "flatten"]


def on_exit_request(book: Book, request: ExitRequest, now: datetime) -> list[Action]:
    position = book.positions.get(request.position_id)
    if position is None or not position.open or position.exiting:
        return []
    if position.held_exit is not None:  # said when it was first held: the newest reason waits in its place
        position.held_exit = (request.reason, request.kind)
        return []
    return [
        Note("INFO", f"exit {position.position_id}: {request.reason}", position.symbol),
        *exit_position(book, position, request.reason, now, request.kind),
    ]


def exit_position(
    book: Book, position: PositionState, why: str, now: datetime, kind: ExitReason | None = None
) -> list[Action]:
    """Sell the position at market. `kind` is what the trade log names the exit; None: the stop level."""
    symbol = position.symbol
    dust = book.dust(position, book.marks.get(symbol, position.entry_price))
    if dust is not None:  # Kraken would refuse the sale: nothing to send, and nothing to cancel for it
        return [Note("WARNING", f"position {position.position_id} cannot be sold ({why}): {dust}", symbol)]
    if not exits_allowed(book, symbol):
        return _hold(book, position, why, kind)
    position.exiting = True
    position.exit_reason, position.exit_detail = kind, why
    # The stop first: on Kraken it holds the base the exit sells. The exit goes out only once the venue has
    # confirmed that cancel: a stop that filled (or is filling) meanwhile has sold the position already, and
    # an exit beside it would sell coins the bot does not own.
    actions: list[Action] = []
    stops: list[str] = []
    for order in book.live_orders(position):
        if order.purpose in (OrderPurpose.STOP, OrderPurpose.ENTRY):
            actions.append(Cancel(order.cl_ord_id, symbol, now))
            if order.purpose is OrderPurpose.STOP:
                book.stop_cancels.add(order.cl_ord_id)
                stops.append(order.cl_ord_id)
    cl_ord_id = book.ids.new(OrderPurpose.EXIT, now)
    intent = OrderIntent(
        cl_ord_id=cl_ord_id,
        symbol=symbol,
        side=position.side.exit_side,
        order_type=OrderType.MARKET,
        qty=position.qty,
        purpose=OrderPurpose.EXIT,
        ts=now,
    )
    book.orders[cl_ord_id] = TrackedOrder(intent, position.position_id)
    position.exit_orders.append(cl_ord_id)
    actions += [Record(RecordIntent(intent, position.position_id, f"exit: {why}")), Submit(intent, tuple(stops))]
    return actions


def _hold(book: Book, position: PositionState, why: str, kind: ExitReason | None) -> list[Action]:
    """Keep the exit for when Kraken takes a sale again (the newest reason wins); said once per position."""
    first = position.held_exit is None
    position.held_exit = (why, kind)
    if not first:
        return []
    instrument = book.instruments.get(position.symbol)
    status = instrument.status if instrument is not None else "unknown"
    guard = "its stop stays on the venue" if position.stop_live else "it has no live stop either"
    text = (
        f"exit of {position.position_id} ({why}) waits: {position.symbol} is {status} on Kraken, which takes no "
        f"market sale now; {guard}"
    )
    return [Note("WARNING", text, position.symbol)]


def flatten(book: Book, why: str, now: datetime) -> list[Action]:
    actions: list[Action] = []
    for position in list(book.positions.values()):
        if position.open and not position.exiting:
            actions += exit_position(book, position, why, now, ExitReason.MANUAL)
    return actions
