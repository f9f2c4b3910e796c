"""The REST client against the simulator: signatures, nonces, rate limits in simulated time, lost answers."""

from __future__ import annotations

import threading
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest

from crocbot.core.clock import SimClock
from crocbot.core.messages import OrderType, Side
from crocbot.kraken.endpoints import KrakenApi
from crocbot.kraken.errors import AuthError, BusinessRejection, RateLimitError
from crocbot.kraken.rest import RestClient
from crocbot.kraken.rest_types import AddOrderRequest
from tests.support.sim import API_KEY, API_SECRET, catalog, running_simulator


def api_for(
    url: str,
    *,
    clock: SimClock | None = None,
    nonce_file: Path | None = None,
    key: str = API_KEY,
    secret: str = API_SECRET,
) -> KrakenApi:
    def sleep(seconds: float) -> None:
        if clock is not None:
            clock.advance(seconds)

    rest = RestClient(
        url,
        api_key=key,
        api_secret=secret,
        clock=clock,
        nonce_file=nonce_file,
        sleep=sleep,
    )
    return KrakenApi(rest, catalog())


def test_signed_calls_are_accepted_and_answer_in_krakens_shapes(tmp_path: Path) -> None:
    with running_simulator() as sim:
        api = api_for(sim.rest_url, nonce_file=tmp_path / "nonce")
        sim.step(50)

        balances = api.balance()
        bids, asks = api.depth("BTC/USD", 5)
        trades, cursor = api.trades("BTC/USD")
        token = api.websockets_token()
        ticker = api.ticker("AAPLx/USD")

    assert balances["USD"] == Decimal("100000")
    assert len(bids) == 5
    assert bids[0][0] < asks[0][0]
    assert trades
    assert cursor.isdigit()
    assert len(token) >= 40
    assert ticker.symbol == "AAPLx/USD"
    assert ticker.bid < ticker.ask


def test_a_wrong_secret_gets_invalid_signature_and_an_unknown_key_invalid_key() -> None:
    with running_simulator() as sim:
        wrong_secret = api_for(
            sim.rest_url,
            secret="d3Jvbmcgc2VjcmV0IGJ1dCB2YWxpZCBiYXNlNjQgdGV4dCAxMjM0NTY3OA==",
            key="other-key-for-a-wrong-secret",
        )
        sim.exchange.add_account("other-key-for-a-wrong-secret", API_SECRET, {})
        with pytest.raises(AuthError, match="EAPI:Invalid signature"):
            wrong_secret.balance()
        unknown = api_for(sim.rest_url, key="nobody-knows-this-key")
        with pytest.raises(AuthError, match="EAPI:Invalid key"):
            unknown.balance()


def test_nonces_strictly_increase_across_a_restart_of_the_client(tmp_path: Path) -> None:
    nonce_file = tmp_path / "state" / "kraken.nonce"
    with running_simulator() as sim:
        first = api_for(sim.rest_url, nonce_file=nonce_file)
        for _ in range(3):
            first.balance()
        # A restarted process: a new signer, reading the persisted high-water mark.
        from crocbot.kraken import auth

        auth._signers.clear()
        second = api_for(sim.rest_url, nonce_file=nonce_file)
        for _ in range(3):
            second.balance()
        account = sim.exchange.accounts[API_KEY]

    assert account.rejected_nonces == 0
    assert account.last_nonce > 0


def test_ten_thousand_calls_at_the_limiters_pace_earn_no_rate_limit_error() -> None:
    """Client and simulator share one simulated clock; the client's waits move it, so hours pass in seconds."""
    clock = SimClock()
    with running_simulator(clock=clock) as sim:
        api = api_for(sim.rest_url, clock=clock)
        errors = 0
        methods: list[Callable[[], object]] = [api.balance, api.open_orders, lambda: api.trades_history()[0]]
        for index in range(10_000):
            try:
                methods[index % 3]()
            except RateLimitError:
                errors += 1
        account = sim.exchange.accounts[API_KEY]
        simulated = clock.monotonic()

    assert errors == 0
    assert account.rate_limited == 0
    assert simulated > 10_000  # Starter decays 0.33 per second: the run took hours of simulated time


