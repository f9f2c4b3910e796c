"""`crocbot status`: the bot of one state directory, and what its journal says, whether the bot runs or not.

Whether the bot runs is asked of the bot named by `<state_dir>/bot.json` only (`crocbot.ops.identity`): a
health port that some other bot answers says nothing about this directory. Everything else comes from the
journal (SQLite in WAL mode, so reading it beside a running bot is safe): open positions at their whole size with
their current stops, open orders at their current (amended) terms, fills and fees, realised P&L (today and in
total), the kill switch and safe mode with their reasons, and the books document the running bot saves every few
seconds (`crocbot.core.books_status`): equity and unrealised P&L at its marks, and when each symbol's market data
last came. Without a running bot those are the last known values, with their time.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from crocbot.actors.messages import REPORT_KEY, SAFE_MODE_KEY
from crocbot.app import CATALOG_FILE, JOURNAL_FILE
from crocbot.config import Settings
from crocbot.core.books_status import BOOKS_KEY
from crocbot.core.clock import Clock, SystemClock
from crocbot.core.desk import LEDGER_KEY, RISK_KEY
from crocbot.core.ledger import Ledger
from crocbot.core.money import quote_places
from crocbot.core.risk import RiskState
from crocbot.exit_codes import ExitCode
from crocbot.kraken.instruments import Catalog
from crocbot.ops.identity import BotCheck, check_bot
from crocbot.status_view import render_status
from crocbot.store.journal import Journal

__all__ = ["collect_status", "render_status", "status_exit_code", "status_json"]

_PROBE_TIMEOUT = 1.0  # seconds to wait for the running bot's /readyz


def collect_status(settings: Settings, *, probe: bool = True, clock: Clock | None = None) -> dict[str, Any]:
    """The status as a JSON-ready dict (Decimals and datetimes are turned to text by `status_json`).

    `probe=False` skips asking the bot (a test reading the journal of a bot it runs in-process)."""
    now = (clock or SystemClock()).now()
    path = settings.state_dir / JOURNAL_FILE
    bot = check_bot(settings.state_dir, timeout=_PROBE_TIMEOUT) if probe else None
    status: dict[str, Any] = {"state_dir": str(settings.state_dir), "journal": str(path), "now": now.isoformat()}
    status |= _bot(bot, now)
    if not path.is_file():
        status["error"] = f"no journal at {path}: no bot has run with this state directory"
        return status
    with Journal(path) as journal:
        ledger_state = journal.load_state(LEDGER_KEY)
        risk_state = journal.load_state(RISK_KEY)
        safe_state = journal.load_state(SAFE_MODE_KEY) or {}
        books = journal.load_state(BOOKS_KEY)
        reconciliation = journal.load_state(REPORT_KEY)
        backfilled = len(journal.backfilled_fill_ids())
        positions = [p for p in journal.positions() if p.is_open]
        orders = journal.open_orders()
        fills = journal.fills()
        trades = journal.closed_trades()
    ledger = Ledger.from_state(ledger_state) if ledger_state else None
    risk = RiskState.from_state(risk_state) if risk_state else RiskState()
    marks = {s: Decimal(str(m["price"])) for s, m in (books or {}).get("marks", {}).items()}
    fees: dict[str, Decimal] = {}
    for fill in fills:
        fees[fill.fee_currency] = fees.get(fill.fee_currency, Decimal(0)) + fill.fee
    status |= {
        "positions": [
            {
                "position_id": p.position_id,
                "symbol": p.symbol,
                "side": p.side.value,
                "qty": p.qty,
                "entry": p.entry_price,
                "mark": marks.get(p.symbol),
                "unrealized": _unrealized(p.side.value, p.qty, p.entry_price, marks.get(p.symbol)),
                "stop": p.stop_price,
                "stop_kind": p.stop_kind.value,
                "stop_order": p.stop_cl_ord_id,
                "take_profit": p.take_profit,
                "opened_at": p.opened_at.isoformat(),
            }
            for p in positions
        ],
        "open_orders": [
            {
                "cl_ord_id": o.cl_ord_id,
                "symbol": o.symbol,
                "purpose": o.intent.purpose.value,
                "type": o.intent.order_type.value,
                "side": o.intent.side.value,
                # the order's terms now: an amend changes them, the intent keeps what was first sent
                "qty": o.qty,
                "filled": o.filled_qty,
                "limit": o.limit_price,
                "trigger": o.trigger_price,
                "amended": o.amended_qty is not None or o.amended_limit is not None or o.amended_trigger is not None,
                "status": o.status.value,
            }
            for o in orders
        ],
        "fills": len(fills),
        "fees_paid": dict(sorted(fees.items())),
        "last_fills": [
            {"ts": f.ts.isoformat(), "symbol": f.symbol, "side": f.side.value, "qty": f.qty, "price": f.price}
            for f in fills[-5:]
        ],
        "closed_trades": len(trades),
        "realized_pnl": ledger.realized() if ledger is not None else Decimal(0),
        "realized_today": sum((t.realized_pnl for t in trades if t.closed_at.date() == now.date()), Decimal(0)),
        # As the bot left it; the bot clears it itself at its first decision on a later UTC day.
        "kill_switch": risk.kill_day is not None,
        "kill_reason": risk.kill_reason,
        "kill_day": risk.kill_day.isoformat() if risk.kill_day is not None else None,
        "safe_mode": bool(safe_state.get("reasons")),
        "safe_reasons": list(safe_state.get("reasons", [])),
        "safe_since": safe_state.get("ts") if safe_state.get("reasons") else None,  # the time it last changed
        "backfilled_fills": backfilled,
        # the last reconciliation that found something to settle (a clean one leaves no report)
        "last_reconciliation": reconciliation,
    }
    status |= _books(ledger, books, marks, live=status["bot"] == "running")
    status["precision"] = _precisions(settings.state_dir / CATALOG_FILE)
    return status


def _bot(bot: BotCheck | None, now: datetime) -> dict[str, Any]:
    if bot is None:
        return {"bot": "not_checked", "bot_detail": "not asked", "bot_running": False, "ready": None}
    identity, body = bot.identity, bot.readiness or {}
    checks: Mapping[str, Any] = body.get("checks", {})
    return {
        "bot": bot.state,
        "bot_detail": bot.detail,
        "bot_running": bot.running,
        "ready": body.get("ready") if bot.running and body else None,
        "failing_checks": {name: checks.get(name, {}).get("detail", "") for name in body.get("failing", [])},
        "instance_id": identity.instance_id if identity is not None else None,
        "pid": identity.pid if identity is not None else None,
        "health_url": identity.health_url if identity is not None else None,
        "started_at": identity.started_at.isoformat(timespec="seconds") if identity is not None else None,
        "uptime_seconds": int((now - identity.started_at).total_seconds()) if identity and bot.running else None,
    }


def _unrealized(side: str, qty: Decimal, entry: Decimal, mark: Decimal | None) -> Decimal | None:
    if mark is None:
        return None
    return (mark - entry) * qty if side == "long" else (entry - mark) * qty


def _books(
    ledger: Ledger | None, books: Mapping[str, Any] | None, marks: Mapping[str, Decimal], *, live: bool
) -> dict[str, Any]:
    """Cash, equity and unrealised P&L of the journal's ledger at the marks the bot saved last. Computed here
    rather than copied from the document so that fills journaled after it (a bot killed since) count; before the
    first fill there is no ledger in the journal, and the document's own figures are the books."""
    out: dict[str, Any] = {
        "marks_as_of": books.get("ts") if books else None,
        "marks_live": live and books is not None,
        "last_data": dict(books.get("last_data", {})) if books else {},
        "valued_at_entry": [],
    }
    if ledger is None:
        if books is None:
            return out | {"quote": None, "cash": None, "equity": None, "unrealized": None}
        figures = {key: Decimal(str(books[key])) for key in ("cash", "equity", "unrealized")}
        return out | {"quote": books.get("quote")} | figures
    at_entry = {s: ledger.average_entry(s) for s in ledger.symbols() if s not in marks}
    valued = {**{s: p for s, p in at_entry.items() if p is not None}, **marks}
    return out | {
        "quote": ledger.quote,
        "cash": ledger.cash,
        "equity": ledger.equity(valued),
        "unrealized": ledger.unrealized(valued),
        "valued_at_entry": sorted(at_entry),  # held symbols with no saved mark: valued at cost
    }


