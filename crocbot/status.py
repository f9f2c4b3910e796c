"""`crocbot status`: what the state directory says, whether the bot runs or not.

Everything comes from the journal (SQLite in WAL mode, so reading it beside a running bot is safe): open
positions with their stops, open orders, fills, realised P&L from the saved ledger, the kill switch from the
saved risk state, and safe mode as the router last saved it. If the bot answers on its health port, its live
readiness is shown too.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from decimal import Decimal
from pathlib import Path
from typing import Any

from crocbot.actors.reconciler import REPORT_KEY
from crocbot.actors.router import SAFE_MODE_KEY
from crocbot.app import JOURNAL_FILE
from crocbot.config import Settings
from crocbot.core.desk import LEDGER_KEY, RISK_KEY
from crocbot.core.ledger import Ledger
from crocbot.core.money import fmt
from crocbot.core.risk import RiskState
from crocbot.store.journal import Journal

__all__ = ["collect_status", "render_status"]

_SHOWN = Decimal("0.00000001")  # averages have long tails; show them to Kraken's finest precision
_PROBE_TIMEOUT = 1.0  # seconds to wait for a running bot's /readyz


def _probe(settings: Settings) -> dict[str, Any] | None:
    url = f"http://{settings.health.host}:{settings.health.port}/readyz"
    try:
        with urllib.request.urlopen(url, timeout=_PROBE_TIMEOUT) as response:
            body: dict[str, Any] = json.loads(response.read())
    except urllib.error.HTTPError as error:
        body = json.loads(error.read())
    except (OSError, ValueError):
        return None
    return body


def collect_status(settings: Settings, *, probe: bool = True) -> dict[str, Any]:
    path = settings.state_dir / JOURNAL_FILE
    running = _probe(settings) if probe else None
    status: dict[str, Any] = {
        "state_dir": str(settings.state_dir),
        "journal": str(path),
        "bot_running": running is not None,
        "ready": running.get("ready") if running is not None else None,
        "failing_checks": running.get("failing", []) if running is not None else [],
    }
    if not path.is_file():
        status["error"] = f"no journal at {path}: the bot has not run with this state directory"
        return status
    with Journal(path) as journal:
        ledger_state = journal.load_state(LEDGER_KEY)
        risk_state = journal.load_state(RISK_KEY)
        safe_state = journal.load_state(SAFE_MODE_KEY) or {}
        reconciliation = journal.load_state(REPORT_KEY)
        backfilled = len(journal.backfilled_fill_ids())
        positions = [p for p in journal.positions() if p.is_open]
        orders = journal.open_orders()
        fills = journal.fills()
        trades = journal.closed_trades()
    ledger = Ledger.from_state(ledger_state) if ledger_state else None
    risk = RiskState.from_state(risk_state) if risk_state else RiskState()
    status |= {
        "positions": [
            {
                "position_id": p.position_id,
                "symbol": p.symbol,
                "side": p.side.value,
                "qty": p.qty,
                "entry": p.entry_price,
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
                "qty": o.intent.qty,
                "filled": o.filled_qty,
                "limit": o.intent.limit_price,
                "trigger": o.intent.trigger_price,
                "status": o.status.value,
            }
            for o in orders
        ],
        "fills": len(fills),
        "last_fills": [
            {"ts": f.ts.isoformat(), "symbol": f.symbol, "side": f.side.value, "qty": f.qty, "price": f.price}
            for f in fills[-5:]
        ],
        "closed_trades": len(trades),
        "realized_pnl": ledger.realized() if ledger is not None else Decimal(0),
        # As the bot left it; the bot clears it itself at its first decision on a later UTC day.
        "kill_switch": risk.kill_day is not None,
        "kill_reason": risk.kill_reason,
        "kill_day": risk.kill_day.isoformat() if risk.kill_day is not None else None,
        "safe_mode": bool(safe_state.get("reasons")),
        "safe_reasons": list(safe_state.get("reasons", [])),
        "backfilled_fills": backfilled,
        # the last reconciliation that found something to settle (a clean one leaves no report)
        "last_reconciliation": reconciliation,
    }
    return status


def _text(value: Any) -> str:
    if isinstance(value, Decimal):
        return fmt(value.quantize(_SHOWN) if value.as_tuple().exponent < -8 else value)  # type: ignore[operator]
    return str(value)


def render_status(status: dict[str, Any]) -> str:
    running = status["bot_running"]
    lines = [
        f"state        {status['state_dir']}",
        "bot          "
        + (
            ("running, ready" if status["ready"] else "running, NOT ready: " + ", ".join(status["failing_checks"]))
            if running
            else "not running (no answer on the health port)"
        ),
    ]
    if "error" in status:
        return "\n".join([*lines, f"journal      {status['error']}"]) + "\n"
    lines += [
        "kill switch  "
        + (
            f"TRIPPED on {status['kill_day']} UTC ({status['kill_reason']}); entries stay blocked that day"
            if status["kill_switch"]
            else "not tripped"
        ),
        "safe mode    " + ("ON: " + "; ".join(status["safe_reasons"]) if status["safe_mode"] else "off"),
        f"realised     {_text(status['realized_pnl'])}",
        f"fills        {status['fills']} ({status['closed_trades']} closed trades, "
        f"{status['backfilled_fills']} backfilled by reconciliation)",
        "reconciled   " + _reconciliation(status["last_reconciliation"]),
        "",
        "positions" if status["positions"] else "positions    none open",
    ]
    for p in status["positions"]:
        lines.append(
            f"  {p['symbol']:<11} {p['side']:<5} {_text(p['qty']):>14} @ {_text(p['entry']):<12} "
            f"stop {_text(p['stop'])} ({p['stop_kind']}, order {p['stop_order'] or 'none'})"
        )
    lines.append("open orders" if status["open_orders"] else "open orders  none")
    for o in status["open_orders"]:
        price = o["limit"] if o["limit"] is not None else o["trigger"]
        lines.append(
            f"  {o['cl_ord_id']:<17} {o['symbol']:<11} {o['purpose']:<6} {o['type']:<11} {o['side']:<4} "
            f"{_text(o['qty']):>14} @ {_text(price)} {o['status']}"
        )
    return "\n".join(lines) + "\n"


def _reconciliation(report: dict[str, Any] | None) -> str:
    if not report:
        return "books always agreed with the venue"
    return f"last settled {report['ts']} ({report['kind']}): {report['summary']}"


def status_json(status: dict[str, Any]) -> str:
    return json.dumps(status, default=_text, indent=1)


def journal_exists(state_dir: Path) -> bool:
    return (state_dir / JOURNAL_FILE).is_file()
