"""The simulator's REST methods: Kraken's parameters in, Kraken's result shapes and error strings out."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from crocbot.core.instrument import Instrument
from crocbot.core.messages import Side
from crocbot.core.money import to_decimal
from crocbot.kraken.ratelimit import rest_cost
from crocbot.kraken.symbols import rest_asset_name
from crocbot.matching import OrderRequest
from crocbot.sim.accounts import Account, fill_row, order_row
from crocbot.sim.catalog import asset_id, asset_pair_row, asset_row, by_any_name
from crocbot.sim.deadlines import deadline_refusal
from crocbot.sim.exchange import Exchange
from crocbot.sim.rest_server import SimError

__all__ = ["SimRestApi"]

_PAGE = 50
_REBASE_MULTIPLIERS = frozenset({"rebased", "base"})  # xStock views: underlying-equity or token terms
_UNKNOWN_ORDER, _INVALID_ORDER = "EOrder:Unknown order", "EOrder:Invalid order"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ORDER_TYPES = {"market", "limit", "stop-loss", "stop-loss-limit", "take-profit", "take-profit-limit"}


def _decimal(params: dict[str, str], key: str) -> Decimal | None:
    text = params.get(key)
    if text is None or text == "":
        return None
    try:
        return to_decimal(text, field=key)
    except ValueError:
        raise SimError(f"EGeneral:Invalid arguments:{key}") from None


def _nanos(ts: datetime) -> int:
    return (ts - _EPOCH) // timedelta(microseconds=1) * 1000


def _flag(params: dict[str, str], key: str) -> bool:
    return params.get(key, "").lower() in ("true", "1")


class SimRestApi:
    def __init__(self, exchange: Exchange) -> None:
        self.exchange = exchange
        self._public: dict[str, Callable[[dict[str, str]], Any]] = {
            "Time": self._time,
            "SystemStatus": self._system_status,
            "AssetPairs": self._asset_pairs,
            "Ticker": self._ticker,
            "OHLC": self._ohlc,
            "Depth": self._depth,
            "Trades": self._trades,
            "Spread": self._spread,
            "Assets": self._assets,
        }
        self._private: dict[str, Callable[[Account, dict[str, str]], Any]] = {
            "Balance": self._balance,
            "BalanceEx": self._balance_ex,
            "OpenOrders": self._open_orders,
            "ClosedOrders": self._closed_orders,
            "QueryOrders": self._query_orders,
            "TradesHistory": self._trades_history,
            "AddOrder": self._add_order,
            "AmendOrder": self._amend_order,
            "CancelOrder": self._cancel_order,
            "CancelAll": self._cancel_all,
            "CancelAllOrdersAfter": self._cancel_after,
            "GetWebSocketsToken": self._token,
        }

    # -- entry points ---------------------------------------------------------------------------------

    @property
    def public_methods(self) -> frozenset[str]:
        return frozenset(self._public)

    @property
    def private_methods(self) -> frozenset[str]:
        return frozenset(self._private)

    def public_call(self, method: str, params: dict[str, str]) -> Any:
        handler = self._public.get(method)
        if handler is None:
            raise SimError("EGeneral:Unknown method")
        with self.exchange.lock:
            return handler(params)

    def private_call(self, method: str, params: dict[str, str], *, api_key: str, api_sign: str, body: str) -> Any:
        handler = self._private.get(method)
        with self.exchange.lock:
            account = self.exchange.accounts.get(api_key)
            if account is None:
                raise SimError("EAPI:Invalid key")
            records = self.exchange.records
            nonce = params.get("nonce", "")
            try:
                account.authenticate(f"/0/private/{method}", body, api_sign, nonce)
            except SimError as error:
                if records is not None:
                    records.write("nonce", key=api_key, method=method, nonce=nonce, accepted=False, error=error.code)
                raise
            if records is not None:
                records.write("nonce", key=api_key, method=method, nonce=nonce, accepted=True)
            try:
                if handler is None:
                    raise SimError("EGeneral:Unknown method")
                account.charge_rest(rest_cost(method), self.exchange.clock.monotonic())
                if params.get("rebase_multiplier", "rebased") not in _REBASE_MULTIPLIERS:
                    raise SimError("EGeneral:Invalid arguments:rebase_multiplier")
                # the simulator's xStocks never rebased (multiplier 1): both terms show the same amounts
                return handler(account, params)
            except SimError as error:
                if records is not None:
                    records.write("refusal", key=api_key, via="rest", method=method, error=error.code)
                raise

    # -- helpers --------------------------------------------------------------------------------------

    def _pair(self, params: dict[str, str], *, key: str = "pair") -> Instrument:
        names = by_any_name(self.exchange.instruments.values())
        item = names.get(params.get(key, ""))
        if item is None:
            raise SimError("EQuery:Unknown asset pair")
        # Kraken needs asset_class=tokenized_asset on requests for xStocks; without it the pair is unknown.
        if item.is_xstock and params.get("asset_class") != "tokenized_asset":
            raise SimError("EQuery:Unknown asset pair")
        return item

    # -- public ---------------------------------------------------------------------------------------

    def _time(self, params: dict[str, str]) -> Any:
        now = self.exchange.clock.now()
        return {"unixtime": int(now.timestamp()), "rfc1123": now.strftime("%a, %d %b %y %H:%M:%S +0000")}

    def _system_status(self, params: dict[str, str]) -> Any:
        return {"status": self.exchange.status, "timestamp": self.exchange.clock.now().strftime("%Y-%m-%dT%H:%M:%SZ")}

    def _assets(self, params: dict[str, str]) -> Any:
        tokenized = params.get("aclass") == "tokenized_asset"
        listed: dict[str, bool] = {}  # v2 asset name -> is an xStock
        for item in self.exchange.instruments.values():
            listed.setdefault(item.base, item.is_xstock)
            listed.setdefault(item.quote, False)
        names = {name: asset for asset in listed for name in (asset, asset_id(asset), rest_asset_name(asset))}
        wanted = [name for name in params.get("asset", "").split(",") if name]
        if not wanted:
            return {asset_id(a): asset_row(a, tokenized=x) for a, x in listed.items() if x is tokenized}
        chosen = [names.get(name, "") for name in wanted]
        if any(listed.get(asset) is not tokenized for asset in chosen):  # unknown, or not of the class asked
            raise SimError("EQuery:Unknown asset")
        return {asset_id(a): asset_row(a, tokenized=tokenized) for a in chosen}

    def _asset_pairs(self, params: dict[str, str]) -> Any:
        tokenized = params.get("aclass_base") == "tokenized_asset"
        wanted = [name for name in params.get("pair", "").split(",") if name]
        if not wanted:
            listed = self.exchange.instruments.values()
            return {item.rest_pair: asset_pair_row(item) for item in listed if item.is_xstock == tokenized}
        names = by_any_name(self.exchange.instruments.values())
        out = {}
        for name in wanted:
            item = names.get(name)
            if item is None or item.is_xstock != tokenized:
                raise SimError("EQuery:Unknown asset pair")
            # Kraken keys the row by the name asked for when it is a v2 name (BTC/USD), else by its pair id.
            out[name if "/" in name else item.rest_pair] = asset_pair_row(item)
        return out

    def _ticker(self, params: dict[str, str]) -> Any:
        item = self._pair(params)
        market = self.exchange.markets[item.symbol]
        row = market.ticker_row(self.exchange.clock.now()) or {}
        zero = Decimal(0)
        bid, ask = row.get("bid", zero), row.get("ask", zero)
        last, volume = row.get("last", bid), item.qty_text(row.get("volume", zero))
        price, vwap = item.price_text, item.price_text(row.get("vwap", last))
        low, high = price(row.get("low", last)), price(row.get("high", last))
        return {
            item.rest_pair: {
                # [price, whole lot volume, lot volume]: Kraken's live answers show "1" and "1.000", not the level's
                # size (a capture in ../shared/data has "1.000" beside a best ask of 0.136 in the book).
                "a": [price(ask), "1", "1.000"],
                "b": [price(bid), "1", "1.000"],
                "c": [price(last), item.qty_text(market.trades[-1].trade.qty) if market.trades else volume],
                "v": [volume, volume],
                "p": [vwap, vwap],
                "t": [market.day.trades, market.day.trades],
                "l": [low, low],
                "h": [high, high],
                "o": price(market.day.open or last),
            }
        }

    def _ohlc(self, params: dict[str, str]) -> Any:
        item = self._pair(params)
        interval = int(params.get("interval", "1"))
        market = self.exchange.markets[item.symbol]
        since = int(params.get("since", "0") or 0)
        rows: list[list[Any]] = []
        for candle in market.candles.get(interval, ()):
            begin = int(candle.begin.timestamp())
            if begin <= since:
                continue
            row = market.candle_row(interval, candle)
            prices = [item.price_text(row[key]) for key in ("open", "high", "low", "close", "vwap")]
            rows.append([begin, *prices, item.qty_text(row["volume"]), row["trades"]])
        rows = rows[-720:]
        last = rows[-2][0] if len(rows) > 1 else since  # the last closed candle; the final row is still forming
        return {item.rest_pair: rows, "last": last}

    def _depth(self, params: dict[str, str]) -> Any:
        item = self._pair(params)
        count = max(1, min(500, int(params.get("count", "100"))))
        book = self.exchange.markets[item.symbol].book
        stamp = int(self.exchange.clock.now().timestamp())
        return {
            item.rest_pair: {
                "asks": [[item.price_text(p), item.qty_text(q), stamp] for p, q in book.asks(count)],
                "bids": [[item.price_text(p), item.qty_text(q), stamp] for p, q in book.bids(count)],
            }
        }

    def _trades(self, params: dict[str, str]) -> Any:
        """Trades after `since` (a nanosecond cursor), oldest first; without it the latest (Kraken: the last 1000)."""
        item = self._pair(params)
        market = self.exchange.markets[item.symbol]
        since_text = params.get("since") or ""
        since = int(since_text or 0)
        count = max(1, min(1000, int(params.get("count", "1000"))))
        if since_text:
            chosen = list(itertools.islice((r for r in market.trades if _nanos(r.trade.ts) > since), count))
        else:
            chosen = list(market.trades)[-count:]
        rows = [
            [
                item.price_text(r.trade.price),
                item.qty_text(r.trade.qty),
                Decimal(_nanos(r.trade.ts)) / Decimal(10**9),
                "b" if r.trade.side is Side.BUY else "s",
                "m" if r.ord_type == "market" else "l",
                "",
                r.trade_id,
            ]
            for r in chosen
        ]
        last = _nanos(chosen[-1].trade.ts) if chosen else since
        return {item.rest_pair: rows, "last": str(last)}

    def _spread(self, params: dict[str, str]) -> Any:
        item = self._pair(params)
        since = int(params.get("since", "0") or 0)
        spreads = self.exchange.markets[item.symbol].spreads
        rows = [[t, item.price_text(bid), item.price_text(ask)] for t, bid, ask in spreads if t > since]
        return {item.rest_pair: rows, "last": rows[-1][0] if rows else since}

    # -- private: account -----------------------------------------------------------------------------

    def _balance(self, account: Account, params: dict[str, str]) -> Any:
        return {asset: format(amount, "f") for asset, amount in account.engine.balances().items()}

    def _balance_ex(self, account: Account, params: dict[str, str]) -> Any:
        engine = account.engine
        return {
            asset: {"balance": format(amount, "f"), "hold_trade": format(engine.held(asset), "f")}
            for asset, amount in engine.balances().items()
        }

    def _orders(self, views: list[Any]) -> dict[str, Any]:
        return {v.order_id: order_row(v, self.exchange.instruments[v.symbol]) for v in views}

    def _open_orders(self, account: Account, params: dict[str, str]) -> Any:
        wanted = params.get("cl_ord_id")
        views = [v for v in account.engine.open_orders() if not wanted or v.cl_ord_id == wanted]
        return {"open": self._orders(views)}

    def _closed_orders(self, account: Account, params: dict[str, str]) -> Any:
        wanted = params.get("cl_ord_id")
        views = [v for v in reversed(account.engine.closed_orders()) if not wanted or v.cl_ord_id == wanted]
        start = _decimal(params, "start")
        if start is not None:
            views = [v for v in views if Decimal(str(v.opened.timestamp())) > start]
        offset = int(params.get("ofs", "0") or 0)
        return {"closed": self._orders(views[offset : offset + _PAGE]), "count": len(views)}

    def _query_orders(self, account: Account, params: dict[str, str]) -> Any:
        # Kraken documents txids only here (an order by cl_ord_id is found with OpenOrders/ClosedOrders): a
        # client must not come to rely on what the venue would refuse.
        txids = [txid for txid in params.get("txid", "").split(",") if txid]
        if "cl_ord_id" in params or not txids:
            raise SimError("EGeneral:Invalid arguments")
        out = {}
        for txid in txids:
            view = account.engine.order(txid)
            if view is None:
                raise SimError(_UNKNOWN_ORDER)
            out.update(self._orders([view]))
        return out

    def _trades_history(self, account: Account, params: dict[str, str]) -> Any:
        fills = list(reversed(account.engine.fills()))
        start = _decimal(params, "start")
        if start is not None:
            fills = [f for f in fills if Decimal(str(f.ts.timestamp())) > start]
        offset = int(params.get("ofs", "0") or 0)
        page = fills[offset : offset + _PAGE]
        return {
            "trades": {f.exec_id: fill_row(f, self.exchange.instruments[f.symbol]) for f in page},
            "count": len(fills),
        }

    def _token(self, account: Account, params: dict[str, str]) -> Any:
        return {"token": account.new_token(self.exchange.clock.monotonic()), "expires": 900}

    # -- private: orders ------------------------------------------------------------------------------

    def _add_order(self, account: Account, params: dict[str, str]) -> Any:
        item = self._pair(params)
        _refuse_late(params)
        order_type = params.get("ordertype", "")
        side = params.get("type", "")
        if order_type not in _ORDER_TYPES or side not in ("buy", "sell"):
            raise SimError("EGeneral:Invalid arguments")
        qty = _decimal(params, "volume")
        if qty is None:
            raise SimError("EGeneral:Invalid arguments:volume")
        price, price2 = _decimal(params, "price"), _decimal(params, "price2")
        triggered = order_type.startswith(("stop-loss", "take-profit"))
        flags = set(filter(None, params.get("oflags", "").split(",")))
        request = OrderRequest(
            symbol=item.symbol,
            side=Side(side),
            order_type=order_type,
            qty=qty,
            limit_price=price2 if triggered else price,
            trigger_price=price if triggered else None,
            cl_ord_id=params.get("cl_ord_id") or None,
            post_only="post" in flags,
            time_in_force=params.get("timeinforce", "GTC").lower(),
            fee_in_quote=True if "fciq" in flags else False if "fcib" in flags else None,
            validate=_flag(params, "validate"),
        )
        order_id, _ = self.exchange.add_order(account, request, via="rest")
        shown = f" @ {order_type} {params['price']}" if params.get("price") else f" @ {order_type}"
        result: dict[str, Any] = {"descr": {"order": f"{side} {item.qty_text(qty)} {item.altname}{shown}"}}
        if order_id:
            result["txid"] = [order_id]
        return result

    def _amend_order(self, account: Account, params: dict[str, str]) -> Any:
        _refuse_late(params)
        order_id = self.exchange.amend_order(
            account,
            order_id=params.get("txid"),
            cl_ord_id=params.get("cl_ord_id"),
            qty=_decimal(params, "order_qty"),
            limit_price=_decimal(params, "limit_price"),
            trigger_price=_decimal(params, "trigger_price"),
            post_only=_flag(params, "post_only"),
            via="rest",
        )
        return {"amend_id": "T" + order_id[1:]}

    def _cancel_order(self, account: Account, params: dict[str, str]) -> Any:
        try:
            self.exchange.cancel_order(
                account, order_id=params.get("txid"), cl_ord_id=params.get("cl_ord_id"), via="rest"
            )
        except SimError as error:
            # REST names an order that is closed or was never there "Unknown order" (WS: "Invalid order").
            raise SimError(_UNKNOWN_ORDER if error.code == _INVALID_ORDER else error.code) from None
        return {"count": 1}

    def _cancel_all(self, account: Account, params: dict[str, str]) -> Any:
        return {"count": self.exchange.cancel_all(account, via="rest")}

    def _cancel_after(self, account: Account, params: dict[str, str]) -> Any:
        current, trigger = self.exchange.arm_dead_man(account, int(params.get("timeout", "0") or 0))
        return {"currentTime": current, "triggerTime": trigger}


def _refuse_late(params: dict[str, str]) -> None:
    refusal = deadline_refusal(params.get("deadline"))
    if refusal is not None:
        raise SimError(refusal)
