"""A synthetic L2 market book that follows the trade stream, and Kraken-exact snapshots and diffs of it.

The simulator has trades but no real book, so it makes one: deterministic for a seed, re-centred on every trade,
churned near the top to create update traffic, and consumable by the matching engine. A `DepthView` per
subscription depth remembers what was sent and produces the updates Kraken would send: changed levels, deletes
only for levels that left the book (a level pushed below the depth is the client's to truncate), and the CRC32
over the top 10. Since crocbot's own `L2Book` must verify every one of them, the pair tests both sides.
"""

from __future__ import annotations

import random
import zlib
from bisect import bisect_left, insort
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from crocbot.core.messages import BookLevel, BookUpdate, Side
from crocbot.core.money import fmt, quantize_down
from crocbot.kraken.book import CHECKSUM_LEVELS, DEPTHS, level_token
from crocbot.sim.market import MarketTrade

__all__ = ["SyntheticBook", "BookData", "DepthView"]

_CHURN_WINDOW = 15  # churn touches only the top levels, where subscribers at every depth see it
_PRICE_CACHE = 100_000
_TOKEN_CACHE = 100_000
_GAPS = (1, 1, 1, 1, 1, 1, 2, 2, 2, 3)  # mostly adjacent levels, sometimes a hole of one or two ticks


class _Ladder:
    """One side as whole ticks ordered best first: keys are ticks for asks and negated ticks for bids."""

    __slots__ = ("keys", "qty", "sign")

    def __init__(self, sign: int) -> None:
        self.sign = sign
        self.keys: list[int] = []
        self.qty: dict[int, Decimal] = {}  # by tick

    def __len__(self) -> int:
        return len(self.keys)

    def tick(self, index: int) -> int:
        return self.keys[index] * self.sign

    def put(self, tick: int, qty: Decimal) -> None:
        if tick not in self.qty:
            insort(self.keys, tick * self.sign)
        self.qty[tick] = qty

    def remove(self, tick: int) -> None:
        del self.qty[tick]
        del self.keys[bisect_left(self.keys, tick * self.sign)]

    def drop_better_than(self, tick: int) -> None:
        cut = bisect_left(self.keys, tick * self.sign)
        for key in self.keys[:cut]:
            del self.qty[key * self.sign]
        del self.keys[:cut]

    def truncate(self, n: int) -> None:
        for key in self.keys[n:]:
            del self.qty[key * self.sign]
        del self.keys[n:]


