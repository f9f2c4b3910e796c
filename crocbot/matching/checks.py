"""Order validation in Kraken's order of checks; each failure is an `OrderError` with Kraken's exact string.

The order matters because a client sees only the first failure: pair, market status, arguments, tick size,
volume increment, minimum qty, minimum cost, duplicate cl_ord_id, open-order cap, funds, post-only, liquidity.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation

from crocbot.core.instrument import Instrument
from crocbot.core.messages.orders import valid_cl_ord_id
from crocbot.core.messages.side import Side
from crocbot.core.money import fmt
from crocbot.matching.account import AccountState, hold_rate, quote_needed, rounding_slack
from crocbot.matching.book import MarketBook
from crocbot.matching.types import (
    E_CANCEL_ONLY,
    E_COST_MINIMUM,
    E_DUPLICATE_CL_ORD_ID,
    E_INSUFFICIENT_FUNDS,
    E_INVALID_ARGUMENTS,
    E_INVALID_PRICE,
    E_INVALID_VOLUME,
    E_ORDER_MINIMUM,
    E_ORDERS_LIMIT,
    E_POST_ONLY,
    E_POST_ONLY_MODE,
    E_TICK_SIZE,
    E_UNAVAILABLE,
    E_UNKNOWN_PAIR,
    LIMIT,
    LIMIT_PRICE_TYPES,
    MARKET,
    ORDER_TYPES,
    TIME_IN_FORCE,
    TRIGGER_TYPES,
    OrderError,
    OrderRequest,
)

__all__ = [
    "validate_request",
    "instrument_for",
    "check_tick",
    "check_volume",
    "check_minimums",
    "resolve_fee_in_quote",
]


def instrument_for(instruments: Mapping[str, Instrument], symbol: str) -> Instrument:
    instrument = instruments.get(symbol)
    if instrument is None:
        raise OrderError(E_UNKNOWN_PAIR, symbol)
    return instrument


def resolve_fee_in_quote(request: OrderRequest) -> bool:
    """Kraken's default: fee in quote when buying (fciq), in base when selling (fcib)."""
    return request.fee_in_quote if request.fee_in_quote is not None else request.side == Side.BUY


def _check_status(instrument: Instrument) -> None:
    if not instrument.accepts_orders:
        code = E_CANCEL_ONLY if instrument.status == "cancel_only" else E_UNAVAILABLE
        raise OrderError(code, f"{instrument.symbol} is {instrument.status}")


def _check_price(value: Decimal | None, needed: bool, name: str, order_type: str) -> None:
    if value is None:
        if needed:
            raise OrderError(E_INVALID_ARGUMENTS, f"a {order_type} order needs a {name}")
        return
    if not needed:
        raise OrderError(E_INVALID_ARGUMENTS, f"a {order_type} order takes no {name}")
    if not isinstance(value, Decimal):
        raise TypeError(f"{name}: money must be a Decimal, got {type(value).__name__}")
    if not value.is_finite() or value <= 0:
        raise OrderError(E_INVALID_PRICE, f"{name} {value}")


def _check_arguments(request: OrderRequest) -> None:
    if request.order_type not in ORDER_TYPES:
        raise OrderError(E_INVALID_ARGUMENTS, f"order_type {request.order_type!r}")
    if request.side not in (Side.BUY, Side.SELL):
        raise OrderError(E_INVALID_ARGUMENTS, f"side {request.side!r}")
    if not isinstance(request.qty, Decimal):
        raise TypeError(f"qty: quantities must be Decimal, got {type(request.qty).__name__}")
    if not request.qty.is_finite() or request.qty <= 0:
        raise OrderError(E_INVALID_VOLUME, f"qty {request.qty}")
    _check_price(request.limit_price, request.order_type in LIMIT_PRICE_TYPES, "limit_price", request.order_type)
    _check_price(request.trigger_price, request.order_type in TRIGGER_TYPES, "trigger_price", request.order_type)
    if request.time_in_force not in TIME_IN_FORCE:
        raise OrderError(E_INVALID_ARGUMENTS, f"time_in_force {request.time_in_force!r}")
    if request.post_only and request.order_type != LIMIT:
        raise OrderError(E_INVALID_ARGUMENTS, "post_only is for limit orders")
    if request.cl_ord_id is not None and not valid_cl_ord_id(request.cl_ord_id):
        # Kraken takes a UUID or at most 18 ASCII characters (FACTS §10.4).
        raise OrderError(E_INVALID_ARGUMENTS, f"cl_ord_id {request.cl_ord_id!r}")


