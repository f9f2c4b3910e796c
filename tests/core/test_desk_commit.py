"""The desk's facade (`Desk.on`): one `Commit` of everything an event changed, ahead of the commands it decided, and
the inventory fence held before anything goes out."""

from __future__ import annotations

from crocbot.core.desk import LEDGER_KEY, RISK_KEY, Commit, Emit, FillSeen, Note, NotSent, Submitted
from crocbot.core.messages import OrderPurpose, OrderStatus, PositionOpened
from crocbot.core.messages.commands import Submit
from crocbot.core.messages.journal import (
    RecordEvent,
    RecordFill,
    RecordIntent,
    RecordPositionOpened,
    SaveState,
)
from tests.core.desk_support import (
    QTY,
    T0,
    Opened,
    at,
    event,
    exit_working,
    fill,
    make_desk,
    seen,
    sent,
    signal,
)


def test_an_entry_fill_is_one_commit_and_its_stop_goes_out_after_it() -> None:
    desk = make_desk()
    entry = sent(desk.on(signal(), T0), OrderPurpose.ENTRY)
    desk.on(Submitted(entry.cl_ord_id), T0)
    desk.on(event(entry.cl_ord_id, OrderStatus.ACKED, at(1)), at(1))

    actions = desk.on(FillSeen(fill("F1", entry.cl_ord_id, entry.qty, "100", "0.62", ts=at(2)), False), at(2))

    commit, *rest = actions
    assert isinstance(commit, Commit)
    assert [type(r) for r in commit.records] == [RecordFill, RecordPositionOpened, RecordIntent, SaveState, SaveState]
    assert [r.key for r in commit.records if isinstance(r, SaveState)] == [LEDGER_KEY, RISK_KEY]
    stop = sent(actions[1:], OrderPurpose.STOP)
    assert commit.records[2] == RecordIntent(stop, "p" + entry.cl_ord_id[3:], "protective stop at 98")
    assert not [a for a in rest if isinstance(a, Commit)]  # one commit per event
    assert [a for a in rest if isinstance(a, Submit)] == [Submit(stop)]
    assert any(isinstance(a, Emit) and isinstance(a.message, PositionOpened) for a in rest)


def test_a_venue_event_is_journaled_in_the_commit_of_what_it_decided() -> None:
    opened = Opened.make()
    cancelled = event(opened.stop, OrderStatus.CANCELLED, at(10))  # not asked for: the position is exited

    actions = opened.desk.on(cancelled, at(10))

    commit = actions[0]
    assert isinstance(commit, Commit)
    exit_ = sent(actions, OrderPurpose.EXIT)
    assert [type(r) for r in commit.records] == [RecordEvent, RecordIntent]
    assert commit.records[0] == RecordEvent(cancelled)
    assert isinstance(commit.records[1], RecordIntent)
    assert commit.records[1].intent == exit_
    assert not [a for a in actions[1:] if isinstance(a, Commit)]


def test_a_fill_the_journal_and_the_ledger_hold_already_changes_nothing() -> None:
    opened = Opened.make()
    again = fill("F1", opened.entry, QTY, "100", "0.62", ts=at(2))  # the one `Opened` booked
    assert opened.desk.on(FillSeen(again, journaled=True), at(20)) == []


def test_a_fill_the_ledger_booked_but_the_journal_lacks_is_journaled_and_not_booked_again() -> None:
    opened = Opened.make()
    again = fill("F1", opened.entry, QTY, "100", "0.62", ts=at(2))
    assert opened.desk.on(FillSeen(again, journaled=False), at(20)) == [
        Commit((RecordFill(again, opened.position_id),))
    ]


def test_an_entry_the_router_could_not_journal_ends_rejected_with_no_position() -> None:
    desk = make_desk()
    entry = sent(desk.on(signal(), T0), OrderPurpose.ENTRY)
    actions = desk.on(NotSent(Submit(entry), "journal failed: disk full"), T0)
    assert [a.level for a in actions if isinstance(a, Note)] == ["WARNING"]
    assert desk.by_symbol == {}
    assert not [a for a in actions if isinstance(a, Submit)]


def test_a_sell_handed_out_in_the_same_event_counts_against_the_fence_before_it_is_reported_sent() -> None:
    """The router reports an order sent only after the whole event's actions are out; until then a sell the desk
    handed out is promised all the same, so a second sell of the same coins is refused."""
    for reported_sent in (False, True):  # handed out, not yet reported sent; and once sent, it is open
        desk, position_id, entry, first = exit_working(reported_sent=reported_sent)
        # the rest of the entry fills: the fail-safe's exit of all 78.5 would sell the 40 the first exit promised
        actions = desk.on(seen(fill("F2", entry, "38.51629006", "101", "0.4", ts=at(11))), at(11))
        assert not [a for a in actions if isinstance(a, Submit)], reported_sent
        assert desk.take_fenced() == 1, reported_sent
        assert desk.positions[position_id].exit_orders == [first], reported_sent  # the first still the exit
