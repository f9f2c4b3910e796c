"""The risk gate sizes entries by risk, caps them by exposure and exchange minimums, refuses stops beyond the
fail-safe, cools a symbol down after a loss, trips a daily kill switch that survives a restart the same day, and
blocks entries (never exits) in safe mode."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import partial

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crocbot.config.model import RiskSettings
from crocbot.config.policies import risk_limits
from crocbot.core.instrument import AssetClass, Instrument
from crocbot.core.messages import ClosedTrade, PositionSide, Signal
from crocbot.core.risk import RiskGate, RiskLimits, RiskState, Sizing
from crocbot.core.risk_sizing import Refusal, per_unit_loss

D = Decimal
T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
EQUITY = D("10000")

# Kraken's BTC/USD as AssetPairs reports it: 0.1 USD ticks, 8 lot decimals, ordermin 0.00005, costmin 0.5.
BTC = Instrument(
    symbol="BTC/USD",
    base="BTC",
    quote="USD",
    asset_class=AssetClass.CURRENCY,
    status="online",
    price_precision=1,
    qty_precision=8,
    cost_precision=5,
    price_increment=D("0.1"),
    qty_increment=D("0.00000001"),
    qty_min=D("0.00005"),
    cost_min=D("0.5"),
    taker_fee=D("0.004"),
    maker_fee=D("0.0025"),
)
SOL = dataclasses.replace(BTC, symbol="SOL/USD", base="SOL", price_precision=2, price_increment=D("0.01"))


def limits(**changes: object) -> RiskLimits:
    """The shipped defaults: 0.5 % risk, 1 % max loss, 3 % daily, 3 positions, 25 % / 75 % exposure, 15 min."""
    defaults = risk_limits(RiskSettings())
    return dataclasses.replace(defaults, **changes)  # type: ignore[arg-type]  # any limit, as the test overrides it


def gate(**changes: object) -> RiskGate:
    risk = RiskGate(limits(**changes))
    risk.roll_day(T0, EQUITY)
    return risk


def far_target(entry: str, stop: str) -> Signal:
    """A long whose take-profit pays for any round trip (10 % above the entry): the stop alone is judged."""
    return Signal("SOL/USD", PositionSide.LONG, D(entry), D(stop), D(entry) * D("1.1"), "test", T0)


def signal(entry: str, stop: str, *, symbol: str = "SOL/USD", side: PositionSide = PositionSide.LONG) -> Signal:
    e, s = D(entry), D(stop)
    target = e + 3 * (e - s)
    return Signal(symbol, side, e, s, target, "test", T0)


def trade(pnl: str, *, symbol: str = "SOL/USD", closed_at: datetime = T0) -> ClosedTrade:
    return ClosedTrade(
        trade_id=f"{symbol}:x",
        symbol=symbol,
        side=PositionSide.LONG,
        qty=D("1"),
        entry_price=D("1000"),
        exit_price=D("1000") + D(pnl),
        fees=D("0"),
        realized_pnl=D(pnl),
        opened_at=closed_at - timedelta(minutes=30),
        closed_at=closed_at,
    )


def tripped(risk: RiskGate) -> bool:
    """Read through a call: mypy keeps `risk.kill_switch_tripped` narrowed by an earlier assert across the calls
    that change it, and would skip the rest of the test as unreachable."""
    return risk.kill_switch_tripped


def in_safe_mode(risk: RiskGate) -> bool:
    """As `tripped`, for `risk.safe_mode`."""
    return risk.safe_mode


def size(risk: RiskGate, sig: Signal, *, instrument: Instrument = SOL, **kw: object) -> Sizing | Refusal:
    args: dict[str, object] = {"equity": EQUITY, "instrument": instrument, "open_exposure": {}, "now": T0}
    args.update(kw)
    return risk.size_entry(sig, **args)  # type: ignore[arg-type]  # the defaults above, each overridable by a test


# -- sizing --------------------------------------------------------------------------------------------------


def test_a_long_is_sized_so_that_stop_fees_and_slippage_lose_the_risk_budget() -> None:
    # budget 10000 * 0.005 = 50; per unit 2 + 100*0.004 + 98*0.004 + 198*0.002 = 2 + 0.4 + 0.392 + 0.396 = 3.188;
    # 50 / 3.188 = 15.683814303..., down to the 1e-8 increment.
    result = size(gate(), signal("100", "98"))
    assert result == Sizing(
        qty=D("15.68381430"),
        worst_case_loss=D("15.68381430") * D("3.188"),  # 49.9999999884
        notional=D("15.68381430") * D("100.4"),  # 1574.65495572: within 25 % of equity
    )


def test_a_short_is_sized_symmetrically() -> None:
    # per unit 2 + (100 + 102) * (0.004 + 0.002) = 3.212; 50 / 3.212 = 15.566625155...
    result = size(gate(), signal("100", "102", side=PositionSide.SHORT))
    assert isinstance(result, Sizing)
    assert result.qty == D("15.56662515")
    assert result.worst_case_loss == D("15.56662515") * D("3.212")


def test_a_size_below_krakens_minimum_quantity_is_refused_with_the_numbers() -> None:
    # budget 0.05 USD over 1000 + 119000 * 0.006 = 1714 USD per BTC: 0.00002917 BTC < 0.00005 BTC
    result = size(gate(), signal("60000", "59000", symbol="BTC/USD"), instrument=BTC, equity=D("10"))
    assert result == Refusal(
        "BTC/USD: size 0.00002917 BTC is below the minimum order of 0.00005 BTC "
        "(risk budget 0.05 USD, 1714.000 USD per unit)"
    )


def test_an_order_value_below_krakens_minimum_cost_is_refused_with_the_numbers() -> None:
    # budget 0.0125 over 100 + 9900 * 0.006 = 159.4 per BTC: 0.00007841 BTC passes ordermin but costs 0.39 USD
    result = size(gate(), signal("5000", "4900", symbol="BTC/USD"), instrument=BTC, equity=D("2.5"))
    assert result == Refusal("BTC/USD: order value 0.39 USD is below the minimum order value of 0.5 USD")


def test_the_per_symbol_exposure_cap_shrinks_a_tight_stop_entry() -> None:
    # by risk 50 / (0.1 + 199.9 * 0.006) = 38.48 units, but 25 % of 10000 buys only 2500 / 100.4 = 24.90039840
    # (a stop within the round trip's cost, let through to test the cap alone)
    result = size(gate(min_stop_cost_multiple=D(0)), far_target("100", "99.9"))
    assert isinstance(result, Sizing)
    assert result.qty == D("24.90039840")
    assert result.notional <= D("2500")


def test_the_total_exposure_cap_counts_the_other_open_symbols() -> None:
    # 75 % of 10000 = 7500, of which 7000 is used: 500 / 100.4 = 4.98007968
    result = size(gate(min_stop_cost_multiple=D(0)), far_target("100", "99.9"), open_exposure={"ETH/USD": D("7000")})
    assert isinstance(result, Sizing)
    assert result.qty == D("4.98007968")


def test_a_stop_closer_than_the_round_trips_cost_is_refused_with_the_numbers() -> None:
    """Issue 11, part 3: 0.1 from the entry under a round trip of 1.20 per unit (0.4 % fee and 0.2 % slippage on
    both legs) would lose 12 times the planned risk on a stop-out."""
    result = size(gate(), far_target("100", "99.9"))
    assert isinstance(result, Refusal)
    assert "closer than 1 x the round trip of 1.20 per unit" in result.reason


def test_a_take_profit_that_does_not_pay_for_its_round_trip_is_refused() -> None:
    sig = Signal("SOL/USD", PositionSide.LONG, D("100"), D("97"), D("101"), "test", T0)  # +1 under a 1.21 round trip
    result = size(gate(), sig)
    assert isinstance(result, Refusal)
    assert "hitting it would lose money" in result.reason


def test_sizing_counts_both_legs_fees_and_slippage_in_the_worst_case() -> None:
    """The loss at the stop that `risk_per_trade` budgets includes both legs' fees and the slippage allowance."""
    result = size(gate(), signal("100", "97"))
    assert isinstance(result, Sizing)
    worst_per_unit = D(3) + (D(100) + D(97)) * (D("0.004") + D("0.002"))  # 3 + 1.182
    assert result.worst_case_loss == result.qty * worst_per_unit
    assert result.worst_case_loss <= EQUITY * D("0.005")
    assert result.qty == D("11.95600191")  # 50 / 4.182, down to 1e-8


