"""The simulator's accounts book costs and fees at the pair's decimals (`kraken_rounding`), as Kraken shows them,
without ever spending more than the account holds."""

from __future__ import annotations

from decimal import ROUND_DOWN, Decimal

import pytest

from crocbot.core.clock import SimClock
from crocbot.matching import Execution, MatchingEngine, OrderError
from tests.matching.engine_support import BTC_USD, BUY, SELL, D, levels, order

UNIT = D("0.00001")  # BTC/USD's cost_precision is 5
ZERO = D(0)


def engine_with(usd: Decimal, btc: Decimal = ZERO) -> MatchingEngine:
    return MatchingEngine({"BTC/USD": BTC_USD}, {"USD": usd, "BTC": btc}, clock=SimClock(), kraken_rounding=True)


def test_an_order_filled_in_many_pieces_costs_its_rounded_total_and_the_balance_never_goes_below_zero() -> None:
    qty, limit = D("0.01234567"), D("65000.1")
    exact = qty * limit
    # Exactly what the funds check asks: cost, the fee rate's reserve and two units of rounding.
    engine = engine_with(exact * (1 + BTC_USD.taker_fee) + 2 * UNIT)
    engine.set_book("BTC/USD", levels(("64000", "1")), levels(("66000", "1")))
    order_id, _ = engine.add_order(order(BUY, "limit", str(qty), limit=str(limit)))
    piece = D("0.00012347")  # 99 prints that each fill a piece at the limit, and one for the rest
    seen: list[Execution] = []
    for _ in range(100):
        seen.extend(e for e in engine.on_trade("BTC/USD", D("64999"), piece) if e.exec_type == "trade")
        assert engine.balances()["USD"] >= 0
    view = engine.order(order_id)
    assert view is not None
    assert view.status == "closed"
    assert view.cum_cost == exact.quantize(UNIT)  # the order's total, rounded once, whatever the pieces
    assert sum((e.cost or D(0) for e in seen), D(0)) == view.cum_cost
    assert all(e.fee is not None and e.fee == e.fee.quantize(UNIT) for e in seen)
    fees = sum((e.fee or D(0) for e in seen), D(0))
    assert engine.balances()["USD"] == exact * (1 + BTC_USD.taker_fee) + 2 * UNIT - view.cum_cost - fees


def test_a_buy_one_rounding_unit_short_of_its_funds_is_refused_and_a_sells_base_fee_keeps_qty_decimals() -> None:
    qty, limit = D("0.01234567"), D("65000.1")
    short = engine_with(qty * limit * (1 + BTC_USD.taker_fee) + UNIT)
    short.set_book("BTC/USD", levels(("64000", "1")), levels(("66000", "1")))
    with pytest.raises(OrderError) as refused:
        short.add_order(order(BUY, "limit", str(qty), limit=str(limit)))
    assert refused.value.code == "EOrder:Insufficient funds"

    seller = engine_with(D(0), btc=D(1))
    seller.set_book("BTC/USD", levels(("65000.1", "1")), levels(("66000", "1")))
    _, events = seller.add_order(order(SELL, "market", "0.01234567", fee_in_quote=False))
    (fill,) = [e for e in events if e.exec_type == "trade"]
    assert (fill.fee_asset, fill.cost) == ("BTC", (qty * limit).quantize(UNIT))
    assert fill.fee == (qty * BTC_USD.taker_fee).quantize(D("0.00000001"), rounding=ROUND_DOWN)
