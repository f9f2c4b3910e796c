"""The simulated exchange's state: markets, accounts, and the order flow between them, under one lock.

Market trades move each symbol's synthetic book, print on the tape, update candles and the ticker, and reach
every account's matching engine (resting orders fill, stops trigger). Orders from REST and WS go through the
same path, with Kraken's trading-counter charge first. Every public and private frame goes to the hub (the WS
server), which knows who subscribed; frames are handed over under the lock, so a new subscriber's snapshot is
never overtaken by an update.
"""

from __future__ import annotations

import contextlib
import random
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Protocol

from crocbot.core.clock import Clock
from crocbot.core.instrument import Instrument
from crocbot.kraken.ratelimit import ADD_COST, REST_LIMITS, TRADING_LIMITS, LeakyCounter, Tier, amend_cost, cancel_cost
from crocbot.matching import Execution, MatchingEngine, OrderError, OrderRequest, OrderSnapshot
from crocbot.sim.accounts import Account
from crocbot.sim.bookmaker import BookData, SyntheticBook
from crocbot.sim.catalog import START_PRICES
from crocbot.sim.faults import FaultPlan
from crocbot.sim.frames import balances_frame, executions_frame, instrument_frame
from crocbot.sim.market import MarketTrade
from crocbot.sim.market_state import OHLC_INTERVALS, SimMarket
from crocbot.sim.records import SimRecords
from crocbot.sim.rest_server import SimError

__all__ = ["Exchange", "Hub", "ENGINE_LEVELS"]

_SECONDS = "%Y-%m-%dT%H:%M:%SZ"
_LEVEL_NOTIONAL = Decimal(25_000)  # quote value of an average book level: BTC/USD-like depth for every pair


def _asked(request: OrderRequest) -> dict[str, Any]:
    return asdict(request) | {"side": str(request.side)}


def _level_qty(price: Decimal, qty_increment: Decimal) -> Decimal:
    """An average level's size, so that every pair's book holds about the same value, whatever its price."""
    units = max(Decimal(1), (_LEVEL_NOTIONAL / price / qty_increment).to_integral_value())
    return units * qty_increment


ENGINE_LEVELS = 100  # book levels a matching engine sees: deeper than any order crocbot sends walks


class Hub(Protocol):
    def wants(self, channel: str, symbol: str) -> bool: ...

    def publish(self, channel: str, symbol: str, frame: str) -> None: ...

    def publish_book(self, symbol: str, depth: int, data: BookData, ts: datetime) -> None: ...

    def publish_private(self, api_key: str, channel: str, frame: str) -> None: ...


class _NoHub:
    def wants(self, channel: str, symbol: str) -> bool:
        return False

    def publish(self, channel: str, symbol: str, frame: str) -> None:
        return None

    def publish_book(self, symbol: str, depth: int, data: BookData, ts: datetime) -> None:
        return None

    def publish_private(self, api_key: str, channel: str, frame: str) -> None:
        return None


