"""The L2 book against a naive model: sorted, within depth, checksum equal to an independent recomputation."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from crocbot.core.messages import BookLevel, BookUpdate
from crocbot.kraken.book import Apply, L2Book, checksum_of

T0 = datetime(2025, 1, 1, tzinfo=UTC)
TICK = Decimal("0.1")

# A level: (side, price index, qty in 1e-8 units; 0 deletes). Bids live below asks, as on a real book.
_level = st.tuples(st.sampled_from(["bid", "ask"]), st.integers(1, 40), st.integers(0, 3_000_000_000))


def _price(side: str, index: int) -> Decimal:
    return (Decimal(1000) + index * TICK) if side == "ask" else (Decimal(1000) - index * TICK)


def _qty(units: int) -> Decimal:
    return (Decimal(units) / Decimal(10**8)).quantize(Decimal("0.00000001"))


class NaiveBook:
    def __init__(self, depth: int) -> None:
        self.depth = depth
        self.sides: dict[str, dict[Decimal, Decimal]] = {"bid": {}, "ask": {}}

    def apply(self, levels: list[tuple[str, Decimal, Decimal]]) -> None:
        for side, price, qty in levels:
            if qty == 0:
                self.sides[side].pop(price, None)
            else:
                self.sides[side][price] = qty
        self.sides["bid"] = dict(self.bids()[: self.depth])
        self.sides["ask"] = dict(self.asks()[: self.depth])

    def bids(self) -> list[tuple[Decimal, Decimal]]:
        return sorted(self.sides["bid"].items(), reverse=True)

    def asks(self) -> list[tuple[Decimal, Decimal]]:
        return sorted(self.sides["ask"].items())


def _update(levels: list[tuple[str, Decimal, Decimal]], checksum: int | None, snapshot: bool) -> BookUpdate:
    bids = tuple(BookLevel(p, q) for s, p, q in levels if s == "bid")
    asks = tuple(BookLevel(p, q) for s, p, q in levels if s == "ask")
    return BookUpdate("BTC/USD", bids, asks, snapshot, checksum, T0)


@settings(max_examples=200, deadline=None)
@given(
    depth=st.sampled_from([10, 25]),
    snapshot=st.lists(_level, min_size=1, max_size=60),
    messages=st.lists(st.lists(_level, min_size=1, max_size=6), max_size=60),
)
def test_random_level_sequences_keep_the_book_sorted_within_depth_and_its_checksum_naive(
    depth: int, snapshot: list[tuple[str, int, int]], messages: list[list[tuple[str, int, int]]]
) -> None:
    book = L2Book("BTC/USD", depth, price_precision=1, qty_precision=8)
    model = NaiveBook(depth)
    for index, raw in enumerate([snapshot, *messages]):
        levels = [(side, _price(side, i), _qty(units if index else max(units, 1))) for side, i, units in raw]
        model.apply(levels)
        expected = checksum_of(model.asks(), model.bids(), 1, 8)

        assert book.apply(_update(levels, expected, snapshot=index == 0)) is Apply.OK
        assert book.bids() == model.bids()
        assert book.asks() == model.asks()
        assert len(book.bids()) <= depth
        assert len(book.asks()) <= depth


def test_a_wrong_checksum_invalidates_the_book_until_the_next_snapshot() -> None:
    book = L2Book("BTC/USD", 10, price_precision=1, qty_precision=8)
    first = [("bid", Decimal("99.9"), Decimal("1.00000000")), ("ask", Decimal("100.1"), Decimal("2.00000000"))]
    good = checksum_of([(Decimal("100.1"), Decimal(2))], [(Decimal("99.9"), Decimal(1))], 1, 8)
    assert book.apply(_update(first, good, snapshot=True)) is Apply.OK

    assert book.apply(_update([("bid", Decimal("99.8"), Decimal("1.00000000"))], 12345, False)) is Apply.MISMATCH
    assert not book.valid
    assert book.apply(_update([("bid", Decimal("99.7"), Decimal("1.00000000"))], None, False)) is Apply.WAITING
    assert book.apply(_update(first, good, snapshot=True)) is Apply.OK
    assert book.mismatches == 1


def test_a_level_falling_out_of_depth_is_dropped_without_a_delete_from_kraken() -> None:
    book = L2Book("BTC/USD", 10)
    bids = [("bid", Decimal(100 - i), Decimal(1)) for i in range(10)]
    book.apply(_update(bids, None, snapshot=True))
    book.apply(_update([("bid", Decimal("100.5"), Decimal(1))], None, False))

    assert len(book.bids()) == 10
    assert book.bids()[0][0] == Decimal("100.5")
    assert Decimal(91) not in {price for price, _ in book.bids()}
