"""Kraken's L2 book: snapshot and updates applied in wire order, truncated to depth, checked by CRC32.

Rules (Kraken's book guide): apply every level of a message in the order given before checking; qty 0 deletes a
level; after each message trim each side to the subscribed depth yourself (Kraken sends no delete for a level
that falls out of range); the checksum covers the top 10 per side whatever the depth. The checksum text of a
number is its full-precision lexeme (trailing zeros kept) with the dot and leading zeros removed; crocbot renders
it with the instrument's precisions, since Kraken's own examples only verify that way.
"""

from __future__ import annotations

import zlib
from bisect import bisect_left, insort
from collections.abc import Iterable, Sequence
from decimal import Decimal
from enum import Enum

from crocbot.core.messages import BookLevel, BookUpdate

__all__ = ["L2Book", "Apply", "checksum_of", "level_token", "DEPTHS", "CHECKSUM_LEVELS"]

DEPTHS = (10, 25, 100, 500, 1000)
CHECKSUM_LEVELS = 10


class Apply(Enum):
    OK = "ok"  # applied; checksum matched (or the message carried none)
    MISMATCH = "mismatch"  # applied, but the checksum differs: the book is invalid until a fresh snapshot
    WAITING = "waiting"  # an update while invalid: ignored until the next snapshot


def _number_token(value: Decimal, precision: int | None) -> str:
    text = str(value)  # fast, and the wire lexeme itself when Kraken sent the number at full precision
    dot = text.find(".")
    decimals = len(text) - dot - 1 if dot >= 0 else 0
    if "E" in text or (precision is not None and decimals != precision):
        text = format(value, "f") if precision is None else f"{value:.{precision}f}"
    return text.replace(".", "").lstrip("0")


def level_token(price: Decimal, qty: Decimal, price_precision: int | None, qty_precision: int | None) -> str:
    return _number_token(price, price_precision) + _number_token(qty, qty_precision)


def checksum_of(
    asks: Iterable[tuple[Decimal, Decimal]],
    bids: Iterable[tuple[Decimal, Decimal]],
    price_precision: int | None = None,
    qty_precision: int | None = None,
) -> int:
    """A naive, independent CRC32 over (price, qty) pairs: asks best-first, then bids best-first (top 10 each)."""
    text = "".join(
        level_token(p, q, price_precision, qty_precision) for p, q in list(asks)[:CHECKSUM_LEVELS]
    ) + "".join(level_token(p, q, price_precision, qty_precision) for p, q in list(bids)[:CHECKSUM_LEVELS])
    return zlib.crc32(text.encode("ascii")) & 0xFFFFFFFF


_PRICE_TOKENS = 10_000  # cached price texts per side; prices recur, quantities rarely do


class _Side:
    """One side: qty by price, prices kept sorted ascending, and each level's checksum token cached."""

    __slots__ = ("_pp", "_price_tokens", "_qp", "prices", "qty", "text", "tokens")

    def __init__(self, price_precision: int | None, qty_precision: int | None) -> None:
        self._pp = price_precision
        self._qp = qty_precision
        self.prices: list[Decimal] = []
        self.qty: dict[Decimal, Decimal] = {}
        self.tokens: dict[Decimal, str] = {}
        self._price_tokens: dict[Decimal, str] = {}
        self.text: str | None = None  # this side's part of the checksum text; None once anything changed

    def clear(self) -> None:
        self.prices.clear()
        self.qty.clear()
        self.tokens.clear()
        self.text = None

    def apply(self, levels: Sequence[BookLevel]) -> None:
        if not levels:
            return
        self.text = None
        qty, tokens, prices, price_tokens, qty_precision = (
            self.qty,
            self.tokens,
            self.prices,
            self._price_tokens,
            self._qp,
        )
        for price, amount in levels:
            if not amount:  # qty 0 deletes
                if price in qty:
                    del qty[price]
                    del tokens[price]
                    del prices[bisect_left(prices, price)]
                continue
            if price not in qty:
                insort(prices, price)
            qty[price] = amount
            price_token = price_tokens.get(price)
            if price_token is None:
                if len(price_tokens) >= _PRICE_TOKENS:
                    price_tokens.clear()
                price_token = price_tokens[price] = _number_token(price, self._pp)
            tokens[price] = price_token + _number_token(amount, qty_precision)

    def drop(self, prices: list[Decimal]) -> None:
        self.text = None
        for price in prices:
            del self.qty[price]
            del self.tokens[price]


class L2Book:
    def __init__(
        self,
        symbol: str,
        depth: int = 10,
        *,
        price_precision: int | None = None,
        qty_precision: int | None = None,
    ) -> None:
        if depth not in DEPTHS:
            raise ValueError(f"depth {depth}: Kraken offers {', '.join(map(str, DEPTHS))}")
        self.symbol = symbol
        self.depth = depth
        self._bids = _Side(price_precision, qty_precision)
        self._asks = _Side(price_precision, qty_precision)
        self.valid = False  # until the first snapshot, and again after a mismatch
        self.updates = 0
        self.mismatches = 0

    def apply(self, update: BookUpdate) -> Apply:
        if update.snapshot:
            self._bids.clear()
            self._asks.clear()
            self.valid = True
        elif not self.valid:
            return Apply.WAITING
        self._bids.apply(update.bids)
        self._asks.apply(update.asks)
        self._truncate()
        self.updates += 1
        if update.checksum is None or update.checksum == self.checksum():
            return Apply.OK
        self.valid = False
        self.mismatches += 1
        return Apply.MISMATCH

    def invalidate(self) -> None:
        """Forget the book (a reconnect, a resubscription): only a snapshot makes it valid again."""
        self.valid = False
        self._bids.clear()
        self._asks.clear()

    def _truncate(self) -> None:
        bids, asks = self._bids, self._asks
        extra = len(bids.prices) - self.depth
        if extra > 0:
            gone = bids.prices[:extra]  # the lowest bids
            del bids.prices[:extra]
            bids.drop(gone)
        extra = len(asks.prices) - self.depth
        if extra > 0:
            gone = asks.prices[self.depth :]  # the highest asks
            del asks.prices[self.depth :]
            asks.drop(gone)

    def checksum(self) -> int:
        asks, bids = self._asks, self._bids
        if asks.text is None:
            tokens = asks.tokens
            asks.text = "".join([tokens[p] for p in asks.prices[:CHECKSUM_LEVELS]])
        if bids.text is None:
            tokens = bids.tokens
            bids.text = "".join([tokens[p] for p in reversed(bids.prices[-CHECKSUM_LEVELS:])])
        return zlib.crc32((asks.text + bids.text).encode("ascii")) & 0xFFFFFFFF

    # -- views ----------------------------------------------------------------------------------------

    def bids(self, n: int | None = None) -> list[tuple[Decimal, Decimal]]:
        """Best first (highest price first)."""
        prices = self._bids.prices
        chosen = prices[::-1] if n is None else prices[: -n - 1 : -1]
        return [(p, self._bids.qty[p]) for p in chosen]

    def asks(self, n: int | None = None) -> list[tuple[Decimal, Decimal]]:
        """Best first (lowest price first)."""
        prices = self._asks.prices if n is None else self._asks.prices[:n]
        return [(p, self._asks.qty[p]) for p in prices]

    @property
    def best_bid(self) -> tuple[Decimal, Decimal] | None:
        prices = self._bids.prices
        return (prices[-1], self._bids.qty[prices[-1]]) if prices else None

    @property
    def best_ask(self) -> tuple[Decimal, Decimal] | None:
        prices = self._asks.prices
        return (prices[0], self._asks.qty[prices[0]]) if prices else None
