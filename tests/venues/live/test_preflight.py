"""The preflight's judgement: each thing Kraken can answer becomes a problem that says what to fix, or a warning."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from typing import Any

import pytest

from crocbot.core.instrument import Instrument
from crocbot.core.live_limits import LiveLimits
from crocbot.kraken.errors import KrakenError, error_from
from crocbot.sim.catalog import instrument
from crocbot.venues.live.preflight import Observed, PreflightResult, judge, minimum_order

D = Decimal
LIMITS = LiveLimits("USD", D("100"), D("300"))
BTC = instrument("BTC/USD", price_decimals=1, qty_min="0.00005")
ETH = instrument("ETH/USD", price_decimals=2, qty_min="0.001")
AAPLX = instrument("AAPLx/USD", price_decimals=2, qty_min="0.00000001")
PRICES = {"BTC/USD": D("65000.0"), "ETH/USD": D("3200.00"), "AAPLx/USD": D("230.00")}
DENIED = "EGeneral:Permission denied"


def observed(*instruments: Instrument, **changes: Any) -> Observed:
    """A healthy account that trades `instruments`, with `changes` applied."""
    symbols = tuple(i.symbol for i in instruments)
    base = Observed(
        symbols=symbols,
        balances={"USD": D("1000"), "BTC": D("0.01")},
        open_orders=0,
        closed_orders=12,
        ws_token=True,
        instruments={i.symbol: i for i in instruments},
        prices={s: PRICES[s] for s in symbols},
        validated=dict.fromkeys(symbols),
    )
    return replace(base, **changes)


def fails(code: str, method: str = "") -> KrakenError:
    return error_from([code], method=method)


def only_problem(result: PreflightResult) -> str:
    assert len(result.problems) == 1, result.problems
    return result.problems[0]


def test_a_healthy_account_passes_and_reports_what_it_found() -> None:
    result = judge(observed(BTC, ETH, AAPLX), LIMITS)

    assert result.ok
    assert result.problems == ()
    assert result.warnings == ()
    assert result.balances == {"USD": D("1000"), "BTC": D("0.01")}
    assert result.open_orders == 0


@pytest.mark.parametrize(
    ("field", "method", "permission"),
    [
        ("balances", "BalanceEx", "Query Funds"),
        ("open_orders", "OpenOrders", "Query Open Orders & Trades"),
        ("closed_orders", "ClosedOrders", "Query Closed Orders & Trades"),
        ("ws_token", "GetWebSocketsToken", "WebSocket interface"),
        ("dead_mans_switch", "CancelAllOrdersAfter", "Cancel & Close Orders"),
    ],
)
def test_each_missing_permission_is_named_with_where_to_tick_it(field: str, method: str, permission: str) -> None:
    result = judge(observed(BTC, **{field: fails(DENIED)}), LIMITS)

    problem = only_problem(result)
    assert problem.startswith(f'the API key lacks the "{permission}" permission ({method}: {DENIED})')
    assert "Settings > API, edit the key and tick it" in problem


def test_a_key_without_trading_permission_is_said_once_for_all_symbols() -> None:
    denied = {"BTC/USD": fails(DENIED), "ETH/USD": fails(DENIED)}

    problem = only_problem(judge(observed(BTC, ETH, validated=denied), LIMITS))

    assert problem.startswith('the API key lacks the "Create & Modify Orders" permission (AddOrder: ')


def test_a_denied_xstock_among_accepted_symbols_is_not_tradable_for_the_account() -> None:
    validated = {"BTC/USD": None, "AAPLx/USD": fails(DENIED)}

    problem = only_problem(judge(observed(BTC, AAPLX, validated=validated), LIMITS))

    assert problem.startswith("AAPLx/USD is not tradable for this account: Kraken refuses a test order on it")
    assert "xStocks are offered only in some regions" in problem
    assert problem.endswith("Remove AAPLx/USD from symbols")


def test_krakens_region_restriction_is_quoted() -> None:
    restricted = fails("EAccount:Invalid permissions:AAPLx trading restricted for GB.")

    problem = only_problem(judge(observed(BTC, AAPLX, validated={"BTC/USD": None, "AAPLx/USD": restricted}), LIMITS))

    assert problem.startswith(
        'AAPLx/USD is not tradable for this account: Kraken says "AAPLx trading restricted for GB."'
    )


def test_a_balance_too_small_for_one_minimum_order_says_how_much_is_missing() -> None:
    # ETH/USD's minimum is 0.001 ETH, 3.20 USD at 3200, 3.2128 USD with the 0.40 % taker fee
    result = judge(observed(ETH, balances={"USD": D("2")}), LIMITS)

    assert only_problem(result) == (
        "the available USD balance (2.00 USD) is too small for one minimum order on ETH/USD (about 3.21 USD with "
        "fees): deposit at least 1.21 USD more, free USD held by open orders, or remove ETH/USD from symbols"
    )


def test_an_account_that_never_held_the_quote_currency_has_none_of_it() -> None:
    result = judge(observed(ETH, balances={"BTC": D("1")}), LIMITS)

    assert only_problem(result).startswith("the available USD balance (0.00 USD) is too small")


def test_krakens_insufficient_funds_gives_the_same_single_line() -> None:
    lines = judge(
        observed(ETH, balances={"USD": D("2")}, validated={"ETH/USD": fails("EOrder:Insufficient funds")}), LIMITS
    ).problems

    assert len(lines) == 1
    assert "too small for one minimum order on ETH/USD" in lines[0]


def test_a_minimum_order_above_the_live_order_limit_would_refuse_every_entry() -> None:
    problem = only_problem(judge(observed(BTC), LiveLimits("USD", D("2"), D("10"))))

    assert problem.startswith("BTC/USD: Kraken's smallest order is worth about 3.25 USD, above live.max_order_notional")


@pytest.mark.parametrize(
    ("status", "warning"),
    [
        ("cancel_only", "BTC/USD is cancel_only on Kraken (not online): it takes cancels only, no new orders"),
        ("post_only", "BTC/USD is post_only on Kraken (not online): it takes only maker (post-only) limit orders"),
        ("maintenance", "BTC/USD is maintenance on Kraken (not online): it takes no orders at all"),
    ],
)
def test_a_symbol_not_online_is_a_warning_and_the_start_goes_on(status: str, warning: str) -> None:
    quiet = replace(BTC, status=status)
    validated = {"BTC/USD": None} if status == "post_only" else {}

    result = judge(observed(quiet, ETH, validated={**validated, "ETH/USD": None}), LIMITS)

    assert result.ok
    assert result.warnings[0].startswith(warning)


def test_a_delisted_or_unlisted_symbol_stops_the_start() -> None:
    gone = replace(BTC, status="delisted")
    result = judge(
        observed(gone, AAPLX, instruments={"BTC/USD": gone, "AAPLx/USD": None}, validated={}, prices={}), LIMITS
    )

    assert result.problems[0] == "BTC/USD is delisted on Kraken: remove it from symbols"
    assert result.problems[1].startswith("AAPLx/USD is not among Kraken's pairs (AssetPairs); xStocks are offered")


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("EAPI:Invalid key", "Kraken does not know KRAKEN_API_KEY"),
        ("EAPI:Invalid signature", "KRAKEN_API_SECRET is not the private key of KRAKEN_API_KEY"),
        ("EAPI:Invalid nonce", "another program uses this API key"),
        ("EGeneral:Temporary lockout", "locked the key out for about 15 minutes"),
        ("EService:Unavailable", "Kraken did not answer (BalanceEx: EService:Unavailable): no order was sent"),
        ("EAPI:Rate limit exceeded", "Kraken's rate limit was reached (BalanceEx: EAPI:Rate limit exceeded)"),
    ],
)
def test_a_key_or_a_kraken_that_fails_every_call_gets_one_line(code: str, expected: str) -> None:
    # gather stops after such an answer: nothing else was asked
    result = judge(Observed(symbols=("BTC/USD",), balances=fails(code, "BalanceEx")), LIMITS)

    assert expected in only_problem(result)


def test_open_orders_are_a_warning() -> None:
    result = judge(observed(BTC, open_orders=2), LIMITS)

    assert result.ok
    assert result.open_orders == 2
    assert result.warnings == (
        "2 orders are open on the account: crocbot compares them with its journal, and those it did not place are "
        "treated as reconcile.unknown_orders says",
    )


def test_a_stale_minimum_is_reported_as_such() -> None:
    problem = only_problem(judge(observed(BTC, validated={"BTC/USD": fails("EOrder:Cost minimum not met")}), LIMITS))

    assert "refused crocbot's test order at the minimum size (EOrder:Cost minimum not met)" in problem


def test_the_minimum_order_meets_both_krakens_quantity_and_cost_minimums() -> None:
    assert minimum_order(BTC, D("65000.0")) == D("0.00005")  # ordermin; 3.25 USD is above costmin
    assert minimum_order(AAPLX, D("230.00")) == D("0.00217392")  # costmin 0.5 USD, rounded up to 1e-8
    assert minimum_order(AAPLX, D("230.00")) * D("230.00") >= AAPLX.cost_min
