"""`crocbot status` reads the journal as the money path left it: a stop order at its amended size and trigger, a
position at its whole size after several partial fills, equity and unrealised P&L at the bot's last marks, fees
paid, realised P&L today and in total."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from pathlib import Path

from crocbot.actors.messages import SAFE_MODE_KEY
from crocbot.config import Settings, load_settings
from crocbot.core.books_status import BOOKS_KEY, books_document
from crocbot.core.clock import SimClock
from crocbot.core.desk import RISK_KEY, Action, Desk, Submitted
from crocbot.core.messages import OrderAmended, OrderPurpose, OrderStatus, Side, StopAmendRequest, StopKind
from crocbot.core.messages.commands import Amend
from crocbot.core.messages.journal import (
    RecordAmend,
    RecordEvent,
    RecordFill,
    RecordIntent,
    RecordPositionChanged,
    RecordPositionClosed,
    RecordPositionOpened,
    RecordStop,
    SaveState,
)
from crocbot.core.risk import RiskState
from crocbot.status import collect_status, render_status, status_exit_code
from crocbot.store.journal import Journal
from tests.core.desk_support import QTY, SYMBOL, at, event, fill, journaled, make_desk, seen, sent, signal
from tests.support.process import CONFIG

D = Decimal


def _journal(journal: Journal, actions: list[Action]) -> list[Action]:
    """What the router and persistence do with the desk's actions, as far as the journal sees them."""
    for record in journaled(actions):
        if isinstance(record, RecordIntent):
            journal.record_intent(record.intent, position_id=record.position_id, reason=record.reason)
        elif isinstance(record, RecordPositionOpened):
            journal.open_position(record.position)
        elif isinstance(record, RecordPositionChanged):
            journal.update_position(record.position_id, record.qty, record.entry_price)
        elif isinstance(record, RecordStop):
            journal.update_stop(record.position_id, record.stop, record.kind, record.ts, record.stop_cl_ord_id)
        elif isinstance(record, RecordPositionClosed):
            journal.close_position(record.position_id, record.ts, record.trade)
        elif isinstance(record, RecordAmend):
            journal.record_amend(record.amended)
        elif isinstance(record, RecordEvent):
            journal.record_order_event(record.event)
        elif isinstance(record, RecordFill):
            journal.record_fill(record.fill)
        elif isinstance(record, SaveState):
            journal.save_state(record.key, record.value)
    return actions


def _venue(journal: Journal, desk: Desk, message: object) -> list[Action]:
    """A venue message as the router handles it: handed to the desk, which journals it with what it decided."""
    now = at(100)
    if isinstance(message, OrderAmended):
        return _journal(journal, desk.on(message, now))
    raise AssertionError(message)


def _settings(state_dir: Path) -> Settings:
    empty = state_dir.parent / "empty.env"
    empty.write_text("")
    return load_settings(config_file=CONFIG, env_file=empty, overrides={"state_dir": str(state_dir)})


def _amended_and_partially_filled(state_dir: Path) -> tuple[str, Decimal]:
    """An entry filled in three parts; its stop placed for the first part, amended to the whole size, then moved
    to breakeven. Returns the stop order's id and the whole size."""
    desk = make_desk()
    with Journal(state_dir / "journal.sqlite3") as journal:
        entry = sent(_journal(journal, desk.on(signal(), at(0))), OrderPurpose.ENTRY)
        desk.on(Submitted(entry.cl_ord_id), at(0))
        _journal(journal, desk.on(event(entry.cl_ord_id, OrderStatus.ACKED, at(1)), at(1)))
        parts = [D("0.5"), D("5"), QTY - D("5.5")]
        stop_id = ""
        for n, part in enumerate(parts, start=1):
            partial = fill(f"F{n}", entry.cl_ord_id, part, "100", "0.05", ts=at(1 + n))
            actions = _journal(journal, desk.on(seen(partial), at(1 + n)))
            if n == 1:
                stop = sent(actions, OrderPurpose.STOP)
                stop_id = stop.cl_ord_id
                assert stop.qty == parts[0]
                desk.on(Submitted(stop_id), at(2))
                _journal(journal, desk.on(event(stop_id, OrderStatus.ACKED, at(2)), at(2)))
                continue
            (amend,) = [a for a in actions if isinstance(a, Amend)]
            assert amend.qty == sum(parts[:n])
            _venue(journal, desk, OrderAmended(stop_id, at(1 + n), qty=amend.qty, trigger_price=D("98")))
        position_id = desk.by_symbol[SYMBOL]
        request = StopAmendRequest(position_id, SYMBOL, D("100.81"), StopKind.BREAKEVEN, at(10))
        (move,) = [a for a in _journal(journal, desk.on(request, at(10))) if isinstance(a, Amend)]
        _venue(journal, desk, OrderAmended(stop_id, at(11), trigger_price=move.trigger_price))
        desk.on_mark(SYMBOL, D("103.5"))
        journal.save_state(BOOKS_KEY, books_document(desk, {SYMBOL: at(12)}, at(12)))
    return stop_id, QTY


