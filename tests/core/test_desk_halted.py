"""A halt Kraken tells the desk of by refusing its orders (`crocbot.core.desk.halted`): a stop refused or cancelled
in a halt is placed again when Kraken takes orders, never sold for; an exit refused for it waits; none of it counts
as a refusal of a sound order."""

from __future__ import annotations

from decimal import Decimal

from crocbot.core.desk import Action, ProtectionDue, StartTimer, StopUpdates, Submitted
from crocbot.core.messages import InstrumentStatusChanged, OrderPurpose, OrderStatus
from crocbot.core.messages.commands import Submit
from crocbot.core.trading_counter import TradingCounter
from tests.core.desk_support import SYMBOL, Opened, at, event, logged, make_desk

D = Decimal
S = OrderStatus
HALTED = "EService:Market in cancel_only mode"


def _opened() -> Opened:
    desk = make_desk(stop_updates=StopUpdates(TradingCounter(60.0, 1.0)))
    opened = Opened.make(desk)
    desk.on_mark(SYMBOL, D("103"))
    return opened


def _submits(actions: list[Action], purpose: OrderPurpose) -> list[Submit]:
    return [a for a in actions if isinstance(a, Submit) and a.intent.purpose is purpose]


def _timers(actions: list[Action]) -> list[tuple[float, object]]:
    return [(a.delay, a.message) for a in actions if isinstance(a, StartTimer)]


def test_a_stop_kraken_cancels_in_a_halt_it_had_not_announced_is_placed_again_later_not_sold() -> None:
    opened = _opened()
    pid = opened.position_id
    gone = opened.desk.on(event(opened.stop, S.CANCELLED, at(10), reason=HALTED), at(10))
    retried = opened.desk.on(ProtectionDue(pid), at(40))
    (again,) = _submits(retried, OrderPurpose.STOP)
    opened.desk.on(Submitted(again.intent.cl_ord_id), at(40))
    refused = opened.desk.on(event(again.intent.cl_ord_id, S.REJECTED, at(41), reason=HALTED), at(41))

    assert _submits(gone, OrderPurpose.EXIT) == []  # not sold for a halt
    assert logged(gone) == [("WARNING", SYMBOL)]
    assert _timers(gone) == [(30.0, ProtectionDue(pid))]
    assert _submits(refused, OrderPurpose.EXIT) == []
    assert [level for level, _ in logged(refused)] == ["DEBUG"]  # said once per hold
    assert _timers(refused) == [(60.0, ProtectionDue(pid))]
    assert opened.position.refusals == 0  # no refusal of a sound order: no give-up, no safe mode


def test_a_stop_lost_in_an_announced_halt_is_placed_again_when_the_symbol_is_back_not_sold() -> None:
    opened = _opened()
    opened.desk.on(InstrumentStatusChanged(SYMBOL, "maintenance", "online", at(5)), at(5))
    gone = opened.desk.on(event(opened.stop, S.EXPIRED, at(10)), at(10))
    back = opened.desk.on(InstrumentStatusChanged(SYMBOL, "online", "maintenance", at(60)), at(60))

    assert _submits(gone, OrderPurpose.EXIT) == []
    assert _timers(gone) == []  # the status change brings it back
    assert _submits(back, OrderPurpose.EXIT) == []  # not sold at the reopening
    (placed,) = _submits(back, OrderPurpose.STOP)
    assert placed.intent.qty == opened.position.qty


def test_an_exit_kraken_refuses_for_a_halt_waits_and_the_position_is_protected_meanwhile() -> None:
    opened = _opened()
    pid = opened.position_id
    exit_ = opened.exit_requested(10)
    opened.desk.on(event(opened.stop, S.CANCELLED, at(11)), at(11))
    refused = opened.desk.on(event(exit_, S.REJECTED, at(12), reason=HALTED), at(12))
    (stop,) = _submits(refused, OrderPurpose.STOP)
    opened.desk.on(Submitted(stop.intent.cl_ord_id), at(12))
    opened.desk.on(event(stop.intent.cl_ord_id, S.ACKED, at(13)), at(13))
    again = opened.desk.on(ProtectionDue(pid), at(42))

    assert [lv for lv, _ in logged(refused) if lv in ("ERROR", "CRITICAL")] == []
    assert opened.position.refusals == 0
    assert _timers(refused) == [(30.0, ProtectionDue(pid))]
    assert len(_submits(again, OrderPurpose.EXIT)) == 1  # the exit goes again, the stop's cancel first
    assert opened.position.exit_detail == "manual"  # the exit's reason went with it again