def test_a_used_up_exposure_cap_refuses_the_entry() -> None:
    result = size(gate(), signal("100", "98"), open_exposure={"SOL/USD": D("2500")})
    assert isinstance(result, Refusal)
    assert "per-symbol exposure cap of 25 % of 10000.00 USD (2500.00 USD) is used up" in result.reason


def test_the_fail_safe_refuses_sizing_under_inconsistent_limits() -> None:
    # 2 % risk per trade against a 1 % max loss: the budget of 200 USD breaks the fail-safe (95 % of 100 USD).
    # per unit 10 + 190 * 0.006 = 11.14; 200 / 11.14 = 17.95332136 units, 1802 USD: inside the exposure caps
    result = size(gate(risk_per_trade=D("0.02")), signal("100", "90"))
    assert isinstance(result, Refusal)
    assert result.reason.startswith("SOL/USD: fail-safe:")
    assert "could lose 200.00 USD, more than 95 % of the max loss per trade (95.00 USD)" in result.reason


@settings(max_examples=200, deadline=None)
@given(
    entry=st.decimals(min_value=D("0.5"), max_value=D("100000"), places=2),
    stop_fraction=st.decimals(min_value=D("0.001"), max_value=D("0.5"), places=3),
    equity=st.decimals(min_value=D("50"), max_value=D("1000000"), places=2),
    used=st.decimals(min_value=D("0"), max_value=D("0.9"), places=2),
    short=st.booleans(),
)
def test_sizing_never_exceeds_the_risk_budget_the_caps_or_the_fail_safe(
    entry: Decimal, stop_fraction: Decimal, equity: Decimal, used: Decimal, short: bool
) -> None:
    side = PositionSide.SHORT if short else PositionSide.LONG
    stop = (entry * (1 - stop_fraction) if not short else entry * (1 + stop_fraction)).quantize(D("0.01"))
    if stop <= 0 or stop == entry:
        return
    sig = Signal("SOL/USD", side, entry, stop, entry + (entry - stop), "test", T0)
    risk, exposure = gate(), {"ETH/USD": used * equity}
    result = size(risk, sig, equity=equity, open_exposure=exposure)
    if isinstance(result, Refusal):
        return
    lim = risk.limits
    assert result.qty % SOL.qty_increment == 0
    assert result.qty >= SOL.qty_min
    assert result.worst_case_loss == result.qty * per_unit_loss(side, entry, stop, SOL.taker_fee, D("0.002"))
    assert result.worst_case_loss <= equity * lim.risk_per_trade <= lim.fail_safe_loss(equity)
    assert result.notional <= lim.max_exposure_per_symbol * equity
    assert result.notional + used * equity <= lim.max_total_exposure * equity
    assert (
        risk.check_stop(side=side, qty=result.qty, entry=entry, stop=stop, equity_at_entry=equity, instrument=SOL)
        is None
    )


