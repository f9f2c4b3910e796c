"""The demo's console view, drawn with rich: a header that never scrolls away, positions, open orders and the
last events, cut to the terminal's size (80x24 included) instead of wrapped.

Every number is shown at its instrument's precision (prices, quantities) or its quote currency's (money), and
every time is market time: the simulator's clock, which runs days ahead of the wall clock in the demo.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from crocbot.actors.messages import OrderView, PositionView, StatusReport
from crocbot.core.instrument import Instrument
from crocbot.core.money import quote_places, round_to_decimals

__all__ = ["ViewData", "render_view", "money"]

_HEADER_ROWS = 3  # title, figures, trading state
_NUMBERS = ("QTY", "ENTRY", "STOP", "MARK", "UNREAL.", "PRICE")  # right-aligned columns
_TIME = "%m-%d %H:%M"  # market time, the same in the header and the events


@dataclass(frozen=True, slots=True)
class ViewData:
    """What one frame of the view shows."""

    now: datetime  # market time
    report: StatusReport
    events: Sequence[tuple[datetime, str]]  # (market time, text), oldest first
    start_equity: Decimal
    instruments: Mapping[str, Instrument]
    quote: str = "USD"


def money(value: Decimal, quote: str) -> str:
    """An amount of `quote` rounded to its precision, with thousands separators."""
    return f"{round_to_decimals(value, quote_places(quote)):,}"


def _price(value: Decimal | None, instrument: Instrument | None) -> str:
    if value is None:
        return "-"
    return instrument.price_text(value) if instrument is not None else format(value, "f")


def _qty(value: Decimal, instrument: Instrument | None) -> str:
    return instrument.qty_text(value) if instrument is not None else format(value, "f")


def _table(*headers: str, right: Sequence[str] = ()) -> Table:
    """A borderless table whose cells are cut with an ellipsis, never wrapped, and whose headers stay whole."""
    table = Table(box=None, padding=(0, 1), pad_edge=False, show_edge=False, header_style="bold", expand=False)
    for header in headers:
        table.add_column(
            header,
            justify="right" if header in right else "left",
            no_wrap=True,
            overflow="ellipsis",
            min_width=len(header),
        )
    return table


def _positions(data: ViewData, rows: int) -> RenderableType:
    if not data.report.positions:
        return Text("positions: flat")
    table = _table("POSITION", "QTY", "ENTRY", "STOP", "MARK", "UNREAL.", "STOP ON", right=_NUMBERS)
    shown: Sequence[PositionView] = data.report.positions[: max(rows, 1)]
    for p in shown:
        instrument = data.instruments.get(p.symbol)
        unrealised = money((p.mark - p.entry) * p.qty, data.quote) if p.mark is not None else "-"
        table.add_row(
            p.symbol,
            _qty(p.qty, instrument),
            _price(p.entry, instrument),
            _price(p.stop, instrument),
            _price(p.mark, instrument),
            unrealised,
            "venue" if p.stop_live else "PENDING",
        )
    hidden = len(data.report.positions) - len(shown)
    return Group(table, Text(f"  ... and {hidden} more")) if hidden else table


def _orders(data: ViewData, rows: int) -> RenderableType:
    if not data.report.orders:
        return Text("orders: none open")
    table = _table("ORDER", "SYMBOL", "PURPOSE", "SIDE", "TYPE", "QTY", "PRICE", "STATUS", right=_NUMBERS)
    shown: Sequence[OrderView] = data.report.orders[: max(rows, 1)]
    for o in shown:
        instrument = data.instruments.get(o.symbol)
        table.add_row(
            o.cl_ord_id,
            o.symbol,
            o.purpose,
            o.side,
            o.order_type,
            _qty(o.qty, instrument),
            _price(o.price, instrument),
            o.status,
        )
    hidden = len(data.report.orders) - len(shown)
    return Group(table, Text(f"  ... and {hidden} more")) if hidden else table


def _header(data: ViewData, title: str) -> list[RenderableType]:
    report = data.report
    pnl = report.equity - data.start_equity
    figures = Text.assemble(
        ("market time ", "dim"),
        f"{data.now:{_TIME}} UTC  ",
        ("equity ", "dim"),
        money(report.equity, data.quote),
        ("  P&L ", "dim"),
        (money(pnl, data.quote), "green" if pnl >= 0 else "red"),
        ("  realised ", "dim"),
        money(report.realized, data.quote),
        no_wrap=True,
        overflow="ellipsis",
    )
    state = []
    if report.kill_switch:
        state.append(f"KILL SWITCH: {report.kill_reason or 'tripped'}")
    if report.safe_reasons:
        state.append("SAFE MODE: " + "; ".join(report.safe_reasons))
    status = Text("   ".join(state) or "entries allowed", style="bold red" if state else "green")
    status.no_wrap, status.overflow = True, "ellipsis"
    heading = Text(title, style="bold", no_wrap=True, overflow="ellipsis")
    return [heading, figures, status]


def _section_rows(count: int, shown: int) -> int:
    """The rows a table section takes: a blank line, then one line saying it is empty, or its header row, `shown`
    rows, and a line saying how many more did not fit."""
    return 2 if not count else 2 + shown + (count > shown)


def render_view(data: ViewData, title: str, *, height: int = 24) -> RenderableType:
    """One frame for a terminal `height` rows high: the header first, then positions, orders and events, each
    cut to the rows left (a table takes a header row; "... and N more" says what did not fit)."""
    rows = max(height - _HEADER_ROWS - 1, 6)  # below the header; the last row stays free, or the screen scrolls
    n_positions, n_orders = len(data.report.positions), len(data.report.orders)
    position_rows = min(n_positions, max(rows // 4, 1))
    rows -= _section_rows(n_positions, position_rows)
    order_rows = min(n_orders, max(rows // 2, 1))
    rows -= _section_rows(n_orders, order_rows)
    event_rows = max(rows - 2, 1)  # less a blank line and the section's title
    events = Table.grid(padding=(0, 1))
    events.add_column(no_wrap=True, min_width=len(f"{data.now:{_TIME}}"))
    events.add_column(no_wrap=True, overflow="ellipsis")
    for ts, text in list(data.events)[-event_rows:]:
        events.add_row(Text(f"{ts:{_TIME}}", style="dim"), text)
    return Group(
        *_header(data, title),
        Text(""),
        _positions(data, position_rows),
        Text(""),
        _orders(data, order_rows),
        Text(""),
        Text("last events (market time)", style="bold") if data.events else Text("no events yet"),
        events,
    )
