"""The desk forgets settled business once a day, so that a bot running for months does not carry every order."""

from __future__ import annotations

from datetime import timedelta

from crocbot.core.desk import FillSeen
from crocbot.core.messages import Side
from tests.core.desk_support import QTY, SYMBOL, Opened, at, fill


def test_a_day_tick_forgets_a_closed_position_and_its_ended_orders() -> None:
    opened = Opened.make()
    desk = opened.desk
    desk.on(FillSeen(fill("S1", opened.stop, QTY, "98", "0.61", side=Side.SELL, ts=at(10)), journaled=False), at(10))
    assert not desk.open_positions()
    assert set(desk.orders) == {opened.entry, opened.stop}  # the day is not over: still at hand

    desk.on_day_tick(at(10) + timedelta(days=1))

    assert dict(desk.orders) == {}
    assert dict(desk.positions) == {}
    assert desk.ledger.position(SYMBOL) == 0  # the books are the ledger's, untouched


def test_a_day_tick_keeps_an_open_position_and_every_order_of_it() -> None:
    opened = Opened.make()
    desk = opened.desk

    desk.on_day_tick(at(10) + timedelta(days=1))

    assert set(desk.orders) == {opened.entry, opened.stop}
    assert set(desk.positions) == {opened.position_id}
    assert desk.positions[opened.position_id].stop_live


def test_a_closed_position_with_an_order_still_working_is_kept_until_that_order_ends() -> None:
    first = Opened.make()
    desk = first.desk
    exit_ = first.exit_requested(10)  # the stop's cancel and the exit are on their way: neither has ended
    desk.on(FillSeen(fill("X1", exit_, QTY, "99", "0.6", side=Side.SELL, ts=at(11)), journaled=False), at(11))
    assert not desk.open_positions()  # closed by the exit's fill, while its stop's cancel is unanswered

    desk.on_day_tick(at(11) + timedelta(days=1))

    assert first.stop in desk.orders
    assert not desk.orders[first.stop].status.is_terminal
    assert first.position_id in desk.positions
    assert exit_ in desk.orders  # its position is kept whole while one of its orders works