# -- stops ---------------------------------------------------------------------------------------------------


def test_check_stop_refuses_a_stop_beyond_the_fail_safe_and_names_the_widest_allowed() -> None:
    risk = gate()
    check = partial(
        risk.check_stop, side=PositionSide.LONG, qty=D("15.68381430"), entry=D("100"), equity_at_entry=EQUITY
    )
    assert check(stop=D("98"), instrument=SOL) is None
    refusal = check(stop=D("95"), instrument=SOL)
    assert refusal is not None
    # per unit 5 + 195 * 0.006 = 6.17; 15.6838143 * 6.17 = 96.77
    assert "could lose 96.77 USD, more than 95 % of the max loss per trade (95.00 USD)" in refusal.reason
    # the widest stop: (100 * 1.006 - 95 / 15.6838143) / 0.994 = 95.1130...; rounded toward the entry: 95.12
    assert refusal.reason.endswith("the widest stop within it is 95.12")
    assert check(stop=D("95.12"), instrument=SOL) is None
    assert check(stop=D("95.11"), instrument=SOL) is not None
    assert check(stop=D("103"), instrument=SOL) is None  # profit lock


def test_check_stop_works_for_shorts_and_refuses_nonsense() -> None:
    risk = gate()
    check = partial(risk.check_stop, side=PositionSide.SHORT, qty=D("15"), entry=D("100"), equity_at_entry=EQUITY)
    assert check(stop=D("102"), instrument=SOL) is None
    refusal = check(stop=D("110"), instrument=SOL)
    assert refusal is not None
    assert "short stop at 110" in refusal.reason
    refusal = check(stop=D("102"), instrument=SOL, equity_at_entry=D(0))
    assert refusal is not None
    assert "equity at entry" in refusal.reason


# -- entries: cooldown, positions, day, kill switch, safe mode -----------------------------------------------


