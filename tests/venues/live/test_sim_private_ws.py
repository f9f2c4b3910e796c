"""The simulator's private WS answers as Kraken does where the live venue looks: the executions snapshot with the
last fills and the trading counter, req_id on every answer, Kraken's refusals (deadline, xStock amend, cancel)."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import websocket

from crocbot.kraken.endpoints import KrakenApi
from crocbot.kraken.jsontext import dumps
from crocbot.kraken.rest import RestClient
from crocbot.sim.runner import Simulator
from tests.support.sim import API_KEY, API_SECRET, catalog, running_simulator

WAIT = 10.0


class Private:
    """A raw private connection reading Kraken's JSON as it comes (Decimal numbers), with a bounded wait."""

    def __init__(self, sim: Simulator) -> None:
        self.token = KrakenApi(
            RestClient(sim.rest_url, api_key=API_KEY, api_secret=API_SECRET), catalog()
        ).websockets_token()
        self.ws = websocket.create_connection(sim.ws_auth_url, timeout=WAIT)

    def send(self, method: str, req_id: int | None = None, **params: Any) -> None:
        body: dict[str, Any] = {"method": method, "params": {**params, "token": self.token}}
        if req_id is not None:
            body["req_id"] = req_id
        self.ws.send(dumps(body))

    def next(self, test: Any) -> dict[str, Any]:
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            message = json.loads(self.ws.recv(), parse_float=Decimal)
            if isinstance(message, dict) and test(message):
                return message
        raise AssertionError(f"no matching message within {WAIT}s")

    def answer(self, req_id: int) -> dict[str, Any]:
        return self.next(lambda m: m.get("req_id") == req_id)

    def close(self) -> None:
        self.ws.close()


def order(n: int, **extra: Any) -> dict[str, Any]:
    return {"order_type": "market", "side": "buy", "order_qty": Decimal("0.001"), "symbol": "BTC/USD", **extra} | {
        "cl_ord_id": f"raw-{n}"
    }


def test_the_executions_snapshot_has_the_last_50_fills_with_snap_trades_and_none_without() -> None:
    with running_simulator() as sim:
        sim.step(20)
        client = Private(sim)
        for n in range(55):  # 55 market orders: at least 55 fills
            client.send("add_order", n + 1, **order(n))
            assert client.answer(n + 1)["success"] is True
        client.send("subscribe", 100, channel="executions", snap_trades=True, snap_orders=False)
        ack = client.answer(100)
        with_trades = client.next(lambda m: m.get("channel") == "executions" and m.get("type") == "snapshot")
        fills = sim.exchange.accounts[API_KEY].engine.fills()
        client.close()
        other = Private(sim)
        other.send("subscribe", 1, channel="executions")
        other.answer(1)
        without = other.next(lambda m: m.get("channel") == "executions" and m.get("type") == "snapshot")
        other.close()

    assert (ack["result"]["snap_trades"], ack["result"]["snap_orders"], ack["result"]["maxratecount"]) == (
        True,
        False,
        60,
    )
    rows = with_trades["data"]
    assert [r["exec_id"] for r in rows] == [f.exec_id for f in fills[-50:]]
    assert all(r["exec_type"] == "trade" and r["fees"] and r["cl_ord_id"].startswith("raw-") for r in rows)
    assert without["data"] == []  # no open orders, and no fills unless asked


def test_with_ratecounter_every_report_carries_its_pairs_trading_counter() -> None:
    with running_simulator() as sim:
        sim.step(20)
        client = Private(sim)
        client.send("subscribe", 1, channel="executions", ratecounter=True)
        client.answer(1)
        client.send("add_order", 2, **order(1))  # its reports come before its answer
        report = client.next(lambda m: m.get("channel") == "executions" and m.get("type") == "update")
        client.close()

    assert all(row["ratecount"] >= 1 for row in report["data"])


def test_every_trading_answer_echoes_its_req_id_and_an_unknown_cancel_is_invalid_order() -> None:
    with running_simulator() as sim:
        sim.step(20)
        client = Private(sim)
        client.send("cancel_order", 7, cl_ord_id=["nobody-1"])
        cancel = client.answer(7)
        client.send("cancel_all", 8)
        cancel_all = client.answer(8)
        client.close()

    assert (cancel["success"], cancel["error"]) == (False, "EOrder:Invalid order")
    assert (cancel_all["success"], cancel_all["result"]) == (True, {"count": 0})


def test_a_deadline_in_the_past_or_beyond_60_seconds_is_refused_and_nothing_is_placed() -> None:
    def at(delta: timedelta) -> str:
        return (datetime.now(UTC) + delta).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"

    with running_simulator() as sim:
        sim.step(20)
        client = Private(sim)
        client.send("add_order", 1, **order(1, deadline=at(-timedelta(seconds=1))))
        past = client.answer(1)
        client.send("add_order", 2, **order(2, deadline=at(timedelta(seconds=90))))
        far = client.answer(2)
        client.send("add_order", 3, **order(3, deadline=at(timedelta(seconds=5))))
        good = client.answer(3)
        placed = {o.cl_ord_id for o in sim.exchange.accounts[API_KEY].engine.closed_orders()}
        client.close()

    assert (past["success"], past["error"]) == (False, "EService:Deadline elapsed")
    assert (far["success"], far["error"]) == (False, "EGeneral:Invalid arguments:deadline")
    assert good["success"] is True
    assert placed == {"raw-3"}


def test_an_xstock_amend_without_its_symbol_is_refused() -> None:
    with running_simulator() as sim:
        sim.step(20)
        price = (sim.exchange.markets["AAPLx/USD"].book.bids(1)[0][0] * Decimal("0.9")).quantize(Decimal("0.01"))
        client = Private(sim)
        limit = {"order_type": "limit", "side": "buy", "order_qty": Decimal("1"), "symbol": "AAPLx/USD"}
        client.send("add_order", 1, **limit, limit_price=price, cl_ord_id="xs-raw")
        assert client.answer(1)["success"] is True
        client.send("amend_order", 2, cl_ord_id="xs-raw", limit_price=price - 1)
        without = client.answer(2)
        client.send("amend_order", 3, cl_ord_id="xs-raw", limit_price=price - 1, symbol="AAPLx/USD")
        with_symbol = client.answer(3)
        client.close()

    assert (without["success"], without["error"]) == (False, "EGeneral:Invalid arguments:symbol")
    assert with_symbol["success"] is True
    assert with_symbol["result"]["cl_ord_id"] == "xs-raw"


def test_a_lost_answer_is_carried_out_without_being_sent() -> None:
    with running_simulator() as sim:
        sim.step(20)
        sim.ws.lose_answers("add_order")
        client = Private(sim)
        client.send("add_order", 1, **order(1))
        client.send("add_order", 2, **order(2))
        first = client.next(lambda m: "req_id" in m)
        placed = sorted(o.cl_ord_id or "" for o in sim.exchange.accounts[API_KEY].engine.closed_orders())
        client.close()

    assert first["req_id"] == 2  # the first answer never came
    assert placed == ["raw-1", "raw-2"]
