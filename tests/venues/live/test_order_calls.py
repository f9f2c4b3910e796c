"""Kraken's order calls against the simulator on 127.0.0.1: the private WS first, REST while it is down, unknown
outcomes resolved by client id and never resent."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from crocbot.actors.venue.calls import VenueRefusal
from crocbot.core.messages import (
    Fill,
    OrderAmended,
    OrderEvent,
    OrderIntent,
    OrderPurpose,
    OrderStatus,
    OrderType,
    Side,
    VenueAnomaly,
)
from crocbot.venues.live import ExecutionFeed, ExecutionsMerger, KrakenOrderCalls, OutcomeUnknown
from crocbot.venues.protocol import Amend, Cancel, Query
from tests.support.sim import API_KEY
from tests.venues.live.support import (
    CLOCK,
    Live,
    Sink,
    deadline,
    limit_buy,
    live_venue,
    market_buy,
    now,
    placed,
    wait_until,
)


def orders_on_the_simulator(live: Live, cl_ord_id: str) -> int:
    engine = live.sim.exchange.accounts[API_KEY].engine
    return sum(1 for o in engine.open_orders() + engine.closed_orders() if o.cl_ord_id == cl_ord_id)


def test_an_order_is_placed_amended_and_cancelled_over_the_private_websocket() -> None:
    with live_venue() as live:
        intent = limit_buy("ws-life-1", live)
        acked = placed(live, intent)
        new_price = intent.limit_price - Decimal(10)  # type: ignore[operator]  # a limit order has a price
        (amended,) = live.calls.amend(Amend("ws-life-1", "BTC/USD", now(), limit_price=new_price), deadline())
        resting = live.sim.exchange.accounts[API_KEY].engine.find(cl_ord_id="ws-life-1")
        (cancelled,) = live.calls.cancel(Cancel("ws-life-1", "BTC/USD", now()), deadline())
        wait_until(lambda: len(live.sink.of(OrderEvent)) >= 2, "the order's events on the executions channel")

    assert isinstance(acked, OrderEvent)
    assert acked.status is OrderStatus.ACKED
    assert acked.order_id
    assert isinstance(amended, OrderAmended)
    assert amended.limit_price == new_price
    assert resting is not None
    assert resting.limit_price == new_price
    assert isinstance(cancelled, OrderEvent)
    assert (cancelled.status, cancelled.filled_qty, cancelled.order_id) == (
        OrderStatus.CANCELLED,
        Decimal(0),
        acked.order_id,
    )
    assert [(e.status, e.cl_ord_id) for e in live.sink.of(OrderEvent)] == [
        (OrderStatus.ACKED, "ws-life-1"),
        (OrderStatus.CANCELLED, "ws-life-1"),
    ]
    assert not live.sink.of(VenueAnomaly)
    assert live.api.lookups == []  # nothing was in doubt


def test_a_market_order_fills_once_and_a_reconnects_snapshot_of_the_last_fills_adds_none() -> None:
    with live_venue() as live:
        live.calls.submit(market_buy("ws-fill-1"), deadline())
        wait_until(
            lambda: live.sink.of(OrderEvent)[-1:] != [] and live.sink.of(OrderEvent)[-1].status is OrderStatus.FILLED,
            "filled",
        )
        fills_before = list(live.sink.of(Fill))
        live.sim.ws.disconnect_all()
        wait_until(lambda: live.feed.snapshots >= 2 and live.ws.connected, "a fresh snapshot after the reconnect")
        fills_after = list(live.sink.of(Fill))

    assert sum(f.qty for f in fills_before) == Decimal("0.01")
    assert {f.cl_ord_id for f in fills_before} == {"ws-fill-1"}
    assert fills_after == fills_before


def test_a_lost_add_order_answer_is_unknown_and_the_order_is_then_found_by_its_client_id() -> None:
    with live_venue() as live:
        live.sim.ws.lose_answers("add_order")
        intent = limit_buy("ws-lost-1", live)
        with pytest.raises(OutcomeUnknown):
            live.calls.submit(intent, deadline(1.0))
        found = live.calls.query(Query("ws-lost-1", "BTC/USD", now()), deadline())
        missing = live.calls.query(Query("ws-never-1", "BTC/USD", now()), deadline())
        sent = orders_on_the_simulator(live, "ws-lost-1")

    assert live.sim.ws.answers_lost == 1
    assert sent == 1  # looked up, never sent again
    assert (found.status, found.qty, found.filled, found.limit_price) == (
        OrderStatus.ACKED,
        intent.qty,
        Decimal(0),
        intent.limit_price,
    )
    assert missing.status is None


def test_a_stale_token_is_refreshed_and_the_request_sent_once_more() -> None:
    with live_venue() as live:
        live.sim.exchange.accounts[API_KEY].tokens.clear()  # every token Kraken gave is now invalid
        acked = placed(live, limit_buy("ws-token-1", live))
        sent = orders_on_the_simulator(live, "ws-token-1")

    assert isinstance(acked, OrderEvent)
    assert acked.status is OrderStatus.ACKED
    assert sent == 1


def test_krakens_refusals_over_the_websocket_raise_with_its_error_string() -> None:
    with live_venue() as live:
        with pytest.raises(VenueRefusal) as funds:
            live.calls.submit(limit_buy("ws-big-1", live, qty="1000"), deadline())
        with pytest.raises(VenueRefusal) as gone:
            live.calls.cancel(Cancel("ws-none-1", "BTC/USD", now()), deadline())

    assert funds.value.code == "EOrder:Insufficient funds"
    assert gone.value.code == "EOrder:Invalid order"  # the WS answer for an order gone or unknown


def test_an_order_whose_deadline_has_passed_is_refused_before_the_engine() -> None:
    late = lambda: now() - timedelta(seconds=120)  # noqa: E731 - a wall clock two minutes behind
    with live_venue(wall=late) as live:
        with pytest.raises(VenueRefusal) as refused:
            live.calls.submit(limit_buy("ws-late-1", live), deadline())
        sent = orders_on_the_simulator(live, "ws-late-1")

    assert refused.value.code == "EService:Deadline elapsed"
    assert sent == 0


def test_rest_carries_orders_while_the_private_websocket_is_down() -> None:
    with live_venue(start_ws=False) as live:
        intent = limit_buy("rest-life-1", live)
        acked = placed(live, intent)
        (amended,) = live.calls.amend(Amend("rest-life-1", "BTC/USD", now(), qty=Decimal("0.02")), deadline())
        looked_up = live.calls.query(Query("rest-life-1", "BTC/USD", now()), deadline())
        (cancelled,) = live.calls.cancel(Cancel("rest-life-1", "BTC/USD", now()), deadline())
        sent = orders_on_the_simulator(live, "rest-life-1")

    assert isinstance(acked, OrderEvent)
    assert acked.status is OrderStatus.ACKED
    assert acked.order_id
    assert isinstance(amended, OrderAmended)
    assert amended.qty == Decimal("0.02")
    assert (looked_up.status, looked_up.qty) == (OrderStatus.ACKED, Decimal("0.02"))
    assert isinstance(cancelled, OrderEvent)
    assert cancelled.status is OrderStatus.CANCELLED
    assert sent == 1


def test_an_order_left_unknown_on_the_websocket_is_cancelled_over_rest_once_it_has_been_found() -> None:
    with live_venue() as live:
        live.sim.ws.lose_answers("add_order")
        with pytest.raises(OutcomeUnknown):
            live.calls.submit(limit_buy("ws-switch-1", live), deadline(1.0))
        live.ws.stop()  # the private WS is down from here on
        (cancelled,) = live.calls.cancel(Cancel("ws-switch-1", "BTC/USD", now()), deadline())
        engine = live.sim.exchange.accounts[API_KEY].engine
        order = engine.find(cl_ord_id="ws-switch-1")

    assert isinstance(cancelled, OrderEvent)
    assert cancelled.status is OrderStatus.CANCELLED
    assert order is not None
    assert order.order_status == "canceled"
    # found first, then cancelled over the other transport (and looked up again for what it had filled)
    assert live.api.lookups[:2] == ["find ws-switch-1", "cancel ws-switch-1"]


def test_a_cancel_after_a_partial_fill_says_how_much_the_order_filled() -> None:
    with live_venue() as live:
        ask, ask_qty = live.sim.exchange.markets["BTC/USD"].book.asks(1)[0]
        qty = (ask_qty * 2).quantize(Decimal("0.00000001"))
        intent = OrderIntent(
            "ws-part-1", "BTC/USD", Side.BUY, OrderType.LIMIT, qty, OrderPurpose.ENTRY, now(), limit_price=ask
        )
        live.calls.submit(intent, deadline())
        wait_until(lambda: bool(live.sink.of(Fill)), "the part that filled at once")
        (cancelled,) = live.calls.cancel(Cancel("ws-part-1", "BTC/USD", now()), deadline())
        filled = sum(f.qty for f in live.sink.of(Fill))

    assert isinstance(cancelled, OrderEvent)
    assert cancelled.status is OrderStatus.CANCELLED
    assert 0 < cancelled.filled_qty < qty
    assert cancelled.filled_qty == filled


def test_websocket_orders_are_charged_to_the_pairs_trading_counter_so_kraken_never_refuses_one_for_it() -> None:
    refusals: list[str] = []
    with live_venue() as live:
        for n in range(10):  # add + cancel of a young order: 1 + 8 each, over Kraken's 60 within a few rounds
            try:
                live.calls.submit(limit_buy(f"ws-rate-{n}", live), deadline(2.0))
                live.calls.cancel(Cancel(f"ws-rate-{n}", "BTC/USD", now()), deadline(2.0))
            except VenueRefusal as refusal:
                refusals.append(refusal.code)
        earned = live.sim.exchange.accounts[API_KEY].rate_limited

    assert refusals  # the model held calls back ...
    assert all("rate budget" in code for code in refusals)
    assert earned == 0  # ... so Kraken (the simulator) never had to


def test_an_xstock_order_is_amended_with_its_symbol_over_the_websocket_and_over_rest() -> None:
    with live_venue() as live:
        book = live.sim.exchange.markets["AAPLx/USD"].book
        price = (book.bids(1)[0][0] * Decimal("0.9")).quantize(Decimal("0.01"))
        intent = OrderIntent(
            "xs-1", "AAPLx/USD", Side.BUY, OrderType.LIMIT, Decimal("0.5"), OrderPurpose.ENTRY, now(), limit_price=price
        )
        live.calls.submit(intent, deadline())
        (over_ws,) = live.calls.amend(Amend("xs-1", "AAPLx/USD", now(), limit_price=price - 1), deadline())
        live.ws.stop()
        (over_rest,) = live.calls.amend(Amend("xs-1", "AAPLx/USD", now(), limit_price=price - 2), deadline())
        order = live.sim.exchange.accounts[API_KEY].engine.find(cl_ord_id="xs-1")

    assert isinstance(over_ws, OrderAmended)
    assert isinstance(over_rest, OrderAmended)
    assert order is not None
    assert order.limit_price == price - 2


def test_every_order_type_goes_out_with_its_prices_and_cancel_all_takes_them_all() -> None:
    with live_venue() as live:
        bid = live.sim.exchange.markets["BTC/USD"].book.bids(1)[0][0]
        below, far_below, above = ((bid * Decimal(f)).quantize(Decimal("0.1")) for f in ("0.9", "0.85", "1.1"))
        intents = [
            OrderIntent("ot-sl", "BTC/USD", Side.SELL, OrderType.STOP_LOSS, Decimal("0.01"), OrderPurpose.STOP, now(),
                        trigger_price=below),
            OrderIntent("ot-sll", "BTC/USD", Side.SELL, OrderType.STOP_LOSS_LIMIT, Decimal("0.01"),
                        OrderPurpose.STOP, now(), limit_price=far_below, trigger_price=below),
            OrderIntent("ot-tp", "BTC/USD", Side.SELL, OrderType.TAKE_PROFIT, Decimal("0.01"),
                        OrderPurpose.TAKE_PROFIT, now(), trigger_price=above),
            OrderIntent("ot-tpl", "BTC/USD", Side.SELL, OrderType.TAKE_PROFIT_LIMIT, Decimal("0.01"),
                        OrderPurpose.TAKE_PROFIT, now(), limit_price=above, trigger_price=above),
            OrderIntent("ot-po", "BTC/USD", Side.BUY, OrderType.LIMIT, Decimal("0.01"), OrderPurpose.ENTRY, now(),
                        limit_price=below, post_only=True),
        ]  # fmt: skip
        for intent in intents:
            placed(live, intent)
        engine = live.sim.exchange.accounts[API_KEY].engine
        resting = {o.cl_ord_id: o for o in engine.open_orders()}
        count = live.ws.cancel_all(5.0)
        left = engine.open_orders()

    for intent in intents:
        order = resting[intent.cl_ord_id]
        terms = (order.order_type, order.side, order.qty, order.limit_price, order.trigger_price, order.post_only)
        expected = (str(intent.order_type), intent.side, intent.qty, intent.limit_price, intent.trigger_price)
        assert terms == (*expected, intent.post_only)
    assert count == len(intents)
    assert left == []


def test_a_cancel_whose_report_never_comes_takes_what_the_order_filled_from_rest() -> None:
    with live_venue() as live:
        deaf = KrakenOrderCalls(live.ws, live.api, ExecutionFeed(ExecutionsMerger(), Sink()), clock=CLOCK)  # unfed
        ask, ask_qty = live.sim.exchange.markets["BTC/USD"].book.asks(1)[0]
        qty = (ask_qty * 2).quantize(Decimal("0.00000001"))
        intent = OrderIntent(
            "ws-deaf-1", "BTC/USD", Side.BUY, OrderType.LIMIT, qty, OrderPurpose.ENTRY, now(), limit_price=ask
        )
        deaf.submit(intent, deadline())
        (cancelled,) = deaf.cancel(Cancel("ws-deaf-1", "BTC/USD", now()), deadline())
        order = live.sim.exchange.accounts[API_KEY].engine.find(cl_ord_id="ws-deaf-1")

    assert order is not None
    assert isinstance(cancelled, OrderEvent)
    assert (cancelled.status, cancelled.filled_qty) == (OrderStatus.CANCELLED, order.cum_qty)
    assert 0 < cancelled.filled_qty < qty
    assert live.api.lookups == ["find ws-deaf-1"]


def test_an_order_over_rest_carries_krakens_deadline_and_the_engine_refuses_it_late() -> None:
    late = lambda: now() - timedelta(seconds=120)  # noqa: E731 - a wall clock two minutes behind
    with live_venue(start_ws=False, wall=late) as live:
        # over REST Kraken's `Deadline elapsed` is an unknown outcome (FACTS: look the order up, never resend)
        with pytest.raises(OutcomeUnknown) as unknown:
            live.calls.submit(limit_buy("rest-late-1", live), deadline())
        sent = orders_on_the_simulator(live, "rest-late-1")

    assert "EService:Deadline elapsed" in str(unknown.value)
    assert sent == 0
