"""A Kraken-faithful matching engine for one account, shared by the exchange simulator and the paper venue.

It holds the account's orders and balances for several symbols and matches them against market liquidity
the caller supplies: an L2 book per symbol (`set_book`) and the public trade prints (`on_trade`). It is not
a full exchange: the market book is the caller's, our orders never enter it, and they never match each
other (no self-trade prevention is simulated). Pure: no I/O, no threads, time from the injected clock, ids
from `IdSource` (fresh entropy per account unless a seed is given).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from decimal import Decimal

from crocbot.core.checks import utc
from crocbot.core.clock import Clock
from crocbot.core.instrument import Instrument
from crocbot.core.messages.side import Side
from crocbot.core.money import fmt
from crocbot.matching.account import AccountState, quote_needed
from crocbot.matching.book import MarketBook
from crocbot.matching.checks import (
    check_minimums,
    check_tick,
    check_volume,
    resolve_fee_in_quote,
    validate_request,
)
from crocbot.matching.match import execute_market, fill_from_book, fill_from_trade, rest, take, work_limit
from crocbot.matching.state import IdSource, OrderState
from crocbot.matching.types import (
    E_INSUFFICIENT_FUNDS,
    E_INVALID_ARGUMENTS,
    E_INVALID_ORDER,
    E_INVALID_PRICE,
    E_INVALID_VOLUME,
    E_POST_ONLY,
    MARKET,
    REASON_AMENDED_BELOW_FILLED,
    REASON_FUNDS,
    REASON_NO_LIQUIDITY,
    REASON_USER,
    Execution,
    FillView,
    OrderError,
    OrderRequest,
    OrderSnapshot,
)

__all__ = ["MatchingEngine", "DEFAULT_MAX_OPEN_ORDERS"]

DEFAULT_MAX_OPEN_ORDERS = 60  # Kraken's per-pair open-order cap at the Starter tier


class MatchingEngine:
    """One account's orders and balances, matched against caller-supplied market liquidity.

    Every mutating call returns the `Execution` events it caused, in order, shaped like WS v2 `executions`.
    """

    def __init__(
        self,
        instruments: Mapping[str, Instrument],
        balances: Mapping[str, Decimal],
        *,
        clock: Clock,
        seed: int | None = None,
        max_open_orders: int = DEFAULT_MAX_OPEN_ORDERS,
        kraken_rounding: bool = False,
    ) -> None:
        """`kraken_rounding`: book costs and fees at the pair's decimals, as Kraken does (see `account`)."""
        if max_open_orders < 1:
            raise ValueError(f"max_open_orders must be at least 1, got {max_open_orders}")
        self._instruments = dict(instruments)
        self._clock = clock
        self._ids = IdSource(seed)
        self._account = AccountState(balances, self._ids, kraken_rounding=kraken_rounding)
        self._books: dict[str, MarketBook] = {symbol: MarketBook() for symbol in self._instruments}
        self._last: dict[str, tuple[Decimal, datetime]] = {}
        self._max_open = max_open_orders
        self._seq = 0
        self._priority = 0

    def set_status(self, symbol: str, status: str) -> None:
        """Kraken changed what it accepts for `symbol` (`cancel_only`, `maintenance`, ...): new orders are checked
        against the new status; resting orders stay, as on Kraken."""
        instrument = self._instruments.get(symbol)
        if instrument is not None:
            self._instruments[symbol] = replace(instrument, status=status)

    # -- market data ---------------------------------------------------------------------------------------

    def set_book(
        self, symbol: str, bids: Sequence[tuple[Decimal, Decimal]], asks: Sequence[tuple[Decimal, Decimal]]
    ) -> list[Execution]:
        """Replace the market book of `symbol` (best first) and forget the liquidity our takers used.

        Resting orders that the new book lies strictly through fill at their limit (maker): the sellers or
        buyers it shows would have met them first. Stops do not trigger on the book, only on trades.
        """
        book = self._book(symbol)
        book.replace(bids, asks)
        now = self._clock.now()
        return fill_from_book(self._account, book, self._open_on(symbol, live_at=now), now)

    def on_trade(
        self, symbol: str, price: Decimal, qty: Decimal, ts: datetime | None = None, *, late: bool = False
    ) -> list[Execution]:
        """A public trade print: fills resting orders it trades through, then fires the stops it triggers.

        `ts` is the print's own time, kept as the last trade's time; events are stamped by the clock. A print learnt
        of `late` (fetched from history when catching up after a restart) does not touch an order opened after the
        print's time: the order did not exist when that trade happened. A live print is judged against every open
        order, as it arrives: comparing its exchange timestamp with the local clock would let clock skew decide.
        """
        book = self._book(symbol)
        for name, value in (("price", price), ("qty", qty)):
            if not isinstance(value, Decimal) or not value.is_finite() or value <= 0:
                raise ValueError(f"trade {name} must be a positive Decimal, got {value!r}")
        now = self._clock.now()
        printed = utc(ts, "ts") if ts is not None else now
        self._last[symbol] = (price, printed)
        live_at = printed if late else now
        events = fill_from_trade(self._account, self._open_on(symbol, live_at=live_at), price, qty, now)
        for order in [o for o in self._open_on(symbol, live_at=live_at) if o.waiting_for_trigger]:
            if order.is_open and order.trigger_hit(price):
                events += self._trigger(order, book, now)
        return events

    def last_trade(self, symbol: str) -> tuple[Decimal, datetime] | None:
        """The last public print's price and time: the reference of stop-loss and take-profit triggers."""
        return self._last.get(symbol)

    # -- orders --------------------------------------------------------------------------------------------

    def add_order(self, request: OrderRequest) -> tuple[str, list[Execution]]:
        """Place an order; returns its id ("" when only validating) and the events, or raises OrderError."""
        book = self._books.get(request.symbol, MarketBook())
        instrument = validate_request(
            request, instruments=self._instruments, book=book, account=self._account, max_open_orders=self._max_open
        )
        if request.validate:
            return "", []
        now = self._clock.now()
        self._seq += 1
        order = OrderState(
            order_id=self._ids.order_id(),
            seq=self._seq,
            instrument=instrument,
            side=Side(request.side),
            order_type=request.order_type,
            qty=request.qty,
            limit_price=request.limit_price,
            trigger_price=request.trigger_price,
            cl_ord_id=request.cl_ord_id,
            post_only=request.post_only,
            time_in_force=request.time_in_force,
            fee_in_quote=resolve_fee_in_quote(request),
            opened=now,
        )
        self._account.accept(order)
        events = [order.event("pending_new", now)]
        order.order_status = "new"
        events.append(order.event("new", now))
        if order.order_type == MARKET:
            events += execute_market(self._account, book, order, now)
        elif order.has_trigger:
            last = self._last.get(order.symbol)
            # A stop placed on the wrong side of the last price fires at once, as the trigger condition holds.
            if last is not None and order.trigger_hit(last[0]):
                events += self._trigger(order, book, now)
        else:
            events += work_limit(self._account, book, order, now, self._next_priority())
        return order.order_id, events

    def amend_order(
        self,
        *,
        order_id: str | None = None,
        cl_ord_id: str | None = None,
        qty: Decimal | None = None,
        limit_price: Decimal | None = None,
        trigger_price: Decimal | None = None,
        post_only: bool = False,
    ) -> list[Execution]:
        """Amend in place (same ids, fills kept). `qty` is the new total; at or below the filled qty the
        remainder is cancelled. A qty decrease keeps queue priority; a price change or a qty increase joins
        the back of the queue, and a price that now crosses the book takes (unless post-only: rejected)."""
        order = self._lookup_open(order_id, cl_ord_id)
        inst = order.instrument
        if qty is None and limit_price is None and trigger_price is None:
            raise OrderError(E_INVALID_ARGUMENTS, "nothing to amend")
        if limit_price is not None and order.limit_price is None:
            raise OrderError(E_INVALID_ARGUMENTS, f"a {order.order_type} order has no limit price")
        if trigger_price is not None and not order.waiting_for_trigger:
            raise OrderError(E_INVALID_ARGUMENTS, "only an untriggered order's trigger price can change")
        for price in (limit_price, trigger_price):
            if price is not None and (not price.is_finite() or price <= 0):
                raise OrderError(E_INVALID_PRICE, fmt(price))
        if qty is not None and (not qty.is_finite() or qty <= 0):
            raise OrderError(E_INVALID_VOLUME, fmt(qty))
        check_tick(inst, limit_price, trigger_price)
        if qty is not None:
            check_volume(inst, qty)
        now = self._clock.now()
        new_qty = qty if qty is not None else order.qty
        if new_qty <= order.cum_qty:
            # Kraken: an amend below the filled qty cancels the remainder; the fills (cum_qty) stay as they were.
            order.qty, order.amended = new_qty, True
            amended = order.event("amended", now)
            return [amended, self._account.close(order, "canceled", now, REASON_AMENDED_BELOW_FILLED)]
        new_limit = limit_price if limit_price is not None else order.limit_price
        new_trigger = trigger_price if trigger_price is not None else order.trigger_price
        check_minimums(inst, new_qty, new_limit if new_limit is not None else new_trigger)
        book = self._book(order.symbol)
        wants_post = (post_only or order.post_only) and order.takes_limit
        if wants_post and new_limit is not None and book.crosses(order.side, new_limit):
            raise OrderError(E_POST_ONLY, f"{fmt(new_limit)} would take liquidity")
        self._check_amend_funds(order, new_qty, new_limit, new_trigger)
        loses_priority = new_limit != order.limit_price or new_qty > order.qty
        order.qty, order.limit_price, order.trigger_price, order.amended = new_qty, new_limit, new_trigger, True
        events = [order.event("amended", now)]
        if order.resting and loses_priority:
            events += take(self._account, book, order, new_limit, now)
            if order.is_open:
                rest(order, book, self._next_priority())
        last = self._last.get(order.symbol)
        if order.waiting_for_trigger and last is not None and order.trigger_hit(last[0]):
            events += self._trigger(order, book, now)
        return events

    def cancel_order(self, *, order_id: str | None = None, cl_ord_id: str | None = None) -> list[Execution]:
        order = self._lookup_open(order_id, cl_ord_id)
        return [self._account.close(order, "canceled", self._clock.now(), REASON_USER)]

    def cancel_all(self) -> list[Execution]:
        """Cancel every open order, untriggered stops included, oldest first."""
        now = self._clock.now()
        return [self._account.close(o, "canceled", now, REASON_USER) for o in list(self._account.open.values())]

    # -- queries -------------------------------------------------------------------------------------------

    def open_orders(self) -> list[OrderSnapshot]:
        """Open orders, oldest first."""
        return [o.snapshot() for o in self._account.open.values()]

    def closed_orders(self) -> list[OrderSnapshot]:
        """Closed orders in the order they closed (REST ClosedOrders lists them newest first)."""
        closed = [o for o in self._account.orders.values() if not o.is_open]
        return [o.snapshot() for o in sorted(closed, key=lambda o: (o.closed or o.opened, o.seq))]

    def order(self, order_id: str) -> OrderSnapshot | None:
        found = self._account.orders.get(order_id)
        return found.snapshot() if found is not None else None

    def find(self, *, cl_ord_id: str) -> OrderSnapshot | None:
        """The open order with this cl_ord_id, else the latest closed one: how a client resolves an order
        whose placement timed out."""
        matches = [o for o in self._account.orders.values() if o.cl_ord_id == cl_ord_id]
        open_matches = [o for o in matches if o.is_open]
        chosen = open_matches or matches
        return chosen[-1].snapshot() if chosen else None

    def fills(self) -> list[FillView]:
        """Every fill, oldest first (REST TradesHistory lists them newest first)."""
        return list(self._account.fills)

    def balances(self) -> dict[str, Decimal]:
        return self._account.balances()

    def available(self, asset: str) -> Decimal:
        """Balance minus what open orders hold (Kraken's BalanceEx `balance - hold_trade`)."""
        return self._account.available(asset)

    def held(self, asset: str) -> Decimal:
        return self._account.held(asset)

    # -- internals -----------------------------------------------------------------------------------------

    def _book(self, symbol: str) -> MarketBook:
        book = self._books.get(symbol)
        if book is None:
            raise ValueError(f"unknown symbol {symbol!r}: the engine has no instrument for it")
        return book

    def _open_on(self, symbol: str, *, live_at: datetime) -> list[OrderState]:
        """The open orders of `symbol` that were already live at `live_at`."""
        return [o for o in self._account.open.values() if o.symbol == symbol and o.opened <= live_at]

    def _next_priority(self) -> int:
        self._priority += 1
        return self._priority

    def _lookup_open(self, order_id: str | None, cl_ord_id: str | None) -> OrderState:
        if order_id is None and cl_ord_id is None:
            raise OrderError(E_INVALID_ARGUMENTS, "order_id or cl_ord_id is required")
        if order_id is not None:
            found = self._account.open.get(order_id)
            if found is not None and (cl_ord_id is None or found.cl_ord_id == cl_ord_id):
                return found
        else:
            for candidate in self._account.open.values():
                if candidate.cl_ord_id == cl_ord_id:
                    return candidate
        raise OrderError(E_INVALID_ORDER, order_id or cl_ord_id or "")

    def _check_amend_funds(
        self, order: OrderState, qty: Decimal, limit: Decimal | None, trigger: Decimal | None
    ) -> None:
        asset, before = self._account.hold(order)
        _, after = self._account.hold(replace(order, qty=qty, limit_price=limit, trigger_price=trigger))
        available = self._account.available(asset)
        if after - before > available:
            raise OrderError(E_INSUFFICIENT_FUNDS, f"needs {fmt(after - before)} more {asset}")

    def _trigger(self, order: OrderState, book: MarketBook, now: datetime) -> list[Execution]:
        """The trigger fired: a -limit variant becomes a limit order, the others a market order."""
        order.triggered = True
        events = [order.event("status", now)]
        if order.takes_limit:
            return events + work_limit(self._account, book, order, now, self._next_priority())
        if book.best(order.side.opposite) is None:
            return [*events, self._account.close(order, "canceled", now, REASON_NO_LIQUIDITY)]
        if order.side is Side.BUY:
            # The hold was priced at the trigger; the walk may cost more. Kraken checks funding before it
            # matches, so an order the account cannot pay for is cancelled whole rather than part-filled.
            cost = sum((p * q for p, q in book.walk(Side.BUY, order.remaining)), Decimal(0))
            needed = quote_needed(cost, order.fee_in_quote, order.instrument.taker_fee)
            if needed > self._account.available(order.instrument.quote):
                return [*events, self._account.close(order, "canceled", now, REASON_FUNDS)]
        return events + execute_market(self._account, book, order, now)
