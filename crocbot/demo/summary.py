"""The demo's result and its summary: what the run did, as text for an 80-column terminal and as one line of JSON."""

from __future__ import annotations

import textwrap
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from crocbot.core.money import fmt
from crocbot.demo.live import VenueCheck
from crocbot.demo.view import money
from crocbot.ops.trade_audit import TradeAudit

__all__ = ["DemoResult", "summary_text", "QUOTE"]

QUOTE = "USD"  # every demo symbol's quote currency
_SUMMARY_WIDTH = 80


@dataclass
class DemoResult:
    sim_span: timedelta = timedelta(0)
    wall_seconds: float = 0.0
    fills: int = 0
    closed_trades: int = 0
    open_positions: int = 0
    realized: Decimal = Decimal(0)
    equity: Decimal = Decimal(0)
    start_equity: Decimal = Decimal(0)
    settle_timeouts: int = 0
    kill_switch: bool = False
    fence_breaches: int = 0
    audit: TradeAudit | None = None
    interrupted: bool = False  # Ctrl-C ended the trading early
    data: str = ""
    symbols: tuple[str, ...] = ()
    notes: list[str] = field(default_factory=list)
    venue: str = "paper"
    venue_check: VenueCheck | None = None  # live: the simulator's account against the journal

    def as_json(self) -> dict[str, Any]:
        return {
            "market_time_replayed_hours": round(self.sim_span.total_seconds() / 3600, 2),
            "wall_seconds": round(self.wall_seconds, 1),
            "speed": round(self.sim_span.total_seconds() / self.wall_seconds, 1) if self.wall_seconds else 0,
            "fills": self.fills,
            "closed_trades": self.closed_trades,
            "open_positions": self.open_positions,
            "realized_pnl": fmt(self.realized),
            "equity": fmt(self.equity),
            "start_equity": fmt(self.start_equity),
            "kill_switch": self.kill_switch,
            "interrupted": self.interrupted,
            "winners": self.audit.winners if self.audit else 0,
            "fees": fmt(self.audit.fees) if self.audit else "0",
            "exits_after_stop_fill": self.audit.exits_after_stop_fill if self.audit else 0,
            "exits_held_back": self.audit.exits_held_back if self.audit else 0,
            "funds_refusals": self.audit.funds_refusals if self.audit else 0,
            "oversold_positions": self.audit.oversold_positions if self.audit else 0,
            "fence_breaches": self.fence_breaches,
            "settle_timeouts": self.settle_timeouts,
            "market": self.data,
            "symbols": list(self.symbols),
            "venue": self.venue,
            **({"venue_check": _check_json(self.venue_check)} if self.venue_check is not None else {}),
        }


def _check_json(check: VenueCheck) -> dict[str, Any]:
    return {
        "ok": check.ok,
        "venue_fills": check.venue_fills,
        "journal_fills": check.journal_fills,
        "balances_moved": {asset: fmt(amount) for asset, amount in check.moved.items()},
        "problems": list(check.problems),
    }


def _cents(amount: Decimal) -> str:
    return money(amount, QUOTE)


def summary_text(result: DemoResult, state_dir: Path) -> str:
    data = result.as_json()
    lines = [
        "",
        "crocbot demo summary",
        *(_live_lines(result) if result.venue == "live" else []),
        f"  market      {result.data}",
        f"  replayed    {data['market_time_replayed_hours']} h of market time in {data['wall_seconds']} s "
        f"({data['speed']}x)",
        f"  fills       {result.fills}",
        f"  trades      {result.closed_trades} closed ({data['winners']} won), {result.open_positions} open "
        f"({_left_open(result)})",
        f"  P&L         realised {_cents(result.realized)}{_realised_parts(result)}, equity {_cents(result.equity)} "
        f"(from {_cents(result.start_equity)}); fees paid {_cents(result.audit.fees if result.audit else Decimal(0))}",
        f"  safety      {data['exits_after_stop_fill']} exits sent after a stop fill ({data['exits_held_back']} held "
        f"back), {data['oversold_positions']} positions oversold, {data['funds_refusals']} orders refused for funds, "
        f"{result.fence_breaches} inventory-fence breaches",
        f"  kill switch {'TRIPPED' if result.kill_switch else 'not tripped'}",
        *(_check_lines(result.venue_check) if result.venue_check is not None else []),
        *(["  ended       early, by Ctrl-C"] if result.interrupted else []),
        f"  state       journal and trade log kept: crocbot status --state-dir {state_dir}",
    ]
    if result.fills == 0:
        lines.append(
            "  note        no fills in this run: no setup paid for its fees and slippage (the dropped ones are in the "
            "log); try a longer --duration"
        )
    if result.settle_timeouts:
        lines.append(f"  note        the bot fell behind the market {result.settle_timeouts} times (a slow machine)")
    # Wrapped under its label for an 80-column terminal, where the terminal itself would break words.
    indent = " " * 14
    wrapped = (textwrap.fill(line, _SUMMARY_WIDTH, subsequent_indent=indent, break_on_hyphens=False) for line in lines)
    return "\n".join(wrapped) + "\n"


def _left_open(result: DemoResult) -> str:
    if result.venue == "live":
        return "their stops rest on the simulator's account, which ends with the demo"
    return "their stops stay on the venue"


def _realised_parts(result: DemoResult) -> str:
    """Realised P&L counts every fee when paid: the open positions' entry fees too, which the closed trades' P&L (each
    trade net of its own fees) does not. Said where the two differ, so that the closed trades add up."""
    if result.audit is None or result.audit.realized == result.realized:
        return ""
    open_part = result.realized - result.audit.realized
    return (
        f" (closed trades {_cents(result.audit.realized)}, open positions {_cents(open_part)}: their fees and part "
        "exits so far)"
    )


def _live_lines(result: DemoResult) -> list[str]:
    return [
        "  venue       LIVE mode: crocbot's live venue traded an account on the in-process simulator (orders over "
        "its private WebSocket, account reads over REST); no real money, nothing sent to Kraken",
    ]


def _check_lines(check: VenueCheck) -> list[str]:
    moved = ", ".join(f"{asset} {fmt(amount)}" for asset, amount in check.moved.items()) or "nothing"
    if check.ok:
        return [
            f"  venue check the simulator's account agrees with the journal: the same {check.venue_fills} fills, and "
            f"its balances moved by what they bought, sold and paid, to the venue's rounding of each order's cost "
            f"({moved})"
        ]
    return [
        f"  venue check DISAGREES: the simulator has {check.venue_fills} fills, the journal {check.journal_fills}; "
        f"balances moved {moved}",
        *(f"  mismatch    {problem}" for problem in check.problems[:10]),
        *([f"  mismatch    ... and {len(check.problems) - 10} more"] if len(check.problems) > 10 else []),
    ]
