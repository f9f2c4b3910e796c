"""What a run's journal says about how it traded: the figures a trader checks first, and the ones that must be 0.

Read from the journal alone, after the fact, so that the demo's summary, the end-to-end tests and an operator
looking at a live bot's state directory count the same things the same way:

- exits sent after their position's stop had filled: an exit that reached the venue when the position's stop had
  already sold everything the position had bought (on a real account holding more of the coin, it would sell coins
  the bot does not own). Exits the venue held back because the stop could not be cancelled (`HELD_BACK`) never
  reached the exchange and are counted apart; an exit of what a stop left (a part fill) is a legitimate one;
- oversold positions: a position whose sells add up to more than its buys, whatever sent them;
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
from crocbot.core.reconcile import NEVER_SENT
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
    oversold_positions: int


def audit_journal(journal: Journal) -> TradeAudit:
    orders = journal.orders()
    fills = journal.fills()
    by_id = {o.intent.cl_ord_id: o for o in orders}
    moves: dict[str, list[tuple[datetime, OrderPurpose, Decimal]]] = {}  # position id -> its fills, in order
    for fill in fills:
        order = by_id.get(fill.cl_ord_id)
        if order is not None and order.position_id is not None:
            moves.setdefault(order.position_id, []).append((fill.ts, order.intent.purpose, fill.qty))
    after, held_back, refusals = 0, 0, 0
    for order in orders:
        reasons = [e.reason for e in journal.order_events(order.intent.cl_ord_id)]
        refusals += sum(1 for r in reasons if FUNDS_REFUSAL in r)
        if order.intent.purpose is not OrderPurpose.EXIT:
            continue
        if HELD_BACK in reasons:
            held_back += 1
            continue
        if NEVER_SENT in reasons:
            continue
        if _stop_had_sold_it(moves.get(order.position_id or "", []), order.intent.ts):
            after += 1
    oversold = 0
    for position_moves in moves.values():
        bought = sum((q for _, p, q in position_moves if p is OrderPurpose.ENTRY), ZERO)
        sold = sum((q for _, p, q in position_moves if p is not OrderPurpose.ENTRY), ZERO)
        oversold += sold > bought
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
        oversold_positions=oversold,
    )


def _stop_had_sold_it(moves: list[tuple[datetime, OrderPurpose, Decimal]], at: datetime) -> bool:
    """Whether, at `at`, the position's stop fills had sold all that its entry fills had bought."""
    bought = sum((q for ts, p, q in moves if p is OrderPurpose.ENTRY and ts <= at), ZERO)
    stopped = sum((q for ts, p, q in moves if p is OrderPurpose.STOP and ts <= at), ZERO)
    return bought > 0 and stopped >= bought
