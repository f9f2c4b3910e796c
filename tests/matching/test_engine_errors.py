"""Rejections carry Kraken's exact error strings, in Kraken's order of checks; validate-only changes nothing."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace
from decimal import Decimal
from typing import Any

import pytest

from crocbot.matching import MatchingEngine, OrderError, OrderRequest
from tests.matching.engine_support import BTC_USD, BUY, SELL, D, levels, make_engine, order

Setup = Callable[[], MatchingEngine]


def _with_book(balances: dict[str, Decimal] | None = None, **engine_args: Any) -> Setup:
    def build() -> MatchingEngine:
        engine = make_engine(balances, **engine_args)
        engine.set_book("BTC/USD", levels(("99", "1"), ("98", "1")), levels(("100", "1"), ("101", "1")))
        return engine

    return build


def _status(status: str) -> Setup:
    return _with_book(instruments=[replace(BTC_USD, status=status)])


def _with_open(*requests: OrderRequest, **engine_args: Any) -> Setup:
    def build() -> MatchingEngine:
        engine = _with_book(**engine_args)()
        for request in requests:
            engine.add_order(request)
        return engine

    return build


CASES: list[tuple[str, Setup, OrderRequest, str]] = [
    ("unknown pair", _with_book(), order(BUY, "market", "1", symbol="DOGE/USD"), "EQuery:Unknown asset pair"),
    (
        "cancel_only",
        _status("cancel_only"),
        order(BUY, "limit", "1", limit="90"),
        "EService:Market in cancel_only mode",
    ),
    ("maintenance", _status("maintenance"), order(BUY, "limit", "1", limit="90"), "EService:Unavailable"),
    ("post_only mode", _status("post_only"), order(BUY, "limit", "1", limit="90"), "EService:Market in post_only mode"),
    ("bad order type", _with_book(), order(BUY, "trailing-stop", "1"), "EGeneral:Invalid arguments"),
    ("bad side", _with_book(), order("hold", "market", "1"), "EGeneral:Invalid arguments"),  # type: ignore[arg-type]  # a side Kraken does not know, on purpose
    ("limit without price", _with_book(), order(BUY, "limit", "1"), "EGeneral:Invalid arguments"),
    ("stop without trigger", _with_book(), order(SELL, "stop-loss", "1"), "EGeneral:Invalid arguments"),
    ("market with a price", _with_book(), order(BUY, "market", "1", limit="100"), "EGeneral:Invalid arguments"),
    (
        "unknown tif",
        _with_book(),
        order(BUY, "limit", "1", limit="90", time_in_force="gtd"),
        "EGeneral:Invalid arguments",
    ),
    ("post-only market", _with_book(), order(BUY, "market", "1", post_only=True), "EGeneral:Invalid arguments"),
    ("long cl_ord_id", _with_book(), order(BUY, "market", "1", cl_ord_id="x" * 19), "EGeneral:Invalid arguments"),
    ("negative price", _with_book(), order(BUY, "limit", "1", limit="-5"), "EOrder:Invalid price"),
    ("limit off tick", _with_book(), order(BUY, "limit", "1", limit="90.05"), "EOrder:Tick size check failed"),
    ("trigger off tick", _with_book(), order(SELL, "stop-loss", "1", trigger="90.01"), "EOrder:Tick size check failed"),
    (
        "qty off increment",
        _with_book(),
        order(BUY, "limit", "1.000000001", limit="90"),
        "EGeneral:Invalid arguments:volume",
    ),
    ("zero qty", _with_book(), order(BUY, "limit", "0", limit="90"), "EGeneral:Invalid arguments:volume"),
    ("below ordermin", _with_book(), order(BUY, "limit", "0.00009", limit="9000"), "EOrder:Order minimum not met"),
    ("below costmin", _with_book(), order(BUY, "limit", "0.001", limit="90"), "EOrder:Cost minimum not met"),
    ("market below costmin", _with_book(), order(BUY, "market", "0.004"), "EOrder:Cost minimum not met"),
    (
        "duplicate cl_ord_id",
        _with_open(order(BUY, "limit", "1", limit="90", cl_ord_id="same")),
        order(BUY, "limit", "1", limit="91", cl_ord_id="same"),
        "EOrder:Duplicate cl_ord_id",
    ),
    (
        "open-order cap",
        _with_open(
            order(BUY, "limit", "1", limit="90"), order(SELL, "stop-loss", "1", trigger="80"), max_open_orders=2
        ),
        order(BUY, "limit", "1", limit="91"),
        "EOrder:Orders limit exceeded",
    ),
    (
        "limit buy funds",
        _with_book({"USD": D(100)}),
        order(BUY, "limit", "1", limit="100"),
        "EOrder:Insufficient funds",
    ),
    ("market buy funds", _with_book({"USD": D(150)}), order(BUY, "market", "1.5"), "EOrder:Insufficient funds"),
    ("sell funds", _with_book({"BTC": D(1)}), order(SELL, "limit", "1.1", limit="200"), "EOrder:Insufficient funds"),
    (
        "post only crosses",
        _with_book(),
        order(SELL, "limit", "1", limit="99", post_only=True),
        "EOrder:Post only order",
    ),
    ("market on empty book", lambda: make_engine(), order(BUY, "market", "1"), "EService:Unavailable"),
]


@pytest.mark.parametrize(("setup", "request_", "code"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_each_rejection_carries_krakens_exact_error_string(setup: Setup, request_: OrderRequest, code: str) -> None:
    engine = setup()
    before = (engine.balances(), engine.open_orders())

    with pytest.raises(OrderError) as rejected:
        engine.add_order(request_)

    assert rejected.value.code == code
    assert str(rejected.value).startswith(code)
    assert (engine.balances(), engine.open_orders()) == before


def test_the_first_failing_check_in_krakens_order_is_the_one_reported() -> None:
    engine = _with_book({"USD": D(0)})()
    off_tick_tiny_unfunded = order(BUY, "limit", "0.00001", limit="90.05")

    with pytest.raises(OrderError) as rejected:
        engine.add_order(off_tick_tiny_unfunded)

    assert rejected.value.code == "EOrder:Tick size check failed"


def test_market_buy_funds_are_checked_against_the_walk_including_the_taker_fee() -> None:
    # 1 @ 100 + 0.5 @ 101 = 150.5, plus 0.40 % = 151.102
    exact = _with_book({"USD": D("151.102")})()
    short = _with_book({"USD": D("151.101")})()

    exact.add_order(order(BUY, "market", "1.5"))
    with pytest.raises(OrderError, match="EOrder:Insufficient funds"):
        short.add_order(order(BUY, "market", "1.5"))
    assert exact.balances()["USD"] == 0


def test_validate_runs_every_check_but_creates_nothing_and_draws_no_id() -> None:
    engine, twin = _with_book()(), _with_book()()
    before = (engine.balances(), engine.open_orders(), engine.closed_orders(), engine.fills())

    result = engine.add_order(order(BUY, "market", "1", validate=True))
    with pytest.raises(OrderError, match="EOrder:Tick size check failed"):
        engine.add_order(order(BUY, "limit", "1", limit="90.05", validate=True))

    assert result == ("", [])
    assert (engine.balances(), engine.open_orders(), engine.closed_orders(), engine.fills()) == before
    assert engine.add_order(order(BUY, "market", "1"))[0] == twin.add_order(order(BUY, "market", "1"))[0]


def test_ids_are_kraken_shaped_and_deterministic_from_the_seed() -> None:
    def run(seed: int) -> tuple[list[str], list[str], list[int]]:
        engine = _with_book(seed=seed)()
        ids = [engine.add_order(order(BUY, "market", "0.5"))[0] for _ in range(3)]
        return ids, [f.exec_id for f in engine.fills()], [f.trade_id for f in engine.fills()]

    first, again, other = run(7), run(7), run(8)

    assert first == again
    assert first[0] != other[0]
    assert all(re.fullmatch(r"O[A-Z2-7]{5}-[A-Z2-7]{5}-[A-Z2-7]{6}", i) for i in first[0])
    assert all(re.fullmatch(r"T[A-Z2-7]{5}-[A-Z2-7]{5}-[A-Z2-7]{6}", i) for i in first[1])
    assert first[2] == sorted(first[2]) == list(range(1, len(first[2]) + 1))


def test_the_open_order_cap_counts_per_pair() -> None:
    engine = _with_book(max_open_orders=1)()
    engine.add_order(order(BUY, "limit", "1", limit="90"))

    engine.add_order(order(BUY, "limit", "1", limit="90", symbol="ETH/USD"))
    with pytest.raises(OrderError, match="EOrder:Orders limit exceeded"):
        engine.add_order(order(BUY, "limit", "1", limit="91"))


def test_a_post_only_market_accepts_post_only_limit_orders() -> None:
    engine = _status("post_only")()

    _, events = engine.add_order(order(BUY, "limit", "1", limit="90", post_only=True))

    assert [e.exec_type for e in events] == ["pending_new", "new"]
