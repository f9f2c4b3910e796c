"""The live venue actor against the simulator on 127.0.0.1: it owns the private WS for its life, a market buy sent
as a `VenueRequest` comes back as ACKED, its fills and FILLED on the bus, and a dropped private WS asks for a
reconciliation once it is back (the first connect does not)."""

from __future__ import annotations

import queue
import random
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from crocbot.actors.base import ChildContext
from crocbot.actors.gateway import Gateway
from crocbot.actors.messages import VenueRequest
from crocbot.actors.runtime import Runtime
from crocbot.actors.supervisor import ChildSpec, Policy
from crocbot.actors.venue.live import LiveVenue
from crocbot.core.clock import SystemClock
from crocbot.core.messages import Fill, OrderEvent, OrderStatus, ReconcileRequest, Side
from crocbot.kraken.endpoints import KrakenApi
from crocbot.kraken.reconnect import Backoff
from crocbot.kraken.rest import RestClient
from crocbot.matching import OrderRequest
from crocbot.sim.runner import Simulator
from crocbot.venues.protocol import Submit
from tests.support.actors import Tap, take
from tests.support.sim import API_KEY, API_SECRET, catalog, running_simulator
from tests.venues.live.support import market_buy, wait_until

WS_OPTIONS = {"backoff": Backoff(initial=0.05, maximum=0.2)}


@pytest.fixture
def wall_runtime() -> Iterator[Runtime]:
    """A runtime on the wall clock: the calls wait on a real network, their deadlines are real."""
    runtime = Runtime(clock=SystemClock(), rng=random.Random(7))
    yield runtime
    runtime.shutdown(timeout=5)


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with running_simulator() as simulator:
        simulator.step(20)
        yield simulator


class _Kept(LiveVenue):
    """The venue, kept where the test can watch its connection."""

    def __init__(self, ctx: ChildContext, kept: list[LiveVenue], *args: Any, **kwargs: Any) -> None:
        super().__init__(ctx, *args, **kwargs)
        kept.append(self)


def _start(
    runtime: Runtime, sim: Simulator, events: queue.Queue[Any], requests: queue.Queue[Any]
) -> tuple[LiveVenue, Gateway]:
    gateway = Gateway("kraken-orders", runtime.scheduler, workers=2, queue_size=8)
    gateway.start()
    kept: list[LiveVenue] = []
    api = KrakenApi(RestClient(sim.rest_url, api_key=API_KEY, api_secret=API_SECRET), catalog())
    runtime.start(
        [
            ChildSpec.actor("tap", Tap, events, (OrderEvent, Fill)),
            ChildSpec.actor("requests", Tap, requests, (ReconcileRequest,)),
            ChildSpec.actor("venue", _Kept, kept, sim.ws_auth_url, api, gateway, timeout=5.0, ws_options=WS_OPTIONS),
        ],
        Policy(),
    )
    (venue,) = kept
    wait_until(lambda: venue.ws.connected and venue.feed.snapshots >= 1, "the private WS connected and subscribed")
    return venue, gateway


def _until_filled(events: queue.Queue[Any], cl_ord_id: str) -> list[Any]:
    seen = [take(events, object, cl_ord_id=cl_ord_id)]
    while not (isinstance(seen[-1], OrderEvent) and seen[-1].status is OrderStatus.FILLED) and len(seen) < 100:
        seen.append(take(events, object, cl_ord_id=cl_ord_id))
    return seen


def test_a_market_buy_comes_back_as_acked_fills_and_filled(wall_runtime: Runtime, sim: Simulator) -> None:
    events: queue.Queue[Any] = queue.Queue()
    requests: queue.Queue[Any] = queue.Queue()
    _venue, gateway = _start(wall_runtime, sim, events, requests)
    try:
        wall_runtime.bus.publish(VenueRequest((Submit(market_buy("lv-buy-1")),)))
        seen = _until_filled(events, "lv-buy-1")
    finally:
        gateway.stop(timeout=5)
    engine = sim.exchange.accounts[API_KEY].engine
    sent = [o.cl_ord_id for o in engine.open_orders() + engine.closed_orders()]

    statuses = [e.status for e in seen if isinstance(e, OrderEvent)]
    assert (statuses[0], statuses.count(OrderStatus.ACKED), statuses[-1]) == (OrderStatus.ACKED, 1, OrderStatus.FILLED)
    fills = [e for e in seen if isinstance(e, Fill)]
    assert fills
    assert sum(f.qty for f in fills) == seen[-1].filled_qty
    assert sent.count("lv-buy-1") == 1
    assert requests.empty()  # the first connect asks for nothing (its ConnectionState came long before the fills)


def test_a_dropped_private_websocket_asks_for_a_reconciliation_once_it_is_back(
    wall_runtime: Runtime, sim: Simulator
) -> None:
    events: queue.Queue[Any] = queue.Queue()
    requests: queue.Queue[Any] = queue.Queue()
    venue, gateway = _start(wall_runtime, sim, events, requests)
    try:
        sim.ws.disconnect_all()
        request = take(requests, ReconcileRequest)
        wait_until(lambda: venue.ws.connected and venue.feed.snapshots >= 2, "a fresh snapshot after the reconnect")
        # orders still flow over the new connection
        wall_runtime.bus.publish(VenueRequest((Submit(market_buy("lv-after-1")),)))
        seen = _until_filled(events, "lv-after-1")
    finally:
        gateway.stop(timeout=5)

    assert "reconnected" in request.reason
    assert venue.reconnects == 1
    assert isinstance(seen[-1], OrderEvent)
    assert seen[-1].status is OrderStatus.FILLED


def test_the_private_websocket_is_closed_when_the_venue_stops(wall_runtime: Runtime, sim: Simulator) -> None:
    events: queue.Queue[Any] = queue.Queue()
    requests: queue.Queue[Any] = queue.Queue()
    venue, gateway = _start(wall_runtime, sim, events, requests)
    gateway.stop(timeout=5)
    wall_runtime.shutdown(timeout=5)

    assert not venue.ws.connected
    wait_until(lambda: not sim.ws.sessions(), "the simulator sees no session left")


def test_krakens_own_count_of_a_pairs_trading_counter_corrects_the_model(wall_runtime: Runtime, sim: Simulator) -> None:
    """Orders placed on the account by something else (a person on kraken.com) charge the pair's counter too: the
    executions channel's `ratecount` brings the model up to Kraken's count: crocbot waits instead of being refused."""
    events: queue.Queue[Any] = queue.Queue()
    requests: queue.Queue[Any] = queue.Queue()
    venue, gateway = _start(wall_runtime, sim, events, requests)
    account = sim.exchange.accounts[API_KEY]
    far_below = (sim.exchange.markets["BTC/USD"].book.bids(1)[0][0] * Decimal("0.8")).quantize(Decimal("0.1"))
    pair = venue.api.pair("BTC/USD")
    try:
        before = venue.api.rest.trading_level(pair)
        for n in range(5):
            order = OrderRequest("BTC/USD", Side.BUY, "limit", Decimal("0.001"), far_below, cl_ord_id=f"by-hand-{n}")
            sim.exchange.add_order(account, order)
        kraken = account.pair_counters["BTC/USD"].level(sim.exchange.clock.monotonic())
        wait_until(lambda: venue.api.rest.trading_level(pair) >= kraken - 1, "the model following Kraken's count")
    finally:
        gateway.stop(timeout=5)

    assert before == 0
    assert kraken >= 5  # five adds, one each