class SyntheticBook:
    """A deterministic L2 book around the last trade price.

    Prices are kept as whole ticks and quantities as `Decimal`s quantized to the instrument's precisions, so
    `format(x, "f")` gives exactly the text Kraken would send and the checksum depends on nothing else.
    """

    def __init__(
        self,
        symbol: str,
        *,
        price_increment: Decimal,
        qty_increment: Decimal,
        price_precision: int,
        qty_precision: int,
        seed: int = 0,
        levels: int = 1000,
        spread_ticks: int = 1,
        mean_level_qty: Decimal = Decimal("0.5"),
    ) -> None:
        if price_precision < 0 or qty_precision < 0:
            raise ValueError(f"precisions must be >= 0, got {price_precision} and {qty_precision}")
        self._price_quantum = Decimal(1).scaleb(-price_precision)
        self._qty_quantum = Decimal(1).scaleb(-qty_precision)
        for name, inc, quantum in (
            ("price_increment", price_increment, self._price_quantum),
            ("qty_increment", qty_increment, self._qty_quantum),
        ):
            if not inc.is_finite() or inc <= 0 or inc % quantum != 0:
                raise ValueError(f"{name} {fmt(inc)} must be positive and a multiple of {fmt(quantum)}")
        if levels < 1 or spread_ticks < 1:
            raise ValueError(f"levels and spread_ticks must be >= 1, got {levels} and {spread_ticks}")
        if mean_level_qty < qty_increment:
            raise ValueError(f"mean_level_qty {fmt(mean_level_qty)} is below one qty increment {fmt(qty_increment)}")
        self.symbol = symbol
        self.price_increment = price_increment
        self.qty_increment = qty_increment
        self.price_precision = price_precision
        self.qty_precision = qty_precision
        self.levels = levels
        self.spread_ticks = spread_ticks
        self._mean_units = float(mean_level_qty / qty_increment)
        self._rng = random.Random(seed)
        self._bids = _Ladder(-1)
        self._asks = _Ladder(1)
        self._prices: dict[int, Decimal] = {}

    # -- conversions ---------------------------------------------------------------------------------------------

    def _price(self, tick: int) -> Decimal:
        price = self._prices.get(tick)
        if price is None:
            if len(self._prices) >= _PRICE_CACHE:  # a long soak wanders; the cache must not grow without bound
                self._prices.clear()
            price = self._prices[tick] = (tick * self.price_increment).quantize(self._price_quantum)
        return price

    def _tick(self, price: Decimal) -> int:
        return max(1, int((price / self.price_increment).to_integral_value()))

    def _qty(self, units: int) -> Decimal:
        return (units * self.qty_increment).quantize(self._qty_quantum)

    def _random_qty(self) -> Decimal:
        return self._qty(max(1, int(self._rng.expovariate(1.0) * self._mean_units)))

    # -- building ------------------------------------------------------------------------------------------------

    def _fill(self, ladder: _Ladder, top: int, limit: int | None) -> None:
        """Levels from `top` outwards (random gaps) up to, not including, tick `limit`, at most `levels` of them."""
        tick, added = top, 0
        step = ladder.sign  # outwards: down for bids, up for asks
        while tick >= 1 and added < self.levels and (limit is None or (limit - tick) * step > 0):
            ladder.put(tick, self._random_qty())
            added += 1
            tick += step * self._rng.choice(_GAPS)

    def _extend(self, ladder: _Ladder, start_if_empty: int) -> None:
        """Deepen a side at its far end back to `levels` (new liquidity appears where nobody trades)."""
        ladder.truncate(self.levels)
        if not ladder:
            self._fill(ladder, start_if_empty, None)
        while 0 < len(ladder) < self.levels:
            tick = ladder.tick(-1) + ladder.sign * self._rng.choice(_GAPS)
            if tick < 1:
                break
            ladder.put(tick, self._random_qty())
        ladder.truncate(self.levels)

    def seed_around(self, price: Decimal) -> None:
        """A fresh book: `levels` bids from half the spread below `price` down, asks from the spread above them."""
        tick = self._tick(price)
        self._bids = _Ladder(-1)
        self._asks = _Ladder(1)
        best_bid = tick - (self.spread_ticks + 1) // 2
        self._fill(self._bids, best_bid, None)
        self._fill(self._asks, best_bid + self.spread_ticks, None)
        self._extend(self._bids, best_bid)
        self._extend(self._asks, best_bid + self.spread_ticks)

    def on_trade(self, trade: MarketTrade) -> None:
        """Re-centre on a print: the touch the taker hit sits at the trade price and loses the traded size.

        Levels the price moved through are removed; the gap between the old touch and the new one fills with
        fresh levels; each side is then cut or deepened at its far end back to `levels`.
        """
        tick = self._tick(trade.price)
        if trade.side is Side.BUY:
            top_bid, top_ask, touched = tick - self.spread_ticks, tick, self._asks
        else:
            top_bid, top_ask, touched = tick, tick + self.spread_ticks, self._bids
        self._bids.drop_better_than(top_bid)
        self._asks.drop_better_than(top_ask)
        if top_bid >= 1 and (not self._bids or self._bids.tick(0) < top_bid):
            self._fill(self._bids, top_bid, self._bids.tick(0) if self._bids else None)
        if not self._asks or self._asks.tick(0) > top_ask:
            self._fill(self._asks, top_ask, self._asks.tick(0) if self._asks else None)
        if tick in touched.qty:
            left = quantize_down(touched.qty[tick] - trade.qty, self.qty_increment)
            if left > 0:
                touched.put(tick, left.quantize(self._qty_quantum))
            else:
                touched.remove(tick)
        self._extend(self._bids, top_bid)
        self._extend(self._asks, top_ask + 1)

    def churn(self, n: int = 1) -> None:
        """n random changes near the top (size changes, new levels, cancelled levels), as a quiet market makes."""
        rng = self._rng
        for _ in range(n):
            ladder, other = (self._bids, self._asks) if rng.random() < 0.5 else (self._asks, self._bids)
            roll = rng.random()
            if ladder and roll < 0.5:
                ladder.put(ladder.tick(rng.randrange(min(_CHURN_WINDOW, len(ladder)))), self._random_qty())
            elif len(ladder) > 1 and roll >= 0.75:
                ladder.remove(ladder.tick(rng.randrange(min(_CHURN_WINDOW, len(ladder)))))
                self._extend(ladder, ladder.tick(0))
            else:
                self._insert_near_top(ladder, other)

    def _insert_near_top(self, ladder: _Ladder, other: _Ladder) -> None:
        """A new level between the far edge of the churn window and the other side's touch (never crossing it)."""
        sign = ladder.sign
        # Inner bound: one tick inside the other side's best; outer bound: the window's last level (or a few ticks).
        inner = other.tick(0) + sign if other else (ladder.tick(0) - sign * 3 if ladder else 0)
        if ladder and (inner - ladder.tick(0)) * sign < -3 * _CHURN_WINDOW:
            inner = ladder.tick(0) - sign * 3 * _CHURN_WINDOW  # a wide spread: stay near our own touch
        outer = ladder.tick(min(_CHURN_WINDOW, len(ladder)) - 1) if ladder else inner + sign * _CHURN_WINDOW
        low, high = min(inner, outer), max(inner, outer)
        free = [t for t in range(max(1, low), high + 1) if t not in ladder.qty]
        if free:
            ladder.put(self._rng.choice(free), self._random_qty())
            ladder.truncate(self.levels)

    def consume(self, side: Side, qty: Decimal) -> list[tuple[Decimal, Decimal]]:
        """A client's market order: take from asks (BUY) or bids (SELL) best first; returns the (price, qty) fills.

        Emptied levels are removed and the side is deepened at its far end; what the book cannot fill is
        simply not in the returned fills (the matching engine decides what that means).
        """
        if not qty.is_finite() or qty <= 0 or qty % self.qty_increment != 0:
            raise ValueError(f"qty {fmt(qty)} must be a positive multiple of {fmt(self.qty_increment)}")
        ladder = self._asks if side is Side.BUY else self._bids
        fills: list[tuple[Decimal, Decimal]] = []
        left = qty
        last = ladder.tick(0) if ladder else None
        while left > 0 and ladder:
            last = ladder.tick(0)
            available = ladder.qty[last]
            take = min(left, available)
            fills.append((self._price(last), take.quantize(self._qty_quantum)))
            left -= take
            if take == available:
                ladder.remove(last)
            else:
                ladder.put(last, (available - take).quantize(self._qty_quantum))
        if last is not None:
            self._extend(ladder, last + ladder.sign)
        return fills

    # -- views ---------------------------------------------------------------------------------------------------

    def bids(self, n: int | None = None) -> list[tuple[Decimal, Decimal]]:
        """Best (highest) first."""
        return self._levels(self._bids, n)

    def asks(self, n: int | None = None) -> list[tuple[Decimal, Decimal]]:
        """Best (lowest) first."""
        return self._levels(self._asks, n)

    def _levels(self, ladder: _Ladder, n: int | None) -> list[tuple[Decimal, Decimal]]:
        keys = ladder.keys if n is None else ladder.keys[:n]
        sign, qty = ladder.sign, ladder.qty
        return [(self._price(k * sign), qty[k * sign]) for k in keys]

    def has_bid(self, price: Decimal) -> bool:
        return self._tick(price) in self._bids.qty

    def has_ask(self, price: Decimal) -> bool:
        return self._tick(price) in self._asks.qty


