"""The paper venue as reconciliation sees it: its orders and fills in the core's terms (`crocbot.core.reconcile`).

The paper account is the venue in paper mode, and it is saved before the router hears of a fill; so after a
crash it may know fills and order states the journal never got. This is how the reconciler asks it.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import datetime

from crocbot.core.messages import Fill, Liquidity, OrderStatus
from crocbot.core.reconcile import VenueOrder, VenueView
from crocbot.matching import FillView, MatchingEngine, OrderSnapshot

__all__ = ["ORDER_STATUS", "paper_view", "venue_order", "venue_fill"]

# The engine's order status (Kraken's words) as crocbot's; each reader picks its own fallback for any other word.
ORDER_STATUS: Mapping[str, OrderStatus] = {
    "pending_new": OrderStatus.ACKED,
    "new": OrderStatus.ACKED,
    "partially_filled": OrderStatus.PARTIALLY_FILLED,
    "filled": OrderStatus.FILLED,
    "canceled": OrderStatus.CANCELLED,
    "expired": OrderStatus.EXPIRED,
}


def venue_order(view: OrderSnapshot) -> VenueOrder:
    return VenueOrder(
        view.cl_ord_id,
        view.order_id,
        view.symbol,
        ORDER_STATUS.get(view.order_status, OrderStatus.ERROR),
        view.cum_qty,
        view.avg_price,
        view.closed or view.opened,
        side=view.side,
        order_type=view.order_type,
        qty=view.qty,
        trigger_price=view.trigger_price,
        limit_price=view.limit_price,
    )


def venue_fill(view: FillView) -> Fill | None:
    if view.cl_ord_id is None:
        return None  # every order crocbot sends carries its client id; the engine holds only ours
    return Fill(
        fill_id=view.exec_id,
        cl_ord_id=view.cl_ord_id,
        order_id=view.order_id,
        symbol=view.symbol,
        side=view.side,
        qty=view.qty,
        price=view.price,
        fee=view.fee,
        fee_currency=view.fee_asset,
        liquidity=Liquidity.MAKER if view.maker else Liquidity.TAKER,
        ts=view.ts,
    )


def paper_view(
    engine: MatchingEngine,
    cl_ord_ids: Collection[str],
    since: datetime | None,
    now: datetime,
    pending: Collection[str] = (),
    *,
    shared: bool = False,
) -> VenueView:
    """Open orders, the closed ones among `cl_ord_ids`, fills at or after `since` (all when None), balances, and the
    orders received but not acted on yet (`pending`). `shared`: the account was opened with coins crocbot did not buy
    (`[paper] starting_balances` beyond the quote currency), so, as on a live account, the books need only be covered
    by what is free there, not equal to the balance (`crocbot.core.reconcile`)."""
    wanted = set(cl_ord_ids)
    orders = [venue_order(v) for v in engine.open_orders()]
    orders += [venue_order(v) for v in engine.closed_orders() if v.cl_ord_id in wanted]
    fills = [f for f in map(venue_fill, engine.fills()) if f is not None and (since is None or f.ts >= since)]
    balances = engine.balances()
    held = {asset: engine.held(asset) for asset in balances} if shared else {}
    return VenueView(tuple(orders), tuple(fills), balances, now, frozenset(pending), shared=shared, held=held)
