"""Entries: a signal becomes a risk-sized entry through the risk gate, and a resting entry is chased after its TTL,
then cancelled (`crocbot.core.desk.entries`)."""

from __future__ import annotations

import dataclasses

from crocbot.core.desk import Commit, EntryTTL, FillSeen, NotSent, StartTimer, Submitted
from crocbot.core.messages import (
    ClosedTrade,
    OrderAmended,
    OrderIntent,
    OrderPurpose,
    OrderStatus,
    OrderType,
    PositionSide,
    Side,
)
from crocbot.core.messages.commands import Amend, Cancel, Submit
from crocbot.core.messages.journal import (
    EntryBrackets,
    RecordAmend,
    RecordEvent,
)
from tests.core.desk_support import (
    QTY,
    SOL,
    SYMBOL,
    T0,
    D,
    Opened,
    at,
    committed,
    decided,
    entry_acked,
    event,
    fill,
    logged,
    make_desk,
    send,
    sent,
    signal,
)

S = OrderStatus
SELL = Side.SELL


# -- a. signals ----------------------------------------------------------------------------------------------


def test_a_signal_sends_a_risk_sized_limit_entry_and_starts_its_ttl() -> None:
    desk = make_desk()
    actions = desk.on(signal(), T0)
    entry = sent(actions, OrderPurpose.ENTRY)
    position_id = "p" + entry.cl_ord_id[3:]
    assert entry.cl_ord_id.startswith("cbe")
    assert actions == committed(
        [
            *send(
                OrderIntent(
                    cl_ord_id=entry.cl_ord_id,
                    symbol=SYMBOL,
                    side=Side.BUY,
                    order_type=OrderType.LIMIT,
                    qty=D("15.68381430"),  # 50 USD of risk over 3.188 USD per unit, down to 1e-8
                    purpose=OrderPurpose.ENTRY,
                    ts=T0,
                    limit_price=D("100.00"),
                ),
                position_id,
                "ema_trend: fast above slow",
                # journaled with the entry: a restart can protect it, and the trade log names strategy and planned entry
                EntryBrackets(D("98"), D("106"), "ema_trend", D("100")),
            ),
            StartTimer(30.0, EntryTTL(entry.cl_ord_id, 1)),
        ]
    )
    state = desk.positions[position_id]
    assert (state.qty, state.stop, state.initial_stop, state.take_profit, state.entry_cl_ord_id) == (
        D("0"),
        D("98"),
        D("98"),
        D("106"),
        entry.cl_ord_id,
    )
    assert desk.by_symbol == {SYMBOL: position_id}
    assert desk.orders[entry.cl_ord_id].status is S.CREATED
    assert desk.risk.day == T0.date()  # the signal started the risk day
    assert desk.risk.day_start_equity == D("10000")


def test_the_limit_price_is_on_the_price_grid_and_never_above_the_signal() -> None:
    desk = make_desk()
    assert sent(desk.on(signal("100.009"), T0), OrderPurpose.ENTRY).limit_price == D("100.00")


def test_the_limit_price_is_a_multiple_of_a_tick_that_is_not_a_power_of_ten() -> None:
    nickel = dataclasses.replace(SOL, price_increment=D("0.05"))
    desk = make_desk(instruments=(nickel,))
    limit = sent(desk.on(signal("100.07"), T0), OrderPurpose.ENTRY).limit_price
    assert limit == D("100.05")  # quantize(0.05) alone would keep 100.07, which Kraken refuses
    assert limit is not None
    assert limit % D("0.05") == 0


def test_a_market_entry_has_no_price_and_no_ttl() -> None:
    desk = make_desk(entry_order="market")
    actions = desk.on(signal(), T0)
    entry = sent(actions, OrderPurpose.ENTRY)
    assert [type(a) for a in actions] == [Commit, Submit]  # journaled, sent, and no TTL timer
    assert (entry.order_type, entry.limit_price, entry.qty) == (OrderType.MARKET, None, QTY)


def test_a_second_signal_for_the_same_symbol_does_nothing() -> None:
    desk = make_desk()
    desk.on(signal(), T0)
    assert desk.on(signal("101", "99", "107", ts=at(5)), at(5)) == []
    assert len(desk.orders) == 1
    opened = Opened.make(make_desk())
    assert opened.desk.on(signal(ts=at(9)), at(9)) == []


def test_a_short_signal_is_only_noted() -> None:
    desk = make_desk()
    actions = desk.on(signal("100", "102", "94", side=PositionSide.SHORT), T0)
    assert (decided(actions), logged(actions)) == ([], [("INFO", SYMBOL)])
    assert desk.take_refused() == {"short": 1}
    assert (desk.orders, desk.positions, desk.by_symbol) == ({}, {}, {})


def test_a_signal_for_an_instrument_not_traded_is_noted() -> None:
    desk = make_desk()
    actions = desk.on(signal(symbol="XRP/USD"), T0)
    assert (decided(actions), logged(actions)) == ([], [("WARNING", "XRP/USD")])
    assert desk.orders == {}


def test_no_entry_while_the_kill_switch_is_tripped() -> None:
    desk = make_desk()
    desk.risk.roll_day(T0, D("10000"))
    loss = ClosedTrade(
        "ETH/USD:x", "ETH/USD", PositionSide.LONG, D("1"), D("1000"), D("690"), D("0"), D("-310"), T0, T0
    )
    desk.risk.on_trade_closed(loss, now=T0, equity=D("9690"))
    assert desk.risk.kill_switch_tripped
    actions = desk.on(signal(ts=at(1)), at(1))
    assert (decided(actions), logged(actions)) == ([], [("INFO", SYMBOL)])
    assert desk.take_refused() == {"kill_switch": 1}
    assert (desk.orders, desk.by_symbol) == ({}, {})


