"""How our orders meet the market: takers walk the caller's book, makers fill from public trades.

The market book is external, so a resting order cannot be hit by an order we never see. It fills from the
public trade prints instead: a print strictly through its limit fills it (someone traded at a worse price,
so our better-priced order would have been taken first), and a print exactly at its limit fills it only
after the market quantity that was queued ahead of it at that price has traded.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal

from crocbot.core.messages.side import Side
from crocbot.core.money import ZERO
from crocbot.matching.account import AccountState
from crocbot.matching.book import MarketBook
from crocbot.matching.state import OrderState
from crocbot.matching.types import REASON_IOC, REASON_NO_LIQUIDITY, Execution

__all__ = ["take", "execute_market", "work_limit", "rest", "fill_from_trade", "fill_from_book"]


def take(
    account: AccountState, book: MarketBook, order: OrderState, limit: Decimal | None, ts: datetime
) -> list[Execution]:
    """Fill as much of the order as the book allows at prices no worse than `limit`, as a taker, and
    remember the liquidity used until the caller's next book."""
    events: list[Execution] = []
    for price, qty in book.walk(order.side, order.remaining, limit):
        book.consume(order.side.opposite, price, qty)
        events += account.fill(order, price, qty, maker=False, ts=ts)
    return events


def execute_market(account: AccountState, book: MarketBook, order: OrderState, ts: datetime) -> list[Execution]:
    """Walk the whole book; what it cannot fill is cancelled, as a market order never rests."""
    events = take(account, book, order, None, ts)
    if order.is_open:
        events.append(account.close(order, "canceled", ts, REASON_NO_LIQUIDITY))
    return events


def rest(order: OrderState, book: MarketBook, priority: int) -> None:
    """Post the order as a maker behind the market quantity already shown at its price."""
    if order.limit_price is None:  # cannot happen: only limit-priced orders rest
        raise ValueError(f"order {order.order_id} has no limit price to rest at")
    order.resting = True
    order.queue_ahead = book.qty_at(order.side, order.limit_price)
    order.priority = priority


def work_limit(
    account: AccountState, book: MarketBook, order: OrderState, ts: datetime, priority: int
) -> list[Execution]:
    """A limit order arriving: the marketable part executes at once (taker), the rest rests (maker) or,
    for ioc, is cancelled."""
    events = take(account, book, order, order.limit_price, ts)
    if not order.is_open:
        return events
    if order.time_in_force == "ioc":
        events.append(account.close(order, "canceled", ts, REASON_IOC))
    else:
        rest(order, book, priority)
    return events


def _by_priority(orders: Iterable[OrderState], side: Side) -> list[OrderState]:
    """Best price first (highest bid, lowest ask), then time priority: the order a real book would fill."""
    chosen = [o for o in orders if o.side is side and o.resting and o.is_open and o.limit_price is not None]
    sign = -1 if side is Side.BUY else 1
    return sorted(chosen, key=lambda o: (sign * (o.limit_price or ZERO), o.priority))


def fill_from_trade(
    account: AccountState, orders: Iterable[OrderState], price: Decimal, qty: Decimal, ts: datetime
) -> list[Execution]:
    """Fill resting orders from one public print of `qty` at `price`, at their own limit prices (maker).

    The print's qty is a budget shared by our orders on each side, so one print never fills more than it
    traded. Its taker side is unknown, so buys and sells each get the whole budget.
    """
    events: list[Execution] = []
    candidates = list(orders)
    for side in (Side.BUY, Side.SELL):
        budget = qty
        for order in _by_priority(candidates, side):
            limit = order.limit_price or ZERO
            through = limit > price if side is Side.BUY else limit < price
            if through:
                reach = budget
            elif limit == price:
                # The print first trades the market orders queued ahead of ours at this price.
                reach = max(qty - order.queue_ahead, ZERO)
                order.queue_ahead = max(order.queue_ahead - qty, ZERO)
            else:
                continue
            fill = min(reach, budget, order.remaining)
            if fill > 0:
                events += account.fill(order, limit, fill, maker=True, ts=ts)
                budget -= fill
    return events


def fill_from_book(
    account: AccountState, book: MarketBook, orders: Iterable[OrderState], ts: datetime
) -> list[Execution]:
    """A new book whose opposite side lies strictly through a resting order's limit: those sellers (or
    buyers) would have met our order first, at our price. Levels exactly at the limit are only a touch and
    wait for trades, like the queue rule in `fill_from_trade`."""
    events: list[Execution] = []
    candidates = list(orders)
    for side in (Side.BUY, Side.SELL):
        for order in _by_priority(candidates, side):
            limit = order.limit_price or ZERO
            for level_price, qty in book.walk(side, order.remaining, limit, strict=True):
                book.consume(side.opposite, level_price, qty)
                events += account.fill(order, limit, qty, maker=True, ts=ts)
    return events
