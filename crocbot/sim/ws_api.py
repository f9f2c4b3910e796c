"""The simulator's WS v2 requests: subscribe and unsubscribe, ping, and the private order methods.

Answers have Kraken's shapes: one ack per symbol, `error` as a single string, rejections that carry the symbol
at the top level (`Currency pair not supported XBT/USD`), `ESession:Invalid session` for a bad token, and
Kraken's own texts for a private channel on the public endpoint and the reverse.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from crocbot.core.messages import Side
from crocbot.kraken.book import DEPTHS
from crocbot.kraken.jsontext import dumps
from crocbot.matching import OrderRequest
from crocbot.sim.frames import (
    ack_frame,
    balances_frame,
    book_frame,
    instrument_frame,
    pong_frame,
    rfc3339,
)
from crocbot.sim.market_state import OHLC_INTERVALS
from crocbot.sim.rest_server import SimError

if TYPE_CHECKING:
    from crocbot.sim.exchange import Exchange
    from crocbot.sim.ws_server import Session

__all__ = ["handle_request"]

PRIVATE_ON_PUBLIC = "Private data and trading are unavailable on this endpoint. Try ws-auth.kraken.com"
PUBLIC_ON_PRIVATE = "Public market data subscriptions are unavailable on this endpoint. Try ws.kraken.com"
_PUBLIC = frozenset({"ticker", "book", "trade", "ohlc", "instrument"})
_PRIVATE = frozenset({"executions", "balances"})
_TRADING = frozenset({"add_order", "amend_order", "cancel_order", "cancel_all", "cancel_all_orders_after"})
# A channel subscribed per option value: (the option, its default, the values Kraken accepts).
_CHANNEL_OPTION: dict[str, tuple[str, int, Collection[int]]] = {
    "book": ("depth", 10, DEPTHS),
    "ohlc": ("interval", 1, OHLC_INTERVALS),
}


def handle_request(exchange: Exchange, session: Session, text: str) -> None:
    """Answer one client frame; every answer goes through the session's ordered outbound queue."""
    received = exchange.clock.now()
    try:
        message = json.loads(text, parse_float=Decimal)
        if not isinstance(message, dict) or not isinstance(message.get("method"), str):
            raise ValueError("no method")
    except ValueError:
        session.enqueue(
            dumps(
                {
                    "error": "Malformed request",
                    "success": False,
                    "time_in": rfc3339(received),
                    "time_out": rfc3339(exchange.clock.now()),
                }
            )
        )
        return
    method: str = message["method"]
    req_id = message.get("req_id") if isinstance(message.get("req_id"), int) else None
    raw_params = message.get("params")
    params: dict[str, Any] = raw_params if isinstance(raw_params, dict) else {}

    def reply(result: Any = None, error: str | None = None, **extra: Any) -> None:
        session.enqueue(
            ack_frame(
                method,
                req_id=req_id,
                received=received,
                sent=exchange.clock.now(),
                result=result,
                error=error,
                extra=extra or None,
            )
        )

    if method == "ping":
        session.enqueue(pong_frame(req_id, received, exchange.clock.now()))
    elif method in ("subscribe", "unsubscribe"):
        with exchange.lock:
            _subscription(exchange, session, method, params, reply)
    elif method in _TRADING:
        if not session.private:
            reply(error=PRIVATE_ON_PUBLIC)
            return
        with exchange.lock:
            account = exchange.account_for_token(str(params.get("token", "")))
            if account is None:
                reply(error="EAPI:Invalid token")
                return
            _trading(exchange, account, method, params, reply)
    else:
        reply(error="Method not found")


def _subscription(exchange: Exchange, session: Session, method: str, params: Mapping[str, Any], reply: Any) -> None:
    channel = params.get("channel")
    if channel in _PRIVATE and not session.private:
        reply(error=PRIVATE_ON_PUBLIC)
        return
    if channel in _PUBLIC and session.private:
        reply(error=PUBLIC_ON_PRIVATE)
        return
    if channel not in _PUBLIC | _PRIVATE:
        reply(error="Subscription name invalid")
        return
    if channel in _PRIVATE:
        _private_channel(exchange, session, method, channel, params, reply)
        return
    if channel == "instrument":
        include = params.get("include_tokenized_assets") is True
        if method == "subscribe":
            session.subscribe("instrument", "*")
            reply({"channel": "instrument", "snapshot": True})
            session.enqueue(instrument_frame(exchange.instruments.values(), include_tokenized=include))
        else:
            session.unsubscribe("instrument", "*")
            reply({"channel": "instrument"})
        return
    symbols = params.get("symbol")
    if not isinstance(symbols, list) or not symbols:
        reply(error="Symbol(s) not found")
        return
    key = channel
    if channel in _CHANNEL_OPTION:
        name, default, allowed = _CHANNEL_OPTION[channel]
        value = params.get(name, default)
        if value not in allowed:
            reply(error=f"Invalid {name} {value}")
            return
        key = f"{channel}:{value}"
    now = exchange.clock.now()
    for symbol in symbols:
        market = exchange.markets.get(str(symbol))
        if market is None:
            reply(error=f"Currency pair not supported {symbol}", symbol=symbol)
            continue
        result: dict[str, Any] = {"channel": channel, "symbol": market.symbol}
        if channel == "book":
            result["depth"] = int(key.split(":")[1])
        if channel == "ohlc":
            result["interval"] = int(key.split(":")[1])
        if method == "unsubscribe":
            session.unsubscribe(key, market.symbol)
            reply(result)
            continue
        snapshot = params.get("snapshot", channel != "trade") is not False
        result["snapshot"] = snapshot
        session.subscribe(key, market.symbol)
        reply(result)
        if channel == "book":
            data = market.book_snapshot(int(key.split(":")[1]))
            session.enqueue(book_frame(market.symbol, data, snapshot=True, ts=now))
        elif channel == "ticker" and snapshot:
            frame = market.ticker_frame(now, snapshot=True)
            if frame is not None:
                session.enqueue(frame)
        elif channel == "trade" and snapshot and market.trades:
            session.enqueue(market.trade_frame(list(market.trades)[-50:], snapshot=True))
        elif channel == "ohlc" and snapshot:
            frame = market.ohlc_frame(int(key.split(":")[1]), snapshot=True, ts=now, count=10)
            if frame is not None:
                session.enqueue(frame)


