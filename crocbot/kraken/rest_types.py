"""The typed requests and answers of the Kraken REST endpoints (`crocbot.kraken.endpoints`), and the reading of
Kraken's answer rows into them.

Numbers stay exact: amounts, prices and even epoch times are `Decimal`, read from Kraken's strings.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from crocbot.core.messages import OrderType, Side
from crocbot.kraken.errors import KrakenError

__all__ = [
    "AddOrderRequest",
    "OrderInfo",
    "TradeInfo",
    "BalanceEx",
    "Placement",
    "dec",
    "order_info",
    "trade_info",
    "balance_ex",
]


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


def dec(value: Any) -> Decimal:
    """Kraken sends most REST numbers as strings; bare JSON numbers arrive as Decimal (parse_float) or int."""
    return value if isinstance(value, Decimal) else Decimal(str(value))


def order_info(txid: str, row: Mapping[str, Any]) -> OrderInfo:
    """One row of OpenOrders, ClosedOrders or QueryOrders."""
    descr = row.get("descr") or {}
    price = descr.get("price")
    return OrderInfo(
        txid=txid,
        cl_ord_id=row.get("cl_ord_id"),
        status=str(row["status"]),
        pair=str(descr.get("pair", "")),
        side=str(descr.get("type", "")),
        order_type=str(descr.get("ordertype", "")),
        qty=dec(row.get("vol", 0)),
        filled=dec(row.get("vol_exec", 0)),
        cost=dec(row.get("cost", 0)),
        fee=dec(row.get("fee", 0)),
        avg_price=dec(row.get("price", 0)),
        limit_price=dec(price) if price not in (None, "", "0") else None,
        opened=dec(row.get("opentm", 0)),
        closed=dec(row["closetm"]) if row.get("closetm") else None,
        trade_ids=tuple(str(t) for t in row.get("trades") or ()),
        reason=row.get("reason"),
    )


def trade_info(txid: str, row: Mapping[str, Any]) -> TradeInfo:
    """One row of TradesHistory."""
    return TradeInfo(
        trade_txid=txid,
        order_txid=str(row["ordertxid"]),
        pair=str(row["pair"]),
        side=str(row["type"]),
        order_type=str(row.get("ordertype", "")),
        price=dec(row["price"]),
        qty=dec(row["vol"]),
        cost=dec(row["cost"]),
        fee=dec(row["fee"]),
        time=dec(row["time"]),
        maker=bool(row.get("maker", False)),
        trade_id=int(row["trade_id"]) if row.get("trade_id") is not None else None,
    )


def balance_ex(row: Mapping[str, Any]) -> BalanceEx:
    """One asset's row of BalanceEx."""
    return BalanceEx(
        dec(row.get("balance", 0)),
        dec(row.get("hold_trade", 0)),
        dec(row.get("credit", 0)),
        dec(row.get("credit_used", 0)),
    )
