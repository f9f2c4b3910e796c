"""The synthetic book and its depth views: every snapshot and diff verifies in crocbot's own L2Book, exactly."""

from __future__ import annotations

import itertools
import random
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crocbot.core.messages import Side
from crocbot.kraken.book import Apply, L2Book
from crocbot.sim.bookmaker import BookData, DepthView, SyntheticBook
from crocbot.sim.market import MarketTrade, synthetic_source

SYMBOL = "BTC/USD"
T0 = datetime(2024, 1, 1, tzinfo=UTC)
PRICE_INC = Decimal("0.1")
QTY_INC = Decimal("0.00000001")
PP, QP = 1, 8


def make_book(seed: int = 0, levels: int = 1000, around: str = "30000.0", **options: Any) -> SyntheticBook:
    book = SyntheticBook(
        SYMBOL,
        price_increment=PRICE_INC,
        qty_increment=QTY_INC,
        price_precision=PP,
        qty_precision=QP,
        seed=seed,
        levels=levels,
        **options,
    )
    book.seed_around(Decimal(around))
    return book


def subscribe(book: SyntheticBook, depth: int) -> tuple[DepthView, L2Book]:
    view = DepthView(depth, price_precision=PP, qty_precision=QP)
    client = L2Book(SYMBOL, depth, price_precision=PP, qty_precision=QP)
    assert client.apply(view.snapshot(book).to_update(SYMBOL, T0, snapshot=True)) is Apply.OK
    return view, client


def send(view: DepthView, book: SyntheticBook, client: L2Book) -> BookData | None:
    """One diff to the client; asserts it verifies and leaves the client equal to the book's top `depth`."""
    data = view.diff(book)
    if data is not None:
        assert client.apply(data.to_update(SYMBOL, T0, snapshot=False)) is Apply.OK
    assert client.bids() == book.bids(view.depth)
    assert client.asks() == book.asks(view.depth)
    return data


def assert_sane(book: SyntheticBook) -> None:
    bids, asks = book.bids(), book.asks()
    assert [p for p, _ in bids] == sorted((p for p, _ in bids), reverse=True)
    assert [p for p, _ in asks] == sorted(p for p, _ in asks)
    if bids and asks:
        assert bids[0][0] < asks[0][0]
    for price, qty in bids + asks:
        assert price > 0
        assert qty > 0
        assert price % PRICE_INC == 0
        assert qty % QTY_INC == 0
        assert price.as_tuple().exponent == -PP
        assert qty.as_tuple().exponent == -QP


@pytest.mark.parametrize(("depth", "steps"), [(10, 2000), (25, 1000), (100, 500), (500, 200), (1000, 200)])
def test_every_diff_verifies_and_keeps_the_client_book_equal_to_the_top_depth(depth: int, steps: int) -> None:
    book = make_book(seed=depth)
    view, client = subscribe(book, depth)
    source = synthetic_source(
        SYMBOL, seed=depth, start=T0, start_price=Decimal("30000.0"), price_increment=PRICE_INC, qty_increment=QTY_INC
    )
    rng = random.Random(depth)
    sent = 0
    for step, trade in zip(range(steps), source, strict=False):
        if step % 3 == 0:
            book.on_trade(trade)
        elif step % 3 == 1:
            book.churn(rng.randint(1, 5))
        else:
            book.consume(rng.choice((Side.BUY, Side.SELL)), QTY_INC * rng.randint(1, 100_000_000))
        sent += send(view, book, client) is not None
    assert client.updates == sent + 1
    assert client.mismatches == 0
    assert sent > steps // 2
    assert_sane(book)
    assert len(book.bids()) == len(book.asks()) == 1000


_op = st.one_of(
    st.tuples(st.just("trade"), st.integers(-60, 60), st.sampled_from(Side), st.integers(1, 3_000_000_000)),
    st.tuples(st.just("churn"), st.integers(1, 6), st.just(Side.BUY), st.just(0)),
    st.tuples(st.just("consume"), st.just(0), st.sampled_from(Side), st.integers(1, 5_000_000_000)),
)


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**16),
    depth=st.sampled_from([10, 25]),
    spread=st.integers(1, 4),
    around=st.sampled_from(["30000.0", "0.5"]),  # near zero, bids run out of room below one increment
    ops=st.lists(_op, max_size=40),
)
def test_random_operations_always_give_exact_diffs_and_a_sane_book(
    seed: int, depth: int, spread: int, around: str, ops: list[tuple[str, int, Side, int]]
) -> None:
    book = make_book(seed=seed, levels=40, around=around, spread_ticks=spread)
    view, client = subscribe(book, depth)
    price = Decimal(around)
    for kind, ticks, side, units in ops:
        if kind == "trade":
            price = max(PRICE_INC, price + ticks * PRICE_INC)
            book.on_trade(MarketTrade(SYMBOL, T0, price, units * QTY_INC, side))
        elif kind == "churn":
            book.churn(ticks)
        else:
            fills = book.consume(side, units * QTY_INC)
            assert sum(q for _, q in fills) <= units * QTY_INC
        assert_sane(book)
        data = send(view, book, client)
        if data is None:
            continue
        for sent_side, has, top in (
            (data.bids, book.has_bid, book.bids(depth)),
            (data.asks, book.has_ask, book.asks(depth)),
        ):
            # a delete is sent only for a level gone from the book; everything else is the level's new state
            assert all(not has(p) for p, q in sent_side if q == 0)
            assert {(p, q) for p, q in sent_side if q != 0} <= set(top)


