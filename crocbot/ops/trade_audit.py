"""What a run's journal says about how it traded: the figures a trader checks first, and the ones that must be 0.

Read from the journal alone, after the fact, so that the demo's summary, the end-to-end tests and an operator
looking at a live bot's state directory count the same things the same way:

- exits sent after their position's stop had filled: an exit that reached the venue although the stop had already
  sold the position (on a real account holding more of the coin, it would sell coins the bot does not own). Exits
  the venue held back because the stop could not be cancelled (`HELD_BACK`) never reached the exchange and are
  counted apart;
- orders the venue refused for funds: the books lost track of what holds the coins or the cash;
- fills, closed trades, winners, fees paid and the net realised P&L of the closed trades.

Inventory-fence breaches are never journaled (the order is refused before it is): they are counted by the router's
`crocbot_fence_breaches_total` metric.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from crocbot.core.messages import HELD_BACK, OrderPurpose
from crocbot.core.money import ZERO
from crocbot.store.journal import Journal

__all__ = ["TradeAudit", "audit_journal", "FUNDS_REFUSAL"]

FUNDS_REFUSAL = "EOrder:Insufficient funds"


@dataclass(frozen=True, slots=True)
class TradeAudit:
    fills: int
    closed_trades: int
    winners: int
    fees: Decimal  # quote, every fill's fee (crocbot asks Kraken for fees in quote)
    realized: Decimal  # quote, net of fees, of the closed trades
    exits_after_stop_fill: int
    exits_held_back: int
    funds_refusals: int


def audit_journal(journal: Journal) -> TradeAudit:
    orders = journal.orders()
    fills = journal.fills()
    purpose = {o.intent.cl_ord_id: o.intent.purpose for o in orders}
    position_of = {o.intent.cl_ord_id: o.position_id for o in orders}
    stop_filled: dict[str, datetime] = {}  # position id -> its stop's first fill
    for fill in fills:
        position_id = position_of.get(fill.cl_ord_id)
        if purpose.get(fill.cl_ord_id) is OrderPurpose.STOP and position_id is not None:
            stop_filled[position_id] = min(fill.ts, stop_filled.get(position_id, fill.ts))
    after, held_back, refusals = 0, 0, 0
    for order in orders:
        reasons = [e.reason for e in journal.order_events(order.intent.cl_ord_id)]
        refusals += sum(1 for r in reasons if FUNDS_REFUSAL in r)
        if order.intent.purpose is not OrderPurpose.EXIT:
            continue
        if HELD_BACK in reasons:
            held_back += 1
            continue
        filled_at = stop_filled.get(order.position_id or "")
        if filled_at is not None and order.intent.ts >= filled_at:
            after += 1
    trades = journal.closed_trades()
    return TradeAudit(
        fills=len(fills),
        closed_trades=len(trades),
        winners=sum(1 for t in trades if t.realized_pnl > 0),
        fees=sum((f.fee for f in fills), ZERO),
        realized=sum((t.realized_pnl for t in trades), ZERO),
        exits_after_stop_fill=after,
        exits_held_back=held_back,
        funds_refusals=refusals,
    )
