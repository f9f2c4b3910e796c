"""Kraken's private `executions` channel (and REST `TradesHistory`) turned into the venue protocol's events: pure.

Kraken's reports are sparse: a `new` report may carry only the order id and its status, a `trade` report the fill's
figures and the order's running totals. Each one is merged into the order's state, kept by `order_id`, and yields:
- one `Fill` per execution, de-duplicated by `exec_id` (REST `TradesHistory`'s trade id is the same id), so a
  reconnect's `snap_trades` snapshot or a REST catch-up never books a fill twice; its fee is the sum of `fees[]`;
- one `OrderEvent` per change of the order's status (`filled_qty` is Kraken's `cum_qty`: a stop cancelled after a
  partial fill says how much it sold, and an exit can be sized from it), after the order's fills in that report:
  a fill must reach the desk before the status that says the order is done;
- a `VenueAnomaly` beside a fill that takes the order beyond its quantity: CRITICAL, the router halts entries. The
  fill still goes out: the money moved;
- a `ForeignFill`, not a `Fill`, for an order that is not crocbot's (no client id, or one `known` does not claim and
  `expect` was not told of): a live account may be the trader's too, and their own trades are none of crocbot's
  books. The feed logs it; a fill of crocbot's that came without its client id is found by reconciliation (REST
  `ClosedOrders` by `cl_ord_id`), and one for a crocbot order the books do not know is the desk's to flag.
`pending_new` says nothing the router does not know (the order is on its way) and yields no event. Kraken's
`trade` report may say `partially_filled` although the order is complete; completion is the `filled` report, and
that `partially_filled` is not passed on (the fill has taken the order to its quantity already, and the desk would
refuse an order moving back from filled).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from crocbot.core.messages import Fill, Liquidity, OrderEvent, OrderStatus, Side, VenueAnomaly
from crocbot.core.money import ZERO, fmt
from crocbot.kraken.rest_types import TradeInfo
from crocbot.kraken.wire import ExecutionReport

__all__ = ["ExecutionsMerger", "LiveEvent", "MergerEvent", "ForeignFill", "MergedOrder", "STATUS_OF"]


@dataclass(frozen=True, slots=True)
class ForeignFill:
    """A fill of an order that is not crocbot's (the account's own trading): told, never booked."""

    exec_id: str
    order_id: str
    cl_ord_id: str | None
    symbol: str
    side: Side
    qty: Decimal
    price: Decimal


LiveEvent = OrderEvent | Fill | VenueAnomaly  # what goes to the router
MergerEvent = LiveEvent | ForeignFill

# Kraken's WS v2 `order_status` -> crocbot's; `pending_new` is left out on purpose (nothing new for the router).
STATUS_OF: dict[str, OrderStatus] = {
    "new": OrderStatus.ACKED,
    "partially_filled": OrderStatus.PARTIALLY_FILLED,
    "filled": OrderStatus.FILLED,
    "canceled": OrderStatus.CANCELLED,
    "expired": OrderStatus.EXPIRED,
}
# How far along each status is: a replayed or late report (a reconnect's snapshot of the last fills, a `new` that
# comes after the fill) never moves an order back, and nothing moves it once it has ended.
_RANK = {OrderStatus.ACKED: 1, OrderStatus.PARTIALLY_FILLED: 2}
_ENDED = 3
_KEEP_EXEC_IDS = 100_000  # fills remembered for de-duplication: far beyond a snapshot's 50 or a REST page's 50
_KEEP_CLOSED = 10_000  # ended orders kept (a late report for one must still find its client id)


@dataclass(slots=True)
class MergedOrder:
    """One order as the sum of its reports so far."""

    order_id: str
    cl_ord_id: str | None = None
    symbol: str | None = None
    side: str | None = None
    order_type: str | None = None
    order_qty: Decimal | None = None
    order_status: str | None = None
    cum_qty: Decimal = ZERO
    avg_price: Decimal | None = None
    filled: Decimal = ZERO  # the sum of the fills this merger has emitted
    reported: OrderStatus | None = None  # the last status sent to the router

    @property
    def ended(self) -> bool:
        return self.order_status in ("filled", "canceled", "expired")


class ExecutionsMerger:
    def __init__(self, known: Callable[[str], bool] | None = None, *, quote_of: Callable[[str], str] | None = None):
        self._known = known or (lambda _cl_ord_id: False)
        self._quote_of = quote_of or (lambda symbol: symbol.rpartition("/")[2])
        self._expected: OrderedDict[str, None] = OrderedDict()  # the newest sent, bounded like the fills
        self._orders: OrderedDict[str, MergedOrder] = OrderedDict()
        self._by_client: dict[str, str] = {}
        self._exec_ids: OrderedDict[str, None] = OrderedDict()

    # -- what the bot tells it ------------------------------------------------------------------------

    def expect(self, cl_ord_id: str) -> None:
        """crocbot is sending an order with this client id: its fills are crocbot's."""
        self._expected[cl_ord_id] = None
        if len(self._expected) > _KEEP_EXEC_IDS:
            self._expected.popitem(last=False)

    def acked(self, cl_ord_id: str, order_id: str, ts: datetime) -> list[MergerEvent]:
        """Kraken accepted the order (the call's answer): ACKED, unless a report has said as much or more already
        (its reports usually come first: an ACKED after the FILLED would move the order back)."""
        order = self._orders.get(order_id)
        if order is None:
            order = self._orders[order_id] = MergedOrder(order_id)
            self._prune()
        order.cl_ord_id = order.cl_ord_id or cl_ord_id
        self._by_client[cl_ord_id] = order_id
        if order.reported is not None:
            return []
        order.reported = OrderStatus.ACKED
        return [OrderEvent(cl_ord_id, OrderStatus.ACKED, ts, order_id)]

    def order(self, *, order_id: str | None = None, cl_ord_id: str | None = None) -> MergedOrder | None:
        if order_id is None and cl_ord_id is not None:
            order_id = self._by_client.get(cl_ord_id)
        return self._orders.get(order_id) if order_id is not None else None

    def seen_fill(self, exec_id: str) -> bool:
        return exec_id in self._exec_ids

    # -- the channel ----------------------------------------------------------------------------------

    def on_reports(self, reports: Iterable[ExecutionReport]) -> list[MergerEvent]:
        """A snapshot's or an update's reports, in the order Kraken sent them; the events they yield, in order."""
        events: list[MergerEvent] = []
        for report in reports:
            order = self._merge(report)
            if report.exec_type == "trade" and report.exec_id:
                events += self._fill_from_report(order, report)
            events += self._status(order, report.ts, report.reason or "")
        return events

    def on_trades(
        self,
        trades: Sequence[TradeInfo],
        symbol_of: Callable[[str], str | None],
        client_of: Callable[[str], str | None] | None = None,
    ) -> list[MergerEvent]:
        """REST `TradesHistory` rows (any order): the fills the channel has not delivered, oldest first. For orders
        this merger has not seen, `symbol_of` maps Kraken's REST pair name to the WS symbol and `client_of` an order
        txid to its `cl_ord_id` (a trade row has none: the reconciler knows it from `ClosedOrders` or the journal)."""
        events: list[MergerEvent] = []
        for trade in sorted(trades, key=lambda t: t.time):
            if self.seen_fill(trade.trade_txid):
                continue
            order = self._orders.get(trade.order_txid)
            if order is None:
                order = self._orders[trade.order_txid] = MergedOrder(trade.order_txid)
            order.side = order.side or trade.side
            order.symbol = order.symbol or symbol_of(trade.pair)
            if order.cl_ord_id is None and client_of is not None and (client := client_of(trade.order_txid)):
                order.cl_ord_id = client
                self._by_client[client] = trade.order_txid
            if order.symbol is None:
                raise ValueError(f"TradesHistory row {trade.trade_txid}: pair {trade.pair!r} is not in the catalog")
            ts = datetime.fromtimestamp(float(trade.time), tz=UTC)  # display time; order is by the row's time
            fee_ccy = self._quote_of(order.symbol)  # REST reports a trade's fee in the quote currency
            liquidity = Liquidity.MAKER if trade.maker else Liquidity.TAKER
            events += self._fill(order, trade.trade_txid, trade.qty, trade.price, trade.fee, fee_ccy, liquidity, ts)
        return events

    # -- merging --------------------------------------------------------------------------------------

    def _merge(self, report: ExecutionReport) -> MergedOrder:
        order = self._orders.get(report.order_id)
        if order is None:
            order = self._orders[report.order_id] = MergedOrder(report.order_id)
            self._prune()
        if report.cl_ord_id:
            order.cl_ord_id = report.cl_ord_id
            self._by_client[report.cl_ord_id] = report.order_id
        for name in ("symbol", "side", "order_type", "order_qty", "avg_price"):
            value = getattr(report, name)
            if value is not None:
                setattr(order, name, value)
        if report.order_status is not None and not order.ended:
            order.order_status = report.order_status
        if report.cum_qty is not None:
            order.cum_qty = report.cum_qty
        return order

    def _fill_from_report(self, order: MergedOrder, report: ExecutionReport) -> list[MergerEvent]:
        assert report.exec_id is not None
        if report.last_qty is None or report.last_price is None or order.symbol is None:
            raise ValueError(f"trade report {report.exec_id} of {report.order_id}: no quantity, price or symbol")
        fee, fee_ccy = _fee(report.fees, self._quote_of(order.symbol))
        liquidity = Liquidity.MAKER if report.liquidity_ind == "m" else Liquidity.TAKER
        return self._fill(order, report.exec_id, report.last_qty, report.last_price, fee, fee_ccy, liquidity, report.ts)

    def _fill(
        self,
        order: MergedOrder,
        exec_id: str,
        qty: Decimal,
        price: Decimal,
        fee: Decimal,
        fee_ccy: str,
        liquidity: Liquidity,
        ts: datetime,
    ) -> list[MergerEvent]:
        if exec_id in self._exec_ids:
            return []  # a snapshot's replay, or a REST row the channel delivered first
        self._exec_ids[exec_id] = None
        if len(self._exec_ids) > _KEEP_EXEC_IDS:
            self._exec_ids.popitem(last=False)
        assert order.symbol is not None
        side = Side(order.side) if order.side in ("buy", "sell") else None
        if side is None:
            raise ValueError(f"fill {exec_id} of {order.order_id}: the order's side was never reported")
        order.filled += qty
        cl_ord_id = order.cl_ord_id or ""
        if not cl_ord_id or not (cl_ord_id in self._expected or self._known(cl_ord_id)):
            return [ForeignFill(exec_id, order.order_id, order.cl_ord_id, order.symbol, side, qty, price)]
        fill = Fill(exec_id, cl_ord_id, order.order_id, order.symbol, side, qty, price, fee, fee_ccy, liquidity, ts)
        events: list[MergerEvent] = [fill]
        if order.order_qty is not None and order.filled > order.order_qty:
            detail = f"fill {exec_id} takes order {cl_ord_id} to {fmt(order.filled)} of {fmt(order.order_qty)}"
            events.append(
                VenueAnomaly(VenueAnomaly.OVERFILL, cl_ord_id, order.order_id, exec_id, order.symbol, detail, ts)
            )
        return events

    def _status(self, order: MergedOrder, ts: datetime, reason: str) -> list[MergerEvent]:
        status = STATUS_OF.get(order.order_status or "")
        if status is None or status is order.reported or not order.cl_ord_id:
            return []
        if order.reported is not None and _RANK.get(status, _ENDED) <= _RANK.get(order.reported, _ENDED):
            return []  # an older state than the router already has
        if status is OrderStatus.PARTIALLY_FILLED and order.order_qty is not None and order.cum_qty >= order.order_qty:
            return []  # the trade report of the last fill: the fill has completed the order, `filled` follows
        order.reported = status
        avg = order.avg_price if order.avg_price else None  # Kraken sends 0 before the first fill
        return [OrderEvent(order.cl_ord_id, status, ts, order.order_id, order.cum_qty, avg, reason)]

    def _prune(self) -> None:
        """Forget the oldest ended orders beyond what is kept; open ones are never forgotten."""
        excess = len(self._orders) - _KEEP_CLOSED
        if excess <= 0:
            return
        for order_id in [k for k, o in self._orders.items() if o.ended][:excess]:
            dropped = self._orders.pop(order_id)
            if dropped.cl_ord_id and self._by_client.get(dropped.cl_ord_id) == order_id:
                del self._by_client[dropped.cl_ord_id]


def _fee(fees: Sequence[tuple[str, Decimal]], default_ccy: str) -> tuple[Decimal, str]:
    """The fee of one execution in one currency: Kraken lists `fees[]`, one entry per asset charged."""
    if not fees:
        return ZERO, default_ccy
    currency = fees[0][0]
    return sum((qty for asset, qty in fees if asset == currency), ZERO), currency
