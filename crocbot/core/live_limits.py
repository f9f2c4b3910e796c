"""The limits of a first live run: no entry above a maximum value, none that lifts the total above a maximum.

Pure: the caller supplies the order and the bot's exposure (the value of its open positions and of its resting
entries, in the limits' quote currency). Protective orders (stops, take-profits, exits that reduce a position) are
never refused here: refusing one would leave real money unprotected to keep a number small.

A market order has no price of its own; the caller values it at the book's price for its side (the best ask for a
buy), and an order that cannot be valued at all is refused, since its size in money is unknown.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from crocbot.core.messages import Side
from crocbot.core.money import ZERO
from crocbot.core.risk_sizing import Refusal, money_text

__all__ = ["LiveLimits", "LiveOrder", "check_live_order", "entry_headroom"]


@dataclass(frozen=True, slots=True)
class LiveLimits:
    quote: str  # the currency of both amounts; orders on symbols quoted in another are refused
    max_order_notional: Decimal
    max_total_exposure: Decimal

    def __post_init__(self) -> None:
        if not (ZERO < self.max_order_notional <= self.max_total_exposure):
            raise ValueError("live limits need 0 < max_order_notional <= max_total_exposure")


@dataclass(frozen=True, slots=True)
class LiveOrder:
    symbol: str  # WS v2, e.g. BTC/USD
    side: Side
    qty: Decimal
    price: Decimal | None  # the limit price, or the book's price for a market order; None if there is none
    protective: bool = False  # a stop, a take-profit or an exit: it reduces a position


def check_live_order(limits: LiveLimits, order: LiveOrder, exposure: Decimal) -> Refusal | None:
    """None if the order may leave; else why not. `exposure` is what the bot holds and has resting as entries now,
    in `limits.quote`, not counting this order."""
    if order.protective:
        return None
    quote = order.symbol.rpartition("/")[2]
    if quote != limits.quote:
        return Refusal(
            f"{order.symbol} is quoted in {quote}, not in {limits.quote}, the currency of the live limits",
            "live_quote",
        )
    if order.price is None or order.price <= 0 or order.qty <= 0:
        return Refusal(f"{order.symbol} {order.side} has no price to value it against the live limits", "live_unpriced")
    notional = order.qty * order.price
    if notional > limits.max_order_notional:
        return Refusal(
            f"{order.symbol} {order.side} worth {money_text(notional)} {quote} is above live.max_order_notional "
            f"({money_text(limits.max_order_notional)} {quote})",
            "live_order_notional",
        )
    total = exposure + notional
    if total > limits.max_total_exposure:
        return Refusal(
            f"{order.symbol} {order.side} worth {money_text(notional)} {quote} would take the live exposure from "
            f"{money_text(exposure)} to {money_text(total)} {quote}, above live.max_total_exposure "
            f"({money_text(limits.max_total_exposure)} {quote})",
            "live_total_exposure",
        )
    return None


def entry_headroom(limits: LiveLimits, exposure: Decimal) -> Decimal:
    """The largest value the next entry may have now (0 when the total is reached), for sizing an entry down to
    the limits instead of having it refused."""
    return max(ZERO, min(limits.max_order_notional, limits.max_total_exposure - exposure))
