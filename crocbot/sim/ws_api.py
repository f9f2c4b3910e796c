"""The simulator's WS v2 requests: subscribe and unsubscribe, ping, and the private order methods.

Answers have Kraken's shapes: one ack per symbol, `error` as a single string, rejections that carry the symbol
at the top level (`Currency pair not supported XBT/USD`), `ESession:Invalid session` for a bad token, and
Kraken's own texts for a private channel on the public endpoint and the reverse.

The private channel and methods as Kraken has them: `executions` sends a snapshot of the open orders
(`snap_orders`, default on) and of the last 50 fills (`snap_trades`, default off), and with `ratecounter` each
report carries the pair's trading counter; every trading answer echoes the request's `req_id`; a cancel of an
order that is gone or unknown is `EOrder:Invalid order` (REST says `Unknown order`); an order or amend whose
`deadline` has passed is refused before the engine sees it, one beyond 60 s is invalid. Deadlines are judged on
the wall clock, as Kraken judges them on its own: a replay's simulated time is not the time a request travels in.
The server can lose a trading answer on purpose (`SimWsServer.lose_answers`): the request is carried out, its
answer never sent, as a client sees when a connection dies at the wrong moment.
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
from crocbot.sim.deadlines import deadline_refusal
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

__all__ = ["handle_request", "with_ratecount"]

PRIVATE_ON_PUBLIC = "Private data and trading are unavailable on this endpoint. Try ws-auth.kraken.com"
PUBLIC_ON_PRIVATE = "Public market data subscriptions are unavailable on this endpoint. Try ws.kraken.com"
_PUBLIC = frozenset({"ticker", "book", "trade", "ohlc", "instrument"})
_PRIVATE = frozenset({"executions", "balances"})
_TRADING = frozenset({"add_order", "amend_order", "cancel_order", "cancel_all", "cancel_all_orders_after"})
_DEADLINE_METHODS = frozenset({"add_order", "amend_order"})
_SNAP_TRADES = 50  # fills in an `executions` snapshot with snap_trades
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
        if method in _TRADING and session.server.take_lost_answer(method):
            return  # carried out, the answer lost on the way
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
            token = str(params.get("token", ""))
            # Kraken: a token stays valid while the connection and a private subscription made with it stay up
            # (FACTS: GetWebSocketsToken); the 15 minutes count only until then.
            subscribed = session.account is not None and token == session.token
            account = session.account if subscribed else exchange.account_for_token(token)
            if account is None:
                reply(error="EAPI:Invalid token")
                return
            if method in _DEADLINE_METHODS and (refusal := deadline_refusal(params.get("deadline"))):
                if exchange.records is not None:  # refused before the exchange's own order calls see it
                    exchange.records.write(
                        "order",
                        key=account.api_key,
                        method=method.removesuffix("_order"),
                        via="ws",
                        req_id=req_id,
                        cl_ord_id=params.get("cl_ord_id"),
                        accepted=False,
                        error=refusal,
                    )
                reply(error=refusal)
                return
            _trading(exchange, account, method, params, reply, req_id)
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
    if not isinstance(params.get("rebased", True), bool):
        reply(error="EGeneral:Invalid arguments:rebased", channel=channel, status="error")
        return
    session.account, session.token = account, str(params.get("token", ""))
    if method == "unsubscribe":
        session.unsubscribe(channel, "*")
        reply({"channel": channel})
        return
    session.subscribe(channel, "*")
    if channel == "executions":
        snap_orders = params.get("snap_orders", True) is not False
        snap_trades = params.get("snap_trades", False) is True
        session.ratecounter = params.get("ratecounter", False) is True
        result = {"channel": "executions", "maxratecount": int(account.trading.threshold)}
        reply({**result, "snap_orders": snap_orders, "snap_trades": snap_trades})
        rows: list[dict[str, Any]] = []
        if snap_trades:
            rows += [_fill_row(fill) for fill in account.engine.fills()[-_SNAP_TRADES:]]
        if snap_orders:
            rows += [_open_order_row(view) for view in account.engine.open_orders()]
        if snap_trades or snap_orders:
            account.exec_sequence += 1
            frame = {"channel": "executions", "type": "snapshot", "data": rows, "sequence": account.exec_sequence}
            session.enqueue(dumps(with_ratecount(exchange, account, frame) if session.ratecounter else frame))
    else:
        reply({"channel": "balances", "snapshot": True})
        account.balance_sequence += 1
        session.enqueue(balances_frame(account.engine.balances(), snapshot=True, sequence=account.balance_sequence))


def with_ratecount(exchange: Exchange, account: Any, frame: dict[str, Any]) -> dict[str, Any]:
    """An `executions` frame whose reports carry their pair's trading counter (`ratecounter: true`), as
    `ratecount`: the field's name is v1's (openOrders), the v2 page does not spell it out."""
    now = exchange.clock.monotonic()
    rows = []
    for row in frame.get("data") or ():
        counter = account.pair_counters.get(row.get("symbol"))
        rows.append({**row, "ratecount": int(counter.level(now)) if counter is not None else 0})
    return {**frame, "data": rows}


def _xstock_amend_needs_symbol(exchange: Exchange, account: Any, params: Mapping[str, Any]) -> None:
    """Kraken's amend_order needs `symbol` for an xStock order (FACTS §8); the simulator refuses one without."""
    order_id, cl_ord_id = params.get("order_id"), params.get("cl_ord_id")
    engine = account.engine
    view = engine.order(str(order_id)) if order_id else engine.find(cl_ord_id=str(cl_ord_id or ""))
    if view is None:
        return  # the amend itself says the order is unknown
    instrument = exchange.instruments.get(view.symbol)
    if instrument is not None and instrument.is_xstock and params.get("symbol") != view.symbol:
        raise SimError("EGeneral:Invalid arguments:symbol")


