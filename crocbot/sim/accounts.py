"""A simulated Kraken account: API key and secret, its matching engine, nonces, rate counters and WS tokens."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from crocbot.core.instrument import Instrument
from crocbot.kraken.auth import sign
from crocbot.kraken.ratelimit import LeakyCounter, TradingLimits
from crocbot.matching import FillView, MatchingEngine, OrderSnapshot
from crocbot.sim.frames import rfc3339
from crocbot.sim.rest_server import SimError

__all__ = ["Account", "order_row", "fill_row", "postxid", "TOKEN_TTL", "PERMISSIONS"]

TOKEN_TTL = 900.0  # seconds a WS token stays usable before its first subscription
# The REST methods each of a Kraken API key's permissions allows (kraken.com, Settings > API); a method whose
# permission the key lacks answers `EGeneral:Permission denied` (FACTS §10.12).
PERMISSIONS: dict[str, frozenset[str]] = {
    "Query Funds": frozenset({"Balance", "BalanceEx", "TradeBalance"}),
    "Query Open Orders & Trades": frozenset({"OpenOrders", "QueryOrders", "QueryTrades"}),
    "Query Closed Orders & Trades": frozenset({"ClosedOrders", "TradesHistory"}),
    "Create & Modify Orders": frozenset({"AddOrder", "AmendOrder", "EditOrder", "AddOrderBatch"}),
    "Cancel & Close Orders": frozenset({"CancelOrder", "CancelAll", "CancelAllOrdersAfter", "CancelOrderBatch"}),
    "WebSocket interface": frozenset({"GetWebSocketsToken"}),
}


@dataclass(slots=True)
class Account:
    api_key: str
    secret: str
    engine: MatchingEngine
    rest_counter: LeakyCounter
    trading: TradingLimits
    pair_counters: dict[str, LeakyCounter] = field(default_factory=dict)
    last_nonce: int = 0
    order_times: dict[str, float] = field(default_factory=dict)  # order id -> placed or last amended
    tokens: dict[str, float] = field(default_factory=dict)  # token -> issued at
    dead_man_at: float | None = None
    active_symbols: set[str] = field(default_factory=set)  # symbols with open orders
    exec_sequence: int = 0
    balance_sequence: int = 0
    rejected_nonces: int = 0
    rate_limited: int = 0
    # A test's way to model a key made without some permissions (names as in PERMISSIONS), and an account whose
    # region may not trade some symbols (symbol -> region code, as in Kraken's refusal).
    missing_permissions: set[str] = field(default_factory=set)
    restricted: dict[str, str] = field(default_factory=dict)

    def authenticate(self, path: str, body: str, api_sign: str, nonce_text: str) -> None:
        """Kraken's checks, in Kraken's order: signature, nonce strictly above the last one, the key's permission."""
        if not nonce_text.isdigit():
            raise SimError("EAPI:Invalid nonce")
        expected = sign(path, body, nonce_text, self.secret)
        if not hmac.compare_digest(expected, api_sign):
            raise SimError("EAPI:Invalid signature")
        nonce = int(nonce_text)
        if nonce <= self.last_nonce:
            self.rejected_nonces += 1
            raise SimError("EAPI:Invalid nonce")
        self.last_nonce = nonce
        method = path.rpartition("/")[2]
        if any(method in PERMISSIONS[name] for name in self.missing_permissions):
            raise SimError("EGeneral:Permission denied")

    def charge_rest(self, cost: float, now: float) -> None:
        if cost > 0 and not self.rest_counter.try_add(cost, now):
            self.rate_limited += 1
            raise SimError("EAPI:Rate limit exceeded")

    def charge_trading(self, symbol: str, cost: float, now: float) -> None:
        region = self.restricted.get(symbol)
        if region is not None:  # every order call on a pair passes here first, over REST and WS alike
            # Kraken's words for a pair the account's region may not trade (ccxt/ccxt#26987).
            raise SimError(f"EAccount:Invalid permissions:{symbol.partition('/')[0]} trading restricted for {region}.")
        counter = self.pair_counters.get(symbol)
        if counter is None:
            counter = self.pair_counters[symbol] = LeakyCounter(self.trading.threshold, self.trading.decay)
        if cost > 0 and not counter.try_add(cost, now):
            self.rate_limited += 1
            raise SimError("EOrder:Rate limit exceeded")

    def order_age(self, order_id: str, now: float) -> float:
        placed = self.order_times.get(order_id)
        return now - placed if placed is not None else 1e9

    def new_token(self, now: float) -> str:
        token = secrets.token_urlsafe(32)
        self.tokens[token] = now
        return token

    def token_valid(self, token: str, now: float) -> bool:
        issued = self.tokens.get(token)
        return issued is not None and now - issued <= TOKEN_TTL


