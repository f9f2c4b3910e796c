"""Properties over random sequences of books, trades, orders, amends and cancels: value is conserved, no
balance or availability goes negative, and the events agree with the recorded fills."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crocbot.core.clock import SimClock
from crocbot.core.messages.side import Side
from crocbot.core.money import ZERO
from crocbot.matching import Execution, MatchingEngine, OrderError, OrderRequest
from crocbot.matching.types import LIMIT_PRICE_TYPES, TRIGGER_TYPES
from tests.matching.engine_support import BUY, SELL, D, make_engine

INITIAL = {"USD": D(600), "BTC": D(3)}
TYPES = ["market", "limit", "stop-loss", "stop-loss-limit", "take-profit", "take-profit-limit"]

# Narrow ranges around the opening book so that orders cross, rest, trigger and fill often.
prices = st.integers(min_value=970, max_value=1030).map(lambda n: Decimal(n) / 10)  # 97.0 .. 103.0, on tick
quantities = st.integers(min_value=1, max_value=150).map(lambda n: Decimal(n) / 100)  # 0.01 .. 1.50


@dataclass(frozen=True)
class Book:
    mid: Decimal
    spread: Decimal
    bid_sizes: list[Decimal]
    ask_sizes: list[Decimal]


@dataclass(frozen=True)
class Print:
    price: Decimal
    qty: Decimal


@dataclass(frozen=True)
class Add:
    side: Side
    order_type: str
    qty: Decimal
    price: Decimal
    trigger: Decimal
    fee_in_quote: bool | None
    time_in_force: str
    post_only: bool


@dataclass(frozen=True)
class Cancel:
    pick: int


@dataclass(frozen=True)
class Amend:
    pick: int
    qty: Decimal | None
    price: Decimal | None


Op = Book | Print | Add | Cancel | Amend
picks = st.integers(min_value=0, max_value=9)
operations = st.lists(
    st.one_of(
        st.builds(
            Book,
            prices,
            st.integers(1, 20).map(lambda n: Decimal(n) / 10),
            st.lists(quantities, max_size=4),
            st.lists(quantities, max_size=4),
        ),
        st.builds(Print, prices, quantities),
        st.builds(
            Add,
            st.sampled_from([BUY, SELL]),
            st.sampled_from(TYPES),
            quantities,
            prices,
            prices,
            st.sampled_from([None, True, False]),
            st.sampled_from(["gtc", "ioc"]),
            st.booleans(),
        ),
        st.builds(Cancel, picks),
        st.builds(Amend, picks, st.none() | quantities, st.none() | prices),
    ),
    min_size=10,
    max_size=50,
)


def _apply(engine: MatchingEngine, clock: SimClock, op: Op) -> list[Execution]:
    clock.advance(1)
    if isinstance(op, Book):
        bids = [(op.mid - i * D("0.5"), q) for i, q in enumerate(op.bid_sizes)]
        asks = [(op.mid + op.spread + i * D("0.5"), q) for i, q in enumerate(op.ask_sizes)]
        return engine.set_book("BTC/USD", bids, asks)
    if isinstance(op, Print):
        return engine.on_trade("BTC/USD", op.price, op.qty)
    if isinstance(op, Add):
        request = OrderRequest(
            symbol="BTC/USD",
            side=op.side,
            order_type=op.order_type,
            qty=op.qty,
            limit_price=op.price if op.order_type in LIMIT_PRICE_TYPES else None,
            trigger_price=op.trigger if op.order_type in TRIGGER_TYPES else None,
            post_only=op.post_only and op.order_type == "limit",
            time_in_force=op.time_in_force,
            fee_in_quote=op.fee_in_quote,
        )
        return engine.add_order(request)[1]
    open_orders = engine.open_orders()
    if not open_orders:
        return []
    target = open_orders[op.pick % len(open_orders)]
    if isinstance(op, Cancel):
        return engine.cancel_order(order_id=target.order_id)
    price = op.price if target.limit_price is not None else None
    if op.qty is None and price is None:
        return []
    return engine.amend_order(order_id=target.order_id, qty=op.qty, limit_price=price)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(operations)
def test_random_sessions_conserve_value_and_never_overdraw(ops: list[Op]) -> None:
    clock = SimClock()
    engine = make_engine(dict(INITIAL), clock=clock)
    events = engine.set_book("BTC/USD", [(D(100), D(2)), (D(99), D(3))], [(D("100.5"), D(2)), (D(101), D(3))])

    for op in ops:
        try:
            caused = _apply(engine, clock, op)
        except OrderError:
            caused = []  # a business rejection changes nothing, so every invariant below must still hold
        events += caused
        if isinstance(op, Print):  # one print never fills our makers on one side beyond what it traded
            for side in (BUY, SELL):
                made = [e.last_qty or ZERO for e in caused if e.liquidity == "m" and e.side is side]
                assert sum(made, ZERO) <= op.qty
        for asset in ("USD", "BTC"):
            assert engine.balances().get(asset, ZERO) >= 0, asset
            assert engine.available(asset) >= 0, asset

    expected = dict(INITIAL)
    for fill in engine.fills():
        sign = 1 if fill.side is BUY else -1
        expected["BTC"] += sign * fill.qty
        expected["USD"] -= sign * fill.cost
        expected[fill.fee_asset] -= fill.fee
    assert {a: engine.balances().get(a, ZERO) for a in expected} == expected

    trade_events = [e for e in events if e.exec_type == "trade"]
    assert [e.exec_id for e in trade_events] == [f.exec_id for f in engine.fills()]
    filled: dict[str, Decimal] = defaultdict(Decimal)
    for fill in engine.fills():
        filled[fill.order_id] += fill.qty
    for view in engine.open_orders() + engine.closed_orders():
        assert view.cum_qty == filled[view.order_id]
        assert view.cum_qty <= view.qty or view.status == "canceled"
        assert (view.status == "closed") == (view.cum_qty == view.qty and view.order_status == "filled")
