"""The Kraken REST endpoints crocbot uses, typed, on top of `RestClient`.

xStocks need `asset_class=tokenized_asset` on market-data and order calls and `pair` on amends; symbols are
WS v2 names everywhere in crocbot and become REST names here. An order call whose answer is lost is never sent
again: `place_order` looks the order up by its `cl_ord_id` and reports what it found. The typed requests and
answers, and the reading of Kraken's rows into them, are in `crocbot.kraken.rest_types`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from crocbot.core.instrument import Instrument
from crocbot.core.messages import Side, Ticker, Trade
from crocbot.core.money import fmt
from crocbot.core.symbols import normal_asset
from crocbot.kraken.errors import UNKNOWN_OUTCOME, KrakenError
from crocbot.kraken.instruments import Catalog, rest_name
from crocbot.kraken.rest import RestClient
from crocbot.kraken.rest_types import (
    AddOrderRequest,
    BalanceEx,
    OrderInfo,
    Placement,
    TradeInfo,
    balance_ex,
    dec,
    order_info,
    trade_info,
)
from crocbot.kraken.symbols import rest_pair_name

__all__ = ["KrakenApi", "TOKEN_TERMS"]

_XSTOCK_BASE = re.compile(r"^[A-Z0-9]+x/")
# xStocks are rebasing tokens, and Kraken shows an account's xStock amounts in underlying-equity terms unless asked
# otherwise; crocbot's orders, fills and positions count tokens, what it buys and sells, so every account view asks
# for token terms ("base": SPV tokens). The private WS's `rebased: false` is the same.
TOKEN_TERMS = {"rebase_multiplier": "base"}


class KrakenApi:
    def __init__(self, rest: RestClient, catalog: Catalog | None = None) -> None:
        self.rest = rest
        self.catalog = catalog or Catalog()

    # -- naming ---------------------------------------------------------------------------------------

    def _instrument(self, symbol: str) -> Instrument | None:
        return self.catalog.get(symbol)

    def pair(self, symbol: str) -> str:
        instrument = self._instrument(symbol)
        return rest_name(instrument) if instrument is not None else rest_pair_name(symbol)

    def _market_params(self, symbol: str, **extra: Any) -> dict[str, Any]:
        params: dict[str, Any] = {"pair": self.pair(symbol), **{k: v for k, v in extra.items() if v is not None}}
        if self.is_xstock(symbol):
            params["asset_class"] = "tokenized_asset"
        return params

    def is_xstock(self, symbol: str) -> bool:
        instrument = self._instrument(symbol)
        return instrument.is_xstock if instrument is not None else bool(_XSTOCK_BASE.match(symbol))

    def _price(self, symbol: str, price: Decimal) -> str:
        instrument = self._instrument(symbol)
        return instrument.price_text(price) if instrument is not None else fmt(price)

    def _qty(self, symbol: str, qty: Decimal) -> str:
        instrument = self._instrument(symbol)
        return instrument.qty_text(qty) if instrument is not None else fmt(qty)

    @staticmethod
    def _single(result: Mapping[str, Any]) -> Any:
        """Kraken keys a pair's rows by its own pair id, whatever name was asked for."""
        rows = [value for key, value in result.items() if key != "last"]
        if len(rows) != 1:
            raise ValueError(f"expected one pair in the answer, got {len(rows)}")
        return rows[0]

    # -- public ---------------------------------------------------------------------------------------

    def server_time(self, *, deadline: float | None = None) -> datetime:
        result = self.rest.public("Time", deadline=deadline)
        return datetime.fromtimestamp(int(result["unixtime"]), UTC)

    def system_status(self, *, deadline: float | None = None) -> str:
        return str(self.rest.public("SystemStatus", deadline=deadline)["status"])

    def asset_pairs(self, *, tokenized: bool = False, deadline: float | None = None) -> dict[str, Any]:
        params = {"aclass_base": "tokenized_asset"} if tokenized else {}
        result: dict[str, Any] = self.rest.public("AssetPairs", params, deadline=deadline)
        return result

    def load_catalog(self, *, deadline: float | None = None) -> Catalog:
        """Crypto and tokenized pairs from AssetPairs, merged into this client's catalog."""
        self.catalog.update_from_asset_pairs(self.asset_pairs(deadline=deadline))
        self.catalog.update_from_asset_pairs(self.asset_pairs(tokenized=True, deadline=deadline))
        return self.catalog

    def ticker(self, symbol: str, *, deadline: float | None = None) -> Ticker:
        """Best bid and ask and the last trade, from REST (the WS ticker channel is the live source)."""
        row = self._single(self.rest.public("Ticker", self._market_params(symbol), deadline=deadline))
        return Ticker(
            symbol,
            dec(row["b"][0]),
            dec(row["b"][2]),
            dec(row["a"][0]),
            dec(row["a"][2]),
            dec(row["c"][0]) if row.get("c") else None,
            self.rest.clock.now(),  # REST tickers carry no time; this is when crocbot read it
        )

    def ohlc(
        self, symbol: str, interval: int, since: int | None = None, *, deadline: float | None = None
    ) -> tuple[list[list[Any]], int]:
        """Rows `[time, open, high, low, close, vwap, volume, count]` (at most 720; the last is still forming)."""
        result = self.rest.public(
            "OHLC", self._market_params(symbol, interval=interval, since=since), deadline=deadline
        )
        return list(self._single(result)), int(result.get("last", 0))

    def depth(
        self, symbol: str, count: int = 100, *, deadline: float | None = None
    ) -> tuple[list[tuple[Decimal, Decimal]], list[tuple[Decimal, Decimal]]]:
        result = self.rest.public("Depth", self._market_params(symbol, count=count), deadline=deadline)
        book = self._single(result)
        return (
            [(dec(p), dec(q)) for p, q, *_ in book["bids"]],
            [(dec(p), dec(q)) for p, q, *_ in book["asks"]],
        )

    def trades(
        self, symbol: str, since: str | None = None, *, deadline: float | None = None
    ) -> tuple[list[Trade], str]:
        """Public trades since the `last` cursor (a nanosecond string), oldest first."""
        result = self.rest.public("Trades", self._market_params(symbol, since=since), deadline=deadline)
        out = []
        for price, qty, stamp, side, *rest in self._single(result):
            trade_id = int(rest[2]) if len(rest) > 2 and rest[2] is not None else None
            when = datetime.fromtimestamp(float(dec(stamp)), UTC)  # display time; order by trade id
            out.append(Trade(symbol, Side.BUY if side == "b" else Side.SELL, dec(price), dec(qty), when, trade_id))
        return out, str(result.get("last", ""))

    # -- private: account -----------------------------------------------------------------------------

    def balance(self, *, deadline: float | None = None) -> dict[str, Decimal]:
        """Spot balances by v2 asset name; staking/earn views (`.S`, `.M`, `.B`, `.F`, `.T`) are left out."""
        result = self.rest.private("Balance", dict(TOKEN_TERMS), deadline=deadline)
        return {normal_asset(k): dec(v) for k, v in result.items() if "." not in k}

    def balance_ex(self, *, deadline: float | None = None) -> dict[str, BalanceEx]:
        result = self.rest.private("BalanceEx", dict(TOKEN_TERMS), deadline=deadline)
        return {normal_asset(k): balance_ex(v) for k, v in result.items() if "." not in k}

    def open_orders(self, *, cl_ord_id: str | None = None, deadline: float | None = None) -> list[OrderInfo]:
        params = {**TOKEN_TERMS, **({"cl_ord_id": cl_ord_id} if cl_ord_id else {})}
        result = self.rest.private("OpenOrders", params, deadline=deadline)
        return [order_info(txid, row) for txid, row in (result.get("open") or {}).items()]

    def closed_orders(
        self, *, cl_ord_id: str | None = None, start: int | None = None, offset: int = 0, deadline: float | None = None
    ) -> tuple[list[OrderInfo], int]:
        params: dict[str, Any] = {"ofs": offset, **TOKEN_TERMS}
        if cl_ord_id:
            params["cl_ord_id"] = cl_ord_id
        if start is not None:
            params["start"] = start
        result = self.rest.private("ClosedOrders", params, deadline=deadline)
        orders = [order_info(txid, row) for txid, row in (result.get("closed") or {}).items()]
        return orders, int(result.get("count", len(orders)))

    def query_orders(self, txids: list[str], *, deadline: float | None = None) -> list[OrderInfo]:
        if not 1 <= len(txids) <= 50:
            raise ValueError("QueryOrders takes 1 to 50 order ids")
        params = {"txid": ",".join(txids), "trades": True, **TOKEN_TERMS}
        result = self.rest.private("QueryOrders", params, deadline=deadline)
        return [order_info(txid, row) for txid, row in result.items()]

    def trades_history(
        self, *, start: Decimal | None = None, offset: int = 0, deadline: float | None = None
    ) -> tuple[list[TradeInfo], int]:
        # One row per execution, as the `executions` channel reports them (its `exec_id` is the row's id): Kraken
        # consolidates a taker order's fills into one row by default, which would hide fills from de-duplication.
        params: dict[str, Any] = {"ofs": offset, "consolidate_taker": False, **TOKEN_TERMS}
        if start is not None:
            params["start"] = start
        result = self.rest.private("TradesHistory", params, deadline=deadline)
        trades = [trade_info(txid, row) for txid, row in (result.get("trades") or {}).items()]
        return trades, int(result.get("count", len(trades)))

    def websockets_token(self, *, deadline: float | None = None) -> str:
        return str(self.rest.private("GetWebSocketsToken", deadline=deadline)["token"])

    # -- private: orders ------------------------------------------------------------------------------

    def add_order(
        self,
        request: AddOrderRequest,
        *,
        validate: bool = False,
        deadline: float | None = None,
        engine_deadline: str | None = None,
    ) -> list[str]:
        """The order's txids (none when validating). `deadline`: the call's, on the REST client's clock;
        `engine_deadline`: Kraken's `deadline` (RFC3339, 2 s to 60 s ahead): after it the matching engine rejects
        the order rather than place it late."""
        params = self._market_params(request.symbol)
        params.update(ordertype=str(request.order_type), type=str(request.side), cl_ord_id=request.cl_ord_id)
        params["volume"] = self._qty(request.symbol, request.qty)
        if request.order_type.needs_trigger_price:
            assert request.trigger_price is not None
            params["price"] = self._price(request.symbol, request.trigger_price)
            if request.order_type.needs_limit_price:
                assert request.limit_price is not None
                params["price2"] = self._price(request.symbol, request.limit_price)
        elif request.order_type.needs_limit_price:
            assert request.limit_price is not None
            params["price"] = self._price(request.symbol, request.limit_price)
        flags = ["fciq" if request.fee_in_quote else "fcib"] + (["post"] if request.post_only else [])
        params["oflags"] = ",".join(flags)
        if request.time_in_force != "GTC":
            params["timeinforce"] = request.time_in_force
        if validate:
            params["validate"] = True
        if engine_deadline is not None:
            params["deadline"] = engine_deadline
        cost = self.rest.order_cost("add", None)
        result = self.rest.private(
            "AddOrder", params, deadline=deadline, trading_pair=params["pair"], trading_cost=cost
        )
        txids = [str(t) for t in result.get("txid") or ()]
        if not validate:
            self.rest.note_order(request.cl_ord_id, *txids)
        return txids

    def find_order(self, cl_ord_id: str, *, deadline: float | None = None) -> OrderInfo | None:
        """An order by its client id, open or closed; None if Kraken does not know it (yet)."""
        found = self.open_orders(cl_ord_id=cl_ord_id, deadline=deadline)
        if not found:
            found, _ = self.closed_orders(cl_ord_id=cl_ord_id, deadline=deadline)
        matching = [order for order in found if order.cl_ord_id == cl_ord_id]
        return matching[0] if matching else None

    def place_order(
        self, request: AddOrderRequest, *, deadline: float | None = None, engine_deadline: str | None = None
    ) -> Placement:
        """AddOrder once. If its answer is lost, look the order up by cl_ord_id; never send it a second time.

        A business rejection is raised. An `unknown` placement means Kraken did not know the order when asked:
        it may still arrive, so the caller keeps it as unknown and asks again later (the reconciler does).
        """
        try:
            txids = self.add_order(request, deadline=deadline, engine_deadline=engine_deadline)
        except UNKNOWN_OUTCOME as error:
            try:
                found = self.find_order(request.cl_ord_id)
            except KrakenError:
                return Placement("unknown", None, error=error)
            if found is None:
                return Placement("unknown", None, error=error)
            self.rest.note_order(request.cl_ord_id, found.txid)
            return Placement("placed", found.txid, recovered=True, error=error)
        return Placement("placed", txids[0] if txids else None)

    def amend_order(
        self,
        *,
        symbol: str,
        cl_ord_id: str | None = None,
        txid: str | None = None,
        qty: Decimal | None = None,
        limit_price: Decimal | None = None,
        trigger_price: Decimal | None = None,
        deadline: float | None = None,
        engine_deadline: str | None = None,
    ) -> str:
        if (cl_ord_id is None) == (txid is None):
            raise ValueError("amend_order takes exactly one of cl_ord_id and txid")
        params: dict[str, Any] = {"cl_ord_id": cl_ord_id} if cl_ord_id else {"txid": txid}
        if qty is not None:
            params["order_qty"] = self._qty(symbol, qty)
        if limit_price is not None:
            params["limit_price"] = self._price(symbol, limit_price)
        if trigger_price is not None:
            params["trigger_price"] = self._price(symbol, trigger_price)
        if self.is_xstock(symbol):
            params["pair"] = self.pair(symbol)  # Kraken needs the pair to amend an xStock order
        if engine_deadline is not None:
            params["deadline"] = engine_deadline
        key = cl_ord_id or txid
        cost = self.rest.order_cost("amend", key)
        result = self.rest.private(
            "AmendOrder", params, deadline=deadline, trading_pair=self.pair(symbol), trading_cost=cost
        )
        self.rest.note_order(key or "")
        return str(result.get("amend_id", ""))

    def cancel_order(
        self, *, symbol: str, cl_ord_id: str | None = None, txid: str | None = None, deadline: float | None = None
    ) -> int:
        if (cl_ord_id is None) == (txid is None):
            raise ValueError("cancel_order takes exactly one of cl_ord_id and txid")
        params: dict[str, Any] = {"cl_ord_id": cl_ord_id} if cl_ord_id else {"txid": txid}
        cost = self.rest.order_cost("cancel", cl_ord_id or txid)
        result = self.rest.private(
            "CancelOrder", params, deadline=deadline, trading_pair=self.pair(symbol), trading_cost=cost
        )
        return int(result.get("count", 0))

    def cancel_all(self, *, deadline: float | None = None) -> int:
        return int(self.rest.private("CancelAll", deadline=deadline).get("count", 0))

    def cancel_all_orders_after(self, timeout: int, *, deadline: float | None = None) -> tuple[str, str]:
        """Kraken's dead man's switch: every order is cancelled `timeout` seconds from now unless called again."""
        result = self.rest.private("CancelAllOrdersAfter", {"timeout": timeout}, deadline=deadline)
        return str(result.get("currentTime", "")), str(result.get("triggerTime", ""))
