"""The live limits refuse an entry above the order maximum or past the total, never a protective order."""

from __future__ import annotations

from decimal import Decimal

import pytest

from crocbot.core.live_limits import LiveLimits, LiveOrder, check_live_order, entry_headroom
from crocbot.core.messages import Side

D = Decimal
LIMITS = LiveLimits("USD", max_order_notional=D("100"), max_total_exposure=D("300"))


def buy(qty: str, price: str | None, symbol: str = "BTC/USD") -> LiveOrder:
    return LiveOrder(symbol, Side.BUY, D(qty), None if price is None else D(price))


def test_an_entry_within_both_limits_passes_up_to_exactly_the_limits() -> None:
    assert check_live_order(LIMITS, buy("0.001", "65000"), D("0")) is None  # 65 USD
    assert check_live_order(LIMITS, buy("0.002", "50000"), D("200")) is None  # exactly 100, total exactly 300


def test_an_entry_above_the_order_maximum_is_refused_with_its_value() -> None:
    refusal = check_live_order(LIMITS, buy("0.002", "65000"), D("0"))

    assert refusal is not None
    assert refusal.label == "live_order_notional"
    assert refusal.reason == ("BTC/USD buy worth 130.00 USD is above live.max_order_notional (100.00 USD)")


def test_an_entry_that_would_lift_the_total_past_the_maximum_is_refused_naming_both_totals() -> None:
    refusal = check_live_order(LIMITS, buy("0.001", "65000"), D("250"))

    assert refusal is not None
    assert refusal.label == "live_total_exposure"
    assert "would take the live exposure from 250.00 to 315.00 USD" in refusal.reason
    assert "above live.max_total_exposure (300.00 USD)" in refusal.reason


@pytest.mark.parametrize("side", [Side.SELL, Side.BUY])
def test_a_protective_order_is_never_refused_however_large(side: Side) -> None:
    stop = LiveOrder("BTC/USD", side, D("10"), D("65000"), protective=True)

    assert check_live_order(LIMITS, stop, D("1000000")) is None
    assert check_live_order(LIMITS, LiveOrder("ETH/EUR", side, D("5"), None, protective=True), D("0")) is None


def test_a_market_entry_without_a_book_price_cannot_be_valued_and_is_refused() -> None:
    refusal = check_live_order(LIMITS, buy("0.0001", None), D("0"))

    assert refusal is not None
    assert refusal.label == "live_unpriced"


def test_an_entry_quoted_in_another_currency_is_refused() -> None:
    refusal = check_live_order(LIMITS, buy("0.01", "3000", symbol="ETH/EUR"), D("0"))

    assert refusal is not None
    assert refusal.label == "live_quote"
    assert "quoted in EUR, not in USD" in refusal.reason


def test_the_headroom_is_the_smaller_of_the_order_maximum_and_what_the_total_leaves() -> None:
    assert entry_headroom(LIMITS, D("0")) == D("100")
    assert entry_headroom(LIMITS, D("250")) == D("50")
    assert entry_headroom(LIMITS, D("400")) == D("0")


@pytest.mark.parametrize(("order_max", "total"), [("0", "10"), ("20", "10"), ("-1", "10")])
def test_limits_that_make_no_sense_cannot_be_built(order_max: str, total: str) -> None:
    with pytest.raises(ValueError, match="0 < max_order_notional <= max_total_exposure"):
        LiveLimits("USD", D(order_max), D(total))
