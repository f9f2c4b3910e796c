"""One symbol's market liquidity as the engine sees it: the caller's L2 book minus what our takers used.

The caller owns the real book and replaces it wholesale with `replace`. Between two replacements the engine
remembers how much of each level its own taker fills consumed, so that two market orders in a row do not
both buy the same 1 BTC at the best ask: the real market would have shown that level gone.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from crocbot.core.messages.side import Side
from crocbot.core.money import ZERO, fmt

__all__ = ["MarketBook", "Level"]

Level = tuple[Decimal, Decimal]  # (price, qty)


def _levels(raw: Sequence[tuple[Decimal, Decimal]], name: str) -> dict[Decimal, Decimal]:
    out: dict[Decimal, Decimal] = {}
    for price, qty in raw:
        if not isinstance(price, Decimal) or not isinstance(qty, Decimal):
            raise TypeError(f"{name}: prices and quantities must be Decimal, got {price!r}, {qty!r}")
        if not price.is_finite() or price <= 0:
            raise ValueError(f"{name}: price must be positive, got {fmt(price)}")
        if not qty.is_finite() or qty < 0:
            raise ValueError(f"{name}: qty must not be negative, got {fmt(qty)}")
        if qty > 0:  # a zero level is a deletion on the wire; here it simply is not there
            out[price] = out.get(price, ZERO) + qty
    return out


class MarketBook:
    """Bids and asks of one symbol, each level reduced by what our own taker fills consumed.

    Sides are named by the resting orders: `Side.BUY` is the bids, `Side.SELL` the asks. A taker buy walks
    the asks, `levels(Side.SELL)`.
    """

    def __init__(self) -> None:
        self._book: dict[Side, dict[Decimal, Decimal]] = {Side.BUY: {}, Side.SELL: {}}
        self._used: dict[Side, dict[Decimal, Decimal]] = {Side.BUY: {}, Side.SELL: {}}

    def replace(self, bids: Sequence[tuple[Decimal, Decimal]], asks: Sequence[tuple[Decimal, Decimal]]) -> None:
        """Take a new picture of the market; what we consumed earlier is already reflected in it."""
        # A crossed picture is accepted as given: the caller owns the book (a replay may briefly cross), and
        # each side is only ever used against our own orders, never against the other side.
        self._book = {Side.BUY: _levels(bids, "bids"), Side.SELL: _levels(asks, "asks")}
        self._used = {Side.BUY: {}, Side.SELL: {}}

    def levels(self, resting_side: Side) -> list[Level]:
        """Remaining liquidity of one side, best price first, without emptied levels."""
        book, used = self._book[resting_side], self._used[resting_side]
        prices = sorted(book, reverse=resting_side is Side.BUY)
        out: list[Level] = []
        for price in prices:
            left = book[price] - used.get(price, ZERO)
            if left > 0:
                out.append((price, left))
        return out

    def best(self, resting_side: Side) -> Decimal | None:
        levels = self.levels(resting_side)
        return levels[0][0] if levels else None

    def qty_at(self, resting_side: Side, price: Decimal) -> Decimal:
        """Remaining qty at exactly `price` (0 when there is no such level): the queue a new order joins."""
        left = self._book[resting_side].get(price, ZERO) - self._used[resting_side].get(price, ZERO)
        return max(left, ZERO)

    def walk(
        self, taker_side: Side, qty: Decimal, limit: Decimal | None = None, *, strict: bool = False
    ) -> list[Level]:
        """The fills a taker of `qty` would get, best price first, without consuming anything.

        `limit` bounds the prices (inclusive, or exclusive with `strict`): a buy takes asks at or below it,
        a sell bids at or above it. The result may hold less than `qty` when the book runs out.
        """
        fills: list[Level] = []
        wanted = qty
        for price, available in self.levels(taker_side.opposite):
            if wanted <= 0 or (limit is not None and not _within(taker_side, price, limit, strict)):
                break
            take = min(available, wanted)
            fills.append((price, take))
            wanted -= take
        return fills

    def consume(self, resting_side: Side, price: Decimal, qty: Decimal) -> None:
        left = self.qty_at(resting_side, price)
        if qty > left:
            raise ValueError(f"cannot consume {fmt(qty)} at {fmt(price)}: only {fmt(left)} is left")
        used = self._used[resting_side]
        used[price] = used.get(price, ZERO) + qty

    def crosses(self, side: Side, limit: Decimal) -> bool:
        """Would a limit order of `side` at `limit` take liquidity (the post-only test)?"""
        best = self.best(side.opposite)
        return best is not None and _within(side, best, limit, strict=False)


def _within(taker_side: Side, price: Decimal, limit: Decimal, strict: bool) -> bool:
    if taker_side is Side.BUY:
        return price < limit if strict else price <= limit
    return price > limit if strict else price >= limit
