"""The live venue as reconciliation sees it: Kraken's account over REST, in the core's terms (`VenueView`).

Kraken is the truth about orders, fills and balances; this reads it for the reconciler. Open orders come from
`OpenOrders` (crocbot's are matched by `cl_ord_id`; one without a client id, or with one the books do not know, is
foreign), the closed ones the books still hold open from `ClosedOrders` filtered by `cl_ord_id` (Kraken's
`QueryOrders` takes txids only), fills from `TradesHistory` page by page (Kraken sends 50 a page, newest first),
each with its order's client id found through its `ordertxid`, and balances with their holds from `BalanceEx`.

The account may be shared with the trader's own trading: orders on pairs crocbot does not trade, and fills of
orders that are not crocbot's (no client id, or one crocbot did not make and the books do not hold), are none of
crocbot's business and are left out; the view says `shared`, so that the balances are held to the inventory fence,
not to equality. Open orders on crocbot's pairs that are not its own stay in: the foreign-order policy decides.

The conversions (Kraken's rows to the core's types) are pure functions; `LiveAccountView` makes the calls. It runs in
a gateway worker (`crocbot.actors.gateway`), never in an actor's thread, and stops at the gateway's deadline.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from crocbot.actors.gateway import Deadline, DeadlineExceeded
from crocbot.core.clock import Clock
from crocbot.core.desk.adoption import purpose_of
from crocbot.core.instrument import Instrument
from crocbot.core.messages import Fill, Liquidity, OrderStatus, Side
from crocbot.core.money import ZERO
from crocbot.core.reconcile import VenueOrder, VenueView
from crocbot.kraken.endpoints import KrakenApi
from crocbot.kraken.rest_types import BalanceEx, TradeInfo, dec

__all__ = [
    "ORDER_STATUS",
    "AccountViewTooLong",
    "LiveAccountView",
    "pair_names",
    "epoch_time",
    "venue_order",
    "venue_fill",
    "account_balances",
]

# Kraken's REST order status as crocbot's; "closed" is Kraken's word for a filled order.
ORDER_STATUS: Mapping[str, OrderStatus] = {
    "pending": OrderStatus.ACKED,  # received, not yet in the book: at the venue all the same
    "open": OrderStatus.ACKED,
    "closed": OrderStatus.FILLED,
    "canceled": OrderStatus.CANCELLED,
    "expired": OrderStatus.EXPIRED,
}
_TRIGGERED = ("stop-loss", "take-profit", "trailing-stop")  # descr.price is their trigger, price2 their limit
_PAGE = 50  # TradesHistory rows per page (Kraken's, not a parameter)
_QUERY_BATCH = 50  # QueryOrders takes at most 50 txids
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class AccountViewTooLong(RuntimeError):
    """More trades since the asked time than the page bound allows: the view would miss the oldest ones."""


# -- pure conversions ------------------------------------------------------------------------------------------


def pair_names(instruments: Iterable[Instrument]) -> dict[str, Instrument]:
    """Every name Kraken may give a pair (REST pair id, altname, WS v2 symbol) -> the instrument. Orders name their
    pair by altname (`descr.pair`), trades by pair id."""
    names: dict[str, Instrument] = {}
    for instrument in instruments:
        for name in (instrument.symbol, instrument.altname, instrument.rest_pair):
            if name:
                names[name] = instrument
    return names


def epoch_time(value: Decimal) -> datetime:
    """Kraken's epoch seconds (kept exact as a Decimal) as a UTC time, to the microsecond."""
    micros = int((value * 1_000_000).to_integral_value())
    return _EPOCH + timedelta(microseconds=micros)


def _price(value: Any) -> Decimal | None:
    """A price field of an order's `descr`; "0" or empty means none. A relative price (`+5%`, a trailing stop's
    offset) is no price crocbot could compare, so it is none too."""
    if value in (None, ""):
        return None
    try:
        price = dec(value)
    except (InvalidOperation, ValueError):
        return None
    return price if price.is_finite() and price > ZERO else None


