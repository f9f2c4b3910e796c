"""Kraken's per-pair trading counter as crocbot estimates it (`crocbot.core.trading_counter`)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from crocbot.core.trading_counter import ADD_COST, TradingCounter, amend_cost, cancel_cost

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


@pytest.mark.parametrize(
    ("age", "amend", "cancel"),
    [(0, 4, 8), (4.9, 4, 8), (5, 3, 6), (10, 2, 5), (15, 1, 4), (45, 1, 2), (90, 1, 1), (300, 1, 0)],
)
def test_amend_and_cancel_costs_follow_krakens_table_by_the_orders_age(age: float, amend: float, cancel: float) -> None:
    assert (ADD_COST, amend_cost(age), cancel_cost(age)) == (1, amend, cancel)


def test_a_charge_counts_in_full_until_the_venue_answers_and_decays_from_then() -> None:
    counter = TradingCounter(60, 1.0)
    counter.sent("BTC/USD", "cbs1", 4, at(0))
    assert counter.level("BTC/USD", at(3)) == 4  # it may reach Kraken late: no decay before the answer
    counter.answered("cbs1", at(3))
    assert counter.level("BTC/USD", at(4)) == 3
    assert counter.level("ETH/USD", at(4)) == 0  # per pair


def test_amends_leave_room_for_an_exit_behind_the_cancel_of_a_young_stop() -> None:
    counter = TradingCounter(60, 2.0)
    counter.sent("BTC/USD", "cbs1", 46, at(0))
    counter.answered("cbs1", at(0))
    assert counter.wait("BTC/USD", 4, at(0)) == 0  # 46 + 4 = 60 - 10
    assert counter.wait("BTC/USD", 5, at(0)) == 0.5  # one unit over: 0.5 s at 2 a second


def test_a_refusal_for_the_rate_limit_is_believed_over_the_estimate() -> None:
    counter = TradingCounter(60, 1.0)
    counter.exceeded("BTC/USD", at(0))
    assert counter.level("BTC/USD", at(0)) == 60
    assert counter.wait("BTC/USD", 1, at(0)) == 11


def test_a_charge_whose_answer_never_comes_is_settled_without_decay_after_settle_within() -> None:
    counter = TradingCounter(60, 1.0, settle_within=30)
    counter.sent("BTC/USD", "cbs1", 4, at(0))
    assert counter.level("BTC/USD", at(30)) == 4
    assert counter.level("BTC/USD", at(32)) == 2
