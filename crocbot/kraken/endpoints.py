"""The Kraken REST endpoints crocbot uses, typed, on top of `RestClient`.

xStocks need `asset_class=tokenized_asset` on market-data and order calls and `pair` on amends; symbols are
WS v2 names everywhere in crocbot and become REST names here. An order call whose answer is lost is never sent
again: `place_order` looks the order up by its `cl_ord_id` and reports what it found.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from crocbot.core.instrument import Instrument
from crocbot.core.messages import OrderType, Side, Ticker, Trade
from crocbot.core.money import fmt
from crocbot.core.symbols import normal_asset
from crocbot.kraken.errors import UNKNOWN_OUTCOME, KrakenError
from crocbot.kraken.instruments import Catalog, rest_name
from crocbot.kraken.rest import RestClient
from crocbot.kraken.symbols import rest_pair_name

__all__ = ["KrakenApi", "AddOrderRequest", "OrderInfo", "TradeInfo", "Placement", "BalanceEx"]

_XSTOCK_BASE = re.compile(r"^[A-Z0-9]+x/")


@dataclass(frozen=True, slots=True)
class AddOrderRequest:
    symbol: str
    side: Side
    order_type: OrderType
    qty: Decimal
    cl_ord_id: str
    limit_price: Decimal | None = None
    trigger_price: Decimal | None = None
    post_only: bool = False
    time_in_force: str = "GTC"
    fee_in_quote: bool = True  # crocbot's ledger keeps fees in quote; Kraken's default charges sells in base


@dataclass(frozen=True, slots=True)
class OrderInfo:
    txid: str
    cl_ord_id: str | None
    status: str  # pending | open | closed | canceled | expired
    pair: str
    side: str
    order_type: str
    qty: Decimal
    filled: Decimal
    cost: Decimal
    fee: Decimal
    avg_price: Decimal
    limit_price: Decimal | None
    opened: Decimal  # epoch seconds, kept exact
    closed: Decimal | None
    trade_ids: tuple[str, ...]
    reason: str | None


@dataclass(frozen=True, slots=True)
class TradeInfo:
    trade_txid: str
    order_txid: str
    pair: str
    side: str
    order_type: str
    price: Decimal
    qty: Decimal
    cost: Decimal
    fee: Decimal
    time: Decimal
    maker: bool
    trade_id: int | None


@dataclass(frozen=True, slots=True)
class BalanceEx:
    balance: Decimal
    hold_trade: Decimal
    credit: Decimal = Decimal(0)
    credit_used: Decimal = Decimal(0)

    @property
    def available(self) -> Decimal:
        return self.balance + self.credit - self.credit_used - self.hold_trade


@dataclass(frozen=True, slots=True)
class Placement:
    """What became of an AddOrder: placed (with its txid), rejected, or unknown (still to be looked up later)."""

    status: str  # placed | unknown
    txid: str | None
    recovered: bool = False  # the answer was lost and the order was found by cl_ord_id
    error: KrakenError | None = None


def _dec(value: Any) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(str(value))


def _order_info(txid: str, row: Mapping[str, Any]) -> OrderInfo:
    descr = row.get("descr") or {}
    price = descr.get("price")
    return OrderInfo(
        txid=txid,
        cl_ord_id=row.get("cl_ord_id"),
        status=str(row["status"]),
        pair=str(descr.get("pair", "")),
        side=str(descr.get("type", "")),
        order_type=str(descr.get("ordertype", "")),
        qty=_dec(row.get("vol", 0)),
        filled=_dec(row.get("vol_exec", 0)),
        cost=_dec(row.get("cost", 0)),
        fee=_dec(row.get("fee", 0)),
        avg_price=_dec(row.get("price", 0)),
        limit_price=_dec(price) if price not in (None, "", "0") else None,
        opened=_dec(row.get("opentm", 0)),
        closed=_dec(row["closetm"]) if row.get("closetm") else None,
        trade_ids=tuple(str(t) for t in row.get("trades") or ()),
        reason=row.get("reason"),
    )


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
            _dec(row["b"][0]),
            _dec(row["b"][2]),
            _dec(row["a"][0]),
            _dec(row["a"][2]),
            _dec(row["c"][0]) if row.get("c") else None,
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
            [(_dec(p), _dec(q)) for p, q, *_ in book["bids"]],
            [(_dec(p), _dec(q)) for p, q, *_ in book["asks"]],
        )

    def trades(
        self, symbol: str, since: str | None = None, *, deadline: float | None = None
    ) -> tuple[list[Trade], str]:
        """Public trades since the `last` cursor (a nanosecond string), oldest first."""
        result = self.rest.public("Trades", self._market_params(symbol, since=since), deadline=deadline)
        out = []
        for price, qty, stamp, side, *rest in self._single(result):
            trade_id = int(rest[2]) if len(rest) > 2 and rest[2] is not None else None
            when = datetime.fromtimestamp(float(_dec(stamp)), UTC)  # display time; order by trade id
            out.append(Trade(symbol, Side.BUY if side == "b" else Side.SELL, _dec(price), _dec(qty), when, trade_id))
        return out, str(result.get("last", ""))

    # -- private: account -----------------------------------------------------------------------------

    def balance(self, *, deadline: float | None = None) -> dict[str, Decimal]:
        """Spot balances by v2 asset name; staking/earn views (`.S`, `.M`, `.B`, `.F`, `.T`) are left out."""
        result = self.rest.private("Balance", deadline=deadline)
        return {normal_asset(k): _dec(v) for k, v in result.items() if "." not in k}

    def balance_ex(self, *, deadline: float | None = None) -> dict[str, BalanceEx]:
        result = self.rest.private("BalanceEx", deadline=deadline)
        return {
            normal_asset(k): BalanceEx(
                _dec(v.get("balance", 0)),
                _dec(v.get("hold_trade", 0)),
                _dec(v.get("credit", 0)),
                _dec(v.get("credit_used", 0)),
            )
            for k, v in result.items()
            if "." not in k
        }

    def open_orders(self, *, cl_ord_id: str | None = None, deadline: float | None = None) -> list[OrderInfo]:
        params = {"cl_ord_id": cl_ord_id} if cl_ord_id else {}
        result = self.rest.private("OpenOrders", params, deadline=deadline)
        return [_order_info(txid, row) for txid, row in (result.get("open") or {}).items()]

    def closed_orders(
        self, *, cl_ord_id: str | None = None, start: int | None = None, offset: int = 0, deadline: float | None = None
    ) -> tuple[list[OrderInfo], int]:
        params: dict[str, Any] = {"ofs": offset}
        if cl_ord_id:
            params["cl_ord_id"] = cl_ord_id
        if start is not None:
            params["start"] = start
        result = self.rest.private("ClosedOrders", params, deadline=deadline)
        orders = [_order_info(txid, row) for txid, row in (result.get("closed") or {}).items()]
        return orders, int(result.get("count", len(orders)))

    def query_orders(self, txids: list[str], *, deadline: float | None = None) -> list[OrderInfo]:
        if not 1 <= len(txids) <= 50:
            raise ValueError("QueryOrders takes 1 to 50 order ids")
        result = self.rest.private("QueryOrders", {"txid": ",".join(txids), "trades": True}, deadline=deadline)
        return [_order_info(txid, row) for txid, row in result.items()]

    def trades_history(
        self, *, start: Decimal | None = None, offset: int = 0, deadline: float | None = None
    ) -> tuple[list[TradeInfo], int]:
        params: dict[str, Any] = {"ofs": offset}
        if start is not None:
            params["start"] = start
        result = self.rest.private("TradesHistory", params, deadline=deadline)
        trades = [
            TradeInfo(
                trade_txid=txid,
                order_txid=str(row["ordertxid"]),
                pair=str(row["pair"]),
                side=str(row["type"]),
                order_type=str(row.get("ordertype", "")),
                price=_dec(row["price"]),
                qty=_dec(row["vol"]),
                cost=_dec(row["cost"]),
                fee=_dec(row["fee"]),
                time=_dec(row["time"]),
                maker=bool(row.get("maker", False)),
                trade_id=int(row["trade_id"]) if row.get("trade_id") is not None else None,
            )
            for txid, row in (result.get("trades") or {}).items()
        ]
        return trades, int(result.get("count", len(trades)))

    def websockets_token(self, *, deadline: float | None = None) -> str:
        return str(self.rest.private("GetWebSocketsToken", deadline=deadline)["token"])

    # -- private: orders ------------------------------------------------------------------------------

    def add_order(
        self, request: AddOrderRequest, *, validate: bool = False, deadline: float | None = None
    ) -> list[str]:
        """The order's txids (none when validating)."""
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

    def place_order(self, request: AddOrderRequest, *, deadline: float | None = None) -> Placement:
        """AddOrder once. If its answer is lost, look the order up by cl_ord_id; never send it a second time.

        A business rejection is raised. An `unknown` placement means Kraken did not know the order when asked:
        it may still arrive, so the caller keeps it as unknown and asks again later (the reconciler does).
        """
        try:
            txids = self.add_order(request, deadline=deadline)
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