def venue_order(txid: str, row: Mapping[str, Any], symbol: str) -> VenueOrder:
    """One row of OpenOrders or ClosedOrders (keyed by `txid`) on crocbot's `symbol`."""
    descr: Mapping[str, Any] = row.get("descr") or {}
    order_type = str(descr.get("ordertype", ""))
    price, price2 = _price(descr.get("price")), _price(descr.get("price2"))
    trigger, limit = (price, price2) if order_type.startswith(_TRIGGERED) else (None, price)
    filled = dec(row.get("vol_exec", 0))
    status = ORDER_STATUS.get(str(row.get("status", "")), OrderStatus.ERROR)
    if status is OrderStatus.ACKED and filled > ZERO:
        status = OrderStatus.PARTIALLY_FILLED
    side = str(descr.get("type", ""))
    closed = row.get("closetm")
    return VenueOrder(
        cl_ord_id=row.get("cl_ord_id") or None,
        order_id=txid,
        symbol=symbol,
        status=status,
        filled=filled,
        avg_price=_price(row.get("price")) if filled > ZERO else None,
        ts=epoch_time(dec(closed if closed else row.get("opentm", 0))),
        side=Side(side) if side in (Side.BUY, Side.SELL) else None,
        order_type=order_type,
        qty=dec(row["vol"]) if row.get("vol") not in (None, "") else None,
        trigger_price=trigger,
        limit_price=limit,
    )


def venue_fill(trade: TradeInfo, cl_ord_id: str, instrument: Instrument) -> Fill:
    """One TradesHistory row of crocbot's order `cl_ord_id`. Kraken's trade txid is the fill's id (the `exec_id` of
    the WS executions feed); its fee is in the quote currency (Kraken's spec: "Total fee (quote currency)")."""
    return Fill(
        fill_id=trade.trade_txid,
        cl_ord_id=cl_ord_id,
        order_id=trade.order_txid,
        symbol=instrument.symbol,
        side=Side(trade.side),
        qty=trade.qty,
        price=trade.price,
        fee=trade.fee,
        fee_currency=instrument.quote,
        liquidity=Liquidity.MAKER if trade.maker else Liquidity.TAKER,
        ts=epoch_time(trade.time),
    )


def account_balances(rows: Mapping[str, BalanceEx]) -> tuple[dict[str, Decimal], dict[str, Decimal]]:
    """BalanceEx by asset -> (balances, what open orders hold). Credit lines are left out: crocbot trades spot."""
    return {a: r.balance for a, r in rows.items()}, {a: r.hold_trade for a, r in rows.items() if r.hold_trade}


# -- the calls -------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Orders:
    views: list[VenueOrder]
    client_ids: dict[str, str | None]  # txid -> cl_ord_id, for every order seen on crocbot's pairs