def test_status_shows_the_stop_order_as_amended_and_the_position_at_its_whole_size(tmp_path: Path) -> None:
    stop_id, whole = _amended_and_partially_filled(tmp_path / "state")
    clock = SimClock(at(20))
    status = collect_status(_settings(tmp_path / "state"), probe=False, clock=clock)

    (position,) = status["positions"]
    assert position["qty"] == whole
    assert position["stop"] == D("100.81")
    assert position["stop_kind"] == "breakeven"
    (order,) = [o for o in status["open_orders"] if o["cl_ord_id"] == stop_id]
    assert order["qty"] == whole  # not the first part the stop was placed for
    assert order["trigger"] == D("100.81")  # not the initial 98
    assert order["amended"] is True
    text = render_status(status)
    assert f"{whole} @ 100.81" in text


def test_status_values_the_books_at_the_saved_marks_and_counts_fees_and_realised_pnl(tmp_path: Path) -> None:
    _amended_and_partially_filled(tmp_path / "state")
    clock = SimClock(at(20))
    status = collect_status(_settings(tmp_path / "state"), probe=False, clock=clock)

    fees = D("0.15")
    assert status["fees_paid"] == {"USD": fees}
    assert status["unrealized"] == (D("103.5") - D("100")) * QTY
    assert status["cash"] == D("10000") - QTY * D("100") - fees
    assert status["equity"] == status["cash"] + QTY * D("103.5")
    assert status["last_data"] == {SYMBOL: at(12).isoformat()}
    assert status["marks_live"] is False  # no bot runs: the marks are the last known ones
    assert status["realized_today"] == 0
    text = render_status(status)
    assert "LAST KNOWN" in text
    assert f"{SYMBOL} {at(12).isoformat(timespec='seconds')} (8s ago)" in text


def test_realised_today_counts_only_the_trades_closed_on_the_current_utc_day(tmp_path: Path) -> None:
    desk = make_desk()
    state = tmp_path / "state"
    with Journal(state / "journal.sqlite3") as journal:
        entry = sent(_journal(journal, desk.on(signal(), at(0))), OrderPurpose.ENTRY)
        desk.on(Submitted(entry.cl_ord_id), at(0))
        _journal(journal, desk.on(event(entry.cl_ord_id, OrderStatus.ACKED, at(1)), at(1)))
        bought = fill("F1", entry.cl_ord_id, QTY, "100", "0.62", ts=at(2))
        stop = sent(_journal(journal, desk.on(seen(bought), at(2))), OrderPurpose.STOP)
        desk.on(Submitted(stop.cl_ord_id), at(2))
        _journal(journal, desk.on(event(stop.cl_ord_id, OrderStatus.ACKED, at(3)), at(3)))
        sold = fill("F2", stop.cl_ord_id, QTY, "98", "0.61", side=Side.SELL, ts=at(4))
        _journal(journal, desk.on(seen(sold), at(4)))
        (trade,) = journal.closed_trades()

    today = collect_status(_settings(state), probe=False, clock=SimClock(at(60)))
    tomorrow = collect_status(_settings(state), probe=False, clock=SimClock(at(0) + timedelta(days=1)))
    assert today["realized_today"] == trade.realized_pnl < 0
    assert tomorrow["realized_today"] == 0
    assert today["realized_pnl"] == tomorrow["realized_pnl"] == trade.realized_pnl


def test_status_without_a_bot_is_not_running_and_the_same_code_as_text_or_json(tmp_path: Path) -> None:
    _amended_and_partially_filled(tmp_path / "state")
    status = collect_status(_settings(tmp_path / "state"))
    assert status["bot"] == "not_running"
    assert int(status_exit_code(status)) == 4


def test_status_names_the_kill_switchs_and_safe_modes_reasons(tmp_path: Path) -> None:
    state = tmp_path / "state"
    risk = RiskState(day=at(0).date(), kill_day=at(0).date(), kill_reason="kill switch tripped: lost 3.1 % today")
    with Journal(state / "journal.sqlite3") as journal:
        journal.save_state(RISK_KEY, risk.to_state())
        journal.save_state(SAFE_MODE_KEY, {"reasons": ["feed: BTC/USD out of sync"], "ts": at(5).isoformat()})
    status = collect_status(_settings(state), probe=False, clock=SimClock(at(20)))
    assert status["kill_reason"] == "kill switch tripped: lost 3.1 % today"
    assert status["safe_reasons"] == ["feed: BTC/USD out of sync"]
    text = render_status(status)
    assert "TRIPPED on 2026-01-05 UTC (kill switch tripped: lost 3.1 % today)" in text
    assert f"ON since {at(5).isoformat()}: feed: BTC/USD out of sync" in text


def test_a_safe_mode_that_is_off_has_no_since(tmp_path: Path) -> None:
    """`status --json` said `"safe_mode": false, "safe_since": "2023-01-07…"`: the time it last turned off."""
    state = tmp_path / "state"
    with Journal(state / "journal.sqlite3") as journal:
        journal.save_state(SAFE_MODE_KEY, {"reasons": [], "ts": at(5).isoformat()})
    status = collect_status(_settings(state), probe=False, clock=SimClock(at(20)))
    assert status["safe_mode"] is False
    assert status["safe_since"] is None
