"""The order state machine accepts exactly the transitions in ALLOWED (and a few facts checked by hand, apart from
the table), books each fill once, refuses over-fills and amends of finished orders, and a refused change leaves
the order as it was."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from crocbot.core.messages import (
    Fill,
    Liquidity,
    OrderIntent,
    OrderPurpose,
    OrderStatus,
    OrderType,
    Side,
)
from crocbot.core.order_state import ALLOWED, IllegalTransition, TrackedOrder

D = Decimal
S = OrderStatus
T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
T1 = T0 + timedelta(seconds=1)
CL = "cbemk0xjmo000aaa1"


def intent(qty: str = "1", *, limit: str | None = "100", trigger: str | None = None) -> OrderIntent:
    order_type = OrderType.LIMIT if trigger is None else OrderType.STOP_LOSS_LIMIT
    return OrderIntent(
        cl_ord_id=CL,
        symbol="SOL/USD",
        side=Side.BUY,
        order_type=order_type,
        qty=D(qty),
        purpose=OrderPurpose.ENTRY,
        ts=T0,
        limit_price=None if limit is None else D(limit),
        trigger_price=None if trigger is None else D(trigger),
    )


def order(status: OrderStatus = S.CREATED, qty: str = "1") -> TrackedOrder:
    return TrackedOrder(intent(qty), "p1", status=status)


def status_of(tracked: TrackedOrder) -> OrderStatus:
    """Read through a call: mypy keeps `tracked.status` narrowed by an earlier assert across the calls that change
    it, and would call the next comparison impossible."""
    return tracked.status


def fill(fill_id: str, qty: str, price: str, fee: str = "0", *, cl_ord_id: str = CL) -> Fill:
    return Fill(fill_id, cl_ord_id, "O1", "SOL/USD", Side.BUY, D(qty), D(price), D(fee), "USD", Liquidity.TAKER, T1)


# -- the whole matrix against the table --------------------------------------------------------------------


@pytest.mark.parametrize(("start", "to"), list(itertools.product(OrderStatus, OrderStatus)), ids=str)
def test_every_transition_follows_the_table(start: OrderStatus, to: OrderStatus) -> None:
    tracked = order(start)
    if to is start and to is not S.PARTIALLY_FILLED:
        assert tracked.move(to, T1) is False  # a repeat of the current state is no change, never an error
        assert tracked.updated_at == T0
    elif to in ALLOWED[start]:
        assert tracked.move(to, T1, "why") is True
        assert (tracked.status, tracked.updated_at, tracked.reason) == (to, T1, "why")
    else:
        with pytest.raises(IllegalTransition, match=f"{start} -> {to} is not allowed"):
            tracked.move(to, T1, "why")
        assert (tracked.status, tracked.updated_at, tracked.reason) == (start, T0, "")


def test_the_table_covers_every_status() -> None:
    assert set(ALLOWED) == set(OrderStatus)


# -- facts checked by hand, independent of the table -------------------------------------------------------


def test_the_happy_path_created_submitted_acked_partially_filled_filled() -> None:
    tracked = order()
    for to in (S.SUBMITTED, S.ACKED, S.PARTIALLY_FILLED, S.PARTIALLY_FILLED, S.FILLED):
        assert tracked.move(to, T1) is True
    assert tracked.status is S.FILLED


@pytest.mark.parametrize("terminal", [S.FILLED, S.CANCELLED, S.REPLACED, S.REJECTED, S.EXPIRED, S.ERROR])
def test_a_finished_order_goes_nowhere(terminal: OrderStatus) -> None:
    assert terminal.is_terminal
    for to in OrderStatus:
        if to is terminal:
            continue
        with pytest.raises(IllegalTransition):
            order(terminal).move(to, T1)


def test_a_fill_may_overtake_the_ack() -> None:
    tracked = order(S.SUBMITTED)
    assert tracked.move(S.FILLED, T1) is True
    partly = order(S.SUBMITTED)
    assert partly.move(S.PARTIALLY_FILLED, T1) is True


def test_an_order_whose_send_timed_out_is_looked_up_not_resent() -> None:
    assert order(S.UNKNOWN).move(S.FILLED, T1) is True
    with pytest.raises(IllegalTransition):
        order(S.UNKNOWN).move(S.SUBMITTED, T1)


def test_no_skipping_the_send_and_no_going_back() -> None:
    with pytest.raises(IllegalTransition):
        order(S.CREATED).move(S.ACKED, T1)
    with pytest.raises(IllegalTransition):
        order(S.ACKED).move(S.SUBMITTED, T1)
    with pytest.raises(IllegalTransition):
        order(S.PARTIALLY_FILLED).move(S.ACKED, T1)


def test_only_an_acked_order_can_be_replaced() -> None:
    assert order(S.ACKED).move(S.REPLACED, T1) is True
    with pytest.raises(IllegalTransition):
        order(S.PARTIALLY_FILLED).move(S.REPLACED, T1)


# -- fills ---------------------------------------------------------------------------------------------------


def test_fills_accumulate_and_drive_the_status() -> None:
    tracked = order(S.ACKED, qty="1")
    assert tracked.apply_fill(fill("F1", "0.4", "100", "0.16")) is True
    assert (tracked.status, tracked.filled, tracked.remaining) == (S.PARTIALLY_FILLED, D("0.4"), D("0.6"))
    assert tracked.apply_fill(fill("F2", "0.6", "101", "0.2424")) is True
    assert (tracked.status, tracked.filled, tracked.remaining) == (S.FILLED, D("1.0"), D("0"))
    assert tracked.cost == D("100.6")  # 40 + 60.6
    assert tracked.fees == D("0.4024")
    assert tracked.avg_price == D("100.6")
    assert tracked.fill_ids == {"F1", "F2"}
    assert tracked.updated_at == T1


def test_avg_price_is_none_before_any_fill_and_weighted_after() -> None:
    tracked = order(S.ACKED, qty="3")
    assert tracked.avg_price is None
    tracked.apply_fill(fill("F1", "1", "100"))
    tracked.apply_fill(fill("F2", "2", "103"))
    assert tracked.avg_price == D("102")  # (100 + 206) / 3


def test_a_duplicate_fill_id_is_ignored() -> None:
    tracked = order(S.ACKED, qty="1")
    assert tracked.apply_fill(fill("F1", "0.4", "100", "0.1")) is True
    assert tracked.apply_fill(fill("F1", "0.4", "100", "0.1")) is False
    assert (tracked.filled, tracked.cost, tracked.fees, tracked.status) == (
        D("0.4"),
        D("40.0"),
        D("0.1"),
        S.PARTIALLY_FILLED,
    )


def test_an_over_fill_raises_and_changes_nothing() -> None:
    tracked = order(S.ACKED, qty="1")
    tracked.apply_fill(fill("F1", "0.7", "100"))
    with pytest.raises(IllegalTransition, match=r"over-fills 0\.7 of 1"):
        tracked.apply_fill(fill("F2", "0.31", "100"))
    assert (tracked.filled, tracked.fill_ids, tracked.status) == (D("0.7"), {"F1"}, S.PARTIALLY_FILLED)


def test_a_fill_for_another_order_raises() -> None:
    with pytest.raises(IllegalTransition, match="is for cbeother, not"):
        order(S.ACKED).apply_fill(fill("F1", "0.5", "100", cl_ord_id="cbeother"))


def test_a_fill_refused_by_the_state_machine_changes_nothing() -> None:
    # The venue reported the order filled before its two fills came in: the first, partial fill would move it
    # back to partially filled. It is refused, and the order must not half-book it (a retry would then be
    # dropped as a duplicate).
    tracked = order(S.SUBMITTED, qty="1")
    tracked.move(S.FILLED, T0)
    with pytest.raises(IllegalTransition):
        tracked.apply_fill(fill("F1", "0.4", "100", "0.1"))
    assert (tracked.filled, tracked.cost, tracked.fees, tracked.fill_ids) == (D("0"), D("0"), D("0"), set())
    assert tracked.status is S.FILLED


def test_the_one_fill_of_an_order_already_reported_filled_is_booked() -> None:
    tracked = order(S.SUBMITTED, qty="1")
    tracked.move(S.FILLED, T0)
    assert tracked.apply_fill(fill("F1", "1", "100")) is True
    assert (tracked.filled, tracked.status) == (D("1"), S.FILLED)


def test_a_fill_on_an_order_never_sent_raises() -> None:
    with pytest.raises(IllegalTransition):
        order(S.CREATED).apply_fill(fill("F1", "0.5", "100"))


# -- amends and the rest -------------------------------------------------------------------------------------


def test_an_amend_changes_the_prices_in_place() -> None:
    tracked = TrackedOrder(intent(limit="99", trigger="100"), "p1", status=S.ACKED)
    assert (tracked.limit_price, tracked.trigger_price) == (D("99"), D("100"))
    tracked.amended(T1, trigger_price=D("101"))
    assert (tracked.limit_price, tracked.trigger_price, tracked.amends, tracked.updated_at) == (
        D("99"),
        D("101"),
        1,
        T1,
    )
    tracked.amended(T1, limit_price=D("100.5"))
    assert (tracked.limit_price, tracked.trigger_price, tracked.amends) == (D("100.5"), D("101"), 2)
    assert tracked.cl_ord_id == CL  # Kraken amends in place: same ids


@pytest.mark.parametrize("terminal", [S.FILLED, S.CANCELLED, S.REPLACED, S.REJECTED, S.EXPIRED, S.ERROR])
def test_amending_a_finished_order_raises(terminal: OrderStatus) -> None:
    tracked = order(terminal)
    with pytest.raises(IllegalTransition, match=f"cannot amend a {terminal} order"):
        tracked.amended(T1, limit_price=D("101"))
    assert (tracked.limit_price, tracked.amends) == (D("100"), 0)


def test_is_open_means_on_the_venue_or_possibly_so() -> None:
    assert {s for s in OrderStatus if order(s).is_open} == {S.SUBMITTED, S.UNKNOWN, S.ACKED, S.PARTIALLY_FILLED}


def test_a_new_order_takes_its_prices_and_times_from_the_intent() -> None:
    tracked = order()
    assert (tracked.limit_price, tracked.trigger_price, tracked.created_at, tracked.updated_at) == (
        D("100"),
        None,
        T0,
        T0,
    )
    assert (tracked.symbol, tracked.purpose, tracked.remaining) == ("SOL/USD", OrderPurpose.ENTRY, D("1"))


def test_an_amended_size_is_the_orders_size_for_the_fills_that_follow() -> None:
    """A stop grown by an amend (a second entry fill) takes fills up to its new size, not the intent's."""
    tracked = order(S.ACKED, qty="2")
    tracked.amended(T1, qty=Decimal("3"))
    assert tracked.apply_fill(fill("F1", "2", "100"))
    assert tracked.status is S.PARTIALLY_FILLED
    assert tracked.remaining == Decimal("1")
    assert tracked.apply_fill(fill("F2", "1", "100"))
    assert status_of(tracked) is S.FILLED


def test_an_amend_below_the_filled_size_is_refused() -> None:
    tracked = order(S.ACKED, qty="2")
    tracked.apply_fill(fill("F1", "1.5", "100"))
    with pytest.raises(IllegalTransition, match=r"below the 1\.5 already filled"):
        tracked.amended(T1, qty=Decimal("1"))
    assert tracked.qty == Decimal("2")
