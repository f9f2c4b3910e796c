"""The inventory fence (issue 11, part 1): no sell may exceed what crocbot holds minus what its other open sells
already commit (`crocbot.core.fence`, applied by the desk to every order and amend before the router sends it)."""

from __future__ import annotations

import dataclasses

from crocbot.core.desk import FillSeen
from crocbot.core.fence import OpenSell, fence_breach
from crocbot.core.messages import ExitRequest, OrderPurpose, OrderStatus, Side
from crocbot.core.messages.commands import Amend, Submit
from tests.core.desk_support import QTY, SYMBOL, D, Opened, at, exit_intent, fill, sent


def test_a_sell_within_what_is_held_and_not_committed_passes() -> None:
    sells = [OpenSell("stop", D("0.4"))]
    assert fence_breach("BTC/USD", "x", D("0.6"), held=D(1), open_sells=sells) is None


def test_a_sell_beyond_what_is_held_minus_the_other_sells_is_a_breach_that_names_the_figures() -> None:
    sells = [OpenSell("stop", D("0.4"))]
    breach = fence_breach("BTC/USD", "x", D("0.7"), held=D(1), open_sells=sells)
    assert breach is not None
    assert "0.7" in breach
    assert "0.4" in breach


def test_the_orders_an_exit_waits_to_see_cancelled_do_not_count_against_it() -> None:
    sells = [OpenSell("stop", D(1))]
    assert fence_breach("BTC/USD", "x", D(1), held=D(1), open_sells=sells, after_cancels=("stop",)) is None
    assert fence_breach("BTC/USD", "x", D(1), held=D(1), open_sells=sells) is not None


def test_nothing_held_means_no_sell_at_all() -> None:
    assert fence_breach("BTC/USD", "x", D("0.00000001"), held=D(0), open_sells=()) is not None
    assert fence_breach("BTC/USD", "x", D("0.00000001"), held=D(-1), open_sells=()) is not None


def test_the_desks_own_exit_behind_its_stop_passes_the_fence() -> None:
    opened = Opened.make()
    actions = opened.desk.on(ExitRequest(opened.position_id, SYMBOL, "manual", at(10)), at(10))
    (send,) = [a for a in actions if isinstance(a, Submit)]
    assert opened.desk.fence(send) is None


def test_an_exit_beside_the_resting_stop_would_sell_the_coins_twice_and_is_a_breach() -> None:
    opened = Opened.make()
    beside = Submit(exit_intent("cbxbeside", QTY, at(10)))
    assert opened.desk.fence(beside) is not None


def test_a_stop_grown_beyond_the_position_is_a_breach() -> None:
    opened = Opened.make()
    assert opened.desk.fence(Amend(opened.stop, SYMBOL, at(10), qty=QTY)) is None
    assert opened.desk.fence(Amend(opened.stop, SYMBOL, at(10), qty=QTY + D("0.01"))) is not None


def test_a_sell_after_the_stop_sold_the_position_is_a_breach() -> None:
    opened = Opened.make()
    opened.desk.on(
        FillSeen(fill("S1", opened.stop, QTY, "97.9", "0.61", side=Side.SELL, ts=at(10)), journaled=False), at(10)
    )
    again = Submit(exit_intent("cbxagain", QTY, at(11)))
    assert opened.desk.fence(again) is not None


def test_buys_and_amends_of_price_alone_are_not_fenced() -> None:
    opened = Opened.make()
    buy = dataclasses.replace(exit_intent("cbebuy", QTY * 10, at(10)), side=Side.BUY, purpose=OrderPurpose.ENTRY)
    assert opened.desk.fence(Submit(buy)) is None
    assert opened.desk.fence(Amend(opened.stop, SYMBOL, at(10), trigger_price=D("99"))) is None


def test_a_refused_exit_keeps_its_stop_uncancelled_and_counts_as_a_refusal() -> None:
    opened = Opened.make()
    desk = opened.desk
    actions = desk.on(ExitRequest(opened.position_id, SYMBOL, "manual", at(10)), at(10))
    exit_ = sent(actions, OrderPurpose.EXIT)
    (send,) = [a for a in actions if isinstance(a, Submit)]

    refused = desk.not_sent_at_all(send, "inventory fence: test", at(10))

    assert desk.orders[exit_.cl_ord_id].status is OrderStatus.REJECTED
    assert opened.position.stop_order == opened.stop  # still the position's stop: its cancel never went out
    assert opened.position.refusals == 1
    assert not [a for a in refused if isinstance(a, Submit)]  # no second stop beside the one still resting
    assert opened.stop not in desk.stop_cancels
