"""`Journal.batch`: several writes in one durable transaction, committed once or not at all; `Journal.commits`
counts the commits."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing
from decimal import Decimal
from pathlib import Path

import pytest

from crocbot.core.messages import OrderEvent, OrderStatus, StopKind
from crocbot.store.journal import Journal, JournalConflict, JournalError, JournalUnwritable, UnknownPosition
from tests.store.test_journal import T0, at, fill, intent, position, trade

D = Decimal


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[Journal]:
    with Journal(tmp_path / "journal.sqlite3") as j:
        yield j


def entry_batch(journal: Journal, fill_id: str = "f1") -> bool:
    """An entry's fill as one event writes it: the fill, the order's event, the position and its stop, the ledger."""
    with journal.batch("entry fill"):
        new = journal.record_fill(fill(fill_id))
        journal.record_order_event(OrderEvent("c1", OrderStatus.FILLED, at(1), order_id="O-1", filled_qty=D("1")))
        journal.open_position(position("p1"))
        journal.update_stop("p1", D("64100"), StopKind.TRAILING, at(2), "cbs1")
        journal.save_state("ledger", {"cash": D("1.5")})
    return new


def test_every_write_is_one_commit_and_a_batch_of_them_is_one(journal: Journal) -> None:
    assert journal.commits == 0  # the schema's migrations are not writes
    journal.record_intent(intent(), position_id="p1")
    assert journal.commits == 1
    assert entry_batch(journal) is True
    assert journal.commits == 2
    assert journal.fill_ids() == {"f1"}
    order = journal.order("c1")
    assert order is not None
    assert order.status is OrderStatus.FILLED
    assert [p.position_id for p in journal.positions()] == ["p1"]
    assert journal.stops("p1")[-1][1] == D("64100")
    assert journal.load_state("ledger") == {"cash": D("1.5")}


def test_a_batch_is_durable_when_it_returns(journal: Journal) -> None:
    journal.record_intent(intent(), position_id="p1")
    entry_batch(journal)
    with closing(sqlite3.connect(journal.path)) as other:  # another connection sees only what is committed
        assert other.execute("SELECT fill_id FROM fills").fetchall() == [("f1",)]
        assert other.execute("SELECT position_id FROM positions").fetchall() == [("p1",)]


def test_a_write_refused_in_the_middle_of_a_batch_leaves_nothing_of_the_batch(journal: Journal) -> None:
    journal.record_intent(intent(), position_id="p1")

    def refused() -> None:
        with journal.batch():
            journal.record_fill(fill("f1"))
            journal.open_position(position("p1"))
            journal.update_stop("elsewhere", D("1"), StopKind.TRAILING, at(1), None)
            journal.save_state("ledger", {"cash": D("1")})

    with pytest.raises(UnknownPosition):
        refused()
    assert journal.commits == 1
    assert journal.fill_ids() == set()
    assert journal.positions() == []
    assert journal.load_state("ledger") is None
    assert not journal._conn.in_transaction  # test hook: rolled back, not left open
    assert entry_batch(journal) is True  # and the journal takes the next batch


def test_an_error_of_the_callers_own_in_a_batch_rolls_it_back_and_is_raised_as_it_is(journal: Journal) -> None:
    def failing() -> None:
        with journal.batch():
            journal.record_fill(fill("f1"))
            raise KeyError("the caller's")

    with pytest.raises(KeyError):
        failing()
    assert journal.fill_ids() == set()
    assert journal.commits == 0


def test_a_failed_write_the_caller_went_past_still_rolls_the_batch_back(journal: Journal) -> None:
    journal.record_intent(intent(), position_id="p1")
    journal.record_intent(intent("c2"), position_id="p2")

    def going_past_a_conflict() -> None:
        with journal.batch():
            journal.record_fill(fill("f1"))
            with pytest.raises(JournalConflict):
                journal.record_intent(intent("c2", qty=D("5")), position_id="p2")
            journal.save_state("ledger", {"cash": D("1")})

    with pytest.raises(JournalError, match="a write in it failed"):
        going_past_a_conflict()
    assert journal.fill_ids() == set()
    assert journal.load_state("ledger") is None
    assert journal.commits == 2


def test_a_full_disk_in_the_middle_of_a_batch_is_unwritable_and_leaves_nothing_of_it(journal: Journal) -> None:
    journal.record_intent(intent(), position_id="p1")
    conn = journal._conn  # test hook: a disk with no room for one more page, as in test_unwritable
    conn.execute(f"PRAGMA max_page_count = {conn.execute('PRAGMA page_count').fetchone()[0]}")

    def too_big() -> None:
        with journal.batch("entry fill"):
            journal.record_fill(fill("f1"))
            journal.save_state("big", {"blob": "x" * 200_000})

    with pytest.raises(JournalUnwritable, match="rolled back"):
        too_big()
    assert journal.fill_ids() == set()
    assert journal.load_state("big") is None
    assert journal.commits == 1
    conn.execute("PRAGMA max_page_count = 1000000")  # the operator freed space
    assert entry_batch(journal) is True


def test_replays_inside_a_batch_are_no_ops_and_a_fill_twice_in_one_batch_is_new_once(journal: Journal) -> None:
    journal.record_intent(intent(), position_id="p1")
    journal.record_fill(fill("f1"))
    with journal.batch():
        answers = [journal.record_fill(fill("f1")), journal.record_fill(fill("f2")), journal.record_fill(fill("f2"))]
        journal.record_intent(intent(), position_id="p1")
        journal.open_position(position("p1"))
        journal.open_position(position("p1"))
        journal.close_position("p1", at(3600), trade())
        second_close = journal.close_position("p1", at(3600), trade())
    assert answers == [False, True, False]
    assert second_close is False
    assert journal.fill_ids() == {"f1", "f2"}
    assert [t.trade_id for t in journal.closed_trades()] == ["t1"]
    assert journal.commits == 3


def test_a_state_saved_after_a_fill_in_the_same_batch_is_stamped_with_that_fill(journal: Journal) -> None:
    journal.record_fill(fill("f1"))
    with journal.batch():
        journal.save_state("before", {"n": 1})
        journal.record_fill(fill("f2", at(1)))
        journal.save_state("ledger", {"n": 2})
    seq_f1, seq_f2 = (journal.state_fills_seq(key) for key in ("before", "ledger"))
    assert seq_f1 is not None
    assert seq_f2 is not None
    assert journal.fill_ids_after(seq_f1) == ["f2"]
    assert journal.fill_ids_after(seq_f2) == []


def test_batches_do_not_nest(journal: Journal) -> None:
    def nested() -> None:
        with journal.batch("outer"):
            journal.record_fill(fill("f1", T0))
            with journal.batch("inner"):
                pass

    with pytest.raises(JournalError, match="do not nest"):
        nested()
    assert journal.fill_ids() == set()
