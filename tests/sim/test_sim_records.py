"""The simulator's own records (`crocbot sim --records`): what it received and did, for a judge that must not trust
the bot; and the standing fault rates a crash test turns on."""

from __future__ import annotations

import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import requests

from crocbot.core.messages import OrderType, Side
from crocbot.kraken.auth import sign
from crocbot.kraken.endpoints import KrakenApi
from crocbot.kraken.errors import KrakenError
from crocbot.kraken.rest import RestClient
from crocbot.kraken.rest_types import AddOrderRequest
from crocbot.sim.faults import FaultPlan
from crocbot.sim.records import read_records
from tests.support.sim import API_KEY, API_SECRET, catalog, running_simulator

WAIT = 10.0


def _api(url: str) -> KrakenApi:
    return KrakenApi(RestClient(url, api_key=API_KEY, api_secret=API_SECRET), catalog())


def _kinds(records: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [r for r in records if r["kind"] == kind]


def test_orders_fills_nonces_and_refusals_are_recorded_with_exact_decimals(tmp_path: Path) -> None:
    path = tmp_path / "records.jsonl"
    with running_simulator(records=path) as sim:
        sim.step(20)
        api = _api(sim.rest_url)
        api.add_order(AddOrderRequest("BTC/USD", Side.BUY, OrderType.MARKET, Decimal("0.01000000"), "cb-rec-1"))
        with pytest.raises(KrakenError, match="Unknown order"):
            api.cancel_order(symbol="BTC/USD", cl_ord_id="cb-nothing")
        # a nonce below the last one, signed properly: refused, and recorded as refused
        body = "nonce=1"
        headers = {"API-Key": API_KEY, "API-Sign": sign("/0/private/Balance", body, "1", API_SECRET)}
        stale = requests.post(sim.rest_url + "/0/private/Balance", data=body, headers=headers, timeout=WAIT)
    records = list(read_records(path))

    assert stale.json()["error"] == ["EAPI:Invalid nonce"]
    assert [r["seq"] for r in records] == list(range(1, len(records) + 1))
    (added, cancel) = _kinds(records, "order")
    assert (added["method"], added["via"], added["accepted"], added["cl_ord_id"]) == ("add", "rest", True, "cb-rec-1")
    assert added["qty"] == Decimal("0.01000000")
    assert str(added["qty"]) == "0.01000000"
    assert (cancel["method"], cancel["accepted"], cancel["error"]) == ("cancel", False, "EOrder:Unknown order")
    trades = [r for r in _kinds(records, "exec") if r["exec_type"] == "trade"]
    assert trades
    assert all(r["order_id"] == added["order_id"] and r["cl_ord_id"] == "cb-rec-1" for r in trades)
    assert sum(r["last_qty"] for r in trades) == Decimal("0.01")
    assert all(isinstance(r["fee"], Decimal) and r["exec_id"] and r["fee_asset"] == "USD" for r in trades)
    nonces = _kinds(records, "nonce")
    assert [n["accepted"] for n in nonces] == [True, True, False]
    assert int(nonces[0]["nonce"]) < int(nonces[1]["nonce"])
    assert _kinds(records, "refusal")[0]["error"] == "EOrder:Unknown order"


def test_standing_fault_rates_lose_add_order_answers_and_fail_private_rest_calls_only(tmp_path: Path) -> None:
    path = tmp_path / "records.jsonl"
    faults = FaultPlan(seed=1)
    faults.lose_add_order_rate = 1.0
    with running_simulator(records=path, faults=faults) as sim:
        sim.step(20)
        api = _api(sim.rest_url)
        api.rest.timeout = 2.0
        order = AddOrderRequest("BTC/USD", Side.BUY, OrderType.MARKET, Decimal("0.01000000"), "cb-lost-1")
        with pytest.raises(KrakenError):
            api.add_order(order)  # carried out; its answer never came
        faults.lose_add_order_rate = 0.0
        faults.private_rest_fault_rate = 1.0
        faults.private_rest_faults = ("unavailable",)
        with pytest.raises(KrakenError, match="EService:Unavailable"):
            api.balance()
        assert api.ticker("BTC/USD").bid > 0  # public calls are not touched
        deadline = time.monotonic() + WAIT
        while not any(r["kind"] == "exec" for r in read_records(path)) and time.monotonic() < deadline:
            time.sleep(0.02)
    records = list(read_records(path))

    (added,) = [r for r in _kinds(records, "order") if r["method"] == "add"]
    assert (added["accepted"], added["cl_ord_id"]) == (True, "cb-lost-1")
    assert [r["fault"] for r in _kinds(records, "fault")] == ["rest_lose_response", "rest_unavailable"]


def test_a_torn_last_line_is_left_for_the_next_read(tmp_path: Path) -> None:
    path = tmp_path / "records.jsonl"
    path.write_text('{"seq": 1, "kind": "fault", "fault": "x"}\n{"seq": 2, "ki', encoding="utf-8")

    assert [r["seq"] for r in read_records(path)] == [1]
