"""The SQLite journal keeps every record exactly, durably and idempotently, and refuses a damaged file."""

from __future__ import annotations

import queue
import shutil
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import closing, contextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from crocbot.core.messages import (
    ClosedTrade,
    Fill,
    Liquidity,
    OrderAmended,
    OrderEvent,
    OrderIntent,
    OrderPurpose,
    OrderStatus,
    OrderType,
    Position,
    PositionSide,
    Side,
    StopKind,
)
from crocbot.store import (
    Journal,
    JournalConflict,
    JournalCorrupt,
    JournalError,
    UnknownOrder,
    UnknownPosition,
    dumps_state,
    loads_state,
)
from crocbot.store.journal.schema import _V1, SCHEMA_VERSION

T0 = datetime(2025, 3, 10, 12, 0, tzinfo=UTC)
D = Decimal


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def intent(cl_ord_id: str = "c1", **changes: object) -> OrderIntent:
    fields: dict[str, object] = {
        "cl_ord_id": cl_ord_id,
        "symbol": "BTC/USD",
        "side": Side.BUY,
        "order_type": OrderType.LIMIT,
        "qty": D("0.00000001"),
        "purpose": OrderPurpose.ENTRY,
        "ts": T0,
        "limit_price": D("65432.10000000"),
        "post_only": True,
    }
    fields.update(changes)
    return OrderIntent(**fields)  # type: ignore[arg-type]  # a builder forwarding any field the test overrides


def fill(fill_id: str = "f1", ts: datetime = T0, **changes: object) -> Fill:
    fields: dict[str, object] = {
        "fill_id": fill_id,
        "cl_ord_id": "c1",
        "order_id": "O-1",
        "symbol": "BTC/USD",
        "side": Side.BUY,
        "qty": D("0.00000001"),
        "price": D("65432.10000000"),
        "fee": D("0.0000000001"),
        "fee_currency": "USD",
        "liquidity": Liquidity.MAKER,
        "ts": ts,
    }
    fields.update(changes)
    return Fill(**fields)  # type: ignore[arg-type]  # a builder forwarding any field the test overrides


def position(position_id: str = "p1") -> Position:
    return Position(
        position_id=position_id,
        symbol="BTC/USD",
        side=PositionSide.LONG,
        qty=D("0.50000000"),
        entry_price=D("65432.10000000"),
        stop_price=D("64000.00"),
        opened_at=T0,
        take_profit=D("70000.0"),
    )


def trade(trade_id: str = "t1") -> ClosedTrade:
    return ClosedTrade(
        trade_id=trade_id,
        symbol="BTC/USD",
        side=PositionSide.LONG,
        qty=D("0.50000000"),
        entry_price=D("65432.10000000"),
        exit_price=D("66000.00000000"),
        fees=D("0.12345678"),
        realized_pnl=D("283.82654322"),
        opened_at=T0,
        closed_at=at(3600),
        initial_risk=D("716.05000000"),
    )


@contextmanager
def raw_db(path: Path) -> Iterator[sqlite3.Connection]:
    """A plain connection beside the journal's, as another process would open; autocommit, and closed after."""
    with closing(sqlite3.connect(path, isolation_level=None)) as conn:
        yield conn


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[Journal]:
    with Journal(tmp_path / "journal" / "crocbot.db") as j:
        yield j