class LiveAccountView:
    """Kraken's account as a `VenueView`, for the reconciler: call it in a gateway worker with the gateway's deadline.

    `instruments`: crocbot's (orders and fills on other pairs are left out). `max_trade_pages`: the bound on
    TradesHistory pages (50 trades each, 2 to 4 points of Kraken's REST budget each) per view. `no_fill_lookback`:
    how far back fills are read when the journal holds none yet. `pending`: the client ids of the orders whose call
    is on its way (`OrdersInFlight.pending`)."""

    def __init__(
        self,
        api: KrakenApi,
        instruments: Iterable[Instrument],
        clock: Clock,
        *,
        max_trade_pages: int = 10,
        no_fill_lookback: timedelta = timedelta(days=1),
        pending: Callable[[], frozenset[str]] | None = None,
    ) -> None:
        if max_trade_pages < 1:
            raise ValueError(f"max_trade_pages must be at least 1, got {max_trade_pages}")
        self._api = api
        self._names = pair_names(instruments)
        self._clock = clock
        self._max_pages = max_trade_pages
        self._lookback = no_fill_lookback
        self._pending = pending

    def __call__(self, cl_ord_ids: Collection[str], since: datetime | None, deadline: Deadline) -> VenueView:
        """Open orders, the closed ones among `cl_ord_ids`, fills at or after `since` and balances with holds."""
        as_of = self._clock.now()  # before the first call: an order sent meanwhile is younger than the view
        # Orders whose call was on its way as the view began may reach Kraken after it read them: neither at the
        # venue nor never sent (an order call of a venue instance that crashed carries on in the gateway).
        pending = self._pending() if self._pending is not None else frozenset()
        wall = self._wall_deadline(deadline)
        # Balances first, trades last: every fill the balances reflect is then among the trades read (or younger
        # than the view), so the books are never held to a balance that moved for a fill the view does not show.
        self._check(deadline, "BalanceEx")
        balances, held = account_balances(self._api.balance_ex(deadline=wall))
        orders = self._orders(cl_ord_ids, deadline, wall)
        since = since if since is not None else as_of - self._lookback
        trades = self._trades(since, deadline, wall)
        unknown = sorted({t.order_txid for t in trades} - orders.client_ids.keys())
        client_ids = {**orders.client_ids, **self._client_ids(unknown, deadline, wall)}
        asked = frozenset(cl_ord_ids)
        fills = []
        for trade in trades:
            cl_ord_id = client_ids.get(trade.order_txid)
            if cl_ord_id is None or (cl_ord_id not in asked and purpose_of(cl_ord_id) is None):
                continue  # the trader's own order (or another program's): never crocbot's
            fill = venue_fill(trade, cl_ord_id, self._names[trade.pair])
            if fill.ts >= since:
                fills.append(fill)
        fills.sort(key=lambda f: (f.ts, f.fill_id))
        return VenueView(tuple(orders.views), tuple(fills), balances, as_of, pending=pending, shared=True, held=held)

    def _wall_deadline(self, deadline: Deadline) -> float:
        # The HTTP client's deadline is on its own (wall) clock; the gateway's may be a simulated one.
        return self._api.rest.clock.monotonic() + deadline.remaining()

    @staticmethod
    def _check(deadline: Deadline, next_call: str) -> None:
        if deadline.expired:
            raise DeadlineExceeded(f"the account view passed its deadline before {next_call}")

    def _orders(self, cl_ord_ids: Collection[str], deadline: Deadline, wall: float) -> _Orders:
        # Raw rows, not `KrakenApi.open_orders`: a stop-limit's limit price (`descr.price2`) is needed to compare terms.
        self._check(deadline, "OpenOrders")
        rows: dict[str, Any] = self._api.rest.private("OpenOrders", deadline=wall).get("open") or {}
        views: list[VenueOrder] = []
        client_ids: dict[str, str | None] = {}
        seen: set[str] = set()
        for txid, row in rows.items():
            self._take(txid, row, views, client_ids, seen)
        wanted = set(cl_ord_ids) - seen
        if len(wanted) > 1:
            # ClosedOrders costs 4 of Kraken's 15-point REST budget: asked once per order, a restart after a crash
            # with four orders to look up needed more than the budget holds, the view ran past its deadline waiting,
            # and every retry did the same (the start-up reconciliation never finished). The newest closed orders,
            # one page of 50, hold nearly always every one of them; only those not there are asked for one by one.
            self._check(deadline, "ClosedOrders")
            recent = self._api.rest.private("ClosedOrders", deadline=wall)
            for txid, row in (recent.get("closed") or {}).items():
                if row.get("cl_ord_id") in wanted:
                    self._take(txid, row, views, client_ids, seen)
        for cl_ord_id in sorted(wanted - seen):
            self._check(deadline, "ClosedOrders")
            closed = self._api.rest.private("ClosedOrders", {"cl_ord_id": cl_ord_id}, deadline=wall)
            for txid, row in (closed.get("closed") or {}).items():
                if row.get("cl_ord_id") == cl_ord_id:  # the filter is Kraken's; the match is checked here too
                    self._take(txid, row, views, client_ids, seen)
        return _Orders(views, client_ids)

    def _take(
        self, txid: str, row: Mapping[str, Any], views: list[VenueOrder], ids: dict[str, str | None], seen: set[str]
    ) -> None:
        instrument = self._names.get(str((row.get("descr") or {}).get("pair", "")))
        if instrument is None:
            return  # a pair crocbot does not trade: not one of its orders
        view = venue_order(txid, row, instrument.symbol)
        views.append(view)
        ids[txid] = view.cl_ord_id
        if view.cl_ord_id:
            seen.add(view.cl_ord_id)

    def _trades(self, since: datetime, deadline: Deadline, wall: float) -> list[TradeInfo]:
        """Trades on crocbot's pairs at or after `since` (a second earlier: Kraken's `start` is whole seconds and
        exclusive), by txid: a trade made while paging shifts the pages, and shows up twice."""
        start = int((since - _EPOCH) // timedelta(seconds=1)) - 1
        found: dict[str, TradeInfo] = {}
        offset = 0
        for _ in range(self._max_pages):
            self._check(deadline, "TradesHistory")
            page, count = self._api.trades_history(start=Decimal(start), offset=offset, deadline=wall)
            for trade in page:
                if trade.pair in self._names:
                    found.setdefault(trade.trade_txid, trade)
            offset += len(page)
            if len(page) < _PAGE or offset >= count:
                return list(found.values())
        raise AccountViewTooLong(
            f"Kraken lists more than {self._max_pages * _PAGE} trades since {since.isoformat()} on this account; "
            "reconciliation cannot read them all: raise the account view's max_trade_pages"
        )

    def _client_ids(self, txids: Sequence[str], deadline: Deadline, wall: float) -> dict[str, str | None]:
        """The client ids of orders known only from their trades (closed orders the books no longer hold open)."""
        found: dict[str, str | None] = {}
        for first in range(0, len(txids), _QUERY_BATCH):
            self._check(deadline, "QueryOrders")
            for info in self._api.query_orders(list(txids[first : first + _QUERY_BATCH]), deadline=wall):
                found[info.txid] = info.cl_ord_id or None
        return found
