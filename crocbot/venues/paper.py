"""The paper venue: Kraken as seen from the bot, simulated against the live market data.

It wraps the matching engine: market orders walk the live L2 book (the liquidity they took stays taken until
the next book), limit orders rest and fill when trades print through them (with a queue model and partial
fills), stop-loss and take-profit orders trigger on the last trade, with Kraken's fees, minimums, increments
and error strings. The account (balances, holds, resting orders) is saved and restored by the caller through
`to_state` / `from_state`. Latency is the actor's business (it delays commands on the event clock).

After a restart, `catch_up` judges the resting orders against the prints made while crocbot was down (Kraken's
public trades), so paper fills that would have happened are booked instead of assumed away: each print is
applied at its own time over a one-price book at the print, so a limit it trades through fills at its limit
and a stop it triggers fills at that print's price (the book of the moment is not known afterwards).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from crocbot.core.clock import Clock
from crocbot.core.instrument import Instrument
from crocbot.core.messages import (
    HELD_BACK,
    RATE_LIMITED,
    Fill,
    Liquidity,
    OrderEvent,
    OrderLookedUp,
    OrderStatus,
    Trade,
)
from crocbot.kraken.ratelimit import (
    ADD_COST,
    TRADING_LIMITS,
    LeakyCounter,
    Tier,
    TradingLimits,
    amend_cost,
    cancel_cost,
)
from crocbot.matching import (
    Execution,
    MatchingEngine,
    OrderError,
    OrderRequest,
    engine_from_state,
    engine_to_state,
    prune_history,
)
from crocbot.venues.paper_view import ORDER_STATUS
from crocbot.venues.protocol import (
    Amend,
    Cancel,
    CommandRejected,
    OrderAmended,
    Query,
    Submit,
    VenueCommand,
    VenueEvent,
)

__all__ = ["PaperVenue", "events_from"]

_STATUS = {
    "new": OrderStatus.ACKED,
    "filled": OrderStatus.FILLED,
    "canceled": OrderStatus.CANCELLED,
    "expired": OrderStatus.EXPIRED,
}
_PRUNE_EVERY = 500  # fills between prunes of the engine's own history
_CATCH_UP_DEPTH = Decimal(10) ** 12  # the one-price book of a downtime print takes any order crocbot sends


class _VenueClock:
    """The event clock, pinned to a print's time while downtime prints are applied, so fills carry their time."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self.pinned: datetime | None = None

    def now(self) -> datetime:
        return self.pinned if self.pinned is not None else self._clock.now()

    def monotonic(self) -> float:
        return self._clock.monotonic()

    def on_advance(self, listener: Callable[[], None]) -> bool:
        return self._clock.on_advance(listener)


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
    def __init__(
        self,
        build: Callable[[Clock], MatchingEngine],
        instruments: Mapping[str, Instrument],
        clock: Clock,
        trading: TradingLimits = TRADING_LIMITS[Tier.STARTER],
    ) -> None:
        self._clock = _VenueClock(clock)
        self.engine = build(self._clock)
        self._instruments = dict(instruments)
        self._fills_since_prune = 0
        # Kraken's trading counter per pair, charged and enforced like the exchange's (not saved: a restarted paper
        # venue starts it at zero), so that crocbot pacing its commands wrongly shows as refusals in paper too.
        self._trading = trading
        self._counters: dict[str, LeakyCounter] = {}
        self._touched: dict[str, float] = {}  # client id -> when the order was placed or last amended (monotonic)

    @classmethod
    def new(
        cls,
        instruments: Mapping[str, Instrument],
        balances: Mapping[str, Decimal],
        *,
        clock: Clock,
        seed: int | None = None,
        trading: TradingLimits = TRADING_LIMITS[Tier.STARTER],
    ) -> PaperVenue:
        return cls(lambda c: MatchingEngine(instruments, balances, clock=c, seed=seed), instruments, clock, trading)

    @classmethod
    def from_state(
        cls,
        state: Mapping[str, Any],
        instruments: Mapping[str, Instrument],
        *,
        clock: Clock,
        trading: TradingLimits = TRADING_LIMITS[Tier.STARTER],
    ) -> PaperVenue:
        return cls(lambda c: engine_from_state(state, instruments, clock=c), instruments, clock, trading)

    def to_state(self) -> dict[str, Any]:
        return engine_to_state(self.engine)

    def execute_all(self, commands: Sequence[VenueCommand]) -> list[VenueEvent]:
        """One request's commands, in order. A `Submit` with `after_cancels` is placed only if a `Cancel` earlier in
        the request cancelled each of those orders; otherwise it is held back (see `crocbot.venues.protocol`)."""
        events: list[VenueEvent] = []
        cancelled: set[str] = set()
        for command in commands:
            if isinstance(command, Submit) and any(c not in cancelled for c in command.after_cancels):
                held = OrderEvent(command.intent.cl_ord_id, OrderStatus.CANCELLED, self._clock.now(), reason=HELD_BACK)
                events.append(held)
                continue
            done = self.execute(command)
            if isinstance(command, Cancel) and any(
                isinstance(e, OrderEvent) and e.cl_ord_id == command.cl_ord_id and e.status is OrderStatus.CANCELLED
                for e in done
            ):
                cancelled.add(command.cl_ord_id)
            events += done
        return events

    def execute(self, command: VenueCommand) -> list[VenueEvent]:
        now = self._clock.now()
        if isinstance(command, Query):
            return [self._look_up(command)]
        if not self._charge(command):
            if isinstance(command, Submit):
                return [OrderEvent(command.intent.cl_ord_id, OrderStatus.REJECTED, now, reason=RATE_LIMITED)]
            kind = "amend" if isinstance(command, Amend) else "cancel"
            return [CommandRejected(command.cl_ord_id, kind, RATE_LIMITED, now)]
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
        if isinstance(command, Submit | Amend):
            self._touched[command.intent.cl_ord_id if isinstance(command, Submit) else command.cl_ord_id] = (
                self._clock.monotonic()
            )
        return self._events(executions)

    def _charge(self, command: Submit | Amend | Cancel) -> bool:
        """Charge the pair's trading counter as Kraken does (even for a command the engine then refuses); False
        when the command would take it over the threshold: refused with Kraken's error, nothing else happens."""
        now = self._clock.monotonic()
        if isinstance(command, Submit):
            symbol, cost = command.intent.symbol, ADD_COST
        else:
            placed = self._touched.get(command.cl_ord_id)
            age = now - placed if placed is not None else 1e9  # restored from the account file: long placed
            symbol, cost = command.symbol, amend_cost(age) if isinstance(command, Amend) else cancel_cost(age)
        counter = self._counters.get(symbol)
        if counter is None:
            counter = self._counters[symbol] = LeakyCounter(self._trading.threshold, self._trading.decay)
        return cost <= 0 or counter.try_add(cost, now)

    def _look_up(self, query: Query) -> OrderLookedUp:
        view = self.engine.find(cl_ord_id=query.cl_ord_id)
        now = self._clock.now()
        if view is None:
            return OrderLookedUp(query.cl_ord_id, now, None)
        return OrderLookedUp(
            query.cl_ord_id,
            now,
            ORDER_STATUS.get(view.order_status, OrderStatus.ACKED),
            qty=view.qty,
            filled=view.cum_qty,
            limit_price=view.limit_price,
            trigger_price=view.trigger_price,
        )

    def on_book(
        self, symbol: str, bids: Sequence[tuple[Decimal, Decimal]], asks: Sequence[tuple[Decimal, Decimal]]
    ) -> list[VenueEvent]:
        return self._events(self.engine.set_book(symbol, bids, asks))

    def on_trade(self, trade: Trade, *, late: bool = False) -> list[VenueEvent]:
        """A public print; `late`: fetched from history (see `MatchingEngine.on_trade`)."""
        return self._events(self.engine.on_trade(trade.symbol, trade.price, trade.qty, trade.ts, late=late))

    def balances(self) -> dict[str, Decimal]:
        return self.engine.balances()

    def resting(self) -> dict[str, datetime | None]:
        """Each symbol with open orders, and the time of the last print the venue saw on it (None: none yet)."""
        out: dict[str, datetime | None] = {}
        for view in self.engine.open_orders():
            last = self.engine.last_trade(view.symbol)
            out[view.symbol] = last[1] if last is not None else None
        return out

    def catch_up(self, trades: Sequence[Trade]) -> list[VenueEvent]:
        """Apply prints made while crocbot was down, oldest first, each at its own time (see the module doc)."""
        events: list[VenueEvent] = []
        for trade in trades:
            instrument = self._instruments.get(trade.symbol)
            if instrument is None:
                continue
            bid, ask = (trade.price, _CATCH_UP_DEPTH), (trade.price + instrument.price_increment, _CATCH_UP_DEPTH)
            self._clock.pinned = trade.ts
            try:
                events += self._events(self.engine.set_book(trade.symbol, [bid], [ask]))
                events += self.on_trade(trade, late=True)
            finally:
                self._clock.pinned = None
        return events

    def _events(self, executions: Sequence[Execution]) -> list[VenueEvent]:
        events = events_from(executions)
        for event in events:
            if isinstance(event, OrderEvent) and event.status.is_terminal:
                self._touched.pop(event.cl_ord_id, None)
        self._fills_since_prune += sum(1 for e in events if isinstance(e, Fill))
        if self._fills_since_prune >= _PRUNE_EVERY:
            prune_history(self.engine)
            self._fills_since_prune = 0
        return events