def _price_text(instrument: Instrument, value: Decimal | None) -> str:
    return "0" if value is None else instrument.price_text(value)


def _cost_text(instrument: Instrument, value: Decimal) -> str:
    # Kraken prints costs and fees at the pair's cost_decimals ("0.92500"); the engine books them at those
    # decimals too (kraken_rounding), so what a client reads reconciles with the balances it sees.
    return f"{value:.{instrument.cost_precision}f}"


def postxid(exec_id: str) -> str:
    """A fill's position txid: Kraken's shape (T + 15 base32 characters), one per fill, the same on every read."""
    digest = base64.b32encode(hashlib.sha256(exec_id.encode()).digest()).decode()
    chars = "T" + digest[:15]
    return f"{chars[:6]}-{chars[6:11]}-{chars[11:]}"


def _epoch(view_time: Any) -> Decimal:
    return Decimal(str(round(view_time.timestamp(), 4)))


def order_row(view: OrderSnapshot, instrument: Instrument) -> dict[str, Any]:
    """One order as REST OpenOrders / ClosedOrders / QueryOrders show it."""
    price: Decimal | None = view.limit_price
    price2: Decimal | None = None
    if view.trigger_price is not None:
        price, price2 = view.trigger_price, view.limit_price
    at = f" @ {view.order_type} {_price_text(instrument, price)}" if price is not None else f" @ {view.order_type}"
    row: dict[str, Any] = {
        "refid": None,
        "userref": 0,
        "cl_ord_id": view.cl_ord_id,
        "status": view.status,
        "opentm": _epoch(view.opened),
        "starttm": 0,
        "expiretm": 0,
        "descr": {
            "pair": instrument.altname,
            "type": str(view.side),
            "ordertype": view.order_type,
            "price": _price_text(instrument, price),
            "price2": _price_text(instrument, price2),
            "leverage": "none",
            "order": f"{view.side} {instrument.qty_text(view.qty)} {instrument.altname}{at}",
            "close": "",
        },
        "vol": instrument.qty_text(view.qty),
        "vol_exec": instrument.qty_text(view.cum_qty),
        "cost": _cost_text(instrument, view.cum_cost),
        "fee": _cost_text(instrument, view.fee),
        "price": _price_text(instrument, view.avg_price) if view.avg_price is not None else "0",
        "stopprice": _price_text(instrument, view.trigger_price),
        "limitprice": _price_text(instrument, view.limit_price),
        "misc": "amended" if view.amended else "",
        "oflags": ",".join(["fciq" if view.fee_in_quote else "fcib"] + (["post"] if view.post_only else [])),
        "trades": list(view.trade_ids),
    }
    if view.closed is not None:
        row["closetm"] = _epoch(view.closed)
        if view.reason is not None:  # Kraken's `reason` is a string when present, absent otherwise
            row["reason"] = view.reason
    return row


def fill_row(fill: FillView, instrument: Instrument) -> dict[str, Any]:
    """One fill as REST TradesHistory shows it."""
    return {
        "ordertxid": fill.order_id,
        "postxid": postxid(fill.exec_id),
        "pair": instrument.rest_pair or instrument.altname,
        "time": _epoch(fill.ts),
        "type": str(fill.side),
        "ordertype": fill.order_type,
        "price": instrument.price_text(fill.price),
        "cost": _cost_text(instrument, fill.cost),
        # TradesHistory's fee is in quote (Kraken's docs), also for a fill whose fee was paid in base.
        "fee": _cost_text(instrument, fill.fee if fill.fee_asset == instrument.quote else fill.fee * fill.price),
        "vol": instrument.qty_text(fill.qty),
        "margin": "0.00000",
        "misc": "",
        "trade_id": fill.trade_id,
        "maker": fill.maker,
        "cl_ord_id": fill.cl_ord_id,
        "timestamp": rfc3339(fill.ts),
    }
