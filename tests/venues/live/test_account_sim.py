"""The live account view against the simulator on 127.0.0.1: orders and fills made with a REST client come back as the
simulator's own records say, the trader's own trading is left out, and the inventory fence reads the view right."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from crocbot.actors.gateway import Deadline
from crocbot.core.messages import OrderPurpose, OrderStatus, OrderType, Side
from crocbot.core.reconcile import BookOrder, BooksView, reconcile
from crocbot.kraken.endpoints import KrakenApi
from crocbot.kraken.rest import RestClient
from crocbot.kraken.rest_types import AddOrderRequest
from crocbot.sim.catalog import DEFAULT_INSTRUMENTS
from crocbot.venues.live.account import LiveAccountView
from tests.support.sim import API_KEY, API_SECRET, BALANCES, catalog, running_simulator

D = Decimal


def test_the_view_matches_the_simulators_orders_fills_and_balances_and_leaves_the_traders_own_out() -> None:
    with running_simulator() as sim:
        sim.step(20)
        client = KrakenApi(RestClient(sim.rest_url, api_key=API_KEY, api_secret=API_SECRET), catalog())
        bid = client.depth("BTC/USD", 5)[0][0][0]
        order = AddOrderRequest
        client.add_order(order("BTC/USD", Side.BUY, OrderType.MARKET, D("0.02"), "cbeacct000000001"))
        client.add_order(
            order("BTC/USD", Side.BUY, OrderType.LIMIT, D("0.01"), "cbeacct000000002", limit_price=bid - D(500))
        )
        client.add_order(
            order(
                "BTC/USD",
                Side.SELL,
                OrderType.STOP_LOSS_LIMIT,
                D("0.02"),
                "cbsacct000000003",
                trigger_price=bid - D(1000),
                limit_price=bid - D(1100),
            )
        )
        client.add_order(
            order("BTC/USD", Side.BUY, OrderType.LIMIT, D("0.01"), "cbeacct000000004", limit_price=bid - D(600))
        )
        client.cancel_order(symbol="BTC/USD", cl_ord_id="cbeacct000000004")
        # The trader's own: a market sell and a resting sell, without client ids (cl_ord_id is dropped when empty).
        client.rest.private("AddOrder", {"pair": "XBTUSD", "type": "sell", "ordertype": "market", "volume": "0.1"})
        client.rest.private(
            "AddOrder",
            {"pair": "XBTUSD", "type": "sell", "ordertype": "limit", "volume": "0.5", "price": str(bid + D(5000))},
        )
        engine = sim.exchange.accounts[API_KEY].engine
        clock = sim.clock
        clock.advance(5.0)  # the fills are settled facts when the view is taken, not in flight
        view = LiveAccountView(client, DEFAULT_INSTRUMENTS, clock)(
            ("cbeacct000000002", "cbsacct000000003", "cbeacct000000004"),
            clock.now() - timedelta(hours=1),
            Deadline(10.0**9, clock),
        )
        sim_fills = [f for f in engine.fills() if f.cl_ord_id is not None]
        theirs = [f for f in engine.fills() if f.cl_ord_id is None]
        balances, held = engine.balances(), {a: engine.held(a) for a in engine.balances()}

    by_id = {o.cl_ord_id: o for o in view.orders}
    assert set(by_id) == {"cbeacct000000002", "cbsacct000000003", "cbeacct000000004", None}
    assert (by_id["cbeacct000000002"].status, by_id["cbeacct000000002"].limit_price) == (
        OrderStatus.ACKED,
        bid - D(500),
    )
    stop = by_id["cbsacct000000003"]
    assert (stop.side, stop.order_type, stop.qty) == (Side.SELL, "stop-loss-limit", D("0.02"))
    assert (stop.trigger_price, stop.limit_price) == (bid - D(1000), bid - D(1100))
    assert by_id["cbeacct000000004"].status is OrderStatus.CANCELLED
    assert by_id[None].is_open  # foreign: the reconciler's policy decides
    assert by_id[None].qty == D("0.5")

    assert theirs, "the trader's market sell filled in the simulator"
    assert sorted((f.fill_id, f.cl_ord_id, f.qty, f.price, f.fee) for f in view.fills) == sorted(
        (f.exec_id, f.cl_ord_id, f.qty, f.price, f.fee) for f in sim_fills
    )
    assert {f.cl_ord_id for f in view.fills} == {"cbeacct000000001"}
    assert sum((f.qty for f in view.fills), D(0)) == D("0.02")
    assert all(f.fee > 0 and f.fee_currency == "USD" for f in view.fills)

    assert view.balances == balances
    assert dict(view.held) == {a: h for a, h in held.items() if h}
    assert view.balances["BTC"] < BALANCES["BTC"]  # the trader sold some of their own

    # The fence on this view: crocbot holds 0.02 BTC, its stop holds them, the trader's sell holds 0.5 of the rest.
    sent = view.as_of - timedelta(minutes=5)
    open_orders = (
        BookOrder("cbeacct000000002", "BTC/USD", OrderPurpose.ENTRY, OrderStatus.ACKED, sent),
        BookOrder("cbsacct000000003", "BTC/USD", OrderPurpose.STOP, OrderStatus.ACKED, sent),
    )

    def books(btc: D) -> BooksView:
        return BooksView(open_orders, frozenset(f.fill_id for f in view.fills), frozenset(), {"BTC": btc})

    assert reconcile(books(D("0.02")), view).balance_gaps == ()
    short = reconcile(books(D("1")), view)  # more than the free coins plus the stop's hold
    assert [(a, b) for a, b, _ in short.balance_gaps] == [("BTC", D("1"))]
    assert short.balance_gaps[0][2] == view.balances["BTC"] - D("0.5")
