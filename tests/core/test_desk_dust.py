"""A position below Kraken's minimum order (a tiny first fill of an entry) can be neither protected nor sold: no
order is sent that Kraken would refuse (a stop refused for `EOrder:Order minimum not met`, then the exit, three
times, used to halt every entry for the life of the process). It waits for the entry's next fills; it risks at most
its own value, which is below the minimum order value."""

from __future__ import annotations

from crocbot.core.desk import Action, Desk, Emit, FillSeen, Submitted
from crocbot.core.messages import ExitRequest, OrderPurpose, OrderStatus, PositionChanged, PositionOpened
from crocbot.core.messages.commands import Amend, Cancel, Submit
from crocbot.core.messages.journal import RecordPositionOpened
from tests.core.desk_support import QTY, SYMBOL, D, at, event, fill, journaled, make_desk, sent, signal


def _orders(actions: list[Action]) -> list[Action]:
    return [a for a in actions if isinstance(a, Submit | Amend | Cancel)]


def _announced(actions: list[Action]) -> bool:
    return any(isinstance(a, Emit) and isinstance(a.message, PositionOpened | PositionChanged) for a in actions)


def _entry() -> tuple[Desk, str]:
    desk = make_desk()
    entry = sent(desk.on(signal(), at(0)), OrderPurpose.ENTRY).cl_ord_id
    desk.on(Submitted(entry), at(0))
    desk.on(event(entry, OrderStatus.ACKED, at(1)), at(1))
    return desk, entry


def test_a_first_fill_below_the_minimum_order_is_journaled_but_gets_no_stop_and_is_not_announced() -> None:
    desk, entry = _entry()
    actions = desk.on(
        FillSeen(fill("F1", entry, "0.01", "100", "0.004", ts=at(2)), journaled=False), at(2)
    )  # SOL's minimum is 0.02

    assert _orders(actions) == []
    assert any(isinstance(r, RecordPositionOpened) for r in journaled(actions))
    assert not _announced(actions)  # the SL manager would exit it for want of a stop: impossible too
    assert desk.ledger.position(SYMBOL) == D("0.01")


def test_the_fill_that_lifts_it_over_the_minimum_places_the_stop_for_all_of_it_and_announces_it() -> None:
    desk, entry = _entry()
    desk.on(FillSeen(fill("F1", entry, "0.01", "100", "0.004", ts=at(2)), journaled=False), at(2))

    actions = desk.on(FillSeen(fill("F2", entry, QTY - D("0.01"), "100", "0.6", ts=at(3)), journaled=False), at(3))

    stop = sent(actions, OrderPurpose.STOP)
    assert stop.qty == QTY
    assert _announced(actions)


def test_an_exit_of_a_position_below_the_minimum_sends_nothing() -> None:
    desk, entry = _entry()
    desk.on(FillSeen(fill("F1", entry, "0.01", "100", "0.004", ts=at(2)), journaled=False), at(2))
    position_id = desk.by_symbol[SYMBOL]

    actions = desk.on(ExitRequest(position_id, SYMBOL, "no live stop", at(3)), at(3))

    assert _orders(actions) == []
    assert desk.positions[position_id].exiting is False