def _precisions(cache: Path) -> dict[str, dict[str, int]]:
    """Decimals to show: `price` and `qty` per symbol from the cached instrument catalog, `money` per quote at
    the currency's own places (USD in cents, as the demo and Kraken's balances show it; the pairs' cost precision,
    5 for USD, is for order costs)."""
    precision: dict[str, dict[str, int]] = {"price": {}, "qty": {}, "money": {}}
    if not cache.is_file():
        return precision
    try:
        catalog = Catalog.load(cache)
    except (OSError, ValueError):
        return precision
    for instrument in catalog:
        precision["price"][instrument.symbol] = instrument.price_precision
        precision["qty"][instrument.symbol] = instrument.qty_precision
        precision["money"][instrument.quote] = quote_places(instrument.quote)
    return precision


def status_exit_code(status: Mapping[str, Any]) -> ExitCode:
    """One code for one situation, whether printed as text or JSON (see `crocbot.exit_codes`)."""
    if status.get("bot") == "running":
        return ExitCode.OK if status.get("ready") else ExitCode.NOT_READY
    if status.get("bot") == "unresponsive":
        return ExitCode.NOT_READY
    return ExitCode.NO_STATE if "error" in status else ExitCode.NOT_RUNNING


def status_json(status: dict[str, Any]) -> str:
    return json.dumps(status, default=_json_value, indent=1)


def _json_value(value: Any) -> str:
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(value)


def journal_exists(state_dir: Path) -> bool:
    return (state_dir / JOURNAL_FILE).is_file()
