"""`crocbot status` as text: what `crocbot.status.collect_status` found, one fact a line, numbers rounded to the
instrument's precision (from the cached catalog; Kraken's finest, 8 decimals, without one)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from crocbot.core.money import fmt, quote_places

__all__ = ["render_status"]

_FINEST = 8  # decimals shown when the catalog does not say (Kraken's finest precision)
_STEP_FINEST = Decimal(1).scaleb(-_FINEST)


def _num(value: Decimal | None, decimals: int | None, *, sign: bool = False) -> str:
    if value is None:
        return "-"
    if decimals is None:  # not known: no more than Kraken's finest, no padding either
        shown = value.quantize(_STEP_FINEST, rounding=ROUND_HALF_EVEN) if _exp(value) < -_FINEST else value
    else:  # known: exactly that many, as Kraken shows them (equity 10000.00, not 10000)
        shown = value.quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_EVEN)
    text = fmt(shown)
    return f"+{text}" if sign and shown > 0 else text


def _exp(value: Decimal) -> int:
    exponent = value.as_tuple().exponent
    return exponent if isinstance(exponent, int) else 0


def _ago(ts: str | None, now: datetime) -> str:
    if ts is None:
        return "never"
    then = datetime.fromisoformat(ts)
    return f"{then.isoformat(timespec='seconds')} ({_duration(int((now - then).total_seconds()))} ago)"


def _duration(seconds: int) -> str:
    days, rest = divmod(max(seconds, 0), 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h {minutes:02d}m"
    if hours:
        return f"{hours}h {minutes:02d}m"
    return f"{minutes}m {seconds:02d}s" if minutes else f"{seconds}s"


def _bot_line(status: Mapping[str, Any]) -> str:
    if status["bot"] != "running":
        return str(status["bot_detail"])
    if status["ready"]:
        return f"{status['bot_detail']}, ready"
    failing = status.get("failing_checks", {})
    reasons = "; ".join(f"{name}: {detail}" if detail else name for name, detail in failing.items())
    return f"{status['bot_detail']}, NOT ready: {reasons or 'no readiness answer'}"


def render_status(status: Mapping[str, Any]) -> str:
    now = datetime.fromisoformat(status["now"])
    lines = [f"state        {status['state_dir']}", f"bot          {_bot_line(status)}"]
    if status.get("uptime_seconds") is not None:
        lines.append(f"uptime       {_duration(status['uptime_seconds'])} (since {status['started_at']})")
    if "error" in status:
        return "\n".join([*lines, f"journal      {status['error']}"]) + "\n"
    precision = status.get("precision", {})
    quote = status.get("quote", "")
    money_places = precision.get("money", {}).get(quote, quote_places(quote) if quote else None)

    def money(value: Decimal | None, *, sign: bool = False) -> str:
        return _num(value, money_places, sign=sign)

    lines += [
        "kill switch  "
        + (
            f"TRIPPED on {status['kill_day']} UTC ({status['kill_reason']}); entries stay blocked that day"
            if status["kill_switch"]
            else "not tripped"
        ),
        "safe mode    "
        + (f"ON since {status['safe_since']}: " + "; ".join(status["safe_reasons"]) if status["safe_mode"] else "off"),
    ]
    if status.get("cash") is not None:
        as_of = status.get("marks_as_of")
        if as_of is None:
            marks = "no marks saved yet: positions valued at their entry"
        elif status.get("marks_live"):
            marks = f"marks of the running bot as of {_ago(as_of, now)}"
        else:
            marks = f"LAST KNOWN: marks as of {_ago(as_of, now)}, the bot is not running"
        at_entry = status.get("valued_at_entry") or []
        if at_entry and as_of is not None:
            marks += f"; {', '.join(at_entry)} at entry (no mark)"
        lines += [
            f"equity       {money(status['equity'])} {quote} (cash {money(status['cash'])}; {marks})",
            f"unrealised   {money(status['unrealized'], sign=True)}",
        ]
    fees = ", ".join(f"{money(v)} {c}" for c, v in status["fees_paid"].items()) or "none"
    lines += [
        f"realised     {money(status['realized_today'], sign=True)} today (UTC), "
        f"{money(status['realized_pnl'], sign=True)} in total (net of fees)",
        f"fees paid    {fees}",
        f"fills        {status['fills']} ({status['closed_trades']} closed trades, "
        f"{status['backfilled_fills']} backfilled by reconciliation)",
        "reconciled   " + _reconciliation(status["last_reconciliation"]),
        "market data  "
        + (", ".join(f"{s} {_ago(ts, now)}" for s, ts in status["last_data"].items()) or "none seen yet")
        + (" (as saved with the marks)" if status["last_data"] else ""),
        "",
        "positions" if status["positions"] else "positions    none open",
    ]
    prices, quantities = precision.get("price", {}), precision.get("qty", {})
    for p in status["positions"]:
        symbol = p["symbol"]
        price_places = prices.get(symbol)
        mark = (
            f"mark {_num(p['mark'], price_places)} ({money(p['unrealized'], sign=True)}) "
            if p["mark"] is not None
            else ""
        )
        lines.append(
            f"  {symbol:<11} {p['side']:<5} {_num(p['qty'], quantities.get(symbol)):>14} @ "
            f"{_num(p['entry'], price_places):<12} {mark}stop {_num(p['stop'], price_places)} "
            f"({p['stop_kind']}, order {p['stop_order'] or 'none'})"
        )
    lines.append("open orders" if status["open_orders"] else "open orders  none")
    for o in status["open_orders"]:
        symbol = o["symbol"]
        price = o["limit"] if o["limit"] is not None else o["trigger"]
        lines.append(
            f"  {o['cl_ord_id']:<17} {symbol:<11} {o['purpose']:<6} {o['type']:<11} {o['side']:<4} "
            f"{_num(o['qty'], quantities.get(symbol)):>14} @ {_num(price, prices.get(symbol))} {o['status']}"
            + (" (amended)" if o["amended"] else "")
        )
    return "\n".join(lines) + "\n"


def _reconciliation(report: Mapping[str, Any] | None) -> str:
    if not report:
        return "books always agreed with the venue"
    return f"last settled {report['ts']} ({report['kind']}): {report['summary']}"
