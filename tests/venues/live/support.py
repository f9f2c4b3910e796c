"""A simulator with the live venue's parts pointed at it: the private WS, REST, the executions feed, the calls."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from crocbot.actors.gateway import Deadline
from crocbot.core.clock import SystemClock
from crocbot.core.messages import OrderEvent, OrderIntent, OrderPurpose, OrderType, Side
from crocbot.kraken.endpoints import KrakenApi
from crocbot.kraken.reconnect import Backoff
from crocbot.kraken.rest import RestClient
from crocbot.kraken.rest_types import OrderInfo
from crocbot.sim.runner import Simulator
from crocbot.venues.live import ExecutionFeed, ExecutionsMerger, KrakenOrderCalls, LiveEvent, WsTrading
from tests.support.sim import API_KEY, API_SECRET, catalog, running_simulator

WAIT = 10.0
CLOCK = SystemClock()


@dataclass
class Sink:
    """What the feed delivered, for tests that wait on it."""

    events: list[LiveEvent] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    forward: Callable[[LiveEvent], None] | None = None  # e.g. the bus of an actor test

    def __call__(self, event: LiveEvent) -> None:
        with self.lock:
            self.events.append(event)
        if self.forward is not None:
            self.forward(event)

    def of(self, kind: type[Any]) -> list[Any]:
        with self.lock:
            return [e for e in self.events if isinstance(e, kind)]


class CountingApi(KrakenApi):
    """Kraken's REST endpoints, noting lookups and cancels by client id in order (to see an unknown outcome
    resolved before another transport touches the order)."""

    lookups: list[str]

    def find_order(self, cl_ord_id: str, *, deadline: float | None = None) -> OrderInfo | None:
        self.lookups.append(f"find {cl_ord_id}")
        return super().find_order(cl_ord_id, deadline=deadline)

    def cancel_order(
        self, *, symbol: str, cl_ord_id: str | None = None, txid: str | None = None, deadline: float | None = None
    ) -> int:
        self.lookups.append(f"cancel {cl_ord_id}")
        return super().cancel_order(symbol=symbol, cl_ord_id=cl_ord_id, txid=txid, deadline=deadline)


@dataclass
class Live:
    sim: Simulator
    api: CountingApi
    feed: ExecutionFeed
    sink: Sink
    ws: WsTrading
    calls: KrakenOrderCalls


def wait_until(predicate: Callable[[], bool], what: str, timeout: float = WAIT) -> None:
    """Poll `predicate` until it holds; fail naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.01)
    raise AssertionError(f"{what}: not within {timeout:.0f}s")


def placed(live: Live, intent: OrderIntent) -> OrderEvent:
    """Submit the order; its ACKED, which reaches the router through the executions feed, not as the call's event."""
    assert list(live.calls.submit(intent, deadline())) == []
    wait_until(lambda: any(e.cl_ord_id == intent.cl_ord_id for e in live.sink.of(OrderEvent)), "the order's ACKED")
    (acked, *_) = [e for e in live.sink.of(OrderEvent) if e.cl_ord_id == intent.cl_ord_id]
    assert isinstance(acked, OrderEvent)
    return acked


def deadline(seconds: float = 5.0) -> Deadline:
    return Deadline(CLOCK.monotonic() + seconds, CLOCK)


def now() -> datetime:
    return datetime.now(UTC)


def limit_buy(cl_ord_id: str, live: Live, *, qty: str = "0.01", below: str = "0.9") -> OrderIntent:
    """A buy that rests well below the market."""
    book = live.sim.exchange.markets["BTC/USD"].book
    price = (book.bids(1)[0][0] * Decimal(below)).quantize(Decimal("0.1"))
    return OrderIntent(
        cl_ord_id, "BTC/USD", Side.BUY, OrderType.LIMIT, Decimal(qty), OrderPurpose.ENTRY, now(), limit_price=price
    )


def market_buy(cl_ord_id: str, qty: str = "0.01") -> OrderIntent:
    return OrderIntent(cl_ord_id, "BTC/USD", Side.BUY, OrderType.MARKET, Decimal(qty), OrderPurpose.ENTRY, now())


@contextmanager
def live_venue(
    *,
    start_ws: bool = True,
    wall: Callable[[], datetime] | None = None,
    forward: Callable[[LiveEvent], None] | None = None,
) -> Iterator[Live]:
    with running_simulator() as sim:
        sim.step(20)
        api = CountingApi(RestClient(sim.rest_url, api_key=API_KEY, api_secret=API_SECRET), catalog())
        api.lookups = []
        sink = Sink(forward=forward)
        feed = ExecutionFeed(ExecutionsMerger(), sink)
        ws = WsTrading(
            sim.ws_auth_url,
            api.websockets_token,
            feed.on_executions,
            wall=wall,
            backoff=Backoff(initial=0.05, maximum=0.2),
        )
        live = Live(sim, api, feed, sink, ws, KrakenOrderCalls(ws, api, feed, clock=CLOCK, wall=wall))
        if start_ws:
            ws.start()
            wait_until(lambda: ws.connected and feed.snapshots >= 1, "the private WS connected and subscribed")
        try:
            yield live
        finally:
            ws.stop()
