"""The router's rebuild from the journal, against a real journal file: the snapshot it reads
(`crocbot.store.desk_snapshot`) and the desk rebuilt from it (`crocbot.core.desk.restore`).

The ledger's state names only its recent fills; the restore tells it which journaled fills it has not booked: those
journaled after the stamp its state was saved with (a crash between the fill's journaling and the ledger's save),
or all of them against a version-1 state (which named every fill it booked).

Found by the 300-trial kill -9 soak: crocbot died after journaling a position's close and before saving the
ledger. At the next start the stop order that closed it is still open in the journal, its position is closed, and
reconciliation brings back the fill; the desk must know that position was closed rather than raise a CRITICAL
"fill for an order without a position"."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from decimal import Decimal
from pathlib import Path

from crocbot.core.desk import LEDGER_KEY, FillSeen, Note
from crocbot.core.ledger import Ledger
from crocbot.core.messages import OrderIntent, OrderPurpose, OrderType, Position, PositionSide, Side
from crocbot.core.messages.journal import EntryBrackets
from crocbot.store.desk_snapshot import journal_snapshot
from crocbot.store.journal import Journal
from tests.core.desk_support import SYMBOL, T0, at, fill, make_desk

D = Decimal


def test_a_fill_of_a_position_the_journal_closed_before_the_restart_is_booked_quietly(tmp_path: Path) -> None:
    entry = OrderIntent("cbe0000000000001", SYMBOL, Side.BUY, OrderType.MARKET, D(2), OrderPurpose.ENTRY, T0)
    stop = OrderIntent(
        "cbs0000000000002", SYMBOL, Side.SELL, OrderType.STOP_LOSS, D(2), OrderPurpose.STOP, at(1), trigger_price=D(98)
    )
    with Journal(tmp_path / "journal.sqlite3") as journal:
        journal.record_intent(entry, position_id="p1")
        journal.record_intent(stop, position_id="p1")
        journal.open_position(Position("p1", SYMBOL, PositionSide.LONG, D(2), D(100), D(98), at(1)))
        journal.close_position("p1", at(5), None)  # the close is journaled; the ledger's save never happened
        desk = make_desk()
        desk.restore(journal_snapshot(journal))

    assert desk.closed_positions == {"p1"}
    assert "p1" not in desk.positions
    actions = desk.on(
        FillSeen(fill("F9", stop.cl_ord_id, "2", "98", "0.4", side=Side.SELL, ts=at(5)), journaled=False), at(20)
    )

    notes = [a for a in actions if isinstance(a, Note)]
    assert [n.level for n in notes] == ["INFO"]
    assert "closed position p1 before the restart" in notes[0].text
    assert desk.ledger.has_fill("F9")


def test_the_fills_journaled_after_the_ledgers_last_save_are_named_unbooked(tmp_path: Path) -> None:
    with Journal(tmp_path / "journal.sqlite3") as journal:
        ledger = Ledger(quote="USD", cash=D("10000"))
        for name in ("F1", "F2"):
            booked = fill(name, "cbe0000000000001", "1", "100", "0.4")
            journal.record_fill(booked)
            ledger.apply(booked)
        journal.save_state(LEDGER_KEY, ledger.to_state())
        journal.record_fill(fill("F3", "cbe0000000000001", "1", "100", "0.4", ts=at(-3600)))  # then the crash
        desk = make_desk(ledger=Ledger.from_state(journal.load_state(LEDGER_KEY) or {}))

        summary = desk.restore(journal_snapshot(journal))

    assert desk.ledger.unbooked() == {"F3"}
    assert "1 journaled fills not booked yet (F3)" in summary
    assert desk.ledger.booked("F1", journaled=True)
    assert not desk.ledger.booked("F3", journaled=True)


def test_a_version_1_ledger_is_settled_against_every_journaled_fill(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite3"
    with Journal(path) as journal:
        books = Ledger(quote="USD", cash=D("10000"))
        for name in ("F1", "F2"):
            journal.record_fill(fill(name, "cbe0000000000001", "1", "100", "0.4"))
        books.apply(fill("F1", "cbe0000000000001", "1", "100", "0.4"))
        state = books.to_state()
        old = {k: v for k, v in state.items() if k not in ("fills_booked", "recent_fills", "unbooked_fills")}
        journal.save_state(LEDGER_KEY, old | {"version": 1, "fill_ids": ["F1"], "closed_trades": []})
    with closing(sqlite3.connect(path, isolation_level=None)) as conn:
        conn.execute("UPDATE state SET fills_seq = NULL")  # saved before the journal stamped its documents
    with Journal(path) as journal:
        desk = make_desk(ledger=Ledger.from_state(journal.load_state(LEDGER_KEY) or {}))

        desk.restore(journal_snapshot(journal))

    assert desk.ledger.unbooked() == {"F2"}
    assert desk.ledger.to_state()["recent_fills"] == ["F1"]


def test_a_restored_position_keeps_its_strategy_and_the_entry_its_signal_planned(tmp_path: Path) -> None:
    """The trade log names them when the position closes, which may be after any number of restarts."""
    entry = OrderIntent(
        "cbe0000000000001", SYMBOL, Side.BUY, OrderType.LIMIT, D(2), OrderPurpose.ENTRY, T0, limit_price=D(100)
    )
    with Journal(tmp_path / "journal.sqlite3") as journal:
        journal.record_intent(entry, position_id="p1", brackets=EntryBrackets(D(98), D(106), "ema_trend", D("100.04")))
        journal.open_position(Position("p1", SYMBOL, PositionSide.LONG, D(2), D("100.10"), D(98), at(1)))
        desk = make_desk()
        desk.restore(journal_snapshot(journal))

    position = desk.positions["p1"]
    assert (position.strategy, position.intended_entry) == ("ema_trend", D("100.04"))
