"""Limit orders: the marketable part takes at once, the rest rests and fills from public trades as a maker."""

from __future__ import annotations

import pytest

from crocbot.matching import OrderError
from tests.matching.engine_support import BUY, SELL, D, kinds, levels, make_engine, order, trades


def test_marketable_part_takes_at_prices_no_worse_than_the_limit_and_the_rest_rests() -> None:
    engine = make_engine()
    engine.set_book("BTC/USD", levels(("99", "1")), levels(("100", "1"), ("100.5", "1"), ("102", "5")))

    order_id, events = engine.add_order(order(BUY, "limit", "3", limit="101"))

    assert kinds(events) == ["pending_new", "new", "trade", "trade"]
    assert trades(events) == [(D(100), D(1)), (D("100.5"), D(1))]
    assert all(e.liquidity == "t" for e in events if e.exec_type == "trade")
    (resting,) = engine.open_orders()
    assert (resting.order_id, resting.order_status, resting.cum_qty) == (order_id, "partially_filled", D(2))


def test_resting_buy_does_not_fill_on_a_trade_above_its_limit() -> None:
    engine = make_engine()
    engine.set_book("BTC/USD", levels(("99", "1")), levels(("101", "1")))
    engine.add_order(order(BUY, "limit", "1", limit="100"))

    assert engine.on_trade("BTC/USD", D("100.5"), D(10)) == []


def test_trade_strictly_through_the_limit_fills_at_the_limit_with_the_maker_fee() -> None:
    engine = make_engine({"USD": D(1000)})
    engine.set_book("BTC/USD", levels(("99", "1")), levels(("101", "1")))
    order_id, _ = engine.add_order(order(BUY, "limit", "1", limit="100"))

    events = engine.on_trade("BTC/USD", D("99.5"), D(5))

    assert kinds(events) == ["trade", "filled"]
    fill = events[0]
    assert (fill.last_price, fill.last_qty, fill.liquidity) == (D(100), D(1), "m")
    assert (fill.fee, fill.fee_asset) == (D("0.25"), "USD")  # 0.25 % maker of 100
    assert engine.balances() == {"USD": D(1000) - D(100) - D("0.25"), "BTC": D(1)}
    assert engine.order(order_id) is not None


def test_trade_at_the_limit_fills_only_after_the_queue_ahead_has_traded() -> None:
    engine = make_engine()
    engine.set_book("BTC/USD", levels(("100", "2"), ("99", "1")), levels(("101", "1")))
    engine.add_order(order(BUY, "limit", "1", limit="100"))  # 2 BTC of market bids are ahead at 100

    assert engine.on_trade("BTC/USD", D(100), D("1.5")) == []  # touch: queue ahead 2 -> 0.5
    events = engine.on_trade("BTC/USD", D(100), D(1))  # 0.5 clears the queue, 0.5 reaches us

    assert trades(events) == [(D(100), D("0.5"))]
    assert events[-1].order_status == "partially_filled"


def test_a_new_price_level_has_no_queue_ahead_so_the_first_print_at_it_fills() -> None:
    engine = make_engine()
    engine.set_book("BTC/USD", levels(("99", "1")), levels(("101", "1")))
    engine.add_order(order(SELL, "limit", "1", limit="100.5"))

    events = engine.on_trade("BTC/USD", D("100.5"), D("0.4"))

    assert trades(events) == [(D("100.5"), D("0.4"))]


def test_partial_fills_accumulate_across_several_trades_until_filled() -> None:
    engine = make_engine()
    engine.set_book("BTC/USD", levels(("99", "1")), levels(("101", "1")))
    order_id, _ = engine.add_order(order(BUY, "limit", "1", limit="100"))

    first = engine.on_trade("BTC/USD", D("99.9"), D("0.3"))
    second = engine.on_trade("BTC/USD", D("99.8"), D("0.3"))
    third = engine.on_trade("BTC/USD", D("99.5"), D(5))

    assert [e.cum_qty for e in first + second if e.exec_type == "trade"] == [D("0.3"), D("0.6")]
    assert kinds(third) == ["trade", "filled"]
    assert third[0].last_qty == D("0.4")
    view = engine.order(order_id)
    assert view is not None
    assert (view.status, view.cum_qty, view.avg_price, view.fee) == ("closed", D(1), D(100), D("0.25"))


def test_one_print_never_fills_more_than_it_traded_across_our_orders_best_price_first() -> None:
    engine = make_engine()
    engine.set_book("BTC/USD", levels(("98", "1")), levels(("101", "1")))
    low, _ = engine.add_order(order(BUY, "limit", "1", limit="99"))
    high, _ = engine.add_order(order(BUY, "limit", "1", limit="100"))

    events = engine.on_trade("BTC/USD", D("98.5"), D("1.2"))

    assert [(e.order_id, e.last_price, e.last_qty) for e in events if e.exec_type == "trade"] == [
        (high, D(100), D(1)),
        (low, D(99), D("0.2")),
    ]


def test_resting_order_fills_when_a_new_book_lies_strictly_through_its_limit() -> None:
    engine = make_engine()
    engine.set_book("BTC/USD", levels(("99", "1")), levels(("101", "1")))
    engine.add_order(order(BUY, "limit", "2", limit="100"))

    touched = engine.set_book("BTC/USD", levels(("99", "1")), levels(("100", "3")))
    crossed = engine.set_book("BTC/USD", levels(("98", "1")), levels(("99.5", "0.5"), ("99.8", "5")))

    assert touched == []
    assert trades(crossed) == [(D(100), D("0.5")), (D(100), D("1.5"))]
    assert all(e.liquidity == "m" for e in crossed if e.exec_type == "trade")


def test_ioc_limit_takes_what_it_can_and_cancels_the_rest_instead_of_resting() -> None:
    engine = make_engine()
    engine.set_book("BTC/USD", levels(("99", "1")), levels(("100", "1"), ("102", "1")))

    _, events = engine.add_order(order(BUY, "limit", "2", limit="101", time_in_force="ioc"))

    assert kinds(events) == ["pending_new", "new", "trade", "canceled"]
    assert events[-1].cum_qty == D(1)
    assert engine.open_orders() == []


def test_post_only_limit_that_would_take_is_rejected_and_one_that_would_not_rests() -> None:
    engine = make_engine()
    engine.set_book("BTC/USD", levels(("99", "1")), levels(("100", "1")))

    with pytest.raises(OrderError) as rejected:
        engine.add_order(order(BUY, "limit", "1", limit="100", post_only=True))
    _, events = engine.add_order(order(BUY, "limit", "1", limit="99.9", post_only=True))

    assert rejected.value.code == "EOrder:Post only order"
    assert kinds(events) == ["pending_new", "new"]


def test_resting_buy_holds_its_cost_plus_taker_fee_and_releases_it_as_it_fills() -> None:
    engine = make_engine({"USD": D(1000)})
    engine.set_book("BTC/USD", levels(("99", "1")), levels(("101", "1")))
    engine.add_order(order(BUY, "limit", "2", limit="100"))

    assert engine.available("USD") == D(1000) - D(200) * D("1.004")
    engine.on_trade("BTC/USD", D(99), D(1))

    assert engine.held("USD") == D(100) * D("1.004")
    assert engine.available("USD") == engine.balances()["USD"] - D("100.4")


def test_resting_sell_holds_its_base_quantity() -> None:
    engine = make_engine({"BTC": D(3)})
    engine.set_book("BTC/USD", levels(("99", "1")), levels(("101", "1")))
    engine.add_order(order(SELL, "limit", "2", limit="102"))

    assert (engine.held("BTC"), engine.available("BTC")) == (D(2), D(1))