def test_a_loss_cools_the_symbol_down_and_a_win_does_not() -> None:
    risk = gate()
    assert risk.on_trade_closed(trade("25"), now=T0, equity=EQUITY) == []
    assert risk.check_entry("SOL/USD", now=T0, open_positions=0) is None
    events = risk.on_trade_closed(trade("-25"), now=T0, equity=EQUITY)
    assert events == ["SOL/USD cooling down until 2026-01-05 09:15:00 UTC after a loss of 25.00 USD"]
    refusal = risk.check_entry("SOL/USD", now=T0 + timedelta(minutes=14), open_positions=0)
    assert refusal == Refusal("SOL/USD is cooling down after a loss until 2026-01-05 09:15:00 UTC")
    assert risk.check_entry("BTC/USD", now=T0, open_positions=0) is None  # other symbols trade on
    assert risk.check_entry("SOL/USD", now=T0 + timedelta(minutes=15), open_positions=0) is None


def test_entries_stop_at_the_maximum_of_open_positions() -> None:
    risk = gate()
    assert risk.check_entry("SOL/USD", now=T0, open_positions=2) is None
    refusal = risk.check_entry("SOL/USD", now=T0, open_positions=3)
    assert refusal == Refusal("3 positions are open, the maximum is 3: no new entry on SOL/USD")
    exposure = {"A/USD": D("1"), "B/USD": D("1"), "C/USD": D("1")}
    assert isinstance(size(risk, signal("100", "98"), open_exposure=exposure), Refusal)


def test_entries_wait_for_the_risk_day_to_be_started() -> None:
    risk = RiskGate(limits())
    refusal = risk.check_entry("SOL/USD", now=T0, open_positions=0)
    assert refusal is not None
    assert "roll_day has not run" in refusal.reason
    risk.roll_day(T0, EQUITY)
    refusal = risk.check_entry("SOL/USD", now=T0 + timedelta(days=1), open_positions=0)
    assert refusal == Refusal("risk day is 2026-01-05 but it is 2026-01-06 UTC: roll_day must run before new entries")


def test_the_kill_switch_trips_at_the_daily_limit_and_not_before() -> None:
    risk = gate(cooldown_after_loss=timedelta(0))
    assert risk.on_trade_closed(trade("-299.99"), now=T0, equity=D("9700.01")) == []
    assert not risk.kill_switch_tripped
    assert risk.check_entry("SOL/USD", now=T0, open_positions=0) is None
    events = risk.on_trade_closed(trade("-0.01", symbol="BTC/USD"), now=T0, equity=D("9700"))
    assert events == [
        "kill switch tripped: daily loss 300.00 USD >= 3 % of 10000.00 USD; no new entries until 00:00 UTC"
    ]
    assert tripped(risk)
    assert not risk.should_flatten
    refusal = risk.check_entry("ETH/USD", now=T0 + timedelta(hours=14), open_positions=0)
    assert refusal == Refusal("kill switch tripped for 2026-01-05: no new entries until 00:00 UTC")
    assert isinstance(size(risk, signal("100", "98")), Refusal)


def test_wins_on_the_same_day_offset_losses_for_the_kill_switch() -> None:
    risk = gate(cooldown_after_loss=timedelta(0))
    risk.on_trade_closed(trade("100"), now=T0, equity=D("10100"))
    risk.on_trade_closed(trade("-350"), now=T0, equity=D("9750"))
    assert risk.daily_realized == D("-250")
    assert not risk.kill_switch_tripped


def test_the_kill_switch_asks_to_flatten_when_configured() -> None:
    risk = gate(flatten_on_kill_switch=True)
    events = risk.on_trade_closed(trade("-400"), now=T0, equity=D("9600"))
    assert "flatten_on_kill_switch is set: open positions are to be closed" in events
    assert risk.should_flatten


def test_a_tripped_kill_switch_survives_a_restart_the_same_day_and_clears_the_next_day() -> None:
    risk = gate()
    risk.on_trade_closed(trade("-310"), now=T0, equity=D("9690"))
    saved = json.loads(json.dumps(risk.state().to_state()))

    same_day = RiskGate(limits(), RiskState.from_state(saved))
    same_day.roll_day(T0 + timedelta(hours=10), D("9690"))  # the restart's roll changes nothing today
    assert same_day.kill_switch_tripped
    assert same_day.day_start_equity == EQUITY
    assert same_day.daily_realized == D("-310")
    assert same_day.cooldown_until("SOL/USD") == T0 + timedelta(minutes=15)
    assert same_day.check_entry("SOL/USD", now=T0 + timedelta(hours=10), open_positions=0) is not None
    assert same_day.state() == risk.state()

    next_day = RiskGate(limits(), RiskState.from_state(saved))
    midnight = datetime(2026, 1, 6, tzinfo=UTC)
    next_day.roll_day(midnight, D("9690"))
    assert not next_day.kill_switch_tripped
    assert next_day.day_start_equity == D("9690")
    assert next_day.daily_realized == 0
    assert next_day.cooldown_until("SOL/USD") is None  # finished cooldowns are forgotten
    assert next_day.check_entry("SOL/USD", now=midnight, open_positions=0) is None