class Exchange:
    def __init__(
        self,
        instruments: Sequence[Instrument],
        *,
        clock: Clock,
        faults: FaultPlan | None = None,
        accounts: Mapping[str, tuple[str, Mapping[str, Decimal]]] | None = None,
        seed: int = 0,
        tier: Tier = Tier.STARTER,
        book_levels: int = 200,
        start_prices: Mapping[str, Decimal] | None = None,
    ) -> None:
        self.lock = threading.RLock()
        self.clock = clock
        self.faults = faults or FaultPlan(seed)
        self.tier = tier
        self.instruments = {i.symbol: i for i in instruments}
        self.hub: Hub = _NoHub()
        self.markets: dict[str, SimMarket] = {}
        prices = {**START_PRICES, **(start_prices or {})}
        for index, item in enumerate(instruments):
            start_price = prices.get(item.symbol, Decimal(100))
            book = SyntheticBook(
                item.symbol,
                price_increment=item.price_increment,
                qty_increment=item.qty_increment,
                price_precision=item.price_precision,
                qty_precision=item.qty_precision,
                seed=seed + index,
                levels=book_levels,
                mean_level_qty=_level_qty(start_price, item.qty_increment),
            )
            market = SimMarket(item, book, seed + index, rng=random.Random(seed + index))
            market.seed_book(start_price)
            self.markets[item.symbol] = market
        self.accounts: dict[str, Account] = {}
        for key, (secret, balances) in (accounts or {}).items():
            self.add_account(key, secret, balances)
        self.status = "online"
        self.records: SimRecords | None = None  # what a crash test judges the bot by (`crocbot sim --records`)

    # -- accounts -------------------------------------------------------------------------------------

    def add_account(self, api_key: str, secret: str, balances: Mapping[str, Decimal]) -> Account:
        with self.lock:
            # Unseeded ids, as Kraken's never repeat: a seed fixes the market, not the ids of two runs' orders.
            # Kraken's rounding: every cost and fee an account sees, in balances and rows, is at the pair's decimals.
            engine = MatchingEngine(self.instruments, balances, clock=self.clock, kraken_rounding=True)
            rest = REST_LIMITS[self.tier]
            account = Account(api_key, secret, engine, LeakyCounter(rest.limit, rest.decay), TRADING_LIMITS[self.tier])
            self.accounts[api_key] = account
            return account

    def account_for_token(self, token: str) -> Account | None:
        now = self.clock.monotonic()
        for account in self.accounts.values():
            if account.token_valid(token, now):
                return account
        return None

    # -- market ---------------------------------------------------------------------------------------

    def apply_trade(self, trade: MarketTrade) -> None:
        """A public trade: book, tape, candles, ticker, subscribers, and every account's resting orders."""
        with self.lock:
            market = self.markets[trade.symbol]
            market.book.on_trade(trade)
            recorded = market.record(trade)
            now = self.clock.now()
            # Once a trade, not at every churn: the driver's budget goes to replaying trades in time.
            market.record_spread(now)
            hub, symbol = self.hub, trade.symbol
            if hub.wants("trade", symbol):
                hub.publish("trade", symbol, market.trade_frame([recorded], snapshot=False))
            self._publish_book(market, now)
            if hub.wants("ticker", symbol):
                ticker = market.ticker_frame(now, snapshot=False)
                if ticker is not None:
                    hub.publish("ticker", symbol, ticker)
            for interval in OHLC_INTERVALS:  # frames are built only for someone who subscribed
                if hub.wants(f"ohlc:{interval}", symbol):
                    frame = market.ohlc_frame(interval, snapshot=False, ts=now)
                    if frame is not None:
                        hub.publish(f"ohlc:{interval}", symbol, frame)
            for account in self.accounts.values():
                if symbol in account.active_symbols:  # an engine needs the book only to fill resting orders
                    self._sync_book(account, symbol)
                events = account.engine.on_trade(symbol, trade.price, trade.qty, trade.ts)
                self._publish_executions(account, events)

    def churn(self, symbol: str, n: int = 1) -> None:
        with self.lock:
            market = self.markets[symbol]
            market.book.churn(n)
            self._publish_book(market, self.clock.now())

    def _publish_book(self, market: SimMarket, ts: datetime) -> None:
        for depth, data in market.book_diffs():
            self.hub.publish_book(market.symbol, depth, data, ts)

    def _sync_book(self, account: Account, symbol: str) -> None:
        book = self.markets[symbol].book
        events = account.engine.set_book(symbol, book.bids(ENGINE_LEVELS), book.asks(ENGINE_LEVELS))
        self._publish_executions(account, events)

    def arm_dead_man(self, account: Account, timeout: int) -> tuple[str, str]:
        """Kraken's cancel_all_orders_after: every order goes in `timeout` s unless re-armed; 0 disarms."""
        if not 0 <= timeout < 86_400:
            raise SimError("EGeneral:Invalid arguments:timeout")
        with self.lock:
            now = self.clock.now()
            account.dead_man_at = self.clock.monotonic() + timeout if timeout else None
            trigger = now + timedelta(seconds=timeout)
            return now.strftime(_SECONDS), trigger.strftime(_SECONDS)

    def tick(self) -> None:
        """Time-driven duties: dead man's switches that ran out."""
        with self.lock:
            now = self.clock.monotonic()
            for account in self.accounts.values():
                if account.dead_man_at is not None and now >= account.dead_man_at:
                    account.dead_man_at = None
                    self._publish_executions(account, account.engine.cancel_all())

    def set_instrument_status(self, symbol: str, status: str) -> None:
        """Kraken changing a pair's status (an xStock's market closing, a pair going `cancel_only`): every account
        checks new orders against it, REST AssetPairs says it, and `instrument` subscribers get an update. (Kraken
        sends the update to subscribers that asked for tokenized assets only when the pair is one; every crocbot
        subscription asks, so this sends it to every subscriber.)"""
        with self.lock:
            changed = replace(self.instrument(symbol), status=status)
            self.instruments[symbol] = changed
            for account in self.accounts.values():
                account.engine.set_status(symbol, status)
        self.hub.publish("instrument", "*", instrument_frame([changed], include_tokenized=True, kind="update"))

    # -- orders ---------------------------------------------------------------------------------------

    def instrument(self, symbol: str) -> Instrument:
        item = self.instruments.get(symbol)
        if item is None:
            raise SimError("EQuery:Unknown asset pair")
        return item

    def add_order(
        self, account: Account, request: OrderRequest, *, via: str = "", req_id: int | None = None
    ) -> tuple[str, list[Execution]]:
        """`via` (ws, rest) and `req_id` only say where the request came from, in the records."""
        with self.lock, self._recorded(account, "add", via, req_id, asked=_asked(request)) as outcome:
            self.instrument(request.symbol)
            now = self.clock.monotonic()
            account.charge_trading(request.symbol, ADD_COST, now)  # charged even when validation fails
            self._sync_book(account, request.symbol)
            try:
                order_id, events = account.engine.add_order(request)
            except OrderError as error:
                raise SimError(error.code) from None
            outcome["order_id"] = order_id
            if order_id:
                account.order_times[order_id] = now
            self._publish_executions(account, events)
            return order_id, events

    def amend_order(
        self,
        account: Account,
        *,
        order_id: str | None,
        cl_ord_id: str | None,
        qty: Decimal | None,
        limit_price: Decimal | None,
        trigger_price: Decimal | None,
        post_only: bool = False,
        via: str = "",
        req_id: int | None = None,
    ) -> str:
        asked: dict[str, Any] = {"qty": qty, "limit_price": limit_price, "trigger_price": trigger_price}
        asked |= {"order_id": order_id, "cl_ord_id": cl_ord_id}
        with self.lock, self._recorded(account, "amend", via, req_id, asked=asked) as outcome:
            view = self._find(account, order_id, cl_ord_id)
            outcome["order_id"] = view.order_id
            now = self.clock.monotonic()
            account.charge_trading(view.symbol, amend_cost(account.order_age(view.order_id, now)), now)
            self._sync_book(account, view.symbol)
            try:
                events = account.engine.amend_order(
                    order_id=view.order_id,
                    qty=qty,
                    limit_price=limit_price,
                    trigger_price=trigger_price,
                    post_only=post_only,
                )
            except OrderError as error:
                raise SimError(error.code) from None
            account.order_times[view.order_id] = now
            self._publish_executions(account, events)
            return view.order_id

    def cancel_order(
        self,
        account: Account,
        *,
        order_id: str | None,
        cl_ord_id: str | None,
        via: str = "",
        req_id: int | None = None,
    ) -> str:
        asked = {"order_id": order_id, "cl_ord_id": cl_ord_id}
        with self.lock, self._recorded(account, "cancel", via, req_id, asked=asked) as outcome:
            view = self._find(account, order_id, cl_ord_id)
            outcome["order_id"] = view.order_id
            now = self.clock.monotonic()
            account.charge_trading(view.symbol, cancel_cost(account.order_age(view.order_id, now)), now)
            try:
                events = account.engine.cancel_order(order_id=view.order_id)
            except OrderError as error:
                raise SimError(error.code) from None
            self._publish_executions(account, events)
            return view.order_id

    def cancel_all(self, account: Account, *, via: str = "", req_id: int | None = None) -> int:
        with self.lock, self._recorded(account, "cancel_all", via, req_id) as outcome:
            events = account.engine.cancel_all()
            self._publish_executions(account, events)
            outcome["count"] = count = sum(1 for e in events if e.exec_type == "canceled")
            return count

    @contextlib.contextmanager
    def _recorded(
        self,
        account: Account,
        method: str,
        via: str,
        req_id: int | None,
        *,
        asked: dict[str, Any] | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Record the order call run in the block: what it `asked`, and its outcome (what the block put in the dict
        it is given, or the SimError it raised)."""
        outcome: dict[str, Any] = {}
        asked = asked or {}
        try:
            yield outcome
        except SimError as error:
            self._record_order(account, method, via, req_id, asked, {"accepted": False, "error": error.code})
            raise
        self._record_order(account, method, via, req_id, asked, {"accepted": True, **outcome})

    def _record_order(
        self,
        account: Account,
        method: str,
        via: str,
        req_id: int | None,
        asked: dict[str, Any],
        outcome: dict[str, Any],
    ) -> None:
        if self.records is not None:
            fields = {k: v for k, v in {**asked, **outcome}.items() if v is not None}
            self.records.write("order", key=account.api_key, method=method, via=via, req_id=req_id, **fields)

    def _find(self, account: Account, order_id: str | None, cl_ord_id: str | None) -> OrderSnapshot:
        view = account.engine.order(order_id) if order_id else account.engine.find(cl_ord_id=cl_ord_id or "")
        if view is None or view.status != "open":
            raise SimError("EOrder:Unknown order" if view is None else "EOrder:Invalid order")
        return view

    def _publish_executions(self, account: Account, events: list[Execution]) -> None:
        if not events:
            return
        if self.records is not None:
            self.records.executions(account.api_key, events)
        account.active_symbols = {view.symbol for view in account.engine.open_orders()}
        account.exec_sequence += 1
        self.hub.publish_private(
            account.api_key, "executions", executions_frame(events, snapshot=False, sequence=account.exec_sequence)
        )
        if any(e.exec_type == "trade" for e in events):
            account.balance_sequence += 1
            frame = balances_frame(account.engine.balances(), snapshot=False, sequence=account.balance_sequence)
            self.hub.publish_private(account.api_key, "balances", frame)
