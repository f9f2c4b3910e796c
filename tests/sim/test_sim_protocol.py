"""The simulator answers like Kraken: WS acks and errors, private trading over WS, faults, the dead man's switch."""

from __future__ import annotations

import queue
import socket
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import websocket

from crocbot.core.clock import SimClock
from crocbot.kraken.codec import Codec
from crocbot.kraken.endpoints import KrakenApi
from crocbot.kraken.errors import RateLimitError, RetryableError, TransportError
from crocbot.kraken.jsontext import dumps
from crocbot.kraken.reconnect import Backoff
from crocbot.kraken.rest import RestClient
from crocbot.kraken.wire import Ack, ConnectionState, Executions
from crocbot.kraken.ws import Subscription, WsClient
from tests.support.process import crocbot_env
from tests.support.sim import API_KEY, API_SECRET, catalog, running_simulator

WAIT = 10.0


class Socket:
    """A raw WS connection to the simulator that reads decoded messages with a bounded wait."""

    def __init__(self, url: str) -> None:
        self.ws = websocket.create_connection(url, timeout=WAIT)
        self.codec = Codec()
        self.seen: list[object] = []  # everything decoded so far, for tests that look back

    def send(self, body: dict[str, Any]) -> None:
        self.ws.send(dumps(body))

    def next(self, kind: type, predicate: Any = lambda m: True) -> Any:
        """The next message of `kind` (skipping others, which stay in `seen`), within WAIT seconds."""
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            for message in self.codec.decode(self.ws.recv()):
                self.seen.append(message)
                if isinstance(message, kind) and predicate(message):
                    return message
        raise AssertionError(f"no {kind.__name__} within {WAIT}s")

    def close(self) -> None:
        self.ws.close()


def api(url: str) -> KrakenApi:
    return KrakenApi(RestClient(url, api_key=API_KEY, api_secret=API_SECRET), catalog())


def test_a_legacy_symbol_a_private_channel_on_the_public_host_and_a_bad_token_get_krakens_errors() -> None:
    with running_simulator() as sim:
        public = Socket(sim.ws_url)
        public.send({"method": "subscribe", "params": {"channel": "ticker", "symbol": ["XBT/USD"]}, "req_id": 7})
        legacy = public.next(Ack)
        public.send({"method": "subscribe", "params": {"channel": "executions", "token": "x"}, "req_id": 8})
        wrong_host = public.next(Ack)
        private = Socket(sim.ws_auth_url)
        private.send({"method": "subscribe", "params": {"channel": "executions", "token": "stale"}, "req_id": 9})
        bad_token = private.next(Ack)
        public.close()
        private.close()

    assert (legacy.success, legacy.error, legacy.symbol, legacy.req_id) == (
        False,
        "Currency pair not supported XBT/USD",
        "XBT/USD",
        7,
    )
    assert wrong_host.error == "Private data and trading are unavailable on this endpoint. Try ws-auth.kraken.com"
    assert (bad_token.error, bad_token.channel) == ("ESession:Invalid session", "executions")


def test_one_ack_per_symbol_then_a_book_snapshot_that_verifies() -> None:
    from crocbot.core.messages import BookUpdate
    from crocbot.kraken.book import Apply, L2Book

    with running_simulator() as sim:
        sim.step(10)
        client = Socket(sim.ws_url)
        client.send(
            {
                "method": "subscribe",
                "params": {"channel": "book", "symbol": ["BTC/USD", "ETH/USD"], "depth": 25},
                "req_id": 1,
            }
        )
        acks = [client.next(Ack), client.next(Ack)]
        snapshot = client.next(BookUpdate)
        client.close()

    assert {(a.symbol, a.result["depth"]) for a in acks if a.result} == {("BTC/USD", 25), ("ETH/USD", 25)}
    book = L2Book(snapshot.symbol, 25, price_precision=catalog()[snapshot.symbol].price_precision, qty_precision=8)
    assert book.apply(snapshot) is Apply.OK
    assert len(book.bids()) == 25


def test_an_order_over_the_private_websocket_is_acked_and_its_executions_follow() -> None:
    with running_simulator() as sim:
        sim.step(20)
        token = api(sim.rest_url).websockets_token()
        client = Socket(sim.ws_auth_url)
        client.send({"method": "subscribe", "params": {"channel": "executions", "token": token}})
        client.next(Ack)
        client.send(
            {
                "method": "add_order",
                "req_id": 42,
                "params": {
                    "order_type": "market",
                    "side": "buy",
                    "order_qty": Decimal("0.01000000"),
                    "symbol": "BTC/USD",
                    "cl_ord_id": "cb-ws-1",
                    "token": token,
                },
            }
        )
        ack = client.next(Ack, lambda a: a.req_id == 42)  # executions may come before or after the answer
        reports = [r for m in client.seen if isinstance(m, Executions) and not m.snapshot for r in m.reports]
        while not any(r.exec_type == "filled" for r in reports):
            reports += client.next(Executions, lambda e: not e.snapshot).reports
        client.close()

    assert ack.success
    assert ack.result is not None
    assert ack.result["cl_ord_id"] == "cb-ws-1"
    assert [r.exec_type for r in reports][:2] == ["pending_new", "new"]
    trades = [r for r in reports if r.exec_type == "trade"]
    assert sum(r.last_qty or 0 for r in trades) == Decimal("0.01")
    assert all(r.fees for r in trades)