def _private_channel(
    exchange: Exchange, session: Session, method: str, channel: str, params: Mapping[str, Any], reply: Any
) -> None:
    account = exchange.account_for_token(str(params.get("token", "")))
    if account is None:
        reply(error="ESession:Invalid session", channel=channel, status="error")
        return
    session.account = account
    if method == "unsubscribe":
        session.unsubscribe(channel, "*")
        reply({"channel": channel})
        return
    session.subscribe(channel, "*")
    if channel == "executions":
        reply({"channel": "executions", "maxratecount": int(account.trading.threshold), "snapshot": True})
        if params.get("snap_orders", True) is not False:
            rows = [_open_order_row(view) for view in account.engine.open_orders()]
            account.exec_sequence += 1
            session.enqueue(
                dumps({"channel": "executions", "type": "snapshot", "data": rows, "sequence": account.exec_sequence})
            )
    else:
        reply({"channel": "balances", "snapshot": True})
        account.balance_sequence += 1
        session.enqueue(balances_frame(account.engine.balances(), snapshot=True, sequence=account.balance_sequence))


def _open_order_row(view: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "exec_type": "new",
        "order_id": view.order_id,
        "symbol": view.symbol,
        "side": str(view.side),
        "order_type": view.order_type,
        "order_status": view.order_status,
        "order_qty": view.qty,
        "cum_qty": view.cum_qty,
        "cum_cost": view.cum_cost,
        "timestamp": rfc3339(view.opened),
    }
    if view.cl_ord_id:
        row["cl_ord_id"] = view.cl_ord_id
    if view.limit_price is not None:
        row["limit_price"] = view.limit_price
    if view.trigger_price is not None:
        row["triggers"] = {"reference": "last", "price": view.trigger_price, "price_type": "static"}
    return row


def _decimal_param(params: Mapping[str, Any], key: str) -> Decimal | None:
    value = params.get(key)
    if value is None:
        return None
    if isinstance(value, Decimal | int) and not isinstance(value, bool):
        return Decimal(value)
    raise SimError(f"EGeneral:Invalid arguments:{key}")


def _trading(exchange: Exchange, account: Any, method: str, params: Mapping[str, Any], reply: Any) -> None:
    try:
        if method == "add_order":
            triggers = params.get("triggers") if isinstance(params.get("triggers"), dict) else {}
            qty = _decimal_param(params, "order_qty")
            side = params.get("side")
            if qty is None or side not in ("buy", "sell"):
                raise SimError("EGeneral:Invalid arguments")
            fee = params.get("fee_preference")
            request = OrderRequest(
                symbol=str(params.get("symbol", "")),
                side=Side(side),
                order_type=str(params.get("order_type", "")),
                qty=qty,
                limit_price=_decimal_param(params, "limit_price"),
                trigger_price=_decimal_param(triggers or {}, "price"),
                cl_ord_id=params.get("cl_ord_id"),
                post_only=params.get("post_only") is True,
                time_in_force=str(params.get("time_in_force", "gtc")),
                fee_in_quote=True if fee == "quote" else False if fee == "base" else None,
                validate=params.get("validate") is True,
            )
            order_id, _ = exchange.add_order(account, request)
            result = {"order_id": order_id}
            if request.cl_ord_id:
                result["cl_ord_id"] = request.cl_ord_id
            reply(result)
        elif method == "amend_order":
            order_id = exchange.amend_order(
                account,
                order_id=params.get("order_id"),
                cl_ord_id=params.get("cl_ord_id"),
                qty=_decimal_param(params, "order_qty"),
                limit_price=_decimal_param(params, "limit_price"),
                trigger_price=_decimal_param(params, "trigger_price"),
                post_only=params.get("post_only") is True,
            )
            reply({"amend_id": "T" + order_id[1:], "order_id": order_id})
        elif method == "cancel_order":
            ids = [("order_id", i) for i in params.get("order_id") or ()] + [
                ("cl_ord_id", i) for i in params.get("cl_ord_id") or ()
            ]
            if not ids:
                raise SimError("EGeneral:Invalid arguments")
            for kind, value in ids:  # one answer per order, as Kraken sends
                try:
                    exchange.cancel_order(account, **{"order_id": None, "cl_ord_id": None, kind: str(value)})
                    reply({kind: value})
                except SimError as error:
                    reply(error=error.code)
        elif method == "cancel_all":
            reply({"count": exchange.cancel_all(account)})
        else:  # cancel_all_orders_after
            timeout = params.get("timeout")
            if not isinstance(timeout, int):
                raise SimError("EGeneral:Invalid arguments:timeout")
            current, trigger = exchange.arm_dead_man(account, timeout)
            reply({"currentTime": current, "triggerTime": trigger})
    except SimError as error:
        reply(error=error.code)
