"""Amends change orders in place (ids and fills kept); cancels close them and release their holds."""

from __future__ import annotations

import pytest

from crocbot.matching import OrderError
from tests.matching.engine_support import BUY, SELL, D, kinds, levels, make_engine, order, trades


def test_amend_price_moves_the_order_keeps_its_ids_and_joins_the_back_of_the_new_queue() -> None:
    engine = make_engine()
    engine.set_book("BTC/USD", levels(("100", "1"), ("99", "3")), levels(("101", "1")))
    order_id, _ = engine.add_order(order(BUY, "limit", "1", limit="98", cl_ord_id="a"))

    events = engine.amend_order(order_id=order_id, limit_price=D(99))

    assert kinds(events) == ["amended"]
    assert (events[0].order_id, events[0].cl_ord_id, events[0].limit_price) == (order_id, "a", D(99))
    assert engine.on_trade("BTC/USD", D(99), D(3)) == []  # 3 BTC of bids were ahead at 99
    assert trades(engine.on_trade("BTC/USD", D(99), D(1))) == [(D(99), D(1))]


def test_amend_qty_down_keeps_queue_priority() -> None:
    engine = make_engine()
    engine.set_book("BTC/USD", levels(("100", "2")), levels(("101", "1")))
    order_id, _ = engine.add_order(order(BUY, "limit", "3", limit="100"))
    engine.on_trade("BTC/USD", D(100), D("1.5"))  # queue ahead 2 -> 0.5

    engine.amend_order(order_id=order_id, qty=D(2))
    events = engine.on_trade("BTC/USD", D(100), D(1))

    assert trades(events) == [(D(100), D("0.5"))]


def test_amend_to_a_crossing_price_takes_liquidity_unless_post_only() -> None:
    engine = make_engine()
    engine.set_book("BTC/USD", levels(("99", "1")), levels(("101", "1")))
    order_id, _ = engine.add_order(order(BUY, "limit", "2", limit="100"))

    with pytest.raises(OrderError) as rejected:
        engine.amend_order(order_id=order_id, limit_price=D(101), post_only=True)
    events = engine.amend_order(order_id=order_id, limit_price=D(101))

    assert rejected.value.code == "EOrder:Post only order"
    assert kinds(events) == ["amended", "trade"]
    assert events[-1].liquidity == "t"


def test_amend_never_changes_cum_qty_and_below_it_cancels_the_remainder() -> None:
    engine = make_engine()
    engine.set_book("BTC/USD", levels(("99", "1")), levels(("101", "1")))
    order_id, _ = engine.add_order(order(SELL, "limit", "2", limit="102"))
    engine.on_trade("BTC/USD", D(103), D("1.2"))

    kept = engine.amend_order(order_id=order_id, qty=D("1.5"))
    closed = engine.amend_order(order_id=order_id, qty=D(1))

    assert [e.cum_qty for e in kept] == [D("1.2")]
    assert kinds(closed) == ["amended", "canceled"]
    assert [e.cum_qty for e in closed] == [D("1.2"), D("1.2")]
    assert engine.open_orders() == []
    assert engine.held("BTC") == 0


def test_amend_that_needs_more_funds_than_available_is_rejected_and_leaves_the_order_alone() -> None:
    engine = make_engine({"USD": D(250)})
    engine.set_book("BTC/USD", levels(("99", "1")), levels(("101", "1")))
    order_id, _ = engine.add_order(order(BUY, "limit", "2", limit="100"))

    with pytest.raises(OrderError) as rejected:
        engine.amend_order(order_id=order_id, qty=D(3))

    assert rejected.value.code == "EOrder:Insufficient funds"
    assert [o.qty for o in engine.open_orders()] == [D(2)]


