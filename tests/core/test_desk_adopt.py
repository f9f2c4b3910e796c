"""Orders the journal lost, taken back into the desk's books by their client ids (`crocbot.core.desk.adoption`)."""

from __future__ import annotations

from crocbot.core.desk import Emit, Record
from crocbot.core.desk.adoption import ADOPTED, VenueStop, adopt_filled, adopt_stop, purpose_of, stop_adopted
from crocbot.core.ids import ClientIds
from crocbot.core.messages import OrderPurpose, OrderStatus, PositionClosed, PositionSide, Side
from crocbot.core.messages.commands import Amend, Submit
from crocbot.core.messages.journal import RecordIntent, RecordPositionClosed, RecordStop
from crocbot.core.risk_sizing import widest_stop
from tests.core.desk_support import QTY, SOL, SYMBOL, T0, D, Opened, at, fill, make_desk

IDS = ClientIds()


def test_the_purpose_is_read_from_crocbots_own_ids_only() -> None:
    for purpose in (OrderPurpose.ENTRY, OrderPurpose.EXIT, OrderPurpose.STOP, OrderPurpose.TAKE_PROFIT):
        assert purpose_of(IDS.new(purpose, T0)) is purpose
    for other in (None, "", "manual-order-1", "cbq0000000000000", "cbe00000", "xxe0000000000000"):
        assert purpose_of(other) is None


def test_a_lost_entry_fill_opens_its_position_under_the_venues_resting_stop_without_placing_another() -> None:
    desk = make_desk()
    entry = IDS.new(OrderPurpose.ENTRY, T0)
    venue_stop = VenueStop(IDS.new(OrderPurpose.STOP, at(1)), SYMBOL, Side.SELL, D(2), D("98"), "OS1", at(1))
    first = fill("F1", entry, "2", "100", "0.8", ts=at(0))

    adopted = adopt_filled(desk, first, D(2), at(5), stop=venue_stop)
    booked = desk.on_fill(first, at(5))

    assert adopted is not None
    intents = [a.message for a in adopted if isinstance(a, Record) and isinstance(a.message, RecordIntent)]
    assert [(r.intent.cl_ord_id, r.intent.purpose, r.reason) for r in intents] == [
        (entry, OrderPurpose.ENTRY, ADOPTED),
        (venue_stop.cl_ord_id, OrderPurpose.STOP, ADOPTED),
    ]
    position = desk.positions["p" + entry[3:]]
    assert (position.qty, position.entry_price, position.stop, position.initial_stop) == (D(2), D(100), D(98), D(98))
    assert (position.stop_order, position.stop_live) == (venue_stop.cl_ord_id, True)
    assert not [a for a in booked if isinstance(a, Submit)], "a second stop would double the hold on the coins"
    assert [a for a in booked if isinstance(a, Amend)] == [Amend(venue_stop.cl_ord_id, SYMBOL, at(5), qty=D(2))]
    assert desk.orders[entry].status is OrderStatus.FILLED
    records = stop_adopted(desk, position.position_id)
    assert [r.message for r in records] == [
        RecordStop(position.position_id, D(98), position.stop_kind, at(1), venue_stop.cl_ord_id)
    ]


def test_a_lost_entry_without_a_resting_stop_gets_the_widest_stop_the_risk_limit_allows() -> None:
    desk = make_desk()
    entry = IDS.new(OrderPurpose.ENTRY, T0)
    first = fill("F1", entry, "2", "100", "0.8")
    limit = desk.risk.limits.fail_safe_loss(desk.equity())
    widest = widest_stop(
        PositionSide.LONG,
        qty=D(2),
        entry=D(100),
        max_loss=limit,
        instrument=SOL,
        slippage=desk.risk.limits.slippage_allowance,
    )

    assert adopt_filled(desk, first, D(2), at(5)) is not None
    booked = desk.on_fill(first, at(5))

    stops = [a.intent for a in booked if isinstance(a, Submit) and a.intent.purpose is OrderPurpose.STOP]
    assert [(s.qty, s.trigger_price) for s in stops] == [(D(2), widest)]
    assert widest is not None
    assert widest < D(100)


def test_a_lost_exit_fill_closes_the_symbols_open_position_in_the_books() -> None:
    opened = Opened.make()
    desk = opened.desk
    lost_exit = IDS.new(OrderPurpose.EXIT, at(10))
    sold = fill("F2", lost_exit, QTY, "101", "0.6", side=Side.SELL, ts=at(10))

    assert adopt_filled(desk, sold, QTY, at(20)) is not None
    booked = desk.on_fill(sold, at(20))

    assert opened.position.closed
    assert SYMBOL not in desk.by_symbol
    assert any(isinstance(a, Record) and isinstance(a.message, RecordPositionClosed) for a in booked)
    assert any(isinstance(a, Emit) and isinstance(a.message, PositionClosed) for a in booked)
    assert not [a for a in booked if isinstance(a, Submit)], "nothing is exited again, nothing re-protected"


def test_what_cannot_be_placed_stays_unknown() -> None:
    opened = Opened.make()
    desk = opened.desk
    other_entry = IDS.new(OrderPurpose.ENTRY, at(10))  # the symbol is held by another position
    assert adopt_filled(desk, fill("F9", other_entry, "1", "100", "0.4"), D(1), at(20)) is None
    assert adopt_filled(desk, fill("F8", "manual-123", "1", "100", "0.4"), D(1), at(20)) is None
    lone_exit = IDS.new(OrderPurpose.EXIT, at(10))  # no open position on ETH/USD
    assert adopt_filled(desk, fill("F7", lone_exit, "1", "100", "0.4", symbol="ETH/USD"), D(1), at(20)) is None
    assert other_entry not in desk.orders
    assert lone_exit not in desk.orders


def test_a_resting_stop_becomes_the_protection_of_a_position_without_a_stop_order_only() -> None:
    opened = Opened.make()
    desk, position = opened.desk, opened.position
    extra = VenueStop(IDS.new(OrderPurpose.STOP, at(5)), SYMBOL, Side.SELL, QTY, D("99"), "OS2", at(5))
    assert adopt_stop(desk, extra, at(6)) is None  # it has its stop: a second one is foreign

    position.stop_order, position.stop_live = None, False
    actions = adopt_stop(desk, extra, at(6))

    assert actions is not None
    assert (position.stop_order, position.stop_live, position.stop) == (extra.cl_ord_id, True, D(99))
    assert any(isinstance(a, Record) and isinstance(a.message, RecordStop) for a in actions)