def test_a_late_roll_after_days_offline_clears_an_old_kill_switch() -> None:
    risk = gate()
    risk.on_trade_closed(trade("-310"), now=T0, equity=D("9690"))
    restarted = RiskGate(limits(), RiskState.from_state(risk.state().to_state()))
    later = T0 + timedelta(days=4, hours=3)
    assert restarted.check_entry("SOL/USD", now=later, open_positions=0) is not None  # not rolled yet: closed
    restarted.roll_day(later, D("9700"))
    assert not restarted.kill_switch_tripped
    assert restarted.day == later.date()
    assert restarted.check_entry("SOL/USD", now=later, open_positions=0) is None


def test_a_trade_closing_on_a_new_day_starts_it_and_a_late_report_is_not_counted_today() -> None:
    risk = gate(cooldown_after_loss=timedelta(0))
    tomorrow = T0 + timedelta(days=1)
    events = risk.on_trade_closed(trade("-50", closed_at=tomorrow), now=tomorrow, equity=D("9950"))
    assert events == ["risk day 2026-01-06 started by a closed trade, starting equity 10000.00 USD"]
    assert risk.day == tomorrow.date()
    assert risk.daily_realized == D("-50")
    events = risk.on_trade_closed(trade("-500", closed_at=T0), now=tomorrow, equity=D("9450"))
    assert events == [
        "trade SOL/USD:x closed on 2026-01-05, before the risk day 2026-01-06: not counted in today's loss"
    ]
    assert risk.daily_realized == D("-50")
    assert not risk.kill_switch_tripped


def test_safe_mode_blocks_entries_until_every_reason_has_cleared() -> None:
    risk = gate()
    risk.set_safe_mode("feed stale: SOL/USD", on=True)
    risk.set_safe_mode("breaker open: rest", on=True)
    assert risk.safe_mode
    assert risk.safe_reasons == ("feed stale: SOL/USD", "breaker open: rest")
    refusal = risk.check_entry("SOL/USD", now=T0, open_positions=0)
    assert refusal == Refusal(
        "safe mode (feed stale: SOL/USD; breaker open: rest): no new entries, exits and stops carry on"
    )
    risk.set_safe_mode("feed stale: SOL/USD", on=False)
    assert risk.check_entry("SOL/USD", now=T0, open_positions=0) is not None
    risk.set_safe_mode("breaker open: rest", on=False)
    risk.set_safe_mode("breaker open: rest", on=False)  # clearing twice is harmless
    assert not in_safe_mode(risk)
    assert risk.check_entry("SOL/USD", now=T0, open_positions=0) is None
    # stops are never blocked by safe mode
    risk.set_safe_mode("feed stale: SOL/USD", on=True)
    stop = risk.check_stop(
        side=PositionSide.LONG, qty=D("1"), entry=D("100"), stop=D("98"), equity_at_entry=EQUITY, instrument=SOL
    )
    assert stop is None


# -- limits and state ----------------------------------------------------------------------------------------


def test_limits_refuse_floats_and_out_of_range_values() -> None:
    with pytest.raises(ValueError, match="risk_per_trade"):
        limits(risk_per_trade=0.005)
    with pytest.raises(ValueError, match="fail_safe_fraction"):
        limits(fail_safe_fraction=D("1.5"))
    with pytest.raises(ValueError, match="max_open_positions"):
        limits(max_open_positions=0)


def test_risk_state_refuses_an_unknown_version_and_malformed_input() -> None:
    good = RiskState().to_state()
    assert RiskState.from_state(good) == RiskState()
    with pytest.raises(ValueError, match="version"):
        RiskState.from_state({**good, "version": 2})
    with pytest.raises(ValueError, match="malformed"):
        RiskState.from_state({k: v for k, v in good.items() if k != "kill_day"})