def test_the_simulator_enforces_the_rest_counter_on_a_client_that_ignores_it() -> None:
    clock = SimClock()
    with running_simulator(clock=clock) as sim:
        reckless = api_for(sim.rest_url, clock=clock)
        reckless.rest._rest_counter = type(reckless.rest._rest_counter)(1e9, 1e9)  # a client without a model
        calls = 0
        with pytest.raises(RateLimitError, match="EAPI:Rate limit exceeded"):  # noqa: PT012 - the 16th call fails
            for calls in range(1, 21):  # noqa: B007 - read after the loop
                reckless.balance()
    assert calls == 16  # Starter: a counter of 15, each call +1, no time passing


def test_a_lost_add_order_answer_is_resolved_by_cl_ord_id_without_a_duplicate() -> None:
    with running_simulator() as sim:
        sim.step(20)
        api = api_for(sim.rest_url)
        sim.faults.rest_next("lose_response", method="AddOrder")
        request = AddOrderRequest(
            "BTC/USD", Side.BUY, OrderType.LIMIT, Decimal("0.01"), "cb-lost-1", limit_price=Decimal("50000.0")
        )

        placement = api.place_order(request)
        orders = sim.exchange.accounts[API_KEY].engine.open_orders()

    assert placement.status == "placed"
    assert placement.recovered
    assert [o.cl_ord_id for o in orders] == ["cb-lost-1"]
    assert placement.txid == orders[0].order_id


def test_business_rejections_keep_krakens_words() -> None:
    with running_simulator() as sim:
        sim.step(20)
        api = api_for(sim.rest_url)
        too_small = AddOrderRequest("BTC/USD", Side.BUY, OrderType.MARKET, Decimal("0.00001"), "cb-small")
        too_big = AddOrderRequest("BTC/USD", Side.BUY, OrderType.MARKET, Decimal("10"), "cb-big")
        with pytest.raises(BusinessRejection, match="EOrder:Order minimum not met"):
            api.add_order(too_small)
        with pytest.raises(BusinessRejection, match="EOrder:Insufficient funds"):
            api.add_order(too_big)


def test_xstocks_carry_their_asset_class_and_amend_names_the_pair() -> None:
    with running_simulator() as sim:
        sim.step(30)
        api = api_for(sim.rest_url)
        bids, _ = api.depth("AAPLx/USD", 3)
        txids = api.add_order(
            AddOrderRequest(
                "AAPLx/USD",
                Side.BUY,
                OrderType.LIMIT,
                Decimal("1"),
                "cb-aapl-1",
                limit_price=bids[-1][0] - Decimal("1.00"),
            )
        )
        api.amend_order(symbol="AAPLx/USD", cl_ord_id="cb-aapl-1", limit_price=bids[-1][0] - Decimal("2.00"))
        [order] = api.open_orders(cl_ord_id="cb-aapl-1")

    assert order.txid == txids[0]
    assert order.limit_price == bids[-1][0] - Decimal("2.00")


def test_concurrent_private_calls_on_one_key_never_reach_the_exchange_out_of_nonce_order() -> None:
    with running_simulator() as sim:
        api = api_for(sim.rest_url)
        failures: list[Exception] = []

        def caller() -> None:
            for _ in range(10):
                try:
                    api.rest.private("Balance")
                except Exception as error:
                    failures.append(error)

        unlimited = type(api.rest._rest_counter)(1e9, 1e9)  # this test is about nonce order, not rate limits
        api.rest._rest_counter = unlimited
        sim.exchange.accounts[API_KEY].rest_counter = type(api.rest._rest_counter)(1e9, 1e9)
        threads = [threading.Thread(target=caller) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        account = sim.exchange.accounts[API_KEY]

    assert failures == []
    assert account.rejected_nonces == 0
