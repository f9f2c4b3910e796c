"""The paper venue: Kraken as seen from the bot, simulated against the live market data.

It wraps the matching engine: market orders walk the live L2 book (the liquidity they took stays taken until
the next book), limit orders rest and fill when trades print through them (with a queue model and partial
fills), stop-loss and take-profit orders trigger on the last trade, with Kraken's fees, minimums, increments
and error strings. The account (balances, holds, resting orders) is saved and restored by the caller through
`to_state` / `from_state`. Latency is the actor's business (it delays commands on the event clock).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from crocbot.core.clock import Clock
from crocbot.core.messages import Fill, Liquidity, OrderEvent, OrderStatus, Trade
from crocbot.kraken.instruments import Instrument
from crocbot.venues.engine import MatchingEngine
from crocbot.venues.engine_persist import engine_from_state, engine_to_state, prune_history
from crocbot.venues.engine_types import Execution, OrderError, OrderRequest
from crocbot.venues.protocol import Amend, CommandRejected, OrderAmended, Submit, VenueCommand, VenueEvent

__all__ = ["PaperVenue", "events_from"]

_STATUS = {
    "new": OrderStatus.ACKED,
    "filled": OrderStatus.FILLED,
    "canceled": OrderStatus.CANCELLED,
    "expired": OrderStatus.EXPIRED,
}
_PRUNE_EVERY = 500  # fills between prunes of the engine's own history


def events_from(executions: Sequence[Execution]) -> list[VenueEvent]:
    """Engine executions as venue events: fills for trades, order events for status changes."""
    out: list[VenueEvent] = []
    for e in executions:
        if e.cl_ord_id is None:
            continue  # every order crocbot sends has a client id; the engine only knows ours
        if e.exec_type == "trade":
            assert e.last_qty is not None
            assert e.last_price is not None
            assert e.exec_id is not None
            out.append(
                Fill(
                    fill_id=e.exec_id,
                    cl_ord_id=e.cl_ord_id,
                    order_id=e.order_id,
                    symbol=e.symbol,
                    side=e.side,
                    qty=e.last_qty,
                    price=e.last_price,
                    fee=e.fee if e.fee is not None else Decimal(0),
                    fee_currency=e.fee_asset or "",
                    liquidity=Liquidity.MAKER if e.liquidity == "m" else Liquidity.TAKER,
                    ts=e.ts,
                )
            )
        elif e.exec_type == "amended":
            out.append(OrderAmended(e.cl_ord_id, e.ts, e.order_qty, e.limit_price, e.trigger_price))
        elif e.exec_type in _STATUS:
            out.append(
                OrderEvent(
                    e.cl_ord_id,
                    _STATUS[e.exec_type],
                    e.ts,
                    order_id=e.order_id,
                    filled_qty=e.cum_qty,
                    avg_price=e.avg_price,
                    reason=e.reason or "",
                )
            )
    return out


class PaperVenue:
    def __init__(self, engine: MatchingEngine, clock: Clock) -> None:
        self.engine = engine
        self._clock = clock
        self._fills_since_prune = 0

    @classmethod
    def new(
        cls, instruments: Mapping[str, Instrument], balances: Mapping[str, Decimal], *, clock: Clock, seed: int = 0
    ) -> PaperVenue:
        return cls(MatchingEngine(instruments, balances, clock=clock, seed=seed), clock)

    @classmethod
    def from_state(cls, state: Mapping[str, Any], instruments: Mapping[str, Instrument], *, clock: Clock) -> PaperVenue:
        return cls(engine_from_state(state, instruments, clock=clock), clock)

    def to_state(self) -> dict[str, Any]:
        return engine_to_state(self.engine)

    def execute(self, command: VenueCommand) -> list[VenueEvent]:
        now = self._clock.now()
        try:
            if isinstance(command, Submit):
                intent = command.intent
                request = OrderRequest(
                    symbol=intent.symbol,
                    side=intent.side,
                    order_type=str(intent.order_type),
                    qty=intent.qty,
                    limit_price=intent.limit_price,
                    trigger_price=intent.trigger_price,
                    cl_ord_id=intent.cl_ord_id,
                    post_only=intent.post_only,
                    fee_in_quote=True,  # crocbot always asks for fees in quote (oflags=fciq)
                )
                _, executions = self.engine.add_order(request)
            elif isinstance(command, Amend):
                executions = self.engine.amend_order(
                    cl_ord_id=command.cl_ord_id,
                    qty=command.qty,
                    limit_price=command.limit_price,
                    trigger_price=command.trigger_price,
                )
            else:
                executions = self.engine.cancel_order(cl_ord_id=command.cl_ord_id)
        except OrderError as error:
            if isinstance(command, Submit):
                return [OrderEvent(command.intent.cl_ord_id, OrderStatus.REJECTED, now, reason=error.code)]
            kind = "amend" if isinstance(command, Amend) else "cancel"
            return [CommandRejected(command.cl_ord_id, kind, error.code, now)]
        return self._events(executions)

    def on_book(
        self, symbol: str, bids: Sequence[tuple[Decimal, Decimal]], asks: Sequence[tuple[Decimal, Decimal]]
    ) -> list[VenueEvent]:
        return self._events(self.engine.set_book(symbol, bids, asks))

    def on_trade(self, trade: Trade) -> list[VenueEvent]:
        return self._events(self.engine.on_trade(trade.symbol, trade.price, trade.qty, trade.ts))

    def balances(self) -> dict[str, Decimal]:
        return self.engine.balances()

    def _events(self, executions: Sequence[Execution]) -> list[VenueEvent]:
        events = events_from(executions)
        self._fills_since_prune += sum(1 for e in events if isinstance(e, Fill))
        if self._fills_since_prune >= _PRUNE_EVERY:
            prune_history(self.engine)
            self._fills_since_prune = 0
        return events
