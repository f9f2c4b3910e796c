"""Market orders walk the caller's book best first, pay the taker fee, and never reuse consumed liquidity."""

from __future__ import annotations

from decimal import Decimal

from tests.matching.engine_support import BUY, SELL, D, kinds, levels, make_engine, order, trades


def test_market_buy_walks_the_asks_to_the_known_vwap_with_the_taker_fee_in_quote() -> None:
    engine = make_engine({"USD": D(1000)})
    engine.set_book("BTC/USD", levels(("99", "5")), levels(("100", "1"), ("101", "1")))

    order_id, events = engine.add_order(order(BUY, "market", "1.5"))

    assert kinds(events) == ["pending_new", "new", "trade", "trade", "filled"]
    assert trades(events) == [(D(100), D(1)), (D(101), D("0.5"))]
    fills = [e for e in events if e.exec_type == "trade"]
    assert [(f.cost, f.fee, f.fee_asset, f.liquidity) for f in fills] == [
        (D(100), D("0.4"), "USD", "t"),
        (D("50.5"), D("0.202"), "USD", "t"),
    ]
    done = events[-1]
    assert done.order_status == "filled"
    assert done.cum_qty == D("1.5")
    assert done.cum_cost == D("150.5")
    assert done.avg_price == D("150.5") / D("1.5")  # 100.333...
    total_fee = D("0.004") * D("150.5")
    assert engine.balances() == {"USD": D(1000) - D("150.5") - total_fee, "BTC": D("1.5")}
    view = engine.order(order_id)
    assert view is not None
    assert (view.status, view.fee, view.cum_qty) == ("closed", total_fee, D("1.5"))


def test_every_event_of_one_order_carries_its_ids_and_the_clock_time() -> None:
    engine = make_engine()
    engine.set_book("BTC/USD", levels(("99", "5")), levels(("100", "5")))

    order_id, events = engine.add_order(order(BUY, "market", "1", cl_ord_id="entry-1"))

    assert {(e.order_id, e.cl_ord_id, e.symbol, e.side, e.order_type) for e in events} == {
        (order_id, "entry-1", "BTC/USD", BUY, "market")
    }
    assert [e.order_status for e in events] == ["pending_new", "new", "partially_filled", "filled"]
    assert all(e.ts == events[0].ts for e in events)


def test_two_market_orders_in_a_row_do_not_consume_the_same_liquidity() -> None:
    engine = make_engine()
    engine.set_book("BTC/USD", levels(("99", "5")), levels(("100", "1"), ("101", "1"), ("102", "5")))

    _, first = engine.add_order(order(BUY, "market", "1.5"))
    _, second = engine.add_order(order(BUY, "market", "1"))

    assert trades(first) == [(D(100), D(1)), (D(101), D("0.5"))]
    assert trades(second) == [(D(101), D("0.5")), (D(102), D("0.5"))]


def test_a_new_book_replaces_what_earlier_takers_consumed() -> None:
    engine = make_engine()
    asks = levels(("100", "1"))
    engine.set_book("BTC/USD", [], asks)
    engine.add_order(order(BUY, "market", "1"))

    engine.set_book("BTC/USD", [], asks)
    _, events = engine.add_order(order(BUY, "market", "1"))

    assert trades(events) == [(D(100), D(1))]


def test_market_order_larger_than_the_book_fills_what_is_there_and_cancels_the_rest() -> None:
    engine = make_engine()
    engine.set_book("BTC/USD", levels(("99", "5")), levels(("100", "1")))

    _, events = engine.add_order(order(BUY, "market", "3"))

    assert kinds(events) == ["pending_new", "new", "trade", "canceled"]
    assert events[-1].reason == "Insufficient liquidity"
    assert events[-1].cum_qty == D(1)
    assert engine.open_orders() == []


def test_market_sell_walks_the_bids_and_pays_the_fee_in_base_by_default() -> None:
    engine = make_engine({"BTC": D(2), "USD": D(0)})
    engine.set_book("BTC/USD", levels(("100", "1"), ("99", "1")), levels(("101", "1")))

    _, events = engine.add_order(order(SELL, "market", "1.5"))

    fills = [e for e in events if e.exec_type == "trade"]
    assert [(f.last_price, f.last_qty, f.fee, f.fee_asset) for f in fills] == [
        (D(100), D(1), D("0.004"), "BTC"),
        (D(99), D("0.5"), D("0.002"), "BTC"),
    ]
    assert engine.balances() == {"BTC": D(2) - D("1.5") - D("0.006"), "USD": D("149.5")}


def test_selling_a_whole_balance_takes_the_fee_from_the_proceeds_when_base_cannot_pay_it() -> None:
    engine = make_engine({"BTC": D(1), "USD": D(0)})
    engine.set_book("BTC/USD", levels(("100", "5")), levels(("101", "1")))

    _, events = engine.add_order(order(SELL, "market", "1"))

    fill = next(e for e in events if e.exec_type == "trade")
    assert (fill.fee, fill.fee_asset) == (D("0.4"), "USD")
    assert engine.balances() == {"BTC": D(0), "USD": D("99.6")}


def test_fee_preference_in_quote_on_a_sell_and_in_base_on_a_buy_is_honoured() -> None:
    engine = make_engine()
    engine.set_book("BTC/USD", levels(("100", "5")), levels(("101", "5")))

    _, sell = engine.add_order(order(SELL, "market", "1", fee_in_quote=True))
    _, buy = engine.add_order(order(BUY, "market", "1", fee_in_quote=False))

    sell_fill = next(e for e in sell if e.exec_type == "trade")
    buy_fill = next(e for e in buy if e.exec_type == "trade")
    assert (sell_fill.fee, sell_fill.fee_asset) == (D("0.4"), "USD")
    assert (buy_fill.fee, buy_fill.fee_asset) == (D("0.004"), "BTC")


def test_fees_round_down_to_eight_decimals_and_cost_stays_exact() -> None:
    engine = make_engine()
    engine.set_book("BTC/USD", [], levels(("100.1", "5")))

    _, events = engine.add_order(order(BUY, "market", "0.01234567"))

    fill = next(e for e in events if e.exec_type == "trade")
    assert fill.cost == D("1.235801567")  # 100.1 * 0.01234567, unrounded
    assert fill.fee == D("0.00494320")  # 0.004943206268 rounded down


def test_fills_are_recorded_as_trade_history_with_ids_and_maker_flags() -> None:
    engine = make_engine()
    engine.set_book("BTC/USD", [], levels(("100", "1"), ("101", "1")))

    order_id, _ = engine.add_order(order(BUY, "market", "1.5", cl_ord_id="x"))

    history = engine.fills()
    assert [(f.order_id, f.cl_ord_id, f.price, f.qty, f.maker) for f in history] == [
        (order_id, "x", D(100), D(1), False),
        (order_id, "x", D(101), D("0.5"), False),
    ]
    assert [f.trade_id for f in history] == [1, 2]
    view = engine.order(order_id)
    assert view is not None
    assert view.trade_ids == tuple(f.exec_id for f in history)
    assert sum((f.fee for f in history), Decimal(0)) == view.fee