@dataclass(frozen=True, slots=True)
class BookData:
    """The levels of one book message, in the order to apply them, and the CRC32 of the resulting top 10."""

    bids: tuple[tuple[Decimal, Decimal], ...]
    asks: tuple[tuple[Decimal, Decimal], ...]
    checksum: int

    def to_update(self, symbol: str, ts: datetime, *, snapshot: bool) -> BookUpdate:
        return BookUpdate(
            symbol,
            bids=tuple(BookLevel(p, q) for p, q in self.bids),
            asks=tuple(BookLevel(p, q) for p, q in self.asks),
            snapshot=snapshot,
            checksum=self.checksum,
            ts=ts,
        )


class DepthView:
    """What one subscription depth (10, 25, 100, 500, 1000) has been sent; produces Kraken-exact snapshots and diffs."""

    def __init__(self, depth: int, *, price_precision: int, qty_precision: int) -> None:
        if depth not in DEPTHS:
            raise ValueError(f"depth {depth}: Kraken offers {', '.join(map(str, DEPTHS))}")
        self.depth = depth
        self._pp = price_precision
        self._qp = qty_precision
        self._zero = Decimal(0).quantize(Decimal(1).scaleb(-qty_precision))
        self._bids: dict[Decimal, Decimal] = {}
        self._asks: dict[Decimal, Decimal] = {}
        self._tokens: dict[tuple[Decimal, Decimal], str] = {}

    def _checksum(self, book: SyntheticBook) -> int:
        # Most of the top 10 is unchanged between diffs: cache each level's token rather than format 20 numbers.
        tokens = self._tokens
        if len(tokens) > _TOKEN_CACHE:
            tokens.clear()
        parts = []
        for level in (*book.asks(CHECKSUM_LEVELS), *book.bids(CHECKSUM_LEVELS)):
            token = tokens.get(level)
            if token is None:
                token = tokens[level] = level_token(level[0], level[1], self._pp, self._qp)
            parts.append(token)
        return zlib.crc32("".join(parts).encode("ascii")) & 0xFFFFFFFF

    def snapshot(self, book: SyntheticBook) -> BookData:
        bids, asks = book.bids(self.depth), book.asks(self.depth)
        self._bids, self._asks = dict(bids), dict(asks)
        return BookData(tuple(bids), tuple(asks), self._checksum(book))

    def diff(self, book: SyntheticBook) -> BookData | None:
        """The update from what was sent to the book's top `depth` now; None when the subscriber sees no change.

        Deletes come first, then new or changed levels best first: the client applies them in order and then
        truncates, so a level merely pushed below the depth needs no message (Kraken sends none either).
        """
        bids, self._bids = self._side(self._bids, book.bids(self.depth), book.has_bid)
        asks, self._asks = self._side(self._asks, book.asks(self.depth), book.has_ask)
        if not bids and not asks:
            return None
        return BookData(bids, asks, self._checksum(book))

    def _side(
        self,
        sent: dict[Decimal, Decimal],
        now: list[tuple[Decimal, Decimal]],
        in_book: Callable[[Decimal], bool],
    ) -> tuple[tuple[tuple[Decimal, Decimal], ...], dict[Decimal, Decimal]]:
        current = dict(now)
        deletes = [(p, self._zero) for p in sent if p not in current and not in_book(p)]
        changes = [(p, q) for p, q in now if sent.get(p) != q]
        return tuple(deletes + changes), current
