"""The live order calls behind `VenueCalls`, as the router will use them: a lost answer becomes an UNKNOWN order,
a lookup by client id then finds it (sent once), and fills come from the executions channel onto the bus."""

from __future__ import annotations

import queue
import random
from collections.abc import Iterator
from typing import Any

import pytest

from crocbot.actors.gateway import Gateway
from crocbot.actors.messages import VenueRequest
from crocbot.actors.runtime import Runtime
from crocbot.actors.supervisor import ChildSpec, Policy
from crocbot.actors.venue import VenueCalls
from crocbot.core.clock import SystemClock
from crocbot.core.messages import Fill, OrderEvent, OrderLookedUp, OrderStatus
from crocbot.venues.protocol import Query, Submit
from tests.support.actors import Tap, take
from tests.support.sim import API_KEY
from tests.venues.live.support import limit_buy, live_venue, market_buy, now

TIMEOUT = 3.0  # the lost answer waits it out; every other call has time to spare on a loaded machine


@pytest.fixture
def wall_runtime() -> Iterator[Runtime]:
    """A runtime on the wall clock: the calls wait on a real network, their deadlines are real."""
    runtime = Runtime(clock=SystemClock(), rng=random.Random(7))
    yield runtime
    runtime.shutdown(timeout=5)


def test_a_lost_answer_is_an_unknown_order_that_a_lookup_by_client_id_finds_sent_once(wall_runtime: Runtime) -> None:
    events: queue.Queue[Any] = queue.Queue()
    gateway = Gateway("kraken", wall_runtime.scheduler, workers=2, queue_size=8)
    gateway.start()
    with live_venue(forward=wall_runtime.bus.publish) as live:
        wall_runtime.start(
            [
                ChildSpec.actor("venue", VenueCalls, live.calls, gateway, timeout=TIMEOUT),
                ChildSpec.actor("tap", Tap, events, (OrderEvent, OrderLookedUp, Fill)),
            ],
            Policy(),
        )
        live.sim.ws.lose_answers("add_order")
        wall_runtime.bus.publish(VenueRequest((Submit(limit_buy("vc-lost-1", live)),)))
        unknown = take(events, OrderEvent, cl_ord_id="vc-lost-1", status=OrderStatus.UNKNOWN)
        wall_runtime.bus.publish(VenueRequest((Query("vc-lost-1", "BTC/USD", now()),)))
        found = take(events, OrderLookedUp, cl_ord_id="vc-lost-1")
        wall_runtime.bus.publish(VenueRequest((Submit(market_buy("vc-fill-1")),)))
        seen = [take(events, object, cl_ord_id="vc-fill-1")]  # until it is filled: bounded by take's wait
        while not (isinstance(seen[-1], OrderEvent) and seen[-1].status is OrderStatus.FILLED) and len(seen) < 100:
            seen.append(take(events, object, cl_ord_id="vc-fill-1"))
        gateway.stop(timeout=5)  # the call's answer (no event of its own) is in before the WS goes
        engine = live.sim.exchange.accounts[API_KEY].engine
        sent = [o.cl_ord_id for o in engine.open_orders() + engine.closed_orders()]

    assert unknown.reason  # why it is unknown, for the log
    assert found.status is OrderStatus.ACKED
    assert sent.count("vc-lost-1") == 1
    statuses = [e.status for e in seen if isinstance(e, OrderEvent)]
    # ACKED once and first (never after the fills), FILLED last
    assert (statuses[0], statuses.count(OrderStatus.ACKED), statuses[-1]) == (OrderStatus.ACKED, 1, OrderStatus.FILLED)
    fills = [e for e in seen if isinstance(e, Fill)]
    assert sum(f.qty for f in fills) == seen[-1].filled_qty
    assert len({f.fill_id for f in fills}) == len(fills)
