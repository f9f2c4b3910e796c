"""Stop updates (`crocbot.core.desk.stop_updates`): the newest stop the SL manager wants reaches the venue, one amend in
flight per stop order, within the pair's trading counter, and an amend without an answer is looked up."""

from __future__ import annotations

from decimal import Decimal

from crocbot.core.desk import Action, LookupDue, Note, StartTimer, StopBudgetDue, Submitted
from crocbot.core.desk.stop_updates import StopOutcome, StopUpdates
from crocbot.core.messages import (
    RATE_LIMITED,
    UNSENT,
    CommandRejected,
    CommandUnknown,
    ExitRequest,
    OrderAmended,
    OrderEvent,
    OrderLookedUp,
    OrderPurpose,
    OrderStatus,
    StopAmendRequest,
    StopKind,
)
from crocbot.core.messages.commands import Amend, Query
from crocbot.core.messages.journal import RecordAmend, RecordEvent, RecordStop
from crocbot.core.trading_counter import TradingCounter
from tests.core.desk_support import SYMBOL, Opened, at, event, journaled, make_desk, sent

D = Decimal


def _opened(*, threshold: float = 60.0, decay: float = 1.0) -> Opened:
    desk = make_desk(stop_updates=StopUpdates(TradingCounter(threshold, decay)))
    opened = Opened.make(desk)
    desk.on_mark(SYMBOL, D("103"))
    return opened


def _wish(opened: Opened, stop: str, seconds: float, kind: StopKind = StopKind.TRAILING) -> list[Action]:
    request = StopAmendRequest(opened.position_id, SYMBOL, D(stop), kind, at(seconds))
    return opened.desk.on(request, at(seconds))


def _amends(actions: list[Action]) -> list[Amend]:
    return [a for a in actions if isinstance(a, Amend)]


def _confirm(opened: Opened, stop: str, seconds: float) -> list[Action]:
    return opened.desk.on(OrderAmended(opened.stop, at(seconds), trigger_price=D(stop)), at(seconds))


# -- conflation ----------------------------------------------------------------------------------------------


def test_a_newer_stop_desired_while_an_amend_is_in_flight_is_sent_when_it_ends() -> None:
    opened = _opened()
    assert _wish(opened, "100", 20) == [Amend(opened.stop, SYMBOL, at(20), trigger_price=D("100"))]
    assert _wish(opened, "100.5", 21) == []  # one amend in flight per stop order
    assert _wish(opened, "101", 22) == []
    actions = _confirm(opened, "100", 23)
    assert _amends(actions) == [Amend(opened.stop, SYMBOL, at(23), trigger_price=D("101"))]  # the newest only
    assert opened.position.stop == D("100")
    assert opened.position.pending_stop == (D("101"), StopKind.TRAILING)
    tally = opened.desk.stop_updates.take_tally()
    assert tally == {StopOutcome.SENT: 2, StopOutcome.CONFLATED: 1, StopOutcome.CONFIRMED: 1}


def test_a_waiting_wish_no_longer_tighter_than_the_confirmed_stop_is_not_sent() -> None:
    opened = _opened()
    _wish(opened, "101", 20)
    assert _wish(opened, "100.5", 21) == []  # tighter than the live 98, looser than the amend in flight
    assert _amends(_confirm(opened, "101", 22)) == []
    assert (opened.position.stop, opened.position.pending_stop, opened.position.wanted_stop) == (D("101"), None, None)
    assert opened.desk.stop_updates.take_tally()[StopOutcome.DROPPED] == 1


def test_a_waiting_wish_the_market_has_fallen_through_is_not_sent() -> None:
    opened = _opened()
    _wish(opened, "100", 20)
    _wish(opened, "101", 21)
    opened.desk.on_mark(SYMBOL, D("100.9"))  # a stop at 101 would fire at once
    assert _amends(_confirm(opened, "100", 22)) == []
    assert (opened.position.stop, opened.position.wanted_stop) == (D("100"), None)


def test_a_wish_waiting_behind_a_refused_amend_is_still_sent() -> None:
    opened = _opened()
    _wish(opened, "100", 20)
    _wish(opened, "101", 21)
    refused = CommandRejected(opened.stop, "amend", "EOrder:Invalid price", at(22))
    assert _amends(opened.desk.on(refused, at(22))) == [Amend(opened.stop, SYMBOL, at(22), trigger_price=D("101"))]


