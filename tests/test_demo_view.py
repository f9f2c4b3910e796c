"""The demo's console view at 80x24: nothing wrapped or wider than the terminal, the header first and whole, numbers
at their instrument's or quote's precision, times in market time; and the summary without its JSON line."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from rich.console import Console

from crocbot.actors.messages import OrderView, PositionView, StatusReport
from crocbot.demo import DemoResult, summary_text
from crocbot.demo.live import VenueCheck
from crocbot.demo.run import TITLES
from crocbot.demo.view import ViewData, render_view
from crocbot.ops.trade_audit import TradeAudit
from crocbot.sim.catalog import DEFAULT_INSTRUMENTS

D = Decimal
INSTRUMENTS = {i.symbol: i for i in DEFAULT_INSTRUMENTS}
NOW = datetime(2023, 1, 9, 13, 5, tzinfo=UTC)
TITLE = "crocbot demo (paper trading against the simulator; Ctrl-C ends it early)"
# The amounts of issue 12: an entry price of 28 decimals, a P&L that must show in cents.
RAW_ENTRY = D("235.5776343317068574164862663")


def _report(n: int, *, safe: bool = True) -> StatusReport:
    positions = tuple(
        PositionView(f"p{i}", "AAPLx/USD", D("10.66"), RAW_ENTRY, D("233.71"), i % 2 == 0, None, D("236.1"))
        for i in range(n)
    )
    orders = tuple(
        OrderView(
            f"cbs0lq3m2x4001{i:02d}",
            "BTC/USD",
            "stop",
            "sell",
            "stop-loss",
            D("0.76443964"),
            D(0),
            D("3257.3"),
            "acked",
        )
        for i in range(n)
    )
    reasons = ("market data not fresh: BTC/USD stale for 31s, resubscribing its book",) if safe else ()
    return StatusReport(
        D("10012.345678"), D("12.5"), n, reasons, n > 3, True, positions, orders, "daily loss limit reached"
    )


def _events(n: int) -> list[tuple[datetime, str]]:
    return [
        (NOW - timedelta(minutes=n - i), f"event {i}: a long line of text that goes well beyond eighty columns")
        for i in range(n)
    ]


def _lines(report: StatusReport, events: list[tuple[datetime, str]], width: int = 80, height: int = 24) -> list[str]:
    console = Console(record=True, width=width, height=height, color_system=None)
    console.print(render_view(ViewData(NOW, report, events, D(10000), INSTRUMENTS), TITLE, height=height))
    return console.export_text().rstrip("\n").split("\n")


@pytest.mark.parametrize("n", [0, 1, 3, 12])
def test_at_80x24_no_line_is_wider_no_frame_taller_and_the_header_comes_first(n: int) -> None:
    lines = _lines(_report(n), _events(40))

    assert max(len(line) for line in lines) <= 80
    assert len(lines) <= 23  # the last row stays free: a frame of 24 rows would scroll the header away
    assert lines[0] == TITLE
    assert lines[1].startswith("market time 01-09 13:05 UTC  equity 10,012.35  P&L 12.35  realised 12.50")
    assert "SAFE MODE: market data not fresh" in lines[2]
    assert "last events (market time)" in lines


def test_column_headers_stay_whole_words_at_80_columns() -> None:
    text = "\n".join(_lines(_report(3), _events(5)))

    for header in ("POSITION", "QTY", "ENTRY", "STOP", "MARK", "UNREAL.", "STOP ON", "ORDER", "SYMBOL", "PURPOSE"):
        assert header in text
    for header in ("SIDE", "TYPE", "PRICE", "STATUS"):
        assert header in text
    assert "ST ATUS" not in text
    assert "ac ked" not in text


def test_prices_and_quantities_at_the_instruments_precision_and_money_at_the_quotes() -> None:
    lines = _lines(_report(1, safe=False), [])
    position = next(line for line in lines if line.startswith("AAPLx/USD"))
    order = next(line for line in lines if line.startswith("cbs0lq3m2x400100"))

    assert str(RAW_ENTRY) not in position
    # AAPLx/USD: prices to 2 places, qty to 8; the unrealised P&L, (236.1 - 235.577...) x 10.66, in cents.
    assert position.split()[:6] == ["AAPLx/USD", "10.66000000", "235.58", "233.71", "236.10", "5.57"]
    assert order.split()[5:8] == ["0.76443964", "3257.3", "acked"]  # BTC/USD: prices to 1 place
    assert lines[2] == "entries allowed"


def test_event_times_are_market_times_in_the_headers_format() -> None:
    lines = _lines(_report(0, safe=False), [(NOW - timedelta(hours=2), "BTC/USD opened")])

    assert "01-09 11:05 BTC/USD opened" in lines


def test_a_small_terminal_keeps_the_header_and_says_what_did_not_fit() -> None:
    lines = _lines(_report(12), _events(40), height=24)
    text = "\n".join(lines)

    assert lines[0] == TITLE
    assert "... and" in text


def test_the_summary_has_no_json_line(tmp_path: Path) -> None:
    result = DemoResult(realized=D("-22.705762988"), equity=D("9973.6182648686"), start_equity=D(10000))

    text = summary_text(result, tmp_path)

    assert not any(line.lstrip().startswith("{") for line in text.splitlines())
    assert "realised -22.71, equity 9,973.62 (from 10,000.00)" in text


def test_the_summary_fits_80_columns_with_each_line_wrapped_under_its_label(tmp_path: Path) -> None:
    result = DemoResult(settle_timeouts=3, interrupted=True)

    lines = summary_text(result, tmp_path).splitlines()

    assert max(len(line) for line in lines) <= 80
    assert "  ended       early, by Ctrl-C" in lines
    continued = [line for line in lines if line.startswith(" " * 14)]
    assert continued  # the safety line and the note are longer than 80 columns


def test_the_live_title_fits_80_columns_whole() -> None:
    console = Console(record=True, width=80, height=24, color_system=None)
    console.print(render_view(ViewData(NOW, _report(1), _events(3), D(10000), INSTRUMENTS), TITLES["live"], height=24))

    assert console.export_text().split("\n")[0] == TITLES["live"]
    assert "LIVE" in TITLES["live"]
    assert "no real money" in TITLES["live"]


def test_the_summary_splits_realised_pnl_into_the_closed_trades_and_the_open_positions_fees(tmp_path: Path) -> None:
    audit = TradeAudit(5, 2, 1, D("27.80225"), D("33.3006593592"), 0, 0, 0, 0)
    result = DemoResult(realized=D("27.9467193592"), audit=audit, open_positions=1)

    text = " ".join(summary_text(result, tmp_path).split())

    assert "realised 27.95 (closed trades 33.30, open positions -5.35: their fees and part exits so far)" in text
    assert "(their stops stay on the venue)" in text  # paper


def test_a_live_summary_says_so_and_lists_what_the_simulator_disagrees_with(tmp_path: Path) -> None:
    problems = tuple(f"fill T{i} is on the simulator's account but not in the journal" for i in range(12))
    check = VenueCheck(12, 0, {"USD": D("-1.5")}, problems)
    result = DemoResult(venue="live", venue_check=check, audit=TradeAudit(0, 0, 0, D(0), D(0), 0, 0, 0, 0))

    lines = summary_text(result, tmp_path).splitlines()
    text = " ".join(" ".join(lines).split())

    assert max(len(line) for line in lines) <= 80
    assert "venue LIVE mode" in text
    assert "which ends with the demo" in text
    assert "venue check DISAGREES: the simulator has 12 fills, the journal 0" in text
    assert sum(1 for line in lines if line.startswith("  mismatch")) == 11  # ten named, then how many more
    assert "... and 2 more" in text
    agreeing = DemoResult(venue="live", venue_check=VenueCheck(0, 0, {}))
    assert "agrees with the journal" in summary_text(agreeing, tmp_path)
