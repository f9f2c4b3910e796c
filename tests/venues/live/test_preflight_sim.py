"""The preflight against crocbot's simulator on 127.0.0.1: a sound account passes, and each way a key, an account
or a symbol can be unfit for live trading stops the start with its own message."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator
from dataclasses import replace
from decimal import Decimal
from typing import Any

import pytest

from crocbot.core.live_limits import LiveLimits
from crocbot.core.messages import OrderType, Side
from crocbot.kraken.endpoints import KrakenApi
from crocbot.kraken.rest import RestClient
from crocbot.kraken.rest_types import AddOrderRequest
from crocbot.sim.accounts import Account
from crocbot.sim.runner import Simulator
from crocbot.venues.live.preflight import PreflightResult, run_preflight
from tests.support.sim import catalog, running_simulator

D = Decimal
LIMITS = LiveLimits("USD", D("100"), D("300"))
SYMBOLS = ("BTC/USD", "ETH/USD", "AAPLx/USD")
FUNDED = {"USD": D("5000"), "BTC": D("0.1")}
_accounts = iter(range(1_000_000))


@pytest.fixture(scope="module")
def sim() -> Iterator[Simulator]:
    with running_simulator() as simulator:
        yield simulator


def account(sim: Simulator, balances: dict[str, Decimal] = FUNDED) -> tuple[Account, KrakenApi]:
    """A fresh account with its own key (and so its own rate counters: the simulator's clock stands still here)."""
    n = next(_accounts)
    key = f"preflight-key-{n:06d}-abcdef"
    secret = base64.b64encode(hashlib.sha512(key.encode()).digest()).decode()
    created = sim.exchange.add_account(key, secret, balances)
    return created, KrakenApi(RestClient(sim.rest_url, api_key=key, api_secret=secret), catalog())


def preflight(api: KrakenApi, symbols: tuple[str, ...] = SYMBOLS, *, switch: bool = True) -> PreflightResult:
    return run_preflight(api, symbols, LIMITS, dead_mans_switch=switch)


def test_a_sound_account_passes_and_the_preflight_finds_its_balances_and_open_orders(sim: Simulator) -> None:
    _, api = account(sim)
    resting = AddOrderRequest("BTC/USD", Side.BUY, OrderType.LIMIT, D("0.0001"), "rest-1", limit_price=D("30000.0"))
    api.add_order(resting)

    result = preflight(api)

    assert result.problems == ()
    assert result.balances["USD"] < D("5000")  # the resting buy holds some
    assert result.balances["BTC"] == D("0.1")
    assert result.open_orders == 1
    assert result.warnings[0].startswith("1 order is open on the account")


def test_a_key_without_create_and_modify_orders_is_refused(sim: Simulator) -> None:
    created, api = account(sim)
    created.missing_permissions.add("Create & Modify Orders")

    (problem,) = preflight(api, ("BTC/USD", "ETH/USD")).problems

    assert problem.startswith('the API key lacks the "Create & Modify Orders" permission (AddOrder: EGeneral')


def test_a_key_without_the_websocket_interface_is_refused(sim: Simulator) -> None:
    created, api = account(sim)
    created.missing_permissions.add("WebSocket interface")

    (problem,) = preflight(api).problems

    assert problem.startswith('the API key lacks the "WebSocket interface" permission (GetWebSocketsToken: ')


def test_a_key_that_may_not_cancel_is_refused_when_the_dead_mans_switch_is_on(sim: Simulator) -> None:
    created, api = account(sim)
    created.missing_permissions.add("Cancel & Close Orders")
    other, api_without_switch = account(sim)
    other.missing_permissions.add("Cancel & Close Orders")

    assert preflight(api_without_switch, switch=False).problems == ()
    (problem,) = preflight(api).problems
    assert problem.startswith('the API key lacks the "Cancel & Close Orders" permission (CancelAllOrdersAfter: ')


def test_an_xstock_closed_to_the_accounts_region_is_refused_alone(sim: Simulator) -> None:
    created, api = account(sim)
    created.restricted["AAPLx/USD"] = "GB"

    (problem,) = preflight(api).problems

    assert problem.startswith(
        'AAPLx/USD is not tradable for this account: Kraken says "AAPLx trading restricted for GB'
    )


def test_a_balance_too_small_for_one_minimum_order_is_refused(sim: Simulator) -> None:
    _, api = account(sim, {"USD": D("2")})

    problems = preflight(api, ("BTC/USD", "AAPLx/USD")).problems

    assert len(problems) == 1
    assert problems[0].startswith("the available USD balance (2.00 USD) is too small for one minimum order on BTC/USD")


def test_a_wrong_secret_is_one_problem_and_nothing_else_is_asked(sim: Simulator) -> None:
    created = sim.exchange.add_account("preflight-key-wrong-secret", base64.b64encode(b"y" * 64).decode(), FUNDED)
    wrong = base64.b64encode(b"x" * 64).decode()
    api = KrakenApi(RestClient(sim.rest_url, api_key=created.api_key, api_secret=wrong), catalog())

    (problem,) = preflight(api).problems

    assert problem.startswith("KRAKEN_API_SECRET is not the private key of KRAKEN_API_KEY")
    assert created.last_nonce == 0  # no call got past the signature check


def test_kraken_unavailable_stops_the_start_and_says_to_try_again(sim: Simulator) -> None:
    _, api = account(sim)
    sim.faults.rest_next("unavailable", method="BalanceEx")

    (problem,) = preflight(api).problems

    assert problem.startswith("Kraken did not answer (BalanceEx: EService:Unavailable)")


def test_a_symbol_not_online_warns_and_a_delisted_one_stops_the_start(sim: Simulator) -> None:
    instruments = sim.exchange.instruments
    with sim.exchange.lock:
        saved = dict(instruments)
        instruments["ETH/USD"] = replace(instruments["ETH/USD"], status="cancel_only")
        instruments["AAPLx/USD"] = replace(instruments["AAPLx/USD"], status="delisted")
    try:
        _, api = account(sim)
        result = preflight(api)
    finally:
        with sim.exchange.lock:
            instruments.update(saved)

    assert result.problems == ("AAPLx/USD is delisted on Kraken: remove it from symbols",)
    assert result.warnings == (
        "ETH/USD is cancel_only on Kraken (not online): it takes cancels only, no new orders until Kraken sets it "
        "online; no test order was sent for it",
    )


def test_a_market_that_fell_between_the_ticker_and_the_test_order_does_not_stop_the_start(
    sim: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, api = account(sim)
    read = api.ticker

    def stale(symbol: str, *, deadline: float | None = None) -> Any:
        ticker = read(symbol, deadline=deadline)
        # the bid read a moment before the market fell: above the ask the test order now meets
        return replace(ticker, bid=ticker.ask + ticker.ask / 1000)

    monkeypatch.setattr(api, "ticker", stale)

    assert preflight(api).problems == ()