def test_a_level_pushed_below_the_depth_gets_no_delete_and_one_rising_into_it_is_sent() -> None:
    book = make_book(seed=11, levels=60)
    view, client = subscribe(book, 10)
    pushed_out = risen = 0
    for _ in range(3000):
        old_bids, old_asks = book.bids(10), book.asks(10)
        old_deep = {p for p, _ in book.bids(30)} | {p for p, _ in book.asks(30)}
        book.churn()
        data = send(view, book, client)
        sent = {} if data is None else dict(data.bids + data.asks)
        for old, now, has in ((old_bids, book.bids(10), book.has_bid), (old_asks, book.asks(10), book.has_ask)):
            top = {p for p, _ in now}
            for price, _ in old:
                if price not in top and has(price):
                    pushed_out += 1
                    assert price not in sent
            for price, qty in now:
                if price not in {p for p, _ in old} and price in old_deep:
                    risen += 1
                    assert sent[price] == qty
        if pushed_out and risen:
            break
    assert pushed_out
    assert risen


def test_diff_is_none_when_nothing_changed_and_snapshot_is_the_top_depth_best_first() -> None:
    book = make_book()
    view = DepthView(25, price_precision=PP, qty_precision=QP)
    snapshot = view.snapshot(book)
    assert list(snapshot.bids) == book.bids(25)
    assert list(snapshot.asks) == book.asks(25)
    assert snapshot.bids[0][0] < snapshot.asks[0][0]
    decimals = {(len(format(p, "f").split(".")[1]), len(format(q, "f").split(".")[1])) for p, q in snapshot.bids}
    assert decimals == {(PP, QP)}
    assert view.diff(book) is None


def test_seed_around_puts_the_spread_around_the_price_with_levels_per_side() -> None:
    book = make_book(levels=300, spread_ticks=2)
    assert book.bids(1)[0][0] == Decimal("29999.9")
    assert book.asks(1)[0][0] == Decimal("30000.1")
    assert len(book.bids()) == len(book.asks()) == 300
    gaps = {int((a - b) / PRICE_INC) for (a, _), (b, _) in itertools.pairwise(book.bids())}
    assert gaps <= {1, 2, 3}
    assert 1 in gaps


@pytest.mark.parametrize("side", [Side.BUY, Side.SELL])
@pytest.mark.parametrize("move", [-500, -3, 0, 2, 800])
def test_a_trade_recentres_the_book_on_its_price_and_the_taker_hits_the_touch(side: Side, move: int) -> None:
    book = make_book(levels=200)
    price = Decimal("30000.0") + move * PRICE_INC
    book.on_trade(MarketTrade(SYMBOL, T0, price, Decimal("0.00000001"), side))
    best_bid, best_ask = book.bids(1)[0][0], book.asks(1)[0][0]
    if side is Side.BUY:
        assert best_bid < price <= best_ask
    else:
        assert best_bid <= price < best_ask
    assert len(book.bids()) == len(book.asks()) == 200
    assert_sane(book)


def test_a_trade_larger_than_the_touch_removes_it() -> None:
    book = make_book(levels=50)
    price, qty = book.asks(1)[0]
    book.on_trade(MarketTrade(SYMBOL, T0, price, qty + 1, Side.BUY))
    assert book.asks(1)[0][0] > price
    assert book.bids(1)[0][0] < price


def test_consume_takes_the_best_levels_first_and_removes_emptied_ones() -> None:
    book = make_book(levels=50)
    (p1, q1), (p2, q2), _ = book.asks(3)
    fills = book.consume(Side.BUY, q1 + q2 - QTY_INC)
    assert fills == [(p1, q1), (p2, q2 - QTY_INC)]
    assert book.asks(1) == [(p2, QTY_INC)]
    assert len(book.asks()) == 50
    (b1, r1), _ = book.bids(2)
    assert book.consume(Side.SELL, r1) == [(b1, r1)]
    assert not book.has_bid(b1)


def test_consume_refuses_a_size_that_is_not_a_multiple_of_the_increment() -> None:
    book = make_book(levels=10)
    for qty in (Decimal(0), Decimal("-1"), Decimal("0.000000001")):
        with pytest.raises(ValueError, match="multiple"):
            book.consume(Side.BUY, qty)


def test_the_same_seed_makes_the_same_book_and_updates() -> None:
    def run(seed: int) -> list[BookData | None]:
        book = make_book(seed=seed, levels=100)
        view = DepthView(10, price_precision=PP, qty_precision=QP)
        out: list[BookData | None] = [view.snapshot(book)]
        for _ in range(50):
            book.churn(2)
            out.append(view.diff(book))
        return out

    assert run(4) == run(4)
    assert run(4) != run(5)


def test_bad_configuration_is_refused() -> None:
    with pytest.raises(ValueError, match="price_increment"):
        SyntheticBook(
            SYMBOL, price_increment=Decimal("0.05"), qty_increment=QTY_INC, price_precision=1, qty_precision=8
        )
    with pytest.raises(ValueError, match="spread_ticks"):
        SyntheticBook(
            SYMBOL, price_increment=PRICE_INC, qty_increment=QTY_INC, price_precision=1, qty_precision=8, spread_ticks=0
        )
    with pytest.raises(ValueError, match="depth 20"):
        DepthView(20, price_precision=PP, qty_precision=QP)
