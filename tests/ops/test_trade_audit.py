"""What the trade audit counts from a journal: exits that reached the venue after the position's stop had sold it,
exits held back, oversold positions, funds refusals (`crocbot.ops.trade_audit`; the demo's summary and the
end-to-end tests read them, and all must be 0 but the held-back ones)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from crocbot.core.messages import (
    HELD_BACK,
    Fill,
    Liquidity,
    OrderEvent,
    OrderIntent,
    OrderPurpose,
    OrderStatus,
    OrderType,
    Side,
)
from crocbot.ops.trade_audit import audit_journal
from crocbot.store.journal import Journal

D = Decimal
T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
SYMBOL = "BTC/USD"


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


class Book:
    """A journal written the way the router writes it, one order at a time."""

    def __init__(self, path: Path) -> None:
        self.journal = Journal(path)
        self._fills = 0

    def order(self, cl_ord_id: str, purpose: OrderPurpose, qty: str, ts: datetime, position: str = "p1") -> None:
        side = Side.BUY if purpose is OrderPurpose.ENTRY else Side.SELL
        kind = OrderType.STOP_LOSS if purpose is OrderPurpose.STOP else OrderType.MARKET
        trigger = D("90") if purpose is OrderPurpose.STOP else None
        intent = OrderIntent(cl_ord_id, SYMBOL, side, kind, D(qty), purpose, ts, trigger_price=trigger)
        self.journal.record_intent(intent, position_id=position)

    def fill(self, cl_ord_id: str, qty: str, ts: datetime, side: Side = Side.SELL) -> None:
        self._fills += 1
        fill = Fill(f"T{self._fills}", cl_ord_id, "O" + cl_ord_id, SYMBOL, side, D(qty), D(100), D(0), "USD",
                    Liquidity.TAKER, ts)  # fmt: skip
        self.journal.record_fill(fill)

    def ended(self, cl_ord_id: str, status: OrderStatus, ts: datetime, reason: str = "") -> None:
        self.journal.record_order_event(OrderEvent(cl_ord_id, status, ts, reason=reason))


def _bought_and_stopped(book: Book, stopped: str = "1") -> None:
    book.order("cbe1", OrderPurpose.ENTRY, "1", at(0))
    book.fill("cbe1", "1", at(1), side=Side.BUY)
    book.order("cbs1", OrderPurpose.STOP, "1", at(1))
    book.fill("cbs1", stopped, at(10))


def test_an_exit_sent_after_the_stop_had_sold_the_position_is_counted_and_so_is_the_oversold_position(
    tmp_path: Path,
) -> None:
    book = Book(tmp_path / "journal.sqlite3")
    _bought_and_stopped(book)
    book.order("cbx1", OrderPurpose.EXIT, "1", at(10.3))
    book.fill("cbx1", "1", at(10.3))

    audit = audit_journal(book.journal)

    assert (audit.exits_after_stop_fill, audit.oversold_positions, audit.exits_held_back) == (1, 1, 0)


def test_an_exit_held_back_behind_a_stop_that_filled_is_counted_apart(tmp_path: Path) -> None:
    book = Book(tmp_path / "journal.sqlite3")
    _bought_and_stopped(book)
    book.order("cbx1", OrderPurpose.EXIT, "1", at(10.3))
    book.ended("cbx1", OrderStatus.CANCELLED, at(10.35), HELD_BACK)

    audit = audit_journal(book.journal)

    assert (audit.exits_after_stop_fill, audit.oversold_positions, audit.exits_held_back) == (0, 0, 1)


def test_an_exit_of_what_a_stop_left_is_a_legitimate_one(tmp_path: Path) -> None:
    book = Book(tmp_path / "journal.sqlite3")
    _bought_and_stopped(book, stopped="0.4")
    book.ended("cbs1", OrderStatus.CANCELLED, at(10), "no liquidity")
    book.order("cbx1", OrderPurpose.EXIT, "0.6", at(10.3))
    book.fill("cbx1", "0.6", at(10.3))
    book.ended("cbx1", OrderStatus.FILLED, at(10.3))
    book.journal.record_order_event(
        OrderEvent("cbe1", OrderStatus.REJECTED, at(11), reason="EOrder:Insufficient funds")
    )

    audit = audit_journal(book.journal)

    assert (audit.exits_after_stop_fill, audit.oversold_positions, audit.funds_refusals) == (0, 0, 1)
