"""Messages refuse, at construction, the objects that would be dangerous to act on."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crocbot.core.messages import (
    BookLevel,
    Candle,
    Fill,
    InvalidMessage,
    Liquidity,
    OrderIntent,
    OrderPurpose,
    OrderType,
    Position,
    PositionSide,
    Side,
    Signal,
    StopChanged,
    StopKind,
    Ticker,
    Timeframe,
    Trade,
    valid_cl_ord_id,
)

T0 = datetime(2025, 3, 10, 12, 0, tzinfo=UTC)
D = Decimal


def candle(**changes: object) -> Candle:
    fields: dict[str, object] = {
        "symbol": "BTC/USD",
        "timeframe": Timeframe.M5,
        "open_time": T0,
        "open": D("100"),
        "high": D("110"),
        "low": D("95"),
        "close": D("105"),
        "volume": D("3.5"),
        "trades": 12,
        "closed": True,
    }
    fields.update(changes)
    return Candle(**fields)  # type: ignore[arg-type]  # overrides of any field, invalid ones too: Candle checks them


def test_messages_are_frozen_and_slotted() -> None:
    tick = Ticker("BTC/USD", D("100"), D("1"), D("101"), D("2"), D("100.5"), T0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        tick.bid = D("1")  # type: ignore[misc]  # writing a frozen field on purpose: its refusal is tested
    assert not hasattr(tick, "__dict__")


def test_a_candle_whose_high_is_below_its_low_is_refused() -> None:
    with pytest.raises(InvalidMessage, match="low 95 is above high 90"):
        candle(high=D("90"), open=D("92"), close=D("92"))


def test_a_candle_whose_close_is_outside_its_range_is_refused() -> None:
    with pytest.raises(InvalidMessage, match="must lie within"):
        candle(close=D("111"))


def test_a_candle_off_its_timeframe_boundary_is_refused() -> None:
    with pytest.raises(InvalidMessage, match="not on a 5m boundary"):
        candle(open_time=T0 + timedelta(minutes=1))


@given(
    prices=st.lists(st.decimals(min_value=D("0.0001"), max_value=D("1e6"), places=4), min_size=4, max_size=4),
)
def test_any_ordered_ohlc_is_accepted(prices: list[Decimal]) -> None:
    low, a, b, high = sorted(prices)
    made = candle(open=a, high=high, low=low, close=b)
    assert made.low <= made.open <= made.high
    assert made.close_time == T0 + timedelta(minutes=5)


def test_a_long_position_whose_stop_is_above_its_entry_is_refused() -> None:
    with pytest.raises(InvalidMessage, match="a long's stop 101 must be below its entry 100"):
        Position("p1", "BTC/USD", PositionSide.LONG, D("0.1"), D("100"), D("101"), T0)


def test_a_short_position_whose_stop_is_below_its_entry_is_refused() -> None:
    with pytest.raises(InvalidMessage, match="a short's stop 99 must be above its entry 100"):
        Position("p1", "BTC/USD", PositionSide.SHORT, D("0.1"), D("100"), D("99"), T0)


def test_a_signal_without_a_stop_is_refused() -> None:
    with pytest.raises(InvalidMessage, match="stop is required"):
        Signal("ETH/USD", PositionSide.LONG, D("100"), None, D("110"), "ema_trend", T0)  # type: ignore[arg-type]  # no stop, on purpose


def test_a_signal_with_its_target_on_the_wrong_side_is_refused() -> None:
    with pytest.raises(InvalidMessage, match="take-profit 95 must be above"):
        Signal("ETH/USD", PositionSide.LONG, D("100"), D("98"), D("95"), "ema_trend", T0)


def test_a_valid_signal_knows_its_reward_to_risk() -> None:
    signal = Signal("AAPLx/USD", PositionSide.LONG, D("200"), D("196"), D("212"), "donchian_breakout", T0)
    assert signal.reward_risk == D("3")
    assert signal.risk_per_unit == D("4")


def test_a_stop_may_only_tighten() -> None:
    StopChanged("p1", "BTC/USD", PositionSide.LONG, D("95"), D("97"), StopKind.TRAILING, T0)
    with pytest.raises(InvalidMessage, match="would widen it"):
        StopChanged("p1", "BTC/USD", PositionSide.LONG, D("97"), D("95"), StopKind.TRAILING, T0)
    with pytest.raises(InvalidMessage, match="would widen it"):
        StopChanged("p1", "BTC/USD", PositionSide.SHORT, D("105"), D("106"), StopKind.TRAILING, T0)


def test_naive_datetimes_are_refused_and_other_zones_become_utc() -> None:
    with pytest.raises(InvalidMessage, match="naive datetime"):
        Trade("BTC/USD", Side.BUY, D("1"), D("1"), datetime(2025, 1, 1))  # noqa: DTZ001 - the point of the test
    cet = timezone(timedelta(hours=1))
    trade = Trade("BTC/USD", Side.BUY, D("1"), D("1"), datetime(2025, 1, 1, 1, 0, tzinfo=cet))
    assert trade.ts == datetime(2025, 1, 1, 0, 0, tzinfo=UTC)
    assert trade.ts.tzinfo is UTC


def test_float_money_is_refused() -> None:
    with pytest.raises(InvalidMessage, match="must be a Decimal"):
        BookLevel.checked(100.5, D("1"))  # type: ignore[arg-type]  # a float on purpose: its refusal is tested


def test_order_intents_check_prices_against_their_type_and_the_client_id_length() -> None:
    def intent(**changes: object) -> OrderIntent:
        fields: dict[str, object] = {
            "cl_ord_id": "cb-1-abc",
            "symbol": "BTC/USD",
            "side": Side.SELL,
            "order_type": OrderType.STOP_LOSS,
            "qty": D("0.01"),
            "purpose": OrderPurpose.STOP,
            "ts": T0,
            "trigger_price": D("95000"),
        }
        fields.update(changes)
        return OrderIntent(**fields)  # type: ignore[arg-type]  # overrides of any field: OrderIntent checks them

    assert intent().trigger_price == D("95000")
    with pytest.raises(InvalidMessage, match="needs one"):
        intent(trigger_price=None)
    with pytest.raises(InvalidMessage, match="takes no limit price"):
        intent(limit_price=D("1"))
    with pytest.raises(InvalidMessage, match="at most 18"):
        intent(cl_ord_id="x" * 19)


@pytest.mark.parametrize(
    ("cl_ord_id", "ok"),
    [
        ("a" * 18, True),
        ("a" * 19, False),
        ("6d1b345e-2821-40e2-ad83-4ecb18a06876", True),
        ("6d1b345e282140e2ad834ecb18a06876", True),
        ("has space", False),
        ("", False),
    ],
)
def test_client_order_ids_follow_krakens_three_formats(cl_ord_id: str, ok: bool) -> None:
    assert valid_cl_ord_id(cl_ord_id) is ok


def test_a_fill_needs_an_id_and_positive_quantity() -> None:
    args = ("", "cb-1", "O1", "BTC/USD", Side.BUY, D("0.1"), D("100"), D("0.04"), "USD", Liquidity.TAKER, T0)
    with pytest.raises(InvalidMessage, match="cannot be deduplicated"):
        Fill(*args)
    fill = Fill("T1", *args[1:])
    assert fill.notional == D("10.0")


def test_a_position_says_whether_an_exit_is_in_flight_and_defaults_to_not() -> None:
    held = Position("p1", "BTC/USD", PositionSide.LONG, D("0.1"), D("100"), D("98"), T0)
    assert held.exiting is False
    leaving = Position("p1", "BTC/USD", PositionSide.LONG, D("0.1"), D("100"), D("98"), T0, exiting=True)
    assert leaving.exiting is True
    assert leaving != held
