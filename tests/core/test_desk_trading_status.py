"""A symbol's Kraken status (`crocbot.core.desk.trading_status`): entries only while it is online, stops kept
whatever it is, stop amends waiting while Kraken takes no order changes, each change said once."""

from __future__ import annotations

from decimal import Decimal

from crocbot.core.desk import Action, Note, StopUpdates
from crocbot.core.messages import (
    ExitReason,
    ExitRequest,
    InstrumentStatusChanged,
    OrderPurpose,
    StopAmendRequest,
    StopKind,
)
from crocbot.core.messages.commands import Amend, Cancel, Submit
from crocbot.core.trading_counter import TradingCounter
from tests.core.desk_support import SYMBOL, Opened, at, logged, make_desk, signal

D = Decimal


def _status(status: str, previous: str, seconds: float) -> InstrumentStatusChanged:
    return InstrumentStatusChanged(SYMBOL, status, previous, at(seconds))


def _opened() -> Opened:
    desk = make_desk(stop_updates=StopUpdates(TradingCounter(60.0, 1.0)))
    opened = Opened.make(desk)
    desk.on_mark(SYMBOL, D("103"))
    return opened


def _wish(opened: Opened, stop: str, seconds: float) -> list[Action]:
    request = StopAmendRequest(opened.position_id, SYMBOL, D(stop), StopKind.TRAILING, at(seconds))
    return opened.desk.on(request, at(seconds))


def _entries(actions: list[Action]) -> list[Submit]:
    return [a for a in actions if isinstance(a, Submit) and a.intent.purpose is OrderPurpose.ENTRY]


def test_no_entry_goes_out_while_the_symbol_is_not_online_and_entries_resume_when_it_is() -> None:
    desk = make_desk()
    halted = desk.on(_status("cancel_only", "online", 1), at(1))
    refused = desk.on(signal(ts=at(2)), at(2))
    back = desk.on(_status("online", "cancel_only", 3), at(3))
    resumed = desk.on(signal(ts=at(4)), at(4))

    assert logged(halted) == [("WARNING", SYMBOL)]
    assert refused == []  # said once, with the change; counted, not logged per signal
    assert desk.take_refused() == {"instrument_status": 1}
    assert logged(back) == [("INFO", SYMBOL)]
    assert len(_entries(resumed)) == 1


def test_every_status_but_online_refuses_entries() -> None:
    for status in ("post_only", "limit_only", "reduce_only", "maintenance", "delisted"):
        desk = make_desk()
        desk.on(_status(status, "online", 1), at(1))
        assert _entries(desk.on(signal(ts=at(2)), at(2))) == [], status


def test_a_status_change_keeps_the_stop_and_the_amends_wait_until_kraken_takes_changes_again() -> None:
    opened = _opened()
    halted = opened.desk.on(_status("cancel_only", "online", 10), at(10))
    waiting = [*_wish(opened, "100", 11), *_wish(opened, "101", 12)]
    back = opened.desk.on(_status("online", "cancel_only", 20), at(20))

    assert not [a for a in halted if isinstance(a, Cancel | Amend | Submit)]  # the stop stays as it is
    assert [n.text for n in halted if isinstance(n, Note)] == [
        f"{SYMBOL} is cancel_only on Kraken (was online): no new entries; 1 open position(s) keep their stops on "
        "the venue; stop amendments and exits wait until it is back"
    ]
    assert waiting == []
    assert [a for a in back if isinstance(a, Amend)] == [Amend(opened.stop, SYMBOL, at(20), trigger_price=D("101"))]
    assert opened.desk.positions[opened.position_id].stop_live


def test_reduce_only_still_takes_a_sell_stops_amend() -> None:
    opened = _opened()
    opened.desk.on(_status("reduce_only", "online", 10), at(10))

    assert _wish(opened, "100", 11) == [Amend(opened.stop, SYMBOL, at(11), trigger_price=D("100"))]


def test_the_same_status_again_says_nothing() -> None:
    desk = make_desk()
    desk.on(_status("maintenance", "online", 1), at(1))

    assert desk.on(_status("maintenance", "online", 2), at(2)) == []


def test_an_exit_while_kraken_takes_no_sale_keeps_the_stop_and_goes_when_the_status_comes_back() -> None:
    opened = _opened()
    opened.desk.on(_status("maintenance", "online", 10), at(10))
    request = ExitRequest(opened.position_id, SYMBOL, "take profit", at(11), ExitReason.TAKE_PROFIT)
    held = opened.desk.on(request, at(11))
    again = opened.desk.on(request, at(12))
    waited = (opened.position.stop_live, opened.position.exiting)
    back = opened.desk.on(_status("online", "maintenance", 20), at(20))

    # a cancelled stop beside a refused sale would leave the position bare: nothing goes out, said once
    assert [a for a in held if not isinstance(a, Note)] == []
    assert logged(held) == [("INFO", SYMBOL), ("WARNING", SYMBOL)]
    assert again == []
    assert waited == (True, False)
    exits = [a for a in back if isinstance(a, Submit) and a.intent.purpose is OrderPurpose.EXIT]
    assert [(e.intent.qty, e.after_cancels) for e in exits] == [(opened.position.qty, (opened.stop,))]
    assert Cancel(opened.stop, SYMBOL, at(20)) in back
    assert opened.position.exit_reason is ExitReason.TAKE_PROFIT
