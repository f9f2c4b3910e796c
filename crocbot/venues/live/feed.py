"""The executions merger shared by the private WS's receive thread (which feeds it) and the order calls (which read
an order's state from it, e.g. how much a cancelled order had filled): the pure merger behind one lock.

Events go to `sink` (the live venue publishes them on the bus) under that lock, so that the events of the channel and
an order call's ACKED reach the router in one order, the order the merger made them in; the sink must not block,
like every consumer of a receive thread.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from datetime import datetime

from loguru import logger

from crocbot.core.messages import VenueAnomaly
from crocbot.core.money import fmt
from crocbot.kraken.rest_types import TradeInfo
from crocbot.kraken.wire import Executions
from crocbot.venues.live.executions import ExecutionsMerger, ForeignFill, LiveEvent, MergedOrder, MergerEvent

__all__ = ["ExecutionFeed", "OrderState"]

OrderState = MergedOrder


class ExecutionFeed:
    def __init__(self, merger: ExecutionsMerger, sink: Callable[[LiveEvent], None]) -> None:
        self._merger = merger
        self._sink = sink
        self._changed = threading.Condition()
        self.snapshots = 0  # executions snapshots taken in (one per private connection)

    def expect(self, cl_ord_id: str) -> None:
        with self._changed:
            self._merger.expect(cl_ord_id)

    def on_executions(self, executions: Executions) -> None:
        """The WS receive thread's entry: merge, then hand the events on."""
        with self._changed:
            try:
                events = self._merger.on_reports(executions.reports)
            except ValueError as error:  # a report too sparse to use: loud, the reconciliation fills the gap
                logger.error("executions: a report could not be used ({}); reconciliation will catch up", error)
                return
            if executions.snapshot:
                self.snapshots += 1
            self._deliver(events)
            self._changed.notify_all()

    def acked(self, cl_ord_id: str, order_id: str, ts: datetime) -> None:
        """An order call's answer says the order is in the book: ACKED to the router, unless its reports said so."""
        with self._changed:
            self._deliver(self._merger.acked(cl_ord_id, order_id, ts))

    def on_trades(
        self,
        trades: Sequence[TradeInfo],
        symbol_of: Callable[[str], str | None],
        client_of: Callable[[str], str | None] | None = None,
    ) -> list[LiveEvent]:
        """REST TradesHistory rows (a catch-up after a reconnect): the fills the channel missed, delivered too."""
        with self._changed:
            delivered = self._deliver(self._merger.on_trades(trades, symbol_of, client_of))
            self._changed.notify_all()
        return delivered

    def order(self, cl_ord_id: str) -> OrderState | None:
        """A copy of the order's merged state (None if no report named it yet)."""
        with self._changed:
            found = self._merger.order(cl_ord_id=cl_ord_id)
            return None if found is None else _copy(found)

    def wait_ended(self, cl_ord_id: str, timeout: float) -> OrderState | None:
        """The order's state once a report says it ended (cancelled, filled, expired), or as it is at `timeout`."""
        with self._changed:
            self._changed.wait_for(lambda: _ended(self._merger.order(cl_ord_id=cl_ord_id)), max(0.0, timeout))
            found = self._merger.order(cl_ord_id=cl_ord_id)
            return None if found is None else _copy(found)

    def _deliver(self, events: list[MergerEvent]) -> list[LiveEvent]:
        delivered: list[LiveEvent] = []
        for event in events:
            if isinstance(event, ForeignFill):  # the account's own trading: told once, never booked
                logger.bind(symbol=event.symbol).info(
                    "fill {} of order {} ({} {} at {}) is not crocbot's: left to the account's owner",
                    event.exec_id,
                    event.cl_ord_id or event.order_id,
                    event.side,
                    fmt(event.qty),
                    fmt(event.price),
                )
                continue
            if isinstance(event, VenueAnomaly):
                logger.bind(symbol=event.symbol).critical("{}: entries should halt until someone looks", event.detail)
            self._sink(event)
            delivered.append(event)
        return delivered


def _ended(order: MergedOrder | None) -> bool:
    return order is not None and order.ended


def _copy(order: MergedOrder) -> MergedOrder:
    return MergedOrder(
        order.order_id,
        order.cl_ord_id,
        order.symbol,
        order.side,
        order.order_type,
        order.order_qty,
        order.order_status,
        order.cum_qty,
        order.avg_price,
        order.filled,
        order.reported,
    )
