"""Fee-aware trading (issue 11, part 3): reward:risk net of both legs' fees and the slippage allowance, stops wider
than the round trip, take-profits that pay for it, and a breakeven stop that breaks even after both fees.

Kraken's lowest tier (FACTS §9): 0.40 % taker, 0.25 % maker; crocbot's default slippage allowance is 0.2 % a leg.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from crocbot.core.costs import TradeCosts, cost_refusal
from crocbot.core.desk import FillSeen, Submitted
from crocbot.core.messages import OrderPurpose, PositionSide, Signal, StopKind
from crocbot.core.stops import StopPolicy, StopTrack
from crocbot.core.strategies import check_signal
from tests.core.desk_support import SYMBOL, D, Opened, at, fill, make_desk, sent, signal

LONG, SHORT = PositionSide.LONG, PositionSide.SHORT
TAKER = TradeCosts.of(taker_fee=D("0.004"), maker_fee=D("0.0025"), slippage=D("0.002"))
T0 = datetime(2026, 1, 5, tzinfo=UTC)


def test_a_round_trip_costs_both_legs_fees_and_slippage() -> None:
    assert TAKER.round_trip(D(100), D(98)) == D("1.188")  # 100 * 0.006 + 98 * 0.006
    assert TAKER.net_risk(LONG, D(100), D(98)) == D("3.188")  # what sizing budgets per unit
    assert TAKER.net_reward(LONG, D(100), D(106)) == D("4.764")  # 6 - 100 * 0.006 - 106 * 0.006


def test_a_post_only_entry_pays_the_maker_fee_and_no_slippage_going_in() -> None:
    maker = TradeCosts.of(taker_fee=D("0.004"), maker_fee=D("0.0025"), slippage=D("0.002"), post_only=True)
    assert maker.round_trip(D(100), D(98)) == D("100") * D("0.0025") + D("98") * D("0.006")


def test_breakeven_recovers_both_fees_on_the_price_grid_away_from_the_entry() -> None:
    # 100 * 1.004 / 0.996 = 100.8032...: a long's stop at 100.81 recovers the entry and both taker fees
    assert TAKER.breakeven(LONG, D(100), D("0.01")) == D("100.81")
    assert TAKER.breakeven(SHORT, D(100), D("0.01")) == D("99.20")  # 100 * 0.996 / 1.004 = 99.2031...
    qty = D(3)
    proceeds = qty * D("100.81") * (1 - D("0.004"))
    assert proceeds >= qty * D(100) * (1 + D("0.004"))


def test_a_stop_within_the_round_trip_is_refused_with_the_numbers() -> None:
    """The demo's BTC stops sat 0.03 % from the entry under a 0.8 % round trip in fees alone."""
    refusal = cost_refusal(LONG, D("16551.4"), D("16546.5"), D("16561.3"), TAKER, min_stop_cost_multiple=D(1))
    assert refusal is not None
    assert refusal.label == "take_profit_loses"  # +9.9 under a 198.6 round trip: the target is judged first
    refusal = cost_refusal(LONG, D("16551.4"), D("16546.5"), D("17000"), TAKER, min_stop_cost_multiple=D(1))
    assert refusal is not None
    assert refusal.label == "stop_within_costs"
    assert "4.9 from the entry 16551.4" in refusal.text


def test_reward_to_risk_is_judged_net_of_costs() -> None:
    # gross 3:1 (6 over 2), net 4.764 / 3.188 = 1.49: below 1.5
    assert cost_refusal(LONG, D(100), D(98), D(106), TAKER, min_reward_risk=D("1.49")) is None
    refusal = cost_refusal(LONG, D(100), D(98), D(106), TAKER, min_reward_risk=D("1.5"))
    assert refusal is not None
    assert refusal.label == "reward_risk"
    assert "1.49" in refusal.text


def test_a_strategy_with_costs_drops_a_setup_whose_target_loses_money() -> None:
    sig = Signal(SYMBOL, LONG, D(100), D(97), D("101"), "ema_trend", T0)  # gross 1:3, +1 under a 1.21 round trip
    assert check_signal(sig, D("0.3")) is None  # blind to costs, it passes
    found = check_signal(sig, D("0.3"), costs=TAKER)
    assert found is not None
    assert found[0] == "take_profit_loses"


@pytest.mark.parametrize("price", ["105", "105.5"])
def test_an_entry_filled_so_near_the_take_profit_that_hitting_it_would_lose_drops_it(price: str) -> None:
    desk = make_desk(entry_order="market")
    entry = sent(desk.on(signal(), at(0)), OrderPurpose.ENTRY)
    desk.on(Submitted(entry.cl_ord_id), at(0))
    desk.on(FillSeen(fill("F1", entry.cl_ord_id, entry.qty, price, "0.6", ts=at(1)), journaled=False), at(1))
    # 106 - 105 = 1 < 105 * 0.006 + 106 * 0.006 = 1.266: the take-profit would sell at a loss
    assert desk.positions[desk.by_symbol[SYMBOL]].take_profit is None


def test_an_entry_with_room_to_its_take_profit_keeps_it() -> None:
    opened = Opened.make(price="100.5")
    assert opened.position.take_profit == D("106")


def test_the_breakeven_stop_sits_where_both_fees_are_recovered_not_at_the_entry() -> None:
    """In one demo run an ETH/USD stop moved to the entry price 3411.25 and the stop-out lost 19.43 USD."""
    track = StopTrack("p1", "ETH/USD", LONG, D("3411.25"), D("3395.81"), D("3395.81"), D("0.01"))
    track.breakeven = TAKER.breakeven(LONG, D("3411.25"), D("0.01"))
    assert track.next_stop(D("3427"), None, StopPolicy(trailing="none")) is None  # 1R up, but below breakeven
    level, kind = track.next_stop(D("3445"), None, StopPolicy(trailing="none")) or (None, None)
    assert kind is StopKind.BREAKEVEN
    assert level == D("3438.65")  # 3411.25 * 1.004 / 0.996 = 3438.649..., up to the tick
    qty = D("0.7")
    assert qty * level * (1 - D("0.004")) >= qty * D("3411.25") * (1 + D("0.004"))


def test_profit_locks_count_their_steps_from_breakeven() -> None:
    track = StopTrack("p1", SYMBOL, LONG, D(100), D(98), D(98), D("0.01"), breakeven=D("100.81"))
    assert track.next_stop(D(104), None, StopPolicy(trailing="none")) == (D("102.81"), StopKind.PROFIT_LOCK)
