"""Builders shared by the matching-engine tests: a BTC/USD instrument, an engine on a simulated clock, requests."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from decimal import Decimal

from crocbot.core.clock import SimClock
from crocbot.core.instrument import AssetClass, Instrument
from crocbot.core.messages.side import Side
from crocbot.matching import Execution, MatchingEngine, OrderRequest

D = Decimal
BUY, SELL = Side.BUY, Side.SELL

BTC_USD = Instrument(
    symbol="BTC/USD",
    base="BTC",
    quote="USD",
    asset_class=AssetClass.CURRENCY,
    status="online",
    price_precision=1,
    qty_precision=8,
    cost_precision=5,
    price_increment=D("0.1"),
    qty_increment=D("0.00000001"),
    qty_min=D("0.0001"),
    cost_min=D("0.5"),
    taker_fee=D("0.0040"),
    maker_fee=D("0.0025"),
)
ETH_USD = replace(BTC_USD, symbol="ETH/USD", base="ETH", price_increment=D("0.01"), qty_min=D("0.001"))


def make_engine(
    balances: dict[str, Decimal] | None = None,
    *,
    seed: int = 0,
    clock: SimClock | None = None,
    instruments: Sequence[Instrument] = (BTC_USD, ETH_USD),
    max_open_orders: int = 60,
) -> MatchingEngine:
    funded = {"USD": D(100_000), "BTC": D(10), "ETH": D(100)} if balances is None else balances
    return MatchingEngine(
        {i.symbol: i for i in instruments},
        funded,
        clock=clock or SimClock(),
        seed=seed,
        max_open_orders=max_open_orders,
    )


def order(
    side: Side,
    order_type: str,
    qty: str,
    *,
    limit: str | None = None,
    trigger: str | None = None,
    symbol: str = "BTC/USD",
    **extra: object,
) -> OrderRequest:
    return OrderRequest(
        symbol=symbol,
        side=side,
        order_type=order_type,
        qty=D(qty),
        limit_price=D(limit) if limit is not None else None,
        trigger_price=D(trigger) if trigger is not None else None,
        **extra,  # type: ignore[arg-type]  # the optional OrderRequest fields, by name
    )


def levels(*pairs: tuple[str, str]) -> list[tuple[Decimal, Decimal]]:
    return [(D(p), D(q)) for p, q in pairs]


def kinds(events: Sequence[Execution]) -> list[str]:
    return [e.exec_type for e in events]


def trades(events: Sequence[Execution]) -> list[tuple[Decimal | None, Decimal | None]]:
    """(last_price, last_qty) of each trade event."""
    return [(e.last_price, e.last_qty) for e in events if e.exec_type == "trade"]
