"""The JSONL trade log writes verified lines with exact string money, falls back and alerts when its file
fails, raises only when the fallback fails too, and reads back around a torn line."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from crocbot.core.messages import ClosedTrade, ExitReason, Fill, Liquidity, PositionSide, Side, TradeContext
from crocbot.store import TradeLog, TradeLogError, fill_record, trade_record

T0 = datetime(2025, 3, 10, 12, 0, tzinfo=UTC)
D = Decimal


def make_fill(fill_id: str = "f1") -> Fill:
    return Fill(
        fill_id=fill_id,
        cl_ord_id="c1",
        order_id="O-1",
        symbol="BTC/USD",
        side=Side.BUY,
        qty=D("0.00000001"),
        price=D("65432.10000000"),
        fee=D("0.0000000001"),
        fee_currency="USD",
        liquidity=Liquidity.TAKER,
        ts=T0 + timedelta(microseconds=123456),
    )


RISK = D("716.05000000")


def make_trade(initial_risk: Decimal | None = RISK) -> ClosedTrade:
    return ClosedTrade(
        trade_id="t1",
        symbol="BTC/USD",
        side=PositionSide.SHORT,
        qty=D("0.50000000"),
        entry_price=D("66000.00000000"),
        exit_price=D("65432.10000000"),
        fees=D("0.12345678"),
        realized_pnl=D("283.82654322"),
        opened_at=T0,
        closed_at=T0 + timedelta(hours=1),
        initial_risk=initial_risk,
    )


class Alerts:
    """A capturing alert sink."""

    def __init__(self) -> None:
        self.messages: list[str] = []

    def __call__(self, message: str) -> None:
        self.messages.append(message)


def test_a_fill_is_one_json_line_with_money_as_exact_strings_and_reads_back_equal(tmp_path: Path) -> None:
    path = tmp_path / "logs" / "trades.jsonl"
    log = TradeLog(path)
    record = fill_record(make_fill(), position_id="p1")
    log.append(record)
    raw = path.read_bytes()
    assert raw.endswith(b"\n")
    assert raw.count(b"\n") == 1
    line = json.loads(raw)  # a plain JSON parser, as an independent script would use
    assert line == {
        "type": "fill",
        "ts": "2025-03-10T12:00:00.123456+00:00",
        "fill_id": "f1",
        "cl_ord_id": "c1",
        "order_id": "O-1",
        "symbol": "BTC/USD",
        "side": "buy",
        "qty": "0.00000001",
        "price": "65432.10000000",
        "fee": "0.0000000001",
        "fee_currency": "USD",
        "liquidity": "taker",
        "position_id": "p1",
    }
    assert TradeLog.read(path) == [record]


def test_a_closed_trade_is_one_line_and_reads_back_with_decimals_and_datetimes(tmp_path: Path) -> None:
    path = tmp_path / "trades.jsonl"
    log = TradeLog(path)
    log.append(trade_record(make_trade()))
    log.append(TradeLog.trade_record(make_trade(initial_risk=None)))
    first, second = TradeLog.read(path)
    assert first == trade_record(make_trade())
    assert first["r_multiple"] == D("283.82654322") / RISK
    assert first["closed_at"] == T0 + timedelta(hours=1)
    assert (second["initial_risk"], second["r_multiple"]) == (None, None)
    raw = json.loads(path.read_text(encoding="utf-8").splitlines()[0])
    assert (raw["type"], raw["realized_pnl"], raw["side"]) == ("trade", "283.82654322", "short")


def test_a_closed_trade_with_its_context_is_shown_at_the_instruments_precisions_with_why_and_how_it_went(
    tmp_path: Path,
) -> None:
    """`235.5776343317068574164862663` appeared as an entry price: an average of fills, in full Decimal precision."""
    trade = ClosedTrade(
        trade_id="AAPLx/USD:f1",
        symbol="AAPLx/USD",
        side=PositionSide.LONG,
        qty=D("10.66"),
        entry_price=D("235.5776343317068574164862663"),
        exit_price=D("240.1049999999999999999999999"),
        fees=D("18.71234567891234"),
        realized_pnl=D("29.54987654321987"),
        opened_at=T0,
        closed_at=T0 + timedelta(hours=5),
        initial_risk=D("53.3000000001"),
    )
    context = TradeContext(
        exit_reason=ExitReason.TRAILING,
        strategy="ema_trend",
        intended_entry=D("235.50"),
        equity_after=D("10029.549876543219871"),
        price_precision=2,
        money_precision=2,
    )
    path = tmp_path / "trades.jsonl"

    TradeLog(path).append(trade_record(trade, context))

    line = json.loads(path.read_text(encoding="utf-8"))
    assert {key: line[key] for key in ("entry_price", "exit_price", "fees", "realized_pnl", "initial_risk")} == {
        "entry_price": "235.58",
        "exit_price": "240.10",
        "fees": "18.71",
        "realized_pnl": "29.55",
        "initial_risk": "53.30",
    }
    assert (line["r_multiple"], line["qty"]) == ("0.55", "10.66")
    assert (line["exit_reason"], line["strategy"], line["exit_detail"]) == ("trailing", "ema_trend", "")
    assert (line["intended_entry"], line["entry_slippage"]) == ("235.50", "0.08")  # paid 0.08 more than planned
    assert line["equity_after"] == "10029.55"
    (back,) = TradeLog.read(path)
    assert back["entry_slippage"] == D("0.08")
    assert back["equity_after"] == D("10029.55")


def test_every_append_is_fsynced(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    synced: list[int] = []
    real_fsync = os.fsync

    def counting_fsync(fd: int) -> None:
        synced.append(fd)
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", counting_fsync)
    log = TradeLog(tmp_path / "trades.jsonl")
    log.append(fill_record(make_fill("f1"), position_id=None))
    log.append(fill_record(make_fill("f2"), position_id=None))
    assert len(synced) >= 2


def test_a_failed_try_is_cut_back_and_retried_so_the_record_is_written_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    failures = [OSError(5, "Input/output error")]
    real_fsync = os.fsync

    def flaky_fsync(fd: int) -> None:
        if failures:
            raise failures.pop()
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", flaky_fsync)
    path = tmp_path / "trades.jsonl"
    alerts = Alerts()
    TradeLog(path, fallback=tmp_path / "fallback.jsonl", alert=alerts).append(
        fill_record(make_fill(), position_id=None)
    )
    assert [r["fill_id"] for r in TradeLog.read(path)] == ["f1"]
    assert path.read_bytes().count(b"\n") == 1
    assert alerts.messages == []
    assert not (tmp_path / "fallback.jsonl").exists()


def test_a_failing_log_file_falls_back_and_alerts_with_the_file_and_error(tmp_path: Path) -> None:
    primary = tmp_path / "trades.jsonl"
    primary.mkdir()  # a directory where the file should be: every write fails
    fallback = tmp_path / "errors" / "trades-fallback.jsonl"
    alerts = Alerts()
    log = TradeLog(primary, fallback=fallback, alert=alerts, retries=2)
    record = fill_record(make_fill(), position_id="p1")
    log.append(record)
    assert TradeLog.read(fallback) == [record]
    assert log.fallback_writes == 1
    [message] = alerts.messages
    assert str(primary) in message
    assert str(fallback) in message
    assert "Error" in message  # the kind of error, e.g. IsADirectoryError
    assert "65432" not in message  # the message names the failure, not the record


def test_a_broken_alert_callback_does_not_lose_the_record_or_raise(tmp_path: Path) -> None:
    primary = tmp_path / "trades.jsonl"
    primary.mkdir()
    fallback = tmp_path / "fallback.jsonl"

    def broken_alert(message: str) -> None:
        raise RuntimeError("notifier down")

    TradeLog(primary, fallback=fallback, alert=broken_alert).append(fill_record(make_fill(), position_id=None))
    assert len(TradeLog.read(fallback)) == 1


def test_when_the_fallback_fails_too_the_caller_gets_trade_log_error(tmp_path: Path) -> None:
    primary = tmp_path / "trades.jsonl"
    primary.mkdir()
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    fallback = blocker / "fallback.jsonl"  # its parent is a file: cannot be created
    alerts = Alerts()
    log = TradeLog(primary, fallback=fallback, alert=alerts)
    with pytest.raises(TradeLogError) as caught:
        log.append(fill_record(make_fill(), position_id=None))
    assert str(primary) in str(caught.value)
    assert str(fallback) in str(caught.value)
    assert alerts.messages == []  # the caller alerts (and halts entries) on the exception


def test_without_a_fallback_a_failing_log_raises_trade_log_error(tmp_path: Path) -> None:
    primary = tmp_path / "trades.jsonl"
    primary.mkdir()
    with pytest.raises(TradeLogError, match="no fallback"):
        TradeLog(primary, retries=0).append(fill_record(make_fill(), position_id=None))


def test_read_returns_the_good_lines_and_counts_a_torn_last_line(tmp_path: Path) -> None:
    path = tmp_path / "trades.jsonl"
    log = TradeLog(path)
    log.append(fill_record(make_fill("f1"), position_id=None))
    log.append(fill_record(make_fill("f2"), position_id=None))
    with path.open("ab") as handle:
        handle.write(b'{"type": "fill", "fill_id": "f3", "qty": "0.0')  # a crash mid-write
    records = TradeLog.read(path)
    assert [r["fill_id"] for r in records] == ["f1", "f2"]
    assert records.torn == 1
    assert records.torn_lines == (3,)


def test_read_counts_a_complete_but_invalid_line_and_keeps_going(tmp_path: Path) -> None:
    path = tmp_path / "trades.jsonl"
    good = json.dumps({"type": "fill", "fill_id": "f1", "qty": "1", "ts": "2025-03-10T12:00:00+00:00"})
    path.write_text(f'{good}\nnot json\n{{"type": "fill", "qty": "abc"}}\n[1, 2]\n\n{good}\n', encoding="utf-8")
    records = TradeLog.read(path)
    assert [r["qty"] for r in records] == [D("1"), D("1")]
    assert records.torn_lines == (2, 3, 4)


def test_an_append_after_a_torn_line_starts_on_a_new_line(tmp_path: Path) -> None:
    path = tmp_path / "trades.jsonl"
    path.write_bytes(b'{"type": "fill", "fill_id": "torn", "qt')
    TradeLog(path).append(fill_record(make_fill(), position_id=None))
    records = TradeLog.read(path)
    assert [r["fill_id"] for r in records] == ["f1"]
    assert records.torn_lines == (1,)


def test_a_float_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    path = tmp_path / "trades.jsonl"
    with pytest.raises(TypeError, match="float"):
        TradeLog(path).append({"type": "fill", "qty": 0.1})
    assert not path.exists()


def test_negative_retries_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="retries"):
        TradeLog(tmp_path / "t.jsonl", retries=-1)