def test_amend_trigger_price_of_a_waiting_stop_and_find_it_by_cl_ord_id() -> None:
    engine = make_engine()
    engine.set_book("BTC/USD", levels(("99", "5")), levels(("101", "1")))
    engine.add_order(order(SELL, "stop-loss", "1", trigger="95", cl_ord_id="sl-1"))

    engine.amend_order(cl_ord_id="sl-1", trigger_price=D(97))
    events = engine.on_trade("BTC/USD", D("96.5"), D(1))

    assert kinds(events) == ["status", "trade", "filled"]
    found = engine.find(cl_ord_id="sl-1")
    assert found is not None
    assert (found.trigger_price, found.amended, found.status) == (D(97), True, "closed")


@pytest.mark.parametrize(
    "change",
    [{"order_id": "OAAAAA-AAAAA-AAAAAA", "qty": D(1)}, {"cl_ord_id": "nope", "qty": D(1)}],
)
def test_amend_and_cancel_of_an_unknown_order_are_invalid_order(change: dict[str, object]) -> None:
    engine = make_engine()

    with pytest.raises(OrderError) as amend:
        engine.amend_order(**change)  # type: ignore[arg-type]  # ids and sizes of any type, as a client may send
    ids = {k: v for k, v in change.items() if k != "qty"}
    with pytest.raises(OrderError) as cancel:
        engine.cancel_order(**ids)  # type: ignore[arg-type]  # ids and sizes of any type, as a client may send

    assert amend.value.code == cancel.value.code == "EOrder:Invalid order"


def test_cancel_releases_the_hold_and_closes_the_order_with_a_reason() -> None:
    engine = make_engine({"USD": D(1000)})
    engine.set_book("BTC/USD", levels(("99", "1")), levels(("101", "1")))
    order_id, _ = engine.add_order(order(BUY, "limit", "5", limit="100"))
    assert engine.available("USD") < D(1000)

    events = engine.cancel_order(order_id=order_id)

    assert kinds(events) == ["canceled"]
    assert events[0].reason == "User requested"
    assert engine.available("USD") == D(1000)
    (closed,) = engine.closed_orders()
    assert (closed.order_id, closed.status) == (order_id, "canceled")
    with pytest.raises(OrderError, match="EOrder:Invalid order"):
        engine.cancel_order(order_id=order_id)


def test_cancel_all_cancels_every_open_order_including_untriggered_stops() -> None:
    engine = make_engine()
    engine.set_book("BTC/USD", levels(("99", "1")), levels(("101", "1")))
    engine.add_order(order(BUY, "limit", "1", limit="98"))
    engine.add_order(order(SELL, "stop-loss", "1", trigger="90"))
    engine.add_order(order(SELL, "limit", "1", limit="5000", symbol="ETH/USD"))

    events = engine.cancel_all()

    assert kinds(events) == ["canceled", "canceled", "canceled"]
    assert engine.open_orders() == []
    assert [engine.held(asset) for asset in ("USD", "BTC", "ETH")] == [0, 0, 0]


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"limit_price": D("99.95")}, "EOrder:Tick size check failed"),
        ({"qty": D("1.000000001")}, "EGeneral:Invalid arguments:volume"),
        ({"qty": D("0.00005")}, "EOrder:Order minimum not met"),
        ({"trigger_price": D(90)}, "EGeneral:Invalid arguments"),
        ({}, "EGeneral:Invalid arguments"),
    ],
)
def test_amend_rejections_use_the_add_order_error_strings(change: dict[str, D], code: str) -> None:
    engine = make_engine()
    engine.set_book("BTC/USD", levels(("99", "1")), levels(("101", "1")))
    order_id, _ = engine.add_order(order(BUY, "limit", "1", limit="98"))

    with pytest.raises(OrderError) as rejected:
        engine.amend_order(order_id=order_id, **change)  # type: ignore[arg-type]  # ids and sizes of any type, as a client may send

    assert rejected.value.code == code
    assert [(o.qty, o.limit_price, o.amended) for o in engine.open_orders()] == [(D(1), D(98), False)]
