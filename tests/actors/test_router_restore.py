"""The router's rebuild from the journal, against a real journal file (`crocbot.actors.router_restore`).

Found by the 300-trial kill -9 soak: crocbot died after journaling a position's close and before saving the
ledger. At the next start the stop order that closed it is still open in the journal, its position is closed, and
reconciliation brings back the fill; the desk must know that position was closed rather than raise a CRITICAL
"fill for an order without a position"."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from crocbot.actors.router_restore import restore
from crocbot.core.desk_types import Note
from crocbot.core.messages import OrderIntent, OrderPurpose, OrderType, Position, PositionSide, Side
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
        restore(desk, journal)

    assert desk.closed_positions == {"p1"}
    assert "p1" not in desk.positions
    actions = desk.on_fill(fill("F9", stop.cl_ord_id, "2", "98", "0.4", side=Side.SELL, ts=at(5)), at(20))

    notes = [a for a in actions if isinstance(a, Note)]
    assert [n.level for n in notes] == ["INFO"]
    assert "closed position p1 before the restart" in notes[0].text
    assert desk.ledger.has_fill("F9")
