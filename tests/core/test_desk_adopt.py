"""Orders the journal lost, taken back into the desk's books by their client ids (`crocbot.core.desk.adoption`),
as a reconciliation plan brings them: the fills of orders the books do not know, and resting stops of crocbot's own."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from crocbot.core.desk import Action, Commit, Desk, Emit, FillSeen
from crocbot.core.desk.adoption import ADOPTED, purpose_of
from crocbot.core.ids import ClientIds
from crocbot.core.messages import Fill, OrderPurpose, OrderStatus, PositionClosed, PositionSide, Side
from crocbot.core.messages.commands import Amend, Submit
from crocbot.core.messages.journal import JournalRecord, RecordIntent, RecordPositionClosed, RecordStop
from crocbot.core.reconcile import ForeignOrderPolicy, Plan, VenueOrder
from crocbot.core.risk_sizing import widest_stop
from tests.core.desk_support import QTY, SOL, SYMBOL, T0, D, Opened, at, fill, make_desk, restored

IDS = ClientIds()


def _resting_stop(cl_ord_id: str, order_id: str, qty: Decimal, trigger: str, ts: datetime) -> VenueOrder:
    return VenueOrder(
        cl_ord_id,
        order_id,
        SYMBOL,
        OrderStatus.ACKED,
        D(0),
        None,
        ts,
        side=Side.SELL,
        order_type="stop-loss",
        qty=qty,
        trigger_price=D(trigger),
    )


def _reconcile(
    desk: Desk, now: datetime, *, fills: tuple[Fill, ...] = (), foreign: tuple[VenueOrder, ...] = ()
) -> tuple[list[Action], list[JournalRecord], list[str]]:
    """The plan applied (fills new to the journal, foreign orders left working); its actions, records and report."""
    plan = Plan(fills=fills, backfilled=frozenset(f.fill_id for f in fills), foreign=foreign)
    actions, done = desk.reconcile(plan, ForeignOrderPolicy.ADOPT, now, startup=False, journaled=frozenset())
    records = [r for a in actions if isinstance(a, Commit) for r in a.records]
    return actions, records, done


def test_the_purpose_is_read_from_crocbots_own_ids_only() -> None:
    for purpose in (OrderPurpose.ENTRY, OrderPurpose.EXIT, OrderPurpose.STOP, OrderPurpose.TAKE_PROFIT):
        assert purpose_of(IDS.new(purpose, T0)) is purpose
    for other in (None, "", "manual-order-1", "cbq0000000000000", "cbe00000", "xxe0000000000000"):
        assert purpose_of(other) is None


def test_a_lost_entry_fill_opens_its_position_under_the_venues_resting_stop_without_placing_another() -> None:
    desk = make_desk()
    entry = IDS.new(OrderPurpose.ENTRY, T0)
    venue_stop = _resting_stop(IDS.new(OrderPurpose.STOP, at(1)), "OS1", D(2), "98", at(1))
    first = fill("F1", entry, "2", "100", "0.8", ts=at(0))
    assert venue_stop.cl_ord_id is not None

    actions, records, _ = _reconcile(desk, at(5), fills=(first,), foreign=(venue_stop,))

    intents = [r for r in records if isinstance(r, RecordIntent)]
    assert [(r.intent.cl_ord_id, r.intent.purpose, r.reason) for r in intents] == [
        (entry, OrderPurpose.ENTRY, ADOPTED),
        (venue_stop.cl_ord_id, OrderPurpose.STOP, ADOPTED),
    ]
    position = desk.positions["p" + entry[3:]]
    assert (position.qty, position.entry_price, position.stop, position.initial_stop) == (D(2), D(100), D(98), D(98))
    assert (position.stop_order, position.stop_live) == (venue_stop.cl_ord_id, True)
    assert not [a for a in actions if isinstance(a, Submit)], "a second stop would double the hold on the coins"
    assert [a for a in actions if isinstance(a, Amend)] == [Amend(venue_stop.cl_ord_id, SYMBOL, at(5), qty=D(2))]
    assert desk.orders[entry].status is OrderStatus.FILLED
    assert RecordStop(position.position_id, D(98), position.stop_kind, at(1), venue_stop.cl_ord_id) in records


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

    actions, _, done = _reconcile(desk, at(5), fills=(first,))

    assert any(entry in line for line in done)  # taken back
    stops = [a.intent for a in actions if isinstance(a, Submit) and a.intent.purpose is OrderPurpose.STOP]
    assert [(s.qty, s.trigger_price) for s in stops] == [(D(2), widest)]
    assert widest is not None
    assert widest < D(100)


def test_a_lost_exit_fill_closes_the_symbols_open_position_in_the_books() -> None:
    opened = Opened.make()
    desk = opened.desk
    lost_exit = IDS.new(OrderPurpose.EXIT, at(10))
    sold = fill("F2", lost_exit, QTY, "101", "0.6", side=Side.SELL, ts=at(10))

    actions, records, done = _reconcile(desk, at(20), fills=(sold,))

    assert any(lost_exit in line for line in done)  # taken back
    assert opened.position.closed
    assert SYMBOL not in desk.by_symbol
    assert any(isinstance(r, RecordPositionClosed) for r in records)
    assert any(isinstance(a, Emit) and isinstance(a.message, PositionClosed) for a in actions)
    assert not [a for a in actions if isinstance(a, Submit)], "nothing is exited again, nothing re-protected"


def test_what_cannot_be_placed_stays_unknown() -> None:
    opened = Opened.make()
    desk = opened.desk
    other_entry = IDS.new(OrderPurpose.ENTRY, at(10))  # the symbol is held by another position
    lone_exit = IDS.new(OrderPurpose.EXIT, at(10))  # no open position on ETH/USD
    unknown = (
        fill("F9", other_entry, "1", "100", "0.4"),
        fill("F8", "manual-123", "1", "100", "0.4"),
        fill("F7", lone_exit, "1", "100", "0.4", symbol="ETH/USD"),
    )

    _, records, done = _reconcile(desk, at(20), fills=unknown)

    assert not [line for line in done if line.startswith("took back")]
    assert not [r for r in records if isinstance(r, RecordIntent)]
    assert other_entry not in desk.orders
    assert lone_exit not in desk.orders


def test_a_resting_stop_becomes_the_protection_of_a_position_without_a_stop_order_only() -> None:
    opened = Opened.make()
    extra = _resting_stop(IDS.new(OrderPurpose.STOP, at(5)), "OS2", QTY, "99", at(5))
    _, records, _ = _reconcile(opened.desk, at(6), foreign=(extra,))
    assert extra.cl_ord_id not in opened.desk.orders  # it has its stop: a second one is foreign
    assert not records

    desk = restored(opened.desk, {opened.position_id: None})  # the journal lost which order is its stop
    position = desk.positions[opened.position_id]
    assert position.stop_order is None
    _, records, done = _reconcile(desk, at(6), foreign=(extra,))

    assert (position.stop_order, position.stop_live, position.stop) == (extra.cl_ord_id, True, D(99))
    assert any(isinstance(r, RecordStop) for r in records)
    assert any(line.startswith(f"stop {extra.cl_ord_id}: taken back") for line in done)


def test_a_fill_the_books_already_booked_is_not_taken_back_after_its_order_was_forgotten() -> None:
    # Found by the live crash harness: a start-up reconciliation that took long (REST faults, the rate budget)
    # brought the entry's fill after the live feed had booked it, the position had closed and its orders had been
    # forgotten; the entry was taken back as lost, and journaling its intent again (with the fill's time) was refused
    # as a reused client order id: the journal failed and entries halted for good.
    opened = Opened.make()
    desk = opened.desk
    entry_fill = fill("F1", opened.entry, QTY, "100", "0.62", ts=at(2))
    stopped = fill("F2", opened.stop, QTY, "98", "0.6", side=Side.SELL, ts=at(5))
    desk.on(FillSeen(stopped, journaled=False), at(5))
    assert opened.position.closed
    desk.on_day_tick(at(6))  # forgets the settled position and its orders, as a running bot does
    assert opened.entry not in desk.orders

    plan = Plan(fills=(entry_fill,), backfilled=frozenset())
    actions, done = desk.reconcile(plan, ForeignOrderPolicy.ADOPT, at(7), startup=True, journaled=frozenset({"F1"}))

    records = [r for a in actions if isinstance(a, Commit) for r in a.records]
    assert not [line for line in done if line.startswith("took back")]
    assert not [r for r in records if isinstance(r, RecordIntent)]
    assert SYMBOL not in desk.by_symbol  # no position opened again