def test_no_entry_in_safe_mode() -> None:
    desk = make_desk()
    desk.set_safe("market data not fresh", True, T0)
    actions = desk.on(signal(), T0)
    assert (decided(actions), logged(actions)) == ([], [("INFO", SYMBOL)])
    assert desk.take_refused() == {"safe_mode": 1}
    assert (desk.orders, desk.by_symbol) == ({}, {})


def test_a_working_entry_counts_against_the_open_position_limit() -> None:
    desk = make_desk(max_open_positions=1)
    desk.on(signal(symbol="ETH/USD"), T0)  # not filled yet
    actions = desk.on(signal(), T0)
    assert (decided(actions), logged(actions)) == ([], [("INFO", SYMBOL)])
    assert desk.take_refused() == {"max_positions": 1}


# -- h. entry timeouts ---------------------------------------------------------------------------------------


def test_a_resting_entry_is_chased_up_to_max_repositions_then_cancelled() -> None:
    desk = make_desk()
    entry = entry_acked(desk)
    # 100 * 1.0005 = 100.05; 100.05 * 1.0005 = 100.100025 -> 100.11; 100.11 * 1.0005 = 100.160055 -> 100.17
    for attempt, price in ((1, "100.05"), (2, "100.11"), (3, "100.17")):
        actions = desk.on(EntryTTL(entry, attempt), at(30 * attempt))
        assert actions == [
            Amend(entry, SYMBOL, at(30 * attempt), limit_price=D(price)),
            StartTimer(30.0, EntryTTL(entry, attempt + 1)),
        ]
        assert desk.orders[entry].limit_price != D(price)  # not before the venue confirms it
        ts = at(30 * attempt + 1)
        confirmed = OrderAmended(entry, ts, limit_price=D(price))
        assert desk.on(confirmed, ts) == [Commit((RecordAmend(confirmed),))]  # journaled, nothing more
        assert desk.orders[entry].limit_price == D(price)
    assert desk.on(EntryTTL(entry, 4), at(120)) == [Cancel(entry, SYMBOL, at(120))]
    cancelled = event(entry, S.CANCELLED, at(121), reason="User requested")
    gone = desk.on(cancelled, at(121))
    assert (decided(gone), logged(gone)) == ([Commit((RecordEvent(cancelled),))], [("INFO", SYMBOL)])
    assert (desk.orders[entry].status, desk.by_symbol) == (S.CANCELLED, {})


def test_a_chase_that_would_break_the_fail_safe_cancels_instead() -> None:
    desk = make_desk(chase_step="0.02")
    entry = entry_acked(desk)
    assert desk.on(EntryTTL(entry, 1), at(30))[0] == Amend(entry, SYMBOL, at(30), limit_price=D("102.00"))
    desk.on(OrderAmended(entry, at(31), limit_price=D("102.00")), at(31))
    # 102 * 1.02 = 104.04: 15.68381430 * (6.04 + 202.04 * 0.006) = 113.74 USD > 95 USD
    actions = desk.on(EntryTTL(entry, 2), at(60))
    assert (decided(actions), logged(actions)) == ([Cancel(entry, SYMBOL, at(60))], [("INFO", SYMBOL)])


def test_a_zero_chase_step_still_moves_one_tick() -> None:
    desk = make_desk(chase_step="0")
    entry = entry_acked(desk)
    assert desk.on(EntryTTL(entry, 1), at(30))[0] == Amend(entry, SYMBOL, at(30), limit_price=D("100.01"))


def test_a_partly_filled_entry_is_chased_and_its_cancel_keeps_the_position() -> None:
    desk = make_desk()
    entry = entry_acked(desk)
    desk.on(FillSeen(fill("F1", entry, "10", "100", "0.4", ts=at(2)), journaled=False), at(2))
    assert desk.on(EntryTTL(entry, 1), at(30))[0] == Amend(entry, SYMBOL, at(30), limit_price=D("100.05"))
    cancelled = event(entry, S.CANCELLED, at(31))
    assert desk.on(cancelled, at(31)) == [Commit((RecordEvent(cancelled),))]
    assert desk.positions[desk.by_symbol[SYMBOL]].open


def test_an_entry_ttl_after_the_fill_or_for_an_unknown_order_does_nothing() -> None:
    desk = make_desk()
    entry = entry_acked(desk)
    desk.on(FillSeen(fill("F1", entry, QTY, "100", "0.62", ts=at(2)), journaled=False), at(2))
    assert desk.on(EntryTTL(entry, 1), at(30)) == []
    assert desk.on(EntryTTL("cbenope", 1), at(30)) == []


def test_an_entry_rejected_by_the_venue_frees_the_symbol() -> None:
    desk = make_desk()
    entry = sent(desk.on(signal(), T0), OrderPurpose.ENTRY)
    desk.on(Submitted(entry.cl_ord_id), T0)
    rejected = event(entry.cl_ord_id, S.REJECTED, at(1), reason="EOrder:Insufficient funds")
    actions = desk.on(rejected, at(1))
    assert (decided(actions), logged(actions)) == ([Commit((RecordEvent(rejected),))], [("WARNING", SYMBOL)])
    assert (desk.orders[entry.cl_ord_id].status, desk.by_symbol) == (S.REJECTED, {})


def test_an_entry_that_could_not_be_journaled_is_never_sent() -> None:
    desk = make_desk()
    entry = sent(desk.on(signal(), T0), OrderPurpose.ENTRY)
    actions = desk.on(NotSent(Submit(entry), "journal failed: disk full"), T0)
    assert (decided(actions), logged(actions)) == ([], [("WARNING", SYMBOL)])
    assert (desk.orders[entry.cl_ord_id].status, desk.by_symbol) == (S.REJECTED, {})
