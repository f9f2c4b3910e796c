"""The simulator's REST methods: Kraken's parameters in, Kraken's result shapes and error strings out."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from crocbot.core.instrument import Instrument
from crocbot.core.messages import Side
from crocbot.core.money import to_decimal
from crocbot.kraken.ratelimit import rest_cost
from crocbot.matching import OrderRequest
from crocbot.sim.accounts import Account, fill_row, order_row
from crocbot.sim.catalog import asset_pair_row, by_any_name
from crocbot.sim.exchange import Exchange
from crocbot.sim.rest_server import SimError

__all__ = ["SimRestApi"]

_PAGE = 50
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
            account.authenticate(f"/0/private/{method}", body, api_sign, params.get("nonce", ""))
            if handler is None:
                raise SimError("EGeneral:Unknown method")
            account.charge_rest(rest_cost(method), self.exchange.clock.monotonic())
            return handler(account, params)

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

    def _asset_pairs(self, params: dict[str, str]) -> Any:
        tokenized = params.get("aclass_base") == "tokenized_asset"
        wanted = set(filter(None, params.get("pair", "").split(",")))
        names = by_any_name(self.exchange.instruments.values())
        out = {}
        for item in self.exchange.instruments.values():
            if wanted and not any(names.get(w) is item for w in wanted):
                continue
            if item.is_xstock == tokenized:
                out[item.rest_pair] = asset_pair_row(item)
        if wanted and not out:
            raise SimError("EQuery:Unknown asset pair")
        return out

    def _ticker(self, params: dict[str, str]) -> Any:
        item = self._pair(params)
        market = self.exchange.markets[item.symbol]
        row = market.ticker_row(self.exchange.clock.now()) or {}
        bid, ask = row.get("bid"), row.get("ask")
        last = row.get("last", bid)
        return {
            item.rest_pair: {
                "a": [ask, "1", "1.000"],
                "b": [bid, "1", "1.000"],
                "c": [last, "0.00100000"],
                "v": [row.get("volume", 0), row.get("volume", 0)],
                "p": [row.get("vwap", last), row.get("vwap", last)],
                "t": [market.day.trades, market.day.trades],
                "l": [row.get("low", last), row.get("low", last)],
                "h": [row.get("high", last), row.get("high", last)],
                "o": market.day.open or last,
            }
        }

    def _ohlc(self, params: dict[str, str]) -> Any:
        item = self._pair(params)
        interval = int(params.get("interval", "1"))
        market = self.exchange.markets[item.symbol]
        since = int(params.get("since", "0") or 0)
        rows = []
        for candle in market.candles.get(interval, ()):
            begin = int(candle.begin.timestamp())
            if begin <= since:
                continue
            row = market.candle_row(interval, candle)
            rows.append(
                [begin, row["open"], row["high"], row["low"], row["close"], row["vwap"], row["volume"], row["trades"]]
            )
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
        item = self._pair(params)
        market = self.exchange.markets[item.symbol]
        since = int(params.get("since", "0") or 0)
        count = max(1, min(1000, int(params.get("count", "1000"))))
        rows, last = [], since
        for recorded in market.trades:
            stamp_ns = (recorded.trade.ts - _EPOCH) // timedelta(microseconds=1) * 1000
            if stamp_ns <= since:
                continue
            trade = recorded.trade
            epoch = Decimal(stamp_ns) / Decimal(10**9)
            rows.append(
                [
                    item.price_text(trade.price),
                    item.qty_text(trade.qty),
                    epoch,
                    "b" if trade.side is Side.BUY else "s",
                    "m" if recorded.ord_type == "market" else "l",
                    "",
                    recorded.trade_id,
                ]
            )
            last = stamp_ns
            if len(rows) == count:
                break
        return {item.rest_pair: rows, "last": str(last)}

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
        out = {}
        for txid in filter(None, params.get("txid", "").split(",")):
            view = account.engine.order(txid)
            if view is None:
                raise SimError("EOrder:Unknown order")
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
        order_id, _ = self.exchange.add_order(account, request)
        shown = f" @ {order_type} {params['price']}" if params.get("price") else f" @ {order_type}"
        result: dict[str, Any] = {"descr": {"order": f"{side} {item.qty_text(qty)} {item.altname}{shown}"}}
        if order_id:
            result["txid"] = [order_id]
        return result

    def _amend_order(self, account: Account, params: dict[str, str]) -> Any:
        order_id = self.exchange.amend_order(
            account,
            order_id=params.get("txid"),
            cl_ord_id=params.get("cl_ord_id"),
            qty=_decimal(params, "order_qty"),
            limit_price=_decimal(params, "limit_price"),
            trigger_price=_decimal(params, "trigger_price"),
            post_only=_flag(params, "post_only"),
        )
        return {"amend_id": "T" + order_id[1:]}

    def _cancel_order(self, account: Account, params: dict[str, str]) -> Any:
        self.exchange.cancel_order(account, order_id=params.get("txid"), cl_ord_id=params.get("cl_ord_id"))
        return {"count": 1}

    def _cancel_all(self, account: Account, params: dict[str, str]) -> Any:
        return {"count": self.exchange.cancel_all(account)}

    def _cancel_after(self, account: Account, params: dict[str, str]) -> Any:
        current, trigger = self.exchange.arm_dead_man(account, int(params.get("timeout", "0") or 0))
        return {"currentTime": current, "triggerTime": trigger}
