"""Stops move to breakeven after 1R, lock profit in steps from 2R, trail by ATR or percent, land on the price
grid away from the market, and never loosen or cross the price."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crocbot.core.messages import PositionSide, StopKind
from crocbot.core.stops import StopPolicy, StopTrack, stop_crossed

D = Decimal
LONG, SHORT = PositionSide.LONG, PositionSide.SHORT
NO_TRAIL = StopPolicy(trailing="none")


def long_track(entry: str = "100", stop: str = "98", increment: str = "0.01") -> StopTrack:
    return StopTrack("p1", "SOL/USD", LONG, D(entry), D(stop), D(stop), D(increment))


def short_track(entry: str = "100", stop: str = "102", increment: str = "0.01") -> StopTrack:
    return StopTrack("p1", "SOL/USD", SHORT, D(entry), D(stop), D(stop), D(increment))


# -- breakeven and profit locks ------------------------------------------------------------------------------


def test_nothing_moves_before_one_r() -> None:
    track = long_track()  # R = 2
    assert track.next_stop(D("101.99"), None, NO_TRAIL) is None
    assert track.best == D("101.99")


def test_breakeven_after_one_r() -> None:
    assert long_track().next_stop(D("102"), None, NO_TRAIL) == (D("100"), StopKind.BREAKEVEN)


def test_breakeven_after_a_configured_multiple_of_r() -> None:
    policy = StopPolicy(trailing="none", breakeven_after_r=D("1.5"))
    track = long_track()
    assert track.next_stop(D("102.99"), None, policy) is None
    assert track.next_stop(D("103"), None, policy) == (D("100"), StopKind.BREAKEVEN)


def test_stepped_profit_locks_at_two_and_three_r() -> None:
    track = long_track()
    assert track.next_stop(D("104"), None, NO_TRAIL) == (D("102"), StopKind.PROFIT_LOCK)  # 2R locks 1R
    track.tighten(D("102"))
    assert track.next_stop(D("105.99"), None, NO_TRAIL) is None  # 2.995R: still one step locked
    assert track.next_stop(D("106"), None, NO_TRAIL) == (D("104"), StopKind.PROFIT_LOCK)  # 3R locks 2R
    track.tighten(D("104"))
    assert track.next_stop(D("103"), None, NO_TRAIL) is None  # the price falls back: nothing loosens


def test_profit_lock_steps_of_half_r() -> None:
    policy = StopPolicy(trailing="none", profit_lock_step_r=D("0.5"))
    # best 102.5 is 1.25R: 2.5 steps of 0.5R, floor 2, lock 1 step = 0.5R = 1 above the entry
    assert long_track().next_stop(D("102.5"), None, policy) == (D("101"), StopKind.PROFIT_LOCK)


def test_the_best_price_is_remembered() -> None:
    track = long_track()
    track.next_stop(D("104"), None, NO_TRAIL)
    # back at 103 the best is still 104 (2R): the lock at 102 is still tighter than the unmoved stop and below 103
    assert track.next_stop(D("103"), None, NO_TRAIL) == (D("102"), StopKind.PROFIT_LOCK)
    assert track.best == D("104")


def test_a_short_mirrors_breakeven_and_locks() -> None:
    track = short_track()  # R = 2
    assert track.next_stop(D("98"), None, NO_TRAIL) == (D("100"), StopKind.BREAKEVEN)
    assert track.next_stop(D("96"), None, NO_TRAIL) == (D("98"), StopKind.PROFIT_LOCK)
    assert track.best == D("96")
    track.tighten(D("98"))
    assert track.next_stop(D("97"), None, NO_TRAIL) is None


# -- trailing ------------------------------------------------------------------------------------------------


def test_atr_trailing_follows_the_best_price() -> None:
    policy = StopPolicy(trailing="atr", trail_atr_multiple=D("2.5"))
    track = long_track()
    assert track.next_stop(D("100.5"), D("0.4"), policy) == (D("99.5"), StopKind.TRAILING)  # 100.5 - 1.0
    track.tighten(D("99.5"))
    assert track.next_stop(D("100.4"), D("0.4"), policy) is None  # best unchanged: 99.5 again, not tighter
    assert track.next_stop(D("101"), D("0.4"), policy) == (D("100"), StopKind.TRAILING)


def test_atr_trailing_needs_an_atr() -> None:
    policy = StopPolicy(trailing="atr")
    assert long_track().next_stop(D("100.5"), None, policy) is None
    assert long_track().next_stop(D("100.5"), D("0"), policy) is None


def test_percent_trailing() -> None:
    policy = StopPolicy(trailing="percent", trail_percent=D("0.02"))
    assert long_track().next_stop(D("101"), None, policy) == (D("98.98"), StopKind.TRAILING)
    # a short trails above: 99 * 1.02 = 100.98
    assert short_track().next_stop(D("99"), None, policy) == (D("100.98"), StopKind.TRAILING)


def test_the_tightest_candidate_wins() -> None:
    policy = StopPolicy(trailing="atr", trail_atr_multiple=D("1"))
    track = long_track()
    # at 106 (3R): breakeven 100, lock 104, trailing 106 - 1.5 = 104.5 -> the trail
    assert track.next_stop(D("106"), D("1.5"), policy) == (D("104.5"), StopKind.TRAILING)
    # with a wide ATR the lock is tighter: trailing 106 - 3 = 103 < 104
    assert long_track().next_stop(D("106"), D("3"), policy) == (D("104"), StopKind.PROFIT_LOCK)


def test_no_trailing_when_policy_says_none() -> None:
    assert long_track().next_stop(D("100.5"), D("0.4"), NO_TRAIL) is None


# -- rounding and the safe side ------------------------------------------------------------------------------


def test_a_long_stop_rounds_down_to_the_increment() -> None:
    policy = StopPolicy(trailing="atr", trail_atr_multiple=D("2.5"))
    # 100.5 - 2.5 * 0.37 = 99.575 -> 99.55 on a 0.05 grid (down: away from the market)
    assert long_track(increment="0.05").next_stop(D("100.5"), D("0.37"), policy) == (D("99.55"), StopKind.TRAILING)


def test_a_short_stop_rounds_up_to_the_increment() -> None:
    policy = StopPolicy(trailing="atr", trail_atr_multiple=D("2.5"))
    # 99 + 0.925 = 99.925 -> 99.95 (up: away from the market)
    assert short_track(increment="0.05").next_stop(D("99"), D("0.37"), policy) == (D("99.95"), StopKind.TRAILING)


def test_rounding_lands_on_the_grid_with_its_exponent() -> None:
    policy = StopPolicy(trailing="percent", trail_percent=D("0.013"))
    proposal = long_track(increment="0.5").next_stop(D("101.3"), None, policy)
    assert proposal == (D("99.5"), StopKind.TRAILING)  # 101.3 * 0.987 = 99.9831 -> 99.5
    assert str(proposal[0]) == "99.5"


def test_a_candidate_at_or_through_the_price_is_not_proposed() -> None:
    track = long_track()
    assert track.next_stop(D("102"), None, NO_TRAIL) == (D("100"), StopKind.BREAKEVEN)
    # the price fell back below the entry before the stop moved: breakeven would sit above the bid
    assert track.next_stop(D("99.9"), None, NO_TRAIL) is None
    assert track.next_stop(D("100"), None, NO_TRAIL) is None  # at the price is through it too


def test_a_candidate_looser_than_the_current_stop_is_not_proposed() -> None:
    track = long_track()
    track.tighten(D("99.8"))
    policy = StopPolicy(trailing="atr", trail_atr_multiple=D("1"))
    assert track.next_stop(D("100.5"), D("1"), policy) is None  # 99.5 is below 99.8


def test_no_risk_no_stop_moves() -> None:
    track = StopTrack("p1", "SOL/USD", LONG, D("100"), D("100"), D("100"), D("0.01"))
    assert track.next_stop(D("110"), D("1"), StopPolicy()) is None


# -- tighten and crossing ------------------------------------------------------------------------------------


def test_tighten_refuses_to_loosen() -> None:
    track = long_track()
    track.tighten(D("99"))
    track.tighten(D("99"))  # the same level is fine
    with pytest.raises(ValueError, match=r"refusing to loosen the stop from 99 to 98\.5"):
        track.tighten(D("98.5"))
    assert track.stop == D("99")
    short = short_track()
    short.tighten(D("101"))
    with pytest.raises(ValueError, match="refusing to loosen"):
        short.tighten(D("101.5"))
    assert short.stop == D("101")


def test_stop_crossed() -> None:
    assert stop_crossed(LONG, D("98"), D("98")) is True
    assert stop_crossed(LONG, D("98"), D("97.99")) is True
    assert stop_crossed(LONG, D("98"), D("98.01")) is False
    assert stop_crossed(SHORT, D("102"), D("102")) is True
    assert stop_crossed(SHORT, D("102"), D("102.01")) is True
    assert stop_crossed(SHORT, D("102"), D("101.99")) is False


# -- properties ----------------------------------------------------------------------------------------------

_TICKS = st.integers(min_value=1, max_value=40_000)  # prices 0.01 .. 400.00 on a 0.01 grid


@st.composite
def paths(draw: st.DrawFn) -> tuple[str, int, int, list[int], list[int | None]]:
    trailing = draw(st.sampled_from(["none", "atr", "percent"]))
    entry = draw(st.integers(min_value=500, max_value=30_000))
    risk = draw(st.integers(min_value=1, max_value=entry // 5))
    prices = draw(st.lists(_TICKS, min_size=1, max_size=60))
    atrs = draw(st.lists(st.one_of(st.none(), st.integers(min_value=0, max_value=2_000)), min_size=60, max_size=60))
    return trailing, entry, risk, prices, atrs


def _policy(trailing: str) -> StopPolicy:
    return StopPolicy(trailing=trailing, trail_atr_multiple=D("2.5"), trail_percent=D("0.015"))


@settings(max_examples=300, deadline=None)
@given(paths())
def test_a_long_stop_only_rises_and_stays_below_the_price(
    path: tuple[str, int, int, list[int], list[int | None]],
) -> None:
    trailing, entry, risk, prices, atrs = path
    tick = D("0.01")
    track = long_track(str(entry * tick), str((entry - risk) * tick))
    policy = _policy(trailing)
    stops = [track.stop]
    for ticks, atr in zip(prices, atrs, strict=False):
        price = ticks * tick
        proposal = track.next_stop(price, None if atr is None else atr * tick, policy)
        if proposal is not None:
            level, _ = proposal
            assert level > track.stop
            assert level < price
            assert level % tick == 0
            track.tighten(level)
        stops.append(track.stop)
    assert stops == sorted(stops)


@settings(max_examples=300, deadline=None)
@given(paths())
def test_a_short_stop_only_falls_and_stays_above_the_price(
    path: tuple[str, int, int, list[int], list[int | None]],
) -> None:
    trailing, entry, risk, prices, atrs = path
    tick = D("0.01")
    track = short_track(str(entry * tick), str((entry + risk) * tick))
    policy = _policy(trailing)
    stops = [track.stop]
    for ticks, atr in zip(prices, atrs, strict=False):
        price = ticks * tick
        proposal = track.next_stop(price, None if atr is None else atr * tick, policy)
        if proposal is not None:
            level, _ = proposal
            assert level < track.stop
            assert level > price
            assert level % tick == 0
            track.tighten(level)
        stops.append(track.stop)
    assert stops == sorted(stops, reverse=True)