def _multiple(value: Decimal, increment: Decimal) -> bool:
    try:
        return value % increment == 0
    except InvalidOperation:  # the quotient does not fit the context precision: certainly not a clean multiple
        return False


def check_tick(instrument: Instrument, *prices: Decimal | None) -> None:
    for price in prices:
        if price is not None and not _multiple(price, instrument.price_increment):
            raise OrderError(E_TICK_SIZE, f"{fmt(price)} is not a multiple of {fmt(instrument.price_increment)}")


def check_volume(instrument: Instrument, qty: Decimal) -> None:
    if not _multiple(qty, instrument.qty_increment):
        raise OrderError(E_INVALID_VOLUME, f"{fmt(qty)} is not a multiple of {fmt(instrument.qty_increment)}")


def check_minimums(instrument: Instrument, qty: Decimal, price: Decimal | None) -> None:
    """`ordermin` on the qty; `costmin` on qty * price when a price is known (a market order on an empty
    book has none and fails later for want of liquidity)."""
    if qty < instrument.qty_min:
        raise OrderError(E_ORDER_MINIMUM, f"{fmt(qty)} < {fmt(instrument.qty_min)}")
    if price is not None and qty * price < instrument.cost_min:
        raise OrderError(E_COST_MINIMUM, f"{fmt(qty * price)} < {fmt(instrument.cost_min)}")


def _reference_price(request: OrderRequest, book: MarketBook) -> Decimal | None:
    if request.limit_price is not None:
        return request.limit_price
    if request.trigger_price is not None:  # a stop-loss/take-profit becomes a market order at about this price
        return request.trigger_price
    return book.best(request.side.opposite)


def _check_funds(request: OrderRequest, instrument: Instrument, book: MarketBook, account: AccountState) -> None:
    if request.side == Side.SELL:
        asset, needed = instrument.base, request.qty
    else:
        asset = instrument.quote
        if request.order_type == MARKET:
            # Priced at the walk it will take; only the part the book can fill (the rest is cancelled).
            cost = sum((p * q for p, q in book.walk(Side.BUY, request.qty)), Decimal(0))
            needed = quote_needed(cost, resolve_fee_in_quote(request), instrument.taker_fee)
        else:
            price = request.limit_price if request.limit_price is not None else request.trigger_price
            if price is None:  # cannot happen after _check_arguments
                raise OrderError(E_INVALID_ARGUMENTS, "no price")
            needed = quote_needed(request.qty * price, resolve_fee_in_quote(request), hold_rate(instrument))
        needed += rounding_slack(instrument, account.kraken_rounding)
    available = account.available(asset)
    if needed > available:
        raise OrderError(E_INSUFFICIENT_FUNDS, f"needs {fmt(needed)} {asset}, {fmt(available)} available")


def validate_request(
    request: OrderRequest,
    *,
    instruments: Mapping[str, Instrument],
    book: MarketBook,
    account: AccountState,
    max_open_orders: int,
) -> Instrument:
    """Every add_order check, in Kraken's order; returns the instrument or raises `OrderError`."""
    instrument = instrument_for(instruments, request.symbol)
    _check_status(instrument)
    _check_arguments(request)
    if instrument.status == "post_only" and not request.post_only:
        raise OrderError(E_POST_ONLY_MODE, instrument.symbol)
    check_tick(instrument, request.limit_price, request.trigger_price)
    check_volume(instrument, request.qty)
    check_minimums(instrument, request.qty, _reference_price(request, book))
    open_here = [o for o in account.open.values() if o.symbol == instrument.symbol]
    if request.cl_ord_id is not None and any(o.cl_ord_id == request.cl_ord_id for o in account.open.values()):
        raise OrderError(E_DUPLICATE_CL_ORD_ID, request.cl_ord_id)
    if len(open_here) >= max_open_orders:
        raise OrderError(E_ORDERS_LIMIT, f"{len(open_here)} open orders on {instrument.symbol}")
    _check_funds(request, instrument, book, account)
    if request.post_only and request.limit_price is not None and book.crosses(request.side, request.limit_price):
        raise OrderError(E_POST_ONLY, f"{fmt(request.limit_price)} would take liquidity")
    if request.order_type == MARKET and book.best(request.side.opposite) is None:
        # Kraken documents no error for a market order that meets an empty book; a venue that cannot price
        # the order is, to the client, a service that cannot take it now, so use Kraken's generic refusal.
        raise OrderError(E_UNAVAILABLE, f"no {request.side.opposite} liquidity on {instrument.symbol}")
    return instrument
