"""Builders for the paper-venue contract tests: a funded venue on a simulated clock, order intents, public
prints, and a compact, id-free view of venue events to assert on."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from crocbot.core.clock import SimClock
from crocbot.core.instrument import Instrument
from crocbot.core.messages import (
    CommandRejected,
    Fill,
    OrderAmended,
    OrderEvent,
    OrderIntent,
    OrderPurpose,
    OrderType,
    Side,
    Trade,
)
from crocbot.venues.paper import PaperVenue
from crocbot.venues.protocol import Submit, VenueEvent
from tests.matching.engine_support import BTC_USD, ETH_USD, D

INSTRUMENTS: dict[str, Instrument] = {i.symbol: i for i in (BTC_USD, ETH_USD)}


def make_venue(balances: dict[str, Decimal] | None = None, *, seed: int = 0) -> tuple[PaperVenue, SimClock]:
    clock = SimClock()
    funded = {"USD": D(100_000), "BTC": D(10)} if balances is None else balances
    return PaperVenue.new(INSTRUMENTS, funded, clock=clock, seed=seed), clock


def submit(
    cl_ord_id: str,
    side: Side,
    order_type: OrderType,
    qty: str,
    *,
    clock: SimClock,
    limit: str | None = None,
    trigger: str | None = None,
    symbol: str = "BTC/USD",
    purpose: OrderPurpose = OrderPurpose.ENTRY,
) -> Submit:
    return Submit(
        OrderIntent(
            cl_ord_id=cl_ord_id,
            symbol=symbol,
            side=side,
            order_type=order_type,
            qty=D(qty),
            purpose=purpose,
            ts=clock.now(),
            limit_price=D(limit) if limit is not None else None,
            trigger_price=D(trigger) if trigger is not None else None,
        )
    )


def public_trade(price: str, qty: str, *, clock: SimClock, side: Side = Side.SELL, symbol: str = "BTC/USD") -> Trade:
    """A public print; `side` is the taker's, which the engine does not use (it cannot know it)."""
    return Trade(symbol=symbol, side=side, price=D(price), qty=D(qty), ts=clock.now())


def book(*pairs: tuple[str, str]) -> list[tuple[Decimal, Decimal]]:
    return [(D(p), D(q)) for p, q in pairs]


def summary(events: Sequence[VenueEvent]) -> list[tuple[Any, ...]]:
    """Events without their random ids and timestamps: what a contract test compares exactly.

    Fill: ("fill", cl_ord_id, side, qty, price, fee, fee_currency, liquidity)
    OrderEvent: ("order", cl_ord_id, status, filled_qty, avg_price, reason)
    OrderAmended: ("amended", cl_ord_id, qty, limit_price, trigger_price)
    CommandRejected: ("refused", cl_ord_id, command, reason)
    """
    out: list[tuple[Any, ...]] = []
    for e in events:
        if isinstance(e, Fill):
            out.append(("fill", e.cl_ord_id, str(e.side), e.qty, e.price, e.fee, e.fee_currency, str(e.liquidity)))
        elif isinstance(e, OrderEvent):
            out.append(("order", e.cl_ord_id, str(e.status), e.filled_qty, e.avg_price, e.reason))
        elif isinstance(e, OrderAmended):
            out.append(("amended", e.cl_ord_id, e.qty, e.limit_price, e.trigger_price))
        elif isinstance(e, CommandRejected):
            out.append(("refused", e.cl_ord_id, e.command, e.reason))
        else:  # pragma: no cover - the VenueEvent union has no other member
            raise AssertionError(f"unexpected venue event {e!r}")
    return out


def fills(events: Sequence[VenueEvent]) -> list[Fill]:
    return [e for e in events if isinstance(e, Fill)]