def test_rest_faults_surface_as_typed_errors() -> None:
    with running_simulator() as sim:
        client = api(sim.rest_url)
        client.rest.timeout = 1.0
        sim.faults.rest_hang = 3.0
        sim.faults.rest_next("http_502")
        with pytest.raises(TransportError, match="HTTP 502"):
            client.balance()
        sim.faults.rest_next("unavailable")
        with pytest.raises(RetryableError, match="EService:Unavailable"):
            client.balance()
        sim.faults.rest_next("rate_limit")
        with pytest.raises(RateLimitError, match="EAPI:Rate limit exceeded"):
            client.balance()
        sim.faults.rest_next("timeout")
        with pytest.raises(TransportError, match="no answer within"):
            client.balance()
        assert client.balance()["USD"] == Decimal("100000")


def test_a_stall_is_detected_as_staleness_and_the_client_reconnects() -> None:
    states: queue.Queue[ConnectionState] = queue.Queue()

    def on_message(message: object) -> None:
        if isinstance(message, ConnectionState):
            states.put(message)

    with running_simulator() as sim:
        client = WsClient(
            sim.ws_url,
            [Subscription("ticker", ("BTC/USD",))],
            on_message,
            stale_after=1.5,
            backoff=Backoff(initial=0.05, maximum=0.1),
        )
        client.start()
        try:
            assert states.get(timeout=WAIT).state == "connected"
            sim.faults.stall(3.0)
            down = states.get(timeout=WAIT)
            up = states.get(timeout=WAIT)
        finally:
            client.stop()

    assert (down.state, up.state) == ("disconnected", "connected")
    assert down.reason.startswith("stale: no frame for")
    assert client.stats.stale_disconnects == 1


def test_close_code_1008_is_terminal() -> None:
    states: queue.Queue[ConnectionState] = queue.Queue()
    with running_simulator() as sim:
        client = WsClient(
            sim.ws_url,
            [Subscription("ticker", ("BTC/USD",))],
            lambda m: states.put(m) if isinstance(m, ConnectionState) else None,
            backoff=Backoff(initial=0.05, maximum=0.1),
        )
        client.start()
        try:
            assert states.get(timeout=WAIT).state == "connected"
            # The client may say "connected" before the server has registered the session: wait for it (bounded),
            # or the close below closes nothing and the test waits for a disconnect that never comes.
            for _ in range(500):
                sessions = sim.ws.sessions()
                if sessions:
                    break
                time.sleep(0.01)
            assert sessions, "the server never registered the client's session"
            for session in sessions:
                session.close(1008, "policy violation")
            seen = [states.get(timeout=WAIT).state, states.get(timeout=WAIT).state]
            client._thread.join(timeout=WAIT)  # type: ignore[union-attr]  # the client has its thread once connected
        finally:
            client.stop()

    assert seen == ["disconnected", "terminal"]
    assert client.terminal is not None
    assert "1008" in client.terminal
    assert client.stats.connects == 1


def test_the_dead_mans_switch_cancels_every_order_when_it_runs_out() -> None:
    clock = SimClock()
    with running_simulator(clock=clock) as sim:
        sim.step(20)
        client = api(sim.rest_url)
        bid = client.depth("BTC/USD", 5)[0][-1][0]
        from crocbot.core.messages import OrderType, Side
        from crocbot.kraken.rest_types import AddOrderRequest

        client.add_order(
            AddOrderRequest(
                "BTC/USD", Side.BUY, OrderType.LIMIT, Decimal("0.01"), "cb-dms", limit_price=bid - Decimal(100)
            )
        )
        client.cancel_all_orders_after(60)
        clock.advance(59)
        sim.exchange.tick()
        still_open = len(client.open_orders())
        clock.advance(2)
        sim.exchange.tick()
        after = client.open_orders()

    assert still_open == 1
    assert after == []


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_crocbot_sim_runs_standalone_and_says_how_to_point_crocbot_at_it(tmp_path: Path) -> None:
    port = free_port()
    result = subprocess.run(
        [sys.executable, "-m", "crocbot", "sim", "--port", str(port), "--duration", "2s"],
        cwd=tmp_path,
        env=crocbot_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    assert f"CROCBOT_KRAKEN__WS_URL=ws://127.0.0.1:{port}/v2" in result.stdout
    assert f"CROCBOT_KRAKEN__REST_URL=http://127.0.0.1:{port + 1}" in result.stdout


def test_a_token_stays_valid_while_its_private_subscription_is_up_and_only_then() -> None:
    """Kraken: a WS token is to be used within 15 minutes, and stays valid while the connection and a private
    subscription made with it stay up (FACTS: GetWebSocketsToken). Another connection gets no such grace."""
    with running_simulator() as sim:
        token = api(sim.rest_url).websockets_token()
        subscribed = Socket(sim.ws_auth_url)
        subscribed.send({"method": "subscribe", "params": {"channel": "executions", "token": token}})
        subscribed.next(Ack)
        other = Socket(sim.ws_auth_url)
        sim.clock.advance(3600)  # an hour later: long past the token's 15 minutes
        order = {"order_type": "market", "side": "buy", "order_qty": Decimal("0.01"), "symbol": "BTC/USD"}
        for socket_, req_id in ((subscribed, 1), (other, 2)):
            params = {**order, "cl_ord_id": f"cb-token-{req_id}", "token": token}
            socket_.send({"method": "add_order", "req_id": req_id, "params": params})
        on_its_connection = subscribed.next(Ack, lambda a: a.req_id == 1)
        elsewhere = other.next(Ack, lambda a: a.req_id == 2)
        subscribed.close()
        other.close()

    assert on_its_connection.error != "EAPI:Invalid token"
    assert elsewhere.error == "EAPI:Invalid token"