def _fill_row(fill: Any) -> dict[str, Any]:
    """One of the last fills in a `snap_trades` snapshot: the execution's own figures, no order totals."""
    return {
        "exec_type": "trade",
        "order_id": fill.order_id,
        **({"cl_ord_id": fill.cl_ord_id} if fill.cl_ord_id else {}),
        "exec_id": fill.exec_id,
        "trade_id": fill.trade_id,
        "symbol": fill.symbol,
        "side": str(fill.side),
        "order_type": fill.order_type,
        "last_qty": fill.qty,
        "last_price": fill.price,
        "cost": fill.cost,
        "liquidity_ind": "m" if fill.maker else "t",
        "fees": [{"asset": fill.fee_asset, "qty": fill.fee}],
        "timestamp": rfc3339(fill.ts),
    }


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


def _trading(
    exchange: Exchange, account: Any, method: str, params: Mapping[str, Any], reply: Any, req_id: int | None
) -> None:
    origin: dict[str, Any] = {"via": "ws", "req_id": req_id}  # where the request came from, for the records
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
            order_id, _ = exchange.add_order(account, request, **origin)
            result = {"order_id": order_id}
            if request.cl_ord_id:
                result["cl_ord_id"] = request.cl_ord_id
            reply(result)
        elif method == "amend_order":
            _xstock_amend_needs_symbol(exchange, account, params)
            order_id = exchange.amend_order(
                account,
                order_id=params.get("order_id"),
                cl_ord_id=params.get("cl_ord_id"),
                qty=_decimal_param(params, "order_qty"),
                limit_price=_decimal_param(params, "limit_price"),
                trigger_price=_decimal_param(params, "trigger_price"),
                post_only=params.get("post_only") is True,
                **origin,
            )
            named = {"cl_ord_id": params["cl_ord_id"]} if params.get("cl_ord_id") else {"order_id": order_id}
            reply({"amend_id": "T" + order_id[1:], **named})
        elif method == "cancel_order":
            ids = [("order_id", i) for i in params.get("order_id") or ()] + [
                ("cl_ord_id", i) for i in params.get("cl_ord_id") or ()
            ]
            if not ids:
                raise SimError("EGeneral:Invalid arguments")
            for kind, value in ids:  # one answer per order, as Kraken sends
                try:
                    target = {"order_id": None, "cl_ord_id": None, kind: str(value)}
                    exchange.cancel_order(
                        account, order_id=target["order_id"], cl_ord_id=target["cl_ord_id"], via="ws", req_id=req_id
                    )
                    reply({kind: value})
                except SimError as error:
                    # REST says an unknown order is unknown; the WS answer for one gone or unknown is `Invalid`
                    reply(error="EOrder:Invalid order" if error.code == "EOrder:Unknown order" else error.code)
        elif method == "cancel_all":
            reply({"count": exchange.cancel_all(account, **origin)})
        else:  # cancel_all_orders_after
            timeout = params.get("timeout")
            if not isinstance(timeout, int):
                raise SimError("EGeneral:Invalid arguments:timeout")
            current, trigger = exchange.arm_dead_man(account, timeout)
            reply({"currentTime": current, "triggerTime": trigger})
    except SimError as error:
        reply(error=error.code)