def test_a_stop_wished_for_before_the_stop_order_is_live_is_not_sent_before_it_is() -> None:
    opened = _opened()
    exit_ = opened.exit_requested(10)  # the exit fails once its stop's cancel landed: the stop is placed again
    opened.desk.on(event(opened.stop, OrderStatus.CANCELLED, at(11)), at(11))
    failed = event(exit_, OrderStatus.REJECTED, at(12), reason="EGeneral:Internal error")
    stop = sent(opened.desk.on(failed, at(12)), OrderPurpose.STOP)
    opened.desk.on(Submitted(stop.cl_ord_id), at(12))
    assert not opened.position.stop_live  # not acknowledged yet
    assert _wish(opened, "100", 20) == []
    assert opened.position.wanted_stop is None  # nothing to amend: the SL manager asks again once it is live


# -- the pair's trading counter ------------------------------------------------------------------------------


def test_an_amend_is_not_sent_while_it_would_take_the_pairs_counter_over_its_limit_and_goes_once_it_has_decayed() -> (
    None
):
    opened = _opened(threshold=20.0, decay=1.0)  # amends may fill it up to 20 - 10 (the reserve for an exit)
    desk = opened.desk
    _wish(opened, "100", 20)  # the stop acked 17 s ago: costs 1
    _confirm(opened, "100", 20)
    for n, stop in enumerate(("100.1", "100.2"), start=1):  # amends of an order amended < 5 s ago cost 1 + 3
        _wish(opened, stop, 20 + n)
        _confirm(opened, stop, 20 + n)
    level = desk.stop_updates.counter.level(SYMBOL, at(22))
    assert level == 1 - 1 + 4 - 1 + 4  # 7: decayed 1 a second since each answer
    actions = _wish(opened, "100.3", 22)
    assert _amends(actions) == []  # 7 + 4 > 10
    assert actions == [StartTimer(1.0, StopBudgetDue(SYMBOL))]
    assert opened.position.wanted_stop == (D("100.3"), StopKind.TRAILING)
    assert _wish(opened, "100.4", 22.5) == []  # the newest replaces the one waiting for room
    assert _amends(desk.on(StopBudgetDue(SYMBOL), at(23))) == [
        Amend(opened.stop, SYMBOL, at(23), trigger_price=D("100.4"))
    ]
    assert desk.stop_updates.take_tally()[StopOutcome.THROTTLED] == 1


def test_every_order_command_sent_is_charged_to_its_pairs_counter_until_the_venue_answers() -> None:
    opened = _opened()
    desk = opened.desk
    counter = desk.stop_updates.counter
    start = counter.level(SYMBOL, at(20))
    _wish(opened, "100", 20)
    assert counter.level(SYMBOL, at(20)) == start + 1  # an amend of an order acked 17 s ago
    assert counter.level(SYMBOL, at(25)) == start + 1  # no decay while its answer is awaited
    _confirm(opened, "100", 25)
    assert counter.level(SYMBOL, at(26)) == start  # from the answer on, it decays


def test_an_amend_refused_for_the_rate_limit_is_sent_again_once_the_counter_has_room() -> None:
    opened = _opened()
    desk = opened.desk
    _wish(opened, "100", 20)
    actions = desk.on(CommandRejected(opened.stop, "amend", RATE_LIMITED, at(21)), at(21))
    assert _amends(actions) == []  # Kraken's counter is full: the same wish waits, nothing happened to the stop
    timers = [a for a in actions if isinstance(a, StartTimer)]
    assert timers == [StartTimer(timers[0].delay, StopBudgetDue(SYMBOL))]
    # believed full (60): an amend of an order amended 1 s ago costs 1 + 3, and amends may fill it to 60 - 10
    assert timers[0].delay == 60 + 4 - 50
    later = 21 + timers[0].delay
    assert _amends(desk.on(StopBudgetDue(SYMBOL), at(later))) == [
        Amend(opened.stop, SYMBOL, at(later), trigger_price=D("100"))
    ]


def test_an_amend_that_never_left_crocbot_is_sent_again_after_a_pause() -> None:
    opened = _opened()
    desk = opened.desk
    _wish(opened, "100", 20)
    actions = desk.on(CommandRejected(opened.stop, "amend", UNSENT, at(20)), at(20))
    assert [a for a in actions if not isinstance(a, Note)] == [StartTimer(1.0, StopBudgetDue(SYMBOL))]
    assert _amends(desk.on(StopBudgetDue(SYMBOL), at(21))) == [
        Amend(opened.stop, SYMBOL, at(21), trigger_price=D("100"))
    ]
    assert desk.stop_updates.take_tally()[StopOutcome.UNSENT] == 1


# -- unknown outcomes ----------------------------------------------------------------------------------------


