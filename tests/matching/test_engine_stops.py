"""Stop-loss and take-profit orders trigger on the last public trade, then trade as market or limit orders."""

from __future__ import annotations

import pytest

from tests.matching.engine_support import BUY, SELL, D, kinds, levels, make_engine, order, trades


def test_sell_stop_loss_waits_then_triggers_on_a_trade_at_or_below_and_walks_the_bids() -> None:
    engine = make_engine({"BTC": D(2), "USD": D(0)})
    engine.set_book("BTC/USD", levels(("100", "1"), ("99", "5")), levels(("101", "1")))
    order_id, placed = engine.add_order(order(SELL, "stop-loss", "1.5", trigger="95"))

    assert kinds(placed) == ["pending_new", "new"]
    assert placed[-1].trigger_status == "untriggered"
    assert engine.on_trade("BTC/USD", D("95.1"), D(1)) == []
    engine.set_book("BTC/USD", levels(("94", "1"), ("93", "5")), levels(("96", "1")))
    events = engine.on_trade("BTC/USD", D(95), D(1))

    assert kinds(events) == ["status", "trade", "trade", "filled"]
    assert events[0].trigger_status == "triggered"
    assert trades(events) == [(D(94), D(1)), (D(93), D("0.5"))]
    assert all(e.liquidity == "t" for e in events if e.exec_type == "trade")
    view = engine.order(order_id)
    assert view is not None
    assert (view.status, view.triggered) == ("closed", True)


def test_buy_stop_loss_triggers_on_a_trade_at_or_above_its_trigger() -> None:
    engine = make_engine()
    engine.set_book("BTC/USD", levels(("99", "1")), levels(("105", "2")))
    engine.add_order(order(BUY, "stop-loss", "1", trigger="104"))

    assert engine.on_trade("BTC/USD", D("103.9"), D(1)) == []
    events = engine.on_trade("BTC/USD", D(104), D(1))

    assert trades(events) == [(D(105), D(1))]


@pytest.mark.parametrize(
    ("side", "trigger", "quiet", "fires"),
    [(SELL, "110", "109.9", "110"), (BUY, "90", "90.1", "90")],
)
def test_take_profit_triggers_on_the_favourable_side(side: object, trigger: str, quiet: str, fires: str) -> None:
    engine = make_engine()
    engine.set_book("BTC/USD", levels(("89", "5")), levels(("111", "5")))
    engine.add_order(order(side, "take-profit", "1", trigger=trigger))  # type: ignore[arg-type]  # both sides come from one parametrize of objects

    assert engine.on_trade("BTC/USD", D(quiet), D(1)) == []
    events = engine.on_trade("BTC/USD", D(fires), D(1))

    assert kinds(events) == ["status", "trade", "filled"]


def test_stop_loss_limit_becomes_a_limit_order_that_takes_up_to_its_limit_and_rests() -> None:
    engine = make_engine()
    engine.set_book("BTC/USD", levels(("94", "0.5"), ("92", "5")), levels(("96", "1")))
    order_id, _ = engine.add_order(order(SELL, "stop-loss-limit", "1", trigger="95", limit="93"))

    events = engine.on_trade("BTC/USD", D("94.5"), D(1))

    assert kinds(events) == ["status", "trade"]
    assert trades(events) == [(D(94), D("0.5"))]
    (resting,) = engine.open_orders()
    assert (resting.order_id, resting.triggered, resting.cum_qty) == (order_id, True, D("0.5"))
    later = engine.on_trade("BTC/USD", D("93.5"), D(3))  # a sell fills on prints above its limit
    assert trades(later) == [(D(93), D("0.5"))]
    assert later[0].liquidity == "m"


def test_take_profit_limit_rests_at_its_limit_after_the_trigger() -> None:
    engine = make_engine()
    engine.set_book("BTC/USD", levels(("109", "1")), levels(("111", "1")))
    engine.add_order(order(SELL, "take-profit-limit", "1", trigger="110", limit="112"))

    events = engine.on_trade("BTC/USD", D(110), D(1))

    assert kinds(events) == ["status"]
    assert [o.limit_price for o in engine.open_orders()] == [D(112)]


def test_untriggered_buy_stop_holds_its_quantity_at_the_trigger_price_plus_fee() -> None:
    engine = make_engine({"USD": D(1000)})
    engine.add_order(order(BUY, "stop-loss", "2", trigger="200"))

    assert engine.held("USD") == D(400) * D("1.004")


def test_stop_placed_beyond_the_last_trade_fires_at_once() -> None:
    engine = make_engine()
    engine.set_book("BTC/USD", levels(("99", "5")), levels(("101", "5")))
    engine.on_trade("BTC/USD", D(100), D(1))

    _, events = engine.add_order(order(SELL, "stop-loss", "1", trigger="100.5"))

    assert kinds(events) == ["pending_new", "new", "status", "trade", "filled"]


def test_triggered_market_stop_meeting_an_empty_book_is_cancelled_for_liquidity() -> None:
    engine = make_engine()
    engine.add_order(order(SELL, "stop-loss", "1", trigger="95"))

    events = engine.on_trade("BTC/USD", D(94), D(1))

    assert kinds(events) == ["status", "canceled"]
    assert events[-1].reason == "Insufficient liquidity"


def test_triggered_buy_stop_the_account_cannot_pay_for_is_cancelled_whole() -> None:
    engine = make_engine({"USD": D("110")})
    engine.set_book("BTC/USD", levels(("99", "1")), levels(("150", "5")))
    engine.add_order(order(BUY, "stop-loss", "1", trigger="105"))  # holds 105.42 of 110

    events = engine.on_trade("BTC/USD", D(105), D(1))

    assert kinds(events) == ["status", "canceled"]
    assert events[-1].reason == "Insufficient funds"
    assert engine.balances() == {"USD": D(110)}


def test_a_book_through_the_trigger_does_not_fire_a_stop_only_a_trade_does() -> None:
    engine = make_engine()
    engine.add_order(order(SELL, "stop-loss", "1", trigger="95"))

    assert engine.set_book("BTC/USD", levels(("90", "5")), levels(("91", "5"))) == []
    assert kinds(engine.on_trade("BTC/USD", D("90.5"), D(1))) == ["status", "trade", "filled"]
    last = engine.last_trade("BTC/USD")
    assert last is not None
    assert last[0] == D("90.5")
