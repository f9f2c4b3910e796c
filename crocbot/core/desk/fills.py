"""Fills: booked in the ledger once each (even those the order's record refuses: the money moved); an entry fill
opens or grows the position and protects it (a fill through the stop is opened and exited at once, one too near
the take-profit loses it); an exit or stop fill shrinks or closes it, with the trade's context for the log."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from crocbot.core.costs import TradeCosts
from crocbot.core.desk.actions import Action, Emit, Note, Record
from crocbot.core.desk.exits import exit_position, flatten
from crocbot.core.desk.protection import place_stop
from crocbot.core.desk.safety import ANOMALY, protected_again, set_safe
from crocbot.core.desk.state import Book, PositionState, down_to_grid, up_to_grid
from crocbot.core.desk.trade_context import trade_context, trade_summary
from crocbot.core.instrument import Instrument
from crocbot.core.messages import (
    ClosedTrade,
    Fill,
    OrderPurpose,
    OrderStatus,
    OrderType,
    PositionChanged,
    PositionClosed,
    PositionOpened,
    PositionSide,
    StopKind,
)
from crocbot.core.messages.commands import Amend, Cancel
from crocbot.core.messages.journal import (
    RecordPositionChanged,
    RecordPositionClosed,
    RecordPositionOpened,
)
from crocbot.core.money import fmt
from crocbot.core.order_state import IllegalTransition, TrackedOrder
from crocbot.core.risk_sizing import widest_stop

__all__ = ["on_fill", "entry_filled", "fit_brackets", "open_or_change", "exit_filled"]


def on_fill(book: Book, fill: Fill, now: datetime) -> list[Action]:
    if book.ledger.has_fill(fill.fill_id):
        return []  # booked lately: a replay (older ones are the journal's to spot, see `Ledger.booked`)
    order = book.orders.get(fill.cl_ord_id)
    if order is None:
        book.ledger.apply(fill)  # real money moved: keep the books right, the reconciler finds the order
        note = Note("CRITICAL", f"fill {fill.fill_id} for unknown order {fill.cl_ord_id}", fill.symbol)
        # the books lost track of an order of crocbot's: no new risk until a person has looked (a restart)
        halt = set_safe(book, ANOMALY, True, now, detail=f"fill {fill.fill_id} of {fill.cl_ord_id}", symbol=fill.symbol)
        return [note, *halt, *book.saves()]
    actions: list[Action] = []
    before = order.status
    try:
        if not order.apply_fill(fill):
            return []
    except IllegalTransition as error:
        # An over-fill, or a fill after the venue said the order was done: the order's own record cannot
        # take it, but the money moved. Book it, and let the position and its stop follow the books.
        actions.append(Note("CRITICAL", f"{error}; booked all the same: the money moved", fill.symbol))
    book.count_end(order, before)
    trade = book.ledger.apply(fill)
    if order.status is OrderStatus.FILLED:
        book.stop_cancels.discard(order.cl_ord_id)  # a stop that fired before its cancel reached it
    position = book.positions.get(order.position_id or "")
    if position is None:
        if order.position_id in book.closed_positions:
            # crocbot died after journaling the position's close and before saving the ledger: the fill that
            # closed it comes back from the venue and is booked now; nothing else is left to do
            text = f"fill {fill.fill_id} closed position {order.position_id} before the restart: booked now"
            return [*actions, Note("INFO", text, fill.symbol), *book.saves()]
        actions.append(Note("CRITICAL", f"fill {fill.fill_id} for an order without a position", fill.symbol))
        return [*actions, *book.saves()]
    if order.purpose is OrderPurpose.ENTRY:
        if position.closed and position.opened_at is None:
            # the entry was given up (cancelled, no fill) before this fill arrived: the position lives after all
            position.closed = False
            book.by_symbol.setdefault(position.symbol, position.position_id)
        return [*actions, *entry_filled(book, position, fill, now), *book.saves()]
    return [*actions, *exit_filled(book, position, order, trade, fill, now), *book.saves()]


def entry_filled(book: Book, position: PositionState, fill: Fill, now: datetime) -> list[Action]:
    symbol = position.symbol
    first = position.qty == 0
    position.qty = abs(book.ledger.position(symbol))
    position.entry_price = book.ledger.average_entry(symbol)
    instrument = book.instruments[symbol]
    assert position.entry_price is not None
    actions, through = fit_brackets(book, position, instrument)
    if through:  # the market is already past the stop: open the position (journaled, protected) and leave
        actions += open_or_change(book, position, fill, first)
        if not position.exiting:
            actions += exit_position(
                book, position, f"entry filled through the stop at {fmt(position.entry_price)}", now
            )
        return actions
    tightened: Decimal | None = None
    refusal = book.risk.check_stop(
        side=position.side,
        qty=position.qty,
        entry=position.entry_price,
        stop=position.stop,
        equity_at_entry=book.equity(),
        instrument=instrument,
    )
    if refusal is not None:
        # The fill came in worse than the signal's entry: tighten the stop to what the risk allows, or leave.
        limit = book.risk.limits.fail_safe_loss(book.equity())
        safer = widest_stop(
            position.side,
            qty=position.qty,
            entry=position.entry_price,
            max_loss=limit,
            instrument=instrument,
            slippage=book.risk.limits.slippage_allowance,
        )
        if safer is None:
            note = Note("CRITICAL", f"{refusal.reason}; no stop fits the risk limit, exiting", symbol)
            return [
                note,
                *open_or_change(book, position, fill, first),
                *exit_position(book, position, refusal.reason, now),
            ]
        actions.append(Note("WARNING", f"entry filled worse than planned; stop tightened to {safer}", symbol))
        if position.stop_order is not None and safer > position.stop:
            tightened = safer  # the live stop moves once the venue confirms the amend below
        else:  # the stop is placed below at the new level, or already is at least as tight
            position.stop = max(position.stop, safer)
            position.initial_stop = max(position.initial_stop, safer)
    initial = position.initial_stop if tightened is None else max(position.initial_stop, tightened)
    book.ledger.register_initial_risk(symbol, position.qty * abs(position.entry_price - initial))
    if position.stop_order is None and book.dust(position, position.stop) is not None:
        # A first fill below Kraken's minimum order: no stop (nor exit) can be sent for it yet. It is journaled
        # and waits for the entry's next fills; the SL manager hears of it once it can be protected.
        actions += open_or_change(book, position, fill, first, announce=False)
        return [*actions, *place_stop(book, position, now)]
    actions += open_or_change(book, position, fill, first)
    if position.exiting:
        # an entry fill racing the exit: the stop is being cancelled (it would hold the base the exit sells);
        # the exit sells what it was sent for and `_exit_filled` the rest, or a failed exit protects it all
        return actions
    if position.stop_order is None and (open_stop := book.open_stop_order(position)) is not None:
        # Rebuilt after a crash before the stop's acknowledgement named it the position's: it is still the
        # position's stop. A second one would find the base held by the first and be refused (then: an exit).
        position.stop_order, position.stop_live = open_stop.cl_ord_id, open_stop.status is OrderStatus.ACKED
    if position.stop_order is None:
        actions += place_stop(book, position, now)
    elif tightened is not None:
        # The live stop moves only once the venue confirms (`on_amended` records it). An amend already in
        # flight is overtaken by this one (the newest wins), never loosened by it.
        pending = position.pending_stop
        if pending is not None and pending[0] > tightened:
            position.pending_stop = pending
        else:
            position.pending_stop = (tightened, StopKind.INITIAL)
        trigger = position.pending_stop[0]
        total = book.stop_total(position.stop_order, position.qty)
        actions.append(Amend(position.stop_order, symbol, now, qty=total, trigger_price=trigger))
    else:
        actions.append(Amend(position.stop_order, symbol, now, qty=book.stop_total(position.stop_order, position.qty)))
    return actions


def fit_brackets(book: Book, position: PositionState, instrument: Instrument) -> tuple[list[Action], bool]:
    """Make the position describable (a `Position`) after an entry fill; True when it filled through the stop.

    A fill so near the take-profit that hitting it would not pay for the round trip (both fees and the
    slippage allowance), or beyond it, drops the take-profit (the stop still protects it). A fill at or
    through the initial stop means the market is already past it: the stop is recorded one tick on the safe
    side of the entry, so that the position can be journaled and protected while it is exited at once.
    """
    entry = position.entry_price
    assert entry is not None
    long = position.side is PositionSide.LONG
    symbol = position.symbol
    actions: list[Action] = []
    target = position.take_profit
    costs = TradeCosts.of(
        taker_fee=instrument.taker_fee,
        maker_fee=instrument.maker_fee,
        slippage=book.risk.limits.slippage_allowance,
    )
    if target is not None and costs.net_reward(position.side, entry, target) <= 0:
        position.take_profit = None
        text = (
            f"entry {fmt(entry)}: hitting the take-profit {fmt(target)} would not pay for the round trip's fees "
            "and slippage: take-profit dropped"
        )
        actions.append(Note("WARNING", text, symbol))
    planned = position.initial_stop
    if planned < entry if long else planned > entry:
        return actions, False
    tick = instrument.price_increment
    stop = down_to_grid(entry - tick, tick) if long else up_to_grid(entry + tick, tick)
    if stop <= 0:
        stop = entry / 2  # an entry within a tick of zero: any positive level below it will do
    position.stop = position.initial_stop = stop
    position.stop_kind, position.pending_stop = StopKind.INITIAL, None
    actions.append(
        Note(
            "CRITICAL",
            f"entry {fmt(entry)} is at or through the stop {fmt(planned)}: the market is already past it; stop "
            f"recorded at {fmt(stop)}, exiting at once",
            symbol,
        )
    )
    return actions, True


def open_or_change(
    book: Book, position: PositionState, fill: Fill, first: bool, *, announce: bool = True
) -> list[Action]:
    assert position.entry_price is not None
    if first:
        position.opened_at = fill.ts
        message = position.message()
        opened: list[Action] = [Record(RecordPositionOpened(message))]
        return [*opened, Emit(PositionOpened(message))] if announce else opened
    change: list[Action] = [Record(RecordPositionChanged(position.position_id, position.qty, position.entry_price))]
    return [*change, Emit(PositionChanged(position.message()))] if announce else change


def exit_filled(
    book: Book, position: PositionState, order: TrackedOrder, trade: ClosedTrade | None, fill: Fill, now: datetime
) -> list[Action]:
    symbol = position.symbol
    remaining = abs(book.ledger.position(symbol))
    if remaining > 0:
        position.qty = remaining
        actions: list[Action] = open_or_change(book, position, fill, first=False)
        stop = position.stop_order
        if order.purpose is OrderPurpose.STOP and not order.is_open and stop == order.cl_ord_id:
            # The stop sold all it was for, yet base is left (an entry fill raced its size amend): the stop level
            # was hit and nothing protects the rest, so the rest goes too (an exit already waiting on this stop's
            # cancel is held back, and sends it then).
            position.stop_order, position.stop_live = None, False
            if not position.exiting:
                why = f"stop {order.cl_ord_id} filled but {fmt(remaining)} is still open"
                actions += [
                    Note("WARNING", f"{why}: exiting the rest", symbol),
                    *exit_position(book, position, why, now),
                ]
            return actions
        if order.purpose is not OrderPurpose.STOP and stop is not None and stop not in book.stop_cancels:
            actions.append(Amend(stop, symbol, now, qty=book.stop_total(stop, remaining)))
        if order.status is OrderStatus.FILLED and order.cl_ord_id in position.exit_orders:
            # The exit sold all it was sent for, yet base is left (an entry fill raced the exit): its stop is
            # cancelled, so the rest must go too, or it would sit unprotected with the position `exiting`.
            position.exit_orders.remove(order.cl_ord_id)
            if not position.exit_orders:
                position.exiting = False
                why = f"exit {order.cl_ord_id} filled but {fmt(remaining)} is still open"
                rest = exit_position(
                    book, position, why, now, position.exit_reason
                )  # the rest goes for the same reason
                actions += [Note("WARNING", f"{why}: exiting the rest", symbol), *rest]
        return actions
    position.qty, position.closed = remaining, True
    book.by_symbol.pop(symbol, None)
    actions = []
    for other in book.live_orders(position):
        # A market order never rests, so a cancel cannot reach it (an exit held back behind a stop that filled
        # is not sent at all): only resting orders are cancelled.
        if other.cl_ord_id != order.cl_ord_id and other.intent.order_type is not OrderType.MARKET:
            actions.append(Cancel(other.cl_ord_id, symbol, now))
    context = None
    if trade is not None:
        instrument = book.instruments.get(symbol)
        if instrument is not None:
            context = trade_context(position, order, instrument, book.equity())
            actions.append(Note("INFO", trade_summary(trade, context, instrument.quote), symbol))
        for event in book.risk.on_trade_closed(trade, now=now, equity=book.equity()):
            # a cooldown after a loss is trading as usual; the kill switch is what an operator must see
            loud = event.startswith(("kill switch", "flatten_on_kill_switch"))
            actions.append(Note("WARNING" if loud else "INFO", event, symbol))
    actions += [
        Record(RecordPositionClosed(position.position_id, fill.ts, trade, context)),
        Emit(PositionClosed(position.position_id, symbol, fill.ts, trade)),
    ]
    if book.risk.should_flatten:
        actions += flatten(book, "kill switch", now)
    return [*actions, *protected_again(book, position, now)]
