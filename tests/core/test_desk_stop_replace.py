"""A stop whose amend Kraken refuses for a reason of the amend's own is replaced (`protection.replace_stop`): the old
stop cancelled, the new one placed only once the venue confirmed that cancel unfilled, the position protected by one
stop at every moment; and when the old stop has sold (or is selling) the position meanwhile, no new stop sells coins
crocbot no longer holds."""

from __future__ import annotations

from decimal import Decimal

from crocbot.core.desk import Action, Desk, Emit, StopUpdates, Submitted
from crocbot.core.messages import (
    HELD_BACK,
    UNSENT,
    CommandRejected,
    OrderPurpose,
    OrderStatus,
    Side,
    StopAmendRequest,
    StopKind,
)
from crocbot.core.messages.commands import Amend, Cancel, Submit
from crocbot.core.messages.journal import RecordIntent, RecordStop
from crocbot.core.reconcile import NEVER_SENT, ForeignOrderPolicy, Plan
from crocbot.core.trading_counter import TradingCounter
from tests.core.desk_support import SYMBOL, Opened, at, event, fill, journaled, logged, make_desk, restored, seen

D = Decimal
S = OrderStatus
AMEND_REFUSED = "EGeneral:Invalid arguments"  # not about the level: a new order there would be taken


def _opened() -> Opened:
    desk = make_desk(stop_updates=StopUpdates(TradingCounter(60.0, 1.0)))
    opened = Opened.make(desk)
    desk.on_mark(SYMBOL, D("103"))
    return opened


def _replaced(opened: Opened, reason: str = AMEND_REFUSED) -> tuple[list[Action], Submit]:
    """The stop amended to 100 at 20 s, refused at 21 s: what the desk decided, and the new stop's Submit."""
    request = StopAmendRequest(opened.position_id, SYMBOL, D("100"), StopKind.TRAILING, at(20))
    assert opened.desk.on(request, at(20)) == [Amend(opened.stop, SYMBOL, at(20), trigger_price=D("100"))]
    got = opened.desk.on(CommandRejected(opened.stop, "amend", reason, at(21)), at(21))
    submits = [a for a in got if isinstance(a, Submit)]
    assert len(submits) == 1, got
    opened.desk.on(Submitted(submits[0].intent.cl_ord_id), at(21))
    return got, submits[0]


def _sends(actions: list[Action]) -> list[Action]:
    return [a for a in actions if isinstance(a, Submit | Amend | Cancel)]


def test_a_refused_amend_replaces_the_stop_once_its_cancel_is_confirmed() -> None:
    opened = _opened()
    qty = opened.position.qty
    got, new = _replaced(opened)
    new_id = new.intent.cl_ord_id
    gone = opened.desk.on(event(opened.stop, S.CANCELLED, at(22)), at(22))
    acked = opened.desk.on(event(new_id, S.ACKED, at(23)), at(23))

    assert [a for a in got if isinstance(a, Cancel)] == [Cancel(opened.stop, SYMBOL, at(21))]
    assert new.after_cancels == (opened.stop,)  # the venue places it only once the cancel is confirmed unfilled
    assert (new.intent.purpose, new.intent.side, new.intent.qty) == (OrderPurpose.STOP, Side.SELL, qty)
    assert new.intent.trigger_price == D("100")
    assert any(isinstance(r, RecordIntent) and r.intent == new.intent for r in journaled(got))  # before it is sent
    assert logged(got) == [("WARNING", SYMBOL), ("WARNING", SYMBOL)]  # the refusal, and the replacement
    assert _sends(gone) == []  # the cancel asked for: no stop placed again for it
    assert RecordStop(opened.position_id, D("100"), StopKind.TRAILING, at(23), new_id) in journaled(acked)
    state = opened.position
    assert (state.stop_order, state.stop_live, state.stop, state.replacing) == (new_id, True, D("100"), None)


def test_a_refusal_about_the_level_itself_replaces_nothing() -> None:
    opened = _opened()
    request = StopAmendRequest(opened.position_id, SYMBOL, D("100"), StopKind.TRAILING, at(20))
    opened.desk.on(request, at(20))

    got = opened.desk.on(CommandRejected(opened.stop, "amend", "EOrder:Invalid price", at(21)), at(21))

    assert _sends(got) == []  # a new stop at that level would be refused too, after the old one was cancelled
    assert opened.position.stop_order == opened.stop


def test_a_stop_that_sold_the_position_before_its_cancel_landed_leaves_no_replacement() -> None:
    opened = _opened()
    qty = opened.position.qty
    _, new = _replaced(opened)
    # the old stop fired: its fill, its end, the cancel refused (gone), and the venue holds the new one back
    sold = opened.desk.on(seen(fill("FS", opened.stop, qty, "99.9", "0.6", side=Side.SELL, ts=at(22))), at(22))
    ended = opened.desk.on(event(opened.stop, S.FILLED, at(22), filled_qty=qty), at(22))
    refused = opened.desk.on(CommandRejected(opened.stop, "cancel", "EOrder:Invalid order", at(22)), at(22))
    held = opened.desk.on(event(new.intent.cl_ord_id, S.CANCELLED, at(22), reason=HELD_BACK), at(22))

    everything = [*sold, *ended, *refused, *held]
    # nothing sells: the closed position's leftover order (the replacement, held at the venue) is only cancelled
    assert _sends(everything) == [Cancel(new.intent.cl_ord_id, SYMBOL, at(22))]
    assert not opened.position.open
    assert [lv for lv, _ in logged(everything) if lv in ("ERROR", "CRITICAL")] == []


