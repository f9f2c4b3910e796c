"""The console view: positions, open orders, P&L and the last events, as plain text that fits a terminal."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

from crocbot.actors.router import StatusReport
from crocbot.core.money import fmt

__all__ = ["render_view", "CLEAR"]

CLEAR = "\x1b[H\x1b[2J"  # cursor home, clear screen: redraw in place (ANSI; Windows 10+ terminals too)


def _money(value: Decimal | None, places: str = "0.01") -> str:
    return "-" if value is None else f"{value.quantize(Decimal(places)):,}"


def render_view(
    title: str, now: datetime, report: StatusReport, events: Sequence[tuple[datetime, str]], *, start_equity: Decimal
) -> str:
    pnl = report.equity - start_equity
    state = []
    if report.kill_switch:
        state.append(f"KILL SWITCH: {report.kill_reason or 'tripped'}")
    if report.safe_reasons:
        state.append("SAFE MODE: " + "; ".join(report.safe_reasons))
    lines = [
        title,
        f"event time {now:%Y-%m-%d %H:%M:%S} UTC   equity {_money(report.equity)}   P&L {_money(pnl)}   "
        f"realised {_money(report.realized)}",
        "   ".join(state) or "entries allowed",
        "",
        f"{'POSITION':<12}{'QTY':>14}{'ENTRY':>12}{'STOP':>12}{'MARK':>12}{'UNREALISED':>12}  STOP ON VENUE",
    ]
    for p in report.positions:
        unrealised = (p.mark - p.entry) * p.qty if p.mark is not None else None
        lines.append(
            f"{p.symbol:<12}{fmt(p.qty):>14}{_money(p.entry):>12}{_money(p.stop):>12}{_money(p.mark):>12}"
            f"{_money(unrealised):>12}  {'yes' if p.stop_live else 'PENDING'}"
        )
    if not report.positions:
        lines.append("  (flat)")
    lines += ["", f"{'ORDER':<18}{'SYMBOL':<12}{'PURPOSE':<9}{'TYPE':<11}{'QTY':>14}{'PRICE':>12}  STATUS"]
    for o in report.orders:
        lines.append(
            f"{o.cl_ord_id:<18}{o.symbol:<12}{o.purpose:<9}{o.order_type:<11}{fmt(o.qty):>14}"
            f"{_money(o.price):>12}  {o.status}"
        )
    if not report.orders:
        lines.append("  (none)")
    lines += ["", "LAST EVENTS"]
    lines += [f"  {ts:%m-%d %H:%M:%S}  {text}" for ts, text in events[-10:]] or ["  (none yet)"]
    return "\n".join(lines) + "\n"