def test_opening_creates_the_directory_and_runs_wal_with_full_sync_and_foreign_keys(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "j.db"
    with Journal(path) as journal:
        assert journal.settings() == {
            "journal_mode": "wal",
            "synchronous": 2,
            "foreign_keys": 1,
            "schema_version": SCHEMA_VERSION,
        }
    with raw_db(path) as outside:  # WAL is a property of the file: another connection sees it too
        assert outside.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_intent_round_trips_with_its_position_reason_and_created_status(journal: Journal) -> None:
    sent = intent()
    journal.record_intent(sent, position_id="p1", reason="breakout")
    order = journal.order("c1")
    assert order is not None
    assert order.intent == sent
    assert (order.position_id, order.reason, order.status) == ("p1", "breakout", OrderStatus.CREATED)
    assert (order.order_id, order.filled_qty, order.avg_price, order.updated_at) == (None, D(0), None, T0)
    assert order.is_open
    assert journal.order("missing") is None


def test_recording_the_same_intent_again_is_a_no_op(journal: Journal) -> None:
    journal.record_intent(intent(), position_id=None)
    journal.record_order_event(OrderEvent("c1", OrderStatus.ACKED, at(1), order_id="O-1"))
    journal.record_intent(intent(), position_id=None)
    orders = journal.orders()
    assert len(orders) == 1
    assert orders[0].status is OrderStatus.ACKED  # the replay did not reset the state


def test_a_reused_cl_ord_id_with_other_content_is_refused_and_the_first_kept(journal: Journal) -> None:
    journal.record_intent(intent(), position_id=None)
    with pytest.raises(JournalConflict, match=r"c1.*qty"):
        journal.record_intent(intent(qty=D("2")), position_id=None)
    order = journal.order("c1")
    assert order is not None
    assert order.intent.qty == D("0.00000001")


def test_order_events_are_kept_in_order_and_fold_into_the_current_state(journal: Journal) -> None:
    journal.record_intent(intent(), position_id=None)
    events = [
        OrderEvent("c1", OrderStatus.SUBMITTED, at(1)),
        OrderEvent("c1", OrderStatus.ACKED, at(2), order_id="O-1"),
        OrderEvent("c1", OrderStatus.PARTIALLY_FILLED, at(3), filled_qty=D("0.000000005"), avg_price=D("65432.1")),
        OrderEvent("c1", OrderStatus.FILLED, at(4), order_id="O-1", filled_qty=D("0.00000001"), reason="done"),
    ]
    for event in events:
        journal.record_order_event(event)
    assert journal.order_events("c1") == events
    order = journal.order("c1")
    assert order is not None
    assert (order.status, order.order_id, order.filled_qty) == (OrderStatus.FILLED, "O-1", D("0.00000001"))
    assert order.avg_price == D("65432.1")  # the last event carried none; the known one is kept
    assert order.updated_at == at(4)
    assert not order.is_open


def test_a_replayed_order_event_is_a_no_op(journal: Journal) -> None:
    journal.record_intent(intent(), position_id=None)
    event = OrderEvent("c1", OrderStatus.ACKED, at(1), order_id="O-1")
    journal.record_order_event(event)
    journal.record_order_event(event)
    assert journal.order_events("c1") == [event]


def test_a_late_non_terminal_event_neither_reopens_an_order_nor_shrinks_its_fill(journal: Journal) -> None:
    journal.record_intent(intent(), position_id=None)
    journal.record_order_event(OrderEvent("c1", OrderStatus.FILLED, at(5), order_id="O-1", filled_qty=D("1E-8")))
    journal.record_order_event(OrderEvent("c1", OrderStatus.ACKED, at(2), order_id="O-1"))
    order = journal.order("c1")
    assert order is not None
    assert (order.status, order.filled_qty, order.updated_at) == (OrderStatus.FILLED, D("0.00000001"), at(5))
    assert len(journal.order_events("c1")) == 2
    assert journal.open_orders() == []


def test_an_event_for_an_order_without_an_intent_is_refused_and_nothing_written(journal: Journal) -> None:
    with pytest.raises(UnknownOrder, match="ghost"):
        journal.record_order_event(OrderEvent("ghost", OrderStatus.ACKED, T0))
    assert journal.order_events("ghost") == []


@pytest.mark.parametrize("status", list(OrderStatus))
def test_open_orders_holds_exactly_the_orders_whose_status_is_not_terminal(
    journal: Journal, status: OrderStatus
) -> None:
    journal.record_intent(intent("c1"), position_id=None)
    journal.record_intent(intent("c2", ts=at(1)), position_id=None)
    journal.record_order_event(OrderEvent("c1", status, at(2)))
    open_ids = [order.cl_ord_id for order in journal.open_orders()]
    assert open_ids == (["c2"] if status.is_terminal else ["c1", "c2"])


def test_a_confirmed_amend_changes_the_orders_current_terms_and_keeps_the_intent(journal: Journal) -> None:
    journal.record_intent(intent(limit_price=D("100")), position_id="p1")
    journal.record_amend(OrderAmended("c1", at(1), qty=D("0.00000002"), limit_price=D("101")))
    journal.record_amend(OrderAmended("c1", at(2), limit_price=D("102")))  # a price-only amend keeps the size

    order = journal.order("c1")
    assert order is not None
    assert (order.qty, order.limit_price, order.trigger_price) == (D("0.00000002"), D("102"), None)
    assert (order.intent.qty, order.intent.limit_price) == (D("0.00000001"), D("100"))
    assert order.updated_at == at(2)
    with pytest.raises(UnknownOrder):
        journal.record_amend(OrderAmended("nope", at(3), limit_price=D("1")))


def test_a_version_1_journal_is_migrated_and_keeps_its_orders(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    conn = sqlite3.connect(path, isolation_level=None)
    for statement in _V1:
        conn.execute(statement)
    conn.execute("CREATE TABLE schema_version (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)")
    conn.execute("INSERT INTO schema_version VALUES (1, '2025-01-01T00:00:00+00:00')")
    conn.close()
    with Journal(path) as migrated:
        migrated.record_intent(intent(), position_id=None)
        order = migrated.order("c1")
        assert migrated.settings()["schema_version"] == SCHEMA_VERSION
    assert order is not None
    assert order.qty == D("0.00000001")


def test_orders_since_selects_by_intent_time(journal: Journal) -> None:
    for index in range(3):
        journal.record_intent(intent(f"c{index}", ts=at(index * 60)), position_id=None)
    assert [order.cl_ord_id for order in journal.orders(since=at(60))] == ["c1", "c2"]
    assert [order.cl_ord_id for order in journal.orders()] == ["c0", "c1", "c2"]


def test_a_fill_round_trips_and_a_second_copy_is_reported_not_stored(journal: Journal) -> None:
    first = fill("f1")
    assert journal.record_fill(first) is True
    assert journal.record_fill(first) is False
    assert journal.record_fill(fill("f1", qty=D("5"))) is False  # same id, other content: the first is kept
    assert journal.fills() == [first]
    assert journal.fill_ids() == {"f1"}
    assert journal.has_fill("f1")
    assert not journal.has_fill("f2")


def test_fills_come_back_in_fill_time_then_journal_order_and_filter_by_time_and_symbol(journal: Journal) -> None:
    assert journal.last_fill_time() is None
    recorded = [
        fill("late", at(10)),
        fill("a", at(5)),
        fill("b", at(5)),
        fill("eth", at(7), symbol="ETH/USD"),
    ]
    for item in recorded:
        journal.record_fill(item)
    assert journal.last_fill_time() == at(10)  # the latest by fill time, not the last written
    assert [f.fill_id for f in journal.fills()] == ["a", "b", "eth", "late"]
    assert [f.fill_id for f in journal.fills(since=at(7))] == ["eth", "late"]
    assert [f.fill_id for f in journal.fills(symbol="BTC/USD")] == ["a", "b", "late"]
    assert [f.fill_id for f in journal.fills(since=at(6), symbol="BTC/USD")] == ["late"]


def test_an_open_position_round_trips_with_its_initial_stop_in_the_history(journal: Journal) -> None:
    journal.open_position(position())
    journal.open_position(position())  # a replay
    assert journal.open_positions() == [position()]
    assert journal.stops("p1") == [(T0, D("64000.00"), StopKind.INITIAL, None)]
    with pytest.raises(JournalConflict, match="p1"):
        journal.open_position(Position("p1", "BTC/USD", PositionSide.LONG, D("1"), D("65000"), D("64000"), T0))


def test_stop_updates_build_a_history_and_the_newest_is_the_current_stop(journal: Journal) -> None:
    journal.open_position(position())
    journal.update_stop("p1", D("64500.00"), StopKind.TRAILING, at(10), "s1")
    journal.update_stop("p1", D("64500.00"), StopKind.TRAILING, at(10), "s1")  # a replay
    journal.update_stop("p1", D("64200.00"), StopKind.TRAILING, at(5), None)  # late: history only
    assert journal.stops("p1") == [
        (T0, D("64000.00"), StopKind.INITIAL, None),
        (at(5), D("64200.00"), StopKind.TRAILING, None),
        (at(10), D("64500.00"), StopKind.TRAILING, "s1"),
    ]
    [current] = journal.positions()
    assert (current.stop_price, current.stop_kind, current.stop_cl_ord_id) == (D("64500.00"), StopKind.TRAILING, "s1")
    assert current.initial_stop == D("64000.00")
    assert journal.open_positions()[0].stop_price == D("64500.00")


def test_a_stop_moved_past_the_entry_is_reported_as_it_is_not_as_the_initial_stop(journal: Journal) -> None:
    journal.open_position(position())
    journal.update_stop("p1", D("65432.10000000"), StopKind.BREAKEVEN, at(10), None)
    journal.update_stop("p1", D("66000"), StopKind.PROFIT_LOCK, at(20), None)
    [held] = journal.open_positions()
    assert held.stop_price == D("66000")
    assert (held.position_id, held.entry_price, held.qty) == ("p1", D("65432.10000000"), D("0.50000000"))


def test_stops_and_closes_for_an_unknown_position_are_refused(journal: Journal) -> None:
    with pytest.raises(UnknownPosition):
        journal.update_stop("nope", D("1"), StopKind.TRAILING, T0, None)
    with pytest.raises(UnknownPosition):
        journal.close_position("nope", T0, None)


def test_closing_a_position_records_its_trade_once_and_leaves_no_open_position(journal: Journal) -> None:
    journal.open_position(position())
    journal.open_position(position("p2"))
    journal.close_position("p1", at(3600), trade())
    journal.close_position("p1", at(9999), trade())  # a replay: the first close stands
    assert [p.position_id for p in journal.open_positions()] == ["p2"]
    closed = journal.positions()[0]
    assert (closed.closed_at, closed.trade_id, closed.realized_pnl) == (at(3600), "t1", D("283.82654322"))
    assert not closed.is_open
    assert journal.positions()[1].is_open
    assert journal.closed_trades() == [trade()]


def test_a_trade_that_arrives_with_a_replayed_close_is_still_recorded(journal: Journal) -> None:
    journal.open_position(position())
    journal.close_position("p1", at(3600), None)
    assert journal.closed_trades() == []
    journal.close_position("p1", at(3700), trade())
    assert journal.closed_trades() == [trade()]
    assert journal.positions()[0].closed_at == at(3600)


def test_state_documents_round_trip_decimals_and_datetimes_exactly(journal: Journal) -> None:
    document = {
        "cash": D("10000.00000000"),
        "tiny": D("0.00000001"),
        "since": at(1.5),
        "holdings": {"BTC": D("0.5"), "list": [D("1.10"), "x", 3, True, None]},
    }
    assert journal.load_state("paper") is None
    journal.save_state("paper", document)
    assert journal.load_state("paper") == document
    journal.save_state("paper", {"cash": D("1")})
    assert journal.load_state("paper") == {"cash": D("1")}


def test_a_state_document_is_stamped_with_the_newest_fill_journaled_when_it_was_saved(journal: Journal) -> None:
    assert journal.state_fills_seq("ledger") is None  # no document
    journal.save_state("ledger", {"n": 0})
    assert journal.state_fills_seq("ledger") == 0  # saved before any fill
    for name in ("a", "b", "c"):
        journal.record_fill(fill(name))
    journal.save_state("ledger", {"n": 2})
    journal.record_fill(fill("d", at(-60)))  # journaled after the save, however old the fill
    journal.record_fill(fill("a"))  # a replay adds nothing

    assert journal.fill_ids_after(journal.state_fills_seq("ledger")) == ["d"]
    assert journal.fill_ids_after(None) == ["a", "b", "c", "d"]  # in journal order, not fill time
    assert [f.fill_id for f in journal.fills_named({"d", "b", "zz"})] == ["d", "b"]  # fill time order


def test_a_state_document_saved_before_the_stamps_has_none_after_the_migration(tmp_path: Path) -> None:
    path = tmp_path / "v3.sqlite3"
    with Journal(path) as journal:
        journal.record_fill(fill("f1"))
        journal.save_state("ledger", {"version": 1})
    with closing(sqlite3.connect(path, isolation_level=None)) as conn:  # as a version-3 journal left it
        conn.execute("UPDATE state SET fills_seq = NULL")
        conn.execute("DELETE FROM schema_version WHERE version = 4")
        conn.execute("ALTER TABLE state DROP COLUMN fills_seq")
    with Journal(path) as migrated:
        assert migrated.settings()["schema_version"] == SCHEMA_VERSION
        assert migrated.load_state("ledger") == {"version": 1}
        assert migrated.state_fills_seq("ledger") is None


def test_a_state_document_with_a_float_is_refused_and_the_old_one_kept(journal: Journal) -> None:
    journal.save_state("risk", {"loss": D("1.5")})
    with pytest.raises(TypeError, match="float"):
        journal.save_state("risk", {"loss": 1.5})
    assert journal.load_state("risk") == {"loss": D("1.5")}


def test_the_state_codec_writes_decimals_as_tagged_strings_and_refuses_ambiguous_dicts() -> None:
    text = dumps_state({"a": D("65432.10000000"), "t": T0})
    assert '"65432.10000000"' in text
    assert '"2025-03-10T12:00:00.000000+00:00"' in text
    assert loads_state(text) == {"a": D("65432.10000000"), "t": T0}
    with pytest.raises(ValueError, match="read back"):
        dumps_state({"x": {"$decimal": "1"}})


def test_money_is_stored_as_exact_text_never_as_a_number(tmp_path: Path) -> None:
    path = tmp_path / "j.db"
    with Journal(path) as journal:
        journal.record_intent(intent(), position_id=None)
        journal.record_fill(fill())
    with raw_db(path) as raw:
        row = raw.execute("SELECT qty, typeof(qty), limit_price, typeof(limit_price), intent_ts FROM orders").fetchone()
        assert row == ("0.00000001", "text", "65432.10000000", "text", "2025-03-10T12:00:00.000000+00:00")
        assert raw.execute("SELECT price, fee FROM fills").fetchone() == ("65432.10000000", "0.0000000001")


def test_a_write_is_committed_when_the_method_returns(journal: Journal) -> None:
    journal.record_fill(fill())
    # another connection (another process, in effect) sees it without the journal being closed
    with raw_db(journal.path) as outside:
        assert outside.execute("SELECT fill_id FROM fills").fetchall() == [("f1",)]


def test_everything_survives_closing_and_reopening(tmp_path: Path) -> None:
    path = tmp_path / "j.db"
    with Journal(path) as journal:
        journal.record_intent(intent(), position_id="p1", reason="r")
        journal.record_order_event(OrderEvent("c1", OrderStatus.ACKED, at(1), order_id="O-1"))
        journal.record_fill(fill())
        journal.open_position(position())
        journal.update_stop("p1", D("64100"), StopKind.TRAILING, at(2), "s1")
        journal.save_state("ledger", {"x": D("0.1")})
        journal.open_position(position("p2"))
        journal.close_position("p2", at(3600), trade())
        before = (journal.orders(), journal.fills(), journal.positions(), journal.stops("p1"), journal.closed_trades())
    with Journal(path) as journal:
        after = (journal.orders(), journal.fills(), journal.positions(), journal.stops("p1"), journal.closed_trades())
        assert after == before
        assert journal.load_state("ledger") == {"x": D("0.1")}
        assert journal.order_events("c1") == [OrderEvent("c1", OrderStatus.ACKED, at(1), order_id="O-1")]
        assert journal.settings()["schema_version"] == SCHEMA_VERSION


_WRITER = """
import sys
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from crocbot.core.messages import Fill, Liquidity, Side
from crocbot.store import Journal

journal = Journal(Path(sys.argv[1]))
journal.record_fill(Fill("f1", "c1", "O-1", "BTC/USD", Side.BUY, Decimal("0.00000001"), Decimal("65432.10000000"),
                         Decimal("0"), "USD", Liquidity.MAKER, datetime(2025, 3, 10, tzinfo=UTC)))
print("written", flush=True)
sys.stdin.read()  # hold the journal open until killed
"""


def test_a_write_survives_the_process_being_killed_right_after_it_returns(tmp_path: Path) -> None:
    path = tmp_path / "j.db"
    child = subprocess.Popen(
        [sys.executable, "-c", _WRITER, str(path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    reader = threading.Thread(target=lambda: lines.put(child.stdout.readline() if child.stdout else ""), daemon=True)
    reader.start()
    try:
        assert lines.get(timeout=30).strip() == "written"
    finally:
        child.kill()  # SIGKILL / TerminateProcess: no clean close, no checkpoint
        child.communicate(timeout=30)
    with Journal(path) as journal:
        assert journal.integrity_ok()
        assert [f.price for f in journal.fills()] == [D("65432.10000000")]


def test_a_journal_from_a_newer_crocbot_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "j.db"
    Journal(path).close()
    with raw_db(path) as raw:
        raw.execute("INSERT INTO schema_version (version, applied_at) VALUES (99, 'later')")
    with pytest.raises(JournalError, match="newer"):
        Journal(path)


def test_the_journal_can_be_used_from_another_thread_than_the_one_that_opened_it(journal: Journal) -> None:
    errors: list[BaseException] = []

    def use() -> None:
        try:
            journal.record_fill(fill())
        except BaseException as exc:
            errors.append(exc)

    worker = threading.Thread(target=use)
    worker.start()
    worker.join(timeout=10)
    assert not worker.is_alive()
    assert errors == []
    assert journal.fill_ids() == {"f1"}


def _journal_with_pages(path: Path, fills: int = 1500) -> None:
    """A journal spanning many pages; the rows go in as one transaction to keep the test fast."""
    Journal(path).close()
    rows = [(f"fill-{index:05d}", f"2025-03-10T12:00:{index % 60:02d}.000000+00:00") for index in range(fills)]
    with raw_db(path) as raw:
        raw.execute("BEGIN")
        raw.executemany(
            "INSERT INTO fills (fill_id, cl_ord_id, order_id, symbol, side, qty, price, fee, fee_currency,"
            " liquidity, ts) VALUES (?, 'c1', 'O-1', 'BTC/USD', 'buy', '1', '65432.1', '0', 'USD', 'maker', ?)",
            rows,
        )
        raw.execute("COMMIT")


def test_a_sound_journal_passes_its_integrity_check(journal: Journal) -> None:
    journal.record_fill(fill())
    assert journal.integrity_ok()


def test_a_corrupted_file_is_refused_on_open_with_a_message_that_says_what_to_do(tmp_path: Path) -> None:
    good = tmp_path / "good.db"
    _journal_with_pages(good)
    damaged = tmp_path / "damaged.db"
    shutil.copyfile(good, damaged)
    size = damaged.stat().st_size
    page = 4096
    with damaged.open("r+b") as handle:  # overwrite one whole page in the middle of the file
        handle.seek((size // page // 2) * page)
        handle.write(b"\xa5" * page)
    with pytest.raises(JournalCorrupt) as caught:
        Journal(damaged)
    message = str(caught.value)
    assert "damaged.db" in message
    assert "integrity check" in message
    assert "backup" in message
    with Journal(good) as journal:  # the original is untouched
        assert journal.integrity_ok()


def test_a_file_that_is_not_a_database_is_refused_as_corrupt(tmp_path: Path) -> None:
    path = tmp_path / "j.db"
    path.write_bytes(b"this is not sqlite" * 400)
    with pytest.raises(JournalCorrupt, match=r"j\.db"):
        Journal(path)


def test_a_backup_is_a_verified_standalone_copy_that_replaces_the_previous_one(tmp_path: Path) -> None:
    source = tmp_path / "j.db"
    target = tmp_path / "backups" / "j-1.db"
    with Journal(source) as journal:
        journal.record_intent(intent(), position_id=None)
        journal.record_fill(fill())
        journal.backup(target)
        journal.record_fill(fill("f2", at(1)))
        journal.backup(target)  # a second backup over the first
        expected = journal.fills()
    assert not target.with_name("j-1.db.partial").exists()
    with raw_db(target) as raw:
        assert raw.execute("PRAGMA quick_check").fetchone()[0] == "ok"
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    with Journal(target) as copy:
        assert copy.fills() == expected
        assert copy.order("c1") is not None


def test_a_backup_that_cannot_be_written_raises_and_leaves_no_partial_file(journal: Journal, tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    with pytest.raises(JournalError, match="backup"):
        journal.backup(blocker / "j.db")