def test_a_stop_that_sold_part_before_its_cancel_landed_is_replaced_for_what_is_left() -> None:
    opened = _opened()
    qty = opened.position.qty
    half = qty / 2
    _, new = _replaced(opened)
    opened.desk.on(seen(fill("FS", opened.stop, half, "99.9", "0.3", side=Side.SELL, ts=at(22))), at(22))
    opened.desk.on(event(opened.stop, S.CANCELLED, at(22), filled_qty=half), at(22))
    held = opened.desk.on(event(new.intent.cl_ord_id, S.CANCELLED, at(22), reason=HELD_BACK), at(22))

    (again,) = [a for a in held if isinstance(a, Submit)]
    assert (again.intent.purpose, again.intent.qty, again.after_cancels) == (OrderPurpose.STOP, half, ())
    assert opened.position.stop_order == again.intent.cl_ord_id
    assert [lv for lv, _ in logged(held) if lv in ("ERROR", "CRITICAL")] == []


def test_a_replacement_never_sent_before_a_restart_leaves_the_old_stop_as_the_protection() -> None:
    opened = _opened()
    _, new = _replaced(opened)  # journaled; killed before the cancel and the new stop went out
    desk: Desk = restored(opened.desk, {opened.position_id: None})
    plan = Plan(events=(event(new.intent.cl_ord_id, S.REJECTED, at(100), reason=NEVER_SENT),))

    actions, _ = desk.reconcile(plan, ForeignOrderPolicy.ADOPT, at(100), startup=True, journaled=frozenset())

    assert [a for a in actions if isinstance(a, Submit)] == []  # no second stop beside the one that rests
    state = desk.positions[opened.position_id]
    assert (state.stop_order, state.stop_live) == (opened.stop, True)
    assert [lv for lv, _ in logged(actions) if lv in ("ERROR", "CRITICAL")] == []


def test_a_crash_between_the_cancel_and_the_replacement_protects_the_position_again_and_sells_nothing() -> None:
    """Found in review: killed after the venue confirmed the old stop's cancel and before the new stop went out. At
    the restart the journal still names the old stop; the venue says it was cancelled, and the new one never left.
    In either order of those two ends, a stop is placed again; no exit, no alarm."""
    for order in ("old first", "new first"):
        opened = _opened()
        _, new = _replaced(opened)
        desk = restored(opened.desk, {opened.position_id: opened.stop})
        old_end = event(opened.stop, S.CANCELLED, at(100), reason="reconciled with the venue")
        new_end = event(new.intent.cl_ord_id, S.REJECTED, at(100), reason=NEVER_SENT)
        ends = (old_end, new_end) if order == "old first" else (new_end, old_end)

        actions, _ = desk.reconcile(
            Plan(events=ends), ForeignOrderPolicy.ADOPT, at(100), startup=True, journaled=frozenset()
        )

        submits = [a for a in actions if isinstance(a, Submit)]
        assert [a.intent.purpose for a in submits] == [OrderPurpose.STOP], order
        assert [lv for lv, _ in logged(actions) if lv in ("ERROR", "CRITICAL")] == [], order
        assert desk.positions[opened.position_id].stop_order == submits[0].intent.cl_ord_id


def test_a_replacement_whose_cancel_was_refused_leaves_the_old_stop_live_and_trailing() -> None:
    """Found in review: the old stop's cancel refused (or never sent): the venue holds the new one back, the old one
    still rests, and it must count as live again, or no stop would trail for the rest of the position's life."""
    opened = _opened()
    _, new = _replaced(opened)
    opened.desk.on(CommandRejected(opened.stop, "cancel", UNSENT, at(22)), at(22))  # the breaker was open
    opened.desk.on(event(new.intent.cl_ord_id, S.CANCELLED, at(22), reason=HELD_BACK), at(22))
    request = StopAmendRequest(opened.position_id, SYMBOL, D("100.5"), StopKind.TRAILING, at(30))

    wished = opened.desk.on(request, at(30))

    assert (opened.position.stop_order, opened.position.stop_live) == (opened.stop, True)
    assert wished == [Amend(opened.stop, SYMBOL, at(30), trigger_price=D("100.5"))]


def test_a_replacement_is_not_announced_as_an_unprotected_position() -> None:
    """Found in review: announcing the position without a live stop while its stop is replaced has the SL manager
    exit it once its 1 s to place a stop ran out; the old stop protects until the new one rests."""
    opened = _opened()
    got, _ = _replaced(opened)

    assert not [a for a in got if isinstance(a, Emit)]


def test_a_refusal_of_the_service_or_the_session_replaces_nothing() -> None:
    for reason in ("EService:Deadline elapsed", "EAPI:Invalid token", "EGeneral:Internal error"):
        opened = _opened()
        opened.desk.on(StopAmendRequest(opened.position_id, SYMBOL, D("100"), StopKind.TRAILING, at(20)), at(20))
        got = opened.desk.on(CommandRejected(opened.stop, "amend", reason, at(21)), at(21))
        assert [a for a in got if isinstance(a, Cancel | Submit)] == [], reason
