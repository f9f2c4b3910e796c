"""The pure comparison of the books with the venue (`crocbot.core.reconcile`)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from crocbot.core.messages import Fill, Liquidity, OrderPurpose, OrderStatus, Side
from crocbot.core.reconcile import (
    NEVER_SENT,
    BookOrder,
    BooksView,
    VenueOrder,
    VenueView,
    reconcile,
)

T0 = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
NOW = T0 + timedelta(minutes=10)
D = Decimal


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def fill(fill_id: str, cl_ord_id: str = "cbe1", ts: datetime = T0, qty: str = "0.1") -> Fill:
    return Fill(fill_id, cl_ord_id, "O1", "BTC/USD", Side.BUY, D(qty), D("50000"), D("2"), "USD", Liquidity.TAKER, ts)


def book(
    cl_ord_id: str, status: OrderStatus, sent: datetime = T0, purpose: OrderPurpose = OrderPurpose.ENTRY
) -> BookOrder:
    return BookOrder(cl_ord_id, "BTC/USD", purpose, status, sent)


def venue_order(cl_ord_id: str | None, status: OrderStatus, ts: datetime = T0, filled: str = "0") -> VenueOrder:
    return VenueOrder(cl_ord_id, "O-" + (cl_ord_id or "x"), "BTC/USD", status, D(filled), None, ts)


def books(
    orders: tuple[BookOrder, ...] = (),
    journaled: frozenset[str] = frozenset(),
    unbooked: frozenset[str] = frozenset(),
    holdings: dict[str, D] | None = None,
) -> BooksView:
    return BooksView(orders, journaled, unbooked, holdings or {})


def venue(
    orders: tuple[VenueOrder, ...] = (),
    fills: tuple[Fill, ...] = (),
    balances: dict[str, D] | None = None,
    as_of: datetime = NOW,
) -> VenueView:
    return VenueView(orders, fills, balances or {}, as_of)


def test_books_that_agree_with_the_venue_need_nothing() -> None:
    plan = reconcile(
        books((book("cbs1", OrderStatus.ACKED, purpose=OrderPurpose.STOP),), frozenset({"F1"})),
        venue((venue_order("cbs1", OrderStatus.ACKED),), (fill("F1"),)),
    )
    assert plan.clean
    assert plan.summary() == "books agree with the venue"


def test_a_fill_only_the_venue_knows_is_backfilled_and_one_only_the_ledger_lacks_is_booked() -> None:
    plan = reconcile(
        books(journaled=frozenset({"F1", "F2"}), unbooked=frozenset({"F2"})),
        venue(fills=(fill("F3", ts=at(3)), fill("F1", ts=at(1)))),
        recorded=(fill("F2", ts=at(2)),),
    )
    assert [f.fill_id for f in plan.fills] == ["F2", "F3"]  # oldest first
    assert plan.backfilled == frozenset({"F3"})  # F2 is journaled: only the ledger lacks it


def test_a_journaled_fill_the_ledger_lacks_is_booked_however_recent_it_is() -> None:
    # a crash between the fill's journaling and the ledger's save, seconds ago: a fact, not news still on its way
    plan = reconcile(
        books(journaled=frozenset({"F1"}), unbooked=frozenset({"F1"})),
        venue(),
        recorded=(fill("F1", ts=NOW),),
        grace=timedelta(seconds=30),
    )
    assert [f.fill_id for f in plan.fills] == ["F1"]
    assert plan.backfilled == frozenset()


def test_a_fill_listed_twice_is_booked_once_from_the_venue_copy() -> None:
    venue_copy, logged_copy = fill("F1", qty="0.1"), fill("F1", qty="0.1")
    plan = reconcile(books(), venue(fills=(venue_copy,)), recorded=(logged_copy,))
    assert plan.fills == (venue_copy,)


def test_an_intent_the_venue_never_saw_is_rejected_as_never_sent() -> None:
    plan = reconcile(books((book("cbe1", OrderStatus.SUBMITTED),)), venue())
    assert [(e.cl_ord_id, e.status, e.reason) for e in plan.events] == [("cbe1", OrderStatus.REJECTED, NEVER_SENT)]
    assert plan.not_at_venue == ()


def test_an_order_the_venue_holds_unexecuted_is_on_its_way_not_lost_however_old_it_is() -> None:
    held = VenueView((), (), {}, NOW, pending=frozenset({"cbe1", "cbs1"}))
    plan = reconcile(
        books((book("cbe1", OrderStatus.SUBMITTED), book("cbs1", OrderStatus.ACKED, purpose=OrderPurpose.STOP))),
        held,
    )
    assert plan.clean
    assert plan.not_at_venue == ()


def test_terms_the_venue_confirmed_that_the_books_missed_are_amended_and_equal_terms_are_left_alone() -> None:
    stop = BookOrder(
        "cbs1", "BTC/USD", OrderPurpose.STOP, OrderStatus.ACKED, T0, qty=D("0.1"), trigger_price=D("49000")
    )
    same = BookOrder("cbs2", "BTC/USD", OrderPurpose.STOP, OrderStatus.ACKED, T0, qty=D("0.2"), trigger_price=D(1))
    seen = VenueOrder(
        "cbs1", "O1", "BTC/USD", OrderStatus.ACKED, D(0), None, at(5), qty=D("0.3"), trigger_price=D("49000")
    )
    also = VenueOrder("cbs2", "O2", "BTC/USD", OrderStatus.ACKED, D(0), None, at(5), qty=D("0.2"), trigger_price=D(1))

    plan = reconcile(books((stop, same)), venue((seen, also)))

    assert [(a.cl_ord_id, a.qty, a.limit_price, a.trigger_price) for a in plan.amended] == [
        ("cbs1", D("0.3"), None, None)
    ]
    assert not plan.clean
    assert "1 amends the books missed" in plan.summary()


def test_an_intent_the_venue_has_is_acknowledged_and_a_closed_order_gets_the_venues_final_word() -> None:
    plan = reconcile(
        books((book("cbe1", OrderStatus.SUBMITTED), book("cbs1", OrderStatus.ACKED, purpose=OrderPurpose.STOP))),
        venue((venue_order("cbe1", OrderStatus.ACKED), venue_order("cbs1", OrderStatus.FILLED, at(5), "0.1"))),
    )
    assert [(e.cl_ord_id, e.status, e.filled_qty) for e in plan.events] == [
        ("cbe1", OrderStatus.ACKED, D(0)),
        ("cbs1", OrderStatus.FILLED, D("0.1")),
    ]


def test_an_acknowledged_order_the_venue_does_not_know_is_flagged() -> None:
    plan = reconcile(books((book("cbs1", OrderStatus.ACKED, purpose=OrderPurpose.STOP),)), venue())
    assert plan.not_at_venue == ("cbs1",)
    assert "unknown to the venue" in plan.summary()


def test_open_venue_orders_the_books_do_not_hold_open_are_foreign() -> None:
    manual = venue_order(None, OrderStatus.ACKED)
    closed_in_books = venue_order("cbe9", OrderStatus.ACKED)  # the books think it ended: nobody manages it
    done = venue_order("cbe8", OrderStatus.FILLED)
    plan = reconcile(books(), venue((manual, closed_in_books, done)))
    assert plan.foreign == (manual, closed_in_books)


def test_grace_leaves_what_may_still_be_in_flight_alone() -> None:
    recent = NOW - timedelta(seconds=5)
    plan = reconcile(
        books((book("cbe1", OrderStatus.SUBMITTED, sent=recent), book("cbs1", OrderStatus.ACKED))),
        venue((venue_order("cbs1", OrderStatus.FILLED, recent, "0.1"), venue_order("cbx", OrderStatus.ACKED, recent))),
        recorded=(),
        grace=timedelta(seconds=30),
    )
    assert plan.clean
    late = reconcile(
        books((book("cbe1", OrderStatus.SUBMITTED, sent=recent),)),
        venue(as_of=NOW + timedelta(seconds=60)),
        grace=timedelta(seconds=30),
    )
    assert [e.status for e in late.events] == [OrderStatus.REJECTED]


def test_balances_are_compared_for_the_assets_the_books_hold_once_no_fill_is_pending() -> None:
    holdings = {"USD": D("9000"), "BTC": D("0.02")}
    balances = {"USD": D("9000"), "BTC": D("0.03"), "DOGE": D("5")}
    plan = reconcile(books(holdings=holdings), venue(balances=balances))
    assert plan.balance_gaps == (("BTC", D("0.02"), D("0.03")),)
    pending = reconcile(books(holdings=holdings), venue(fills=(fill("F1"),), balances=balances))
    assert pending.balance_gaps == ()  # the books will hold it once the fill is booked
    in_flight = reconcile(
        books(holdings=holdings, journaled=frozenset({"F1"})),
        venue(fills=(fill("F1", ts=NOW),), balances=balances),
        grace=timedelta(seconds=30),
    )
    assert in_flight.balance_gaps == ()