def _unknown(opened: Opened, seconds: float) -> list[Action]:
    _wish(opened, "100", 20)
    event = CommandUnknown(opened.stop, "amend", "no answer by the deadline", at(seconds))
    return opened.desk.on(event, at(seconds))


def test_an_amend_without_an_answer_is_looked_up_never_taken_as_done_or_refused() -> None:
    opened = _opened()
    actions = _unknown(opened, 22)
    assert [a for a in actions if not isinstance(a, Note)] == [Query(opened.stop, SYMBOL, at(22))]
    assert (opened.position.stop, opened.position.pending_stop) == (D("98"), (D("100"), StopKind.TRAILING))
    assert _wish(opened, "101", 23) == []  # still in flight until the lookup says how it ended
    assert opened.desk.stop_updates.take_tally()[StopOutcome.UNKNOWN] == 1


def test_a_looked_up_amend_that_took_effect_is_confirmed_and_the_newest_wish_sent() -> None:
    opened = _opened()
    _unknown(opened, 22)
    _wish(opened, "101", 23)
    terms = OrderLookedUp(opened.stop, at(24), OrderStatus.ACKED, qty=opened.position.qty, trigger_price=D("100"))
    actions = opened.desk.on(terms, at(24))
    assert journaled(actions)[:2] == [
        RecordAmend(OrderAmended(opened.stop, at(24), trigger_price=D("100"))),
        RecordStop(opened.position_id, D("100"), StopKind.TRAILING, at(24), opened.stop),
    ]
    assert _amends(actions) == [Amend(opened.stop, SYMBOL, at(24), trigger_price=D("101"))]
    assert opened.position.stop == D("100")


def test_a_looked_up_amend_that_did_not_take_effect_is_sent_again() -> None:
    opened = _opened()
    _unknown(opened, 22)
    terms = OrderLookedUp(opened.stop, at(24), OrderStatus.ACKED, qty=opened.position.qty, trigger_price=D("98"))
    actions = opened.desk.on(terms, at(24))
    assert actions == [Amend(opened.stop, SYMBOL, at(24), trigger_price=D("100"))]
    assert opened.position.stop == D("98")


def test_a_lookup_without_an_answer_is_asked_again_later() -> None:
    opened = _opened()
    _unknown(opened, 22)
    no_answer = CommandUnknown(opened.stop, "query", "no answer by the deadline", at(24))
    assert opened.desk.on(no_answer, at(24)) == [StartTimer(1.0, LookupDue(opened.stop))]
    assert opened.desk.on(LookupDue(opened.stop), at(25)) == [Query(opened.stop, SYMBOL, at(25))]


def test_a_second_answer_to_a_lookup_changes_nothing() -> None:
    opened = _opened()
    _unknown(opened, 22)
    terms = OrderLookedUp(opened.stop, at(24), OrderStatus.ACKED, qty=opened.position.qty, trigger_price=D("100"))
    opened.desk.on(terms, at(24))
    assert opened.desk.on(terms, at(25)) == []


def _stop_cancel_unknown(opened: Opened) -> None:
    request = ExitRequest(opened.position_id, SYMBOL, "manual", at(10))
    opened.desk.on(request, at(10))
    assert opened.stop in opened.desk.stop_cancels
    event = CommandUnknown(opened.stop, "cancel", "no answer by the deadline", at(11))
    assert Query(opened.stop, SYMBOL, at(11)) in opened.desk.on(event, at(11))


def test_a_stop_cancel_without_an_answer_that_the_lookup_finds_done_ends_the_stop_as_its_lost_event_would() -> None:
    opened = _opened()
    _stop_cancel_unknown(opened)
    terms = OrderLookedUp(opened.stop, at(12), OrderStatus.CANCELLED, qty=opened.position.qty)
    actions = opened.desk.on(terms, at(12))
    ended = OrderEvent(opened.stop, OrderStatus.CANCELLED, at(12), reason="looked up")
    assert journaled(actions)[0] == RecordEvent(ended)
    assert opened.desk.orders[opened.stop].status is OrderStatus.CANCELLED
    assert opened.position.stop_order is None


def test_a_stop_cancel_without_an_answer_that_the_lookup_finds_not_done_leaves_the_stop_protecting() -> None:
    opened = _opened()
    _stop_cancel_unknown(opened)
    terms = OrderLookedUp(opened.stop, at(12), OrderStatus.ACKED, qty=opened.position.qty, trigger_price=D("98"))
    opened.desk.on(terms, at(12))
    assert opened.stop not in opened.desk.stop_cancels  # not cancelled by us after all
    assert opened.desk.orders[opened.stop].is_open
