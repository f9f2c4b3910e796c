"""Entries: a signal becomes a risk-sized entry order (one position per symbol, long only, through the risk
gate), and a resting entry is repriced toward the market after its TTL while the risk still fits, then cancelled."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from crocbot.core.desk.actions import Action, Note, Record, StartTimer
from crocbot.core.desk.events import EntryTTL
from crocbot.core.desk.state import Book, PositionState, up_to_grid
from crocbot.core.desk.trading_status import ENTRY_REFUSED, entries_allowed
from crocbot.core.instrument import Instrument
from crocbot.core.live_limits import LiveLimits, LiveOrder, check_live_order, entry_headroom
from crocbot.core.messages import (
    OrderIntent,
    OrderPurpose,
    OrderStatus,
    OrderType,
    PositionSide,
    Side,
    Signal,
)
from crocbot.core.messages.commands import Amend, Cancel, Submit
from crocbot.core.messages.journal import (
    EntryBrackets,
    RecordIntent,
)
from crocbot.core.money import ZERO, fmt, quantize_down
from crocbot.core.order_state import TrackedOrder
from crocbot.core.risk_sizing import Refusal, money_text

__all__ = ["on_signal", "on_entry_ttl"]


def on_signal(book: Book, signal: Signal, now: datetime) -> list[Action]:
    book.risk.roll_day(now, book.equity())
    symbol = signal.symbol
    instrument = book.instruments.get(symbol)
    if instrument is None:
        return [Note("WARNING", f"signal for {symbol}, which crocbot does not trade", symbol)]
    if symbol in book.by_symbol:
        return []  # one position per symbol: a new signal while in the market changes nothing
    if not entries_allowed(book, symbol):
        book.refuse(ENTRY_REFUSED)  # the status change itself was said once, when it came
        return []
    if signal.side is not PositionSide.LONG:
        book.refuse("short")
        return [Note("INFO", "short signal ignored: spot trading is long only", symbol)]
    active = sum(1 for p in book.positions.values() if not p.closed)
    refusal = book.risk.check_entry(symbol, now=now, open_positions=active)
    if refusal is not None:
        book.refuse(refusal.label)
        return [Note("INFO", f"entry refused: {refusal.reason}", symbol)]
    sizing = book.risk.size_entry(
        signal, equity=book.equity(), instrument=instrument, open_exposure=book.exposure(), now=now
    )
    if isinstance(sizing, Refusal):
        book.refuse(sizing.label)
        return [Note("INFO", f"entry refused: {sizing.reason}", symbol)]
    market = book.config.entry_order == "market"
    limit_price = None if market else quantize_down(signal.entry, instrument.price_increment)
    qty = sizing.qty
    if book.config.live_limits is not None:
        # valued at the limit, or for a market entry at the higher of the signal's entry and the last price
        price = limit_price or max(signal.entry, book.marks.get(symbol, signal.entry))
        capped = _within_live_limits(book, book.config.live_limits, symbol, qty, price, instrument)
        if isinstance(capped, Refusal):
            book.refuse(capped.label)
            return [Note("INFO", f"entry refused: {capped.reason}", symbol)]
        qty = capped
    cl_ord_id = book.ids.new(OrderPurpose.ENTRY, now)
    intent = OrderIntent(
        cl_ord_id=cl_ord_id,
        symbol=symbol,
        side=Side.BUY,
        order_type=OrderType.MARKET if market else OrderType.LIMIT,
        qty=qty,
        purpose=OrderPurpose.ENTRY,
        ts=now,
        limit_price=limit_price,
    )
    position_id = "p" + cl_ord_id[3:]
    book.positions[position_id] = PositionState(
        position_id,
        symbol,
        PositionSide.LONG,
        cl_ord_id,
        initial_stop=signal.stop,
        stop=signal.stop,
        take_profit=signal.take_profit,
        strategy=signal.strategy,
        intended_entry=signal.entry,
    )
    book.by_symbol[symbol] = position_id
    book.orders[cl_ord_id] = TrackedOrder(intent, position_id)
    reason = f"{signal.strategy}: {signal.reason}".strip(": ")
    brackets = EntryBrackets(signal.stop, signal.take_profit, signal.strategy, signal.entry)
    actions: list[Action] = [Record(RecordIntent(intent, position_id, reason, brackets)), Submit(intent)]
    if not market:
        actions.append(StartTimer(book.config.limit_ttl, EntryTTL(cl_ord_id, 1)))
    return actions


def on_entry_ttl(book: Book, timer: EntryTTL, now: datetime) -> list[Action]:
    order = book.orders.get(timer.cl_ord_id)
    if order is None:
        return []
    if order.status in (OrderStatus.SUBMITTED, OrderStatus.UNKNOWN):
        # not acknowledged yet: look again later, or an entry acked late would rest forever
        return [StartTimer(book.config.limit_ttl, EntryTTL(order.cl_ord_id, timer.attempt))]
    if order.status not in (OrderStatus.ACKED, OrderStatus.PARTIALLY_FILLED):
        return []
    instrument = book.instruments[order.symbol]
    position = book.positions.get(order.position_id or "")
    current = order.limit_price  # the last price the venue confirmed
    if (
        timer.attempt > book.config.max_repositions
        or current is None
        or position is None
        or position.exiting
        or position.closed
    ):
        return [Cancel(order.cl_ord_id, order.symbol, now)]
    chased = up_to_grid(current * (1 + book.config.chase_step), instrument.price_increment)
    if chased == current:
        chased = current + instrument.price_increment
    refusal = book.risk.check_stop(
        side=position.side,
        qty=order.qty,
        entry=chased,
        stop=position.initial_stop,
        equity_at_entry=book.equity(),
        instrument=instrument,
    )
    limits = book.config.live_limits
    if refusal is None and limits is not None:
        # the chase raises what the order is worth: still within the live limits, counting itself once
        others = book.live_exposure() - max(order.qty - order.filled, ZERO) * current
        unfilled = LiveOrder(order.symbol, Side.BUY, max(order.qty - order.filled, ZERO), chased)
        refusal = check_live_order(limits, unfilled, others)
    if refusal is not None:
        note = Note("INFO", f"entry {order.cl_ord_id} not chased further: {refusal.reason}", order.symbol)
        return [note, Cancel(order.cl_ord_id, order.symbol, now)]
    # the new price is the order's only once the venue confirms it (`on_amended`)
    return [
        Amend(order.cl_ord_id, order.symbol, now, limit_price=chased),
        StartTimer(book.config.limit_ttl, EntryTTL(order.cl_ord_id, timer.attempt + 1)),
    ]


def _within_live_limits(
    book: Book, limits: LiveLimits, symbol: str, qty: Decimal, price: Decimal, instrument: Instrument
) -> Decimal | Refusal:
    """The risk-sized `qty`, cut down to what a first live run's limits leave room for (less at stake, same stop),
    or why no entry fits: the room left is below Kraken's minimum order."""
    headroom = entry_headroom(limits, book.live_exposure())
    if qty * price > headroom:
        qty = quantize_down(headroom / price, instrument.qty_increment)
    refusal = check_live_order(limits, LiveOrder(symbol, Side.BUY, qty, price), book.live_exposure())
    if refusal is not None:
        return refusal
    if qty < instrument.qty_min or qty * price < instrument.cost_min:
        return Refusal(
            f"the live limits leave room for {fmt(qty)} {instrument.base} (worth {money_text(qty * price)} "
            f"{instrument.quote}), below Kraken's minimum order",
            "live_total_exposure",
        )
    return qty
