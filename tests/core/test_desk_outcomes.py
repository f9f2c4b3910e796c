"""The desk's tally of ended orders, which the router drains into `crocbot_order_outcomes_total` after every message.

Each order is counted once, at its end, whatever ended it: a venue event, a fill, reconciliation (which applies the
venue's word through the same desk calls, under an `ApplyReconciliation` that names no order), or the fence refusing
it before it went out. `unknown` is not an end: an order whose send went unanswered is counted when it ends.
"""

from __future__ import annotations

from crocbot.core.desk import FillSeen, NotSent, Submitted
from crocbot.core.messages import OrderPurpose, OrderStatus
from crocbot.core.messages.commands import Submit
from tests.core.desk_support import T0, Opened, at, event, fill, make_desk, sent, signal


def test_an_order_is_counted_once_when_it_ends_and_the_tally_is_taken_once() -> None:
    desk = make_desk()
    entry = sent(desk.on(signal(), T0), OrderPurpose.ENTRY)
    desk.on(Submitted(entry.cl_ord_id), T0)
    desk.on(event(entry.cl_ord_id, OrderStatus.ACKED, at(1)), at(1))

    assert desk.take_ended() == {}
    desk.on(event(entry.cl_ord_id, OrderStatus.CANCELLED, at(2)), at(2))
    desk.on(event(entry.cl_ord_id, OrderStatus.CANCELLED, at(3)), at(3))  # said twice
    assert desk.take_ended() == {OrderStatus.CANCELLED: 1}
    assert desk.take_ended() == {}


def test_an_order_unknown_then_filled_counts_once_as_filled() -> None:
    desk = make_desk(entry_order="market")
    entry = sent(desk.on(signal(), T0), OrderPurpose.ENTRY)
    desk.on(Submitted(entry.cl_ord_id), T0)
    desk.on(event(entry.cl_ord_id, OrderStatus.UNKNOWN, at(5)), at(5))

    assert desk.take_ended() == {}
    desk.on(FillSeen(fill("F1", entry.cl_ord_id, entry.qty, "100", "0.62", ts=at(6)), journaled=False), at(6))
    desk.on(event(entry.cl_ord_id, OrderStatus.FILLED, at(7)), at(7))  # the event after the fill
    assert desk.take_ended() == {OrderStatus.FILLED: 1}


def test_a_stop_reconciliation_finds_cancelled_is_counted() -> None:
    opened = Opened.make()
    opened.desk.take_ended()  # the entry's fill

    opened.desk.on(event(opened.stop, OrderStatus.CANCELLED, at(60), reason="reconciliation"), at(60))

    assert opened.desk.take_ended() == {OrderStatus.CANCELLED: 1}


def test_an_order_the_fence_refuses_is_counted_as_rejected() -> None:
    desk = make_desk()
    send = next(a for a in desk.on(signal(), T0) if isinstance(a, Submit))

    desk.on(NotSent(send, "the fence: sells more than held"), T0)

    assert desk.take_ended() == {OrderStatus.REJECTED: 1}
