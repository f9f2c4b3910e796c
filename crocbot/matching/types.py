"""What goes into and comes out of the matching engine: requests, executions, order snapshots, fill views, errors.

The shapes follow Kraken: an `Execution` is one WS v2 `executions` report, an `OrderSnapshot` carries what REST
OpenOrders/ClosedOrders report for an order, a `FillView` what TradesHistory reports for a fill, and every
business rejection is an `OrderError` whose `code` is Kraken's exact error string.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from crocbot.core.messages.orders import OrderType
from crocbot.core.messages.side import Side

__all__ = [
    "OrderError",
    "OrderRequest",
    "Execution",
    "OrderSnapshot",
    "FillView",
    "MARKET",
    "LIMIT",
    "STOP_LOSS",
    "STOP_LOSS_LIMIT",
    "TAKE_PROFIT",
    "TAKE_PROFIT_LIMIT",
    "ORDER_TYPES",
    "TRIGGER_TYPES",
    "LIMIT_PRICE_TYPES",
    "TIME_IN_FORCE",
    "E_UNKNOWN_PAIR",
    "E_CANCEL_ONLY",
    "E_POST_ONLY_MODE",
    "E_UNAVAILABLE",
    "E_INVALID_ARGUMENTS",
    "E_INVALID_VOLUME",
    "E_INVALID_PRICE",
    "E_TICK_SIZE",
    "E_ORDER_MINIMUM",
    "E_COST_MINIMUM",
    "E_DUPLICATE_CL_ORD_ID",
    "E_ORDERS_LIMIT",
    "E_INSUFFICIENT_FUNDS",
    "E_POST_ONLY",
    "E_INVALID_ORDER",
    "REASON_USER",
    "REASON_NO_LIQUIDITY",
    "REASON_IOC",
    "REASON_FUNDS",
    "REASON_AMENDED_BELOW_FILLED",
]

# Kraken's order type names, from the one enum crocbot keeps them in (a StrEnum: each equals its string).
MARKET = OrderType.MARKET.value
LIMIT = OrderType.LIMIT.value
STOP_LOSS = OrderType.STOP_LOSS.value
STOP_LOSS_LIMIT = OrderType.STOP_LOSS_LIMIT.value
TAKE_PROFIT = OrderType.TAKE_PROFIT.value
TAKE_PROFIT_LIMIT = OrderType.TAKE_PROFIT_LIMIT.value
ORDER_TYPES = frozenset(t.value for t in OrderType)
TRIGGER_TYPES = frozenset(t.value for t in OrderType if t.needs_trigger_price)
LIMIT_PRICE_TYPES = frozenset(t.value for t in OrderType if t.needs_limit_price)
TIME_IN_FORCE = frozenset({"gtc", "ioc"})  # WS v2 spelling (lowercase); gtd/fok are not simulated

# Kraken's error strings, exactly as its REST error table and WS responses spell them (FACTS §5, §9).
E_UNKNOWN_PAIR = "EQuery:Unknown asset pair"
E_CANCEL_ONLY = "EService:Market in cancel_only mode"
E_POST_ONLY_MODE = "EService:Market in post_only mode"
E_UNAVAILABLE = "EService:Unavailable"
E_INVALID_ARGUMENTS = "EGeneral:Invalid arguments"
E_INVALID_VOLUME = "EGeneral:Invalid arguments:volume"
E_INVALID_PRICE = "EOrder:Invalid price"
E_TICK_SIZE = "EOrder:Tick size check failed"
E_ORDER_MINIMUM = "EOrder:Order minimum not met"
E_COST_MINIMUM = "EOrder:Cost minimum not met"
# Kraken documents that a cl_ord_id must be unique among open orders but not the text of the rejection;
# this string is our guess in Kraken's style, so clients must not match on it against the live venue.
E_DUPLICATE_CL_ORD_ID = "EOrder:Duplicate cl_ord_id"
E_ORDERS_LIMIT = "EOrder:Orders limit exceeded"
E_INSUFFICIENT_FUNDS = "EOrder:Insufficient funds"
E_POST_ONLY = "EOrder:Post only order"
E_INVALID_ORDER = "EOrder:Invalid order"  # cancel/amend of an unknown or already closed order (Kraken's SDK)

# `reason` texts on closing events. Kraken shows "User requested" for cancels; the others are our wording.
REASON_USER = "User requested"
REASON_NO_LIQUIDITY = "Insufficient liquidity"
REASON_IOC = "Immediate or cancel"
REASON_FUNDS = "Insufficient funds"
REASON_AMENDED_BELOW_FILLED = "Order quantity amended below the filled quantity"


class OrderError(Exception):
    """A business rejection; `code` is Kraken's exact error string, e.g. "EOrder:Insufficient funds"."""

    def __init__(self, code: str, detail: str = "") -> None:
        super().__init__(f"{code} ({detail})" if detail else code)
        self.code = code
        self.detail = detail


@dataclass(frozen=True, slots=True)
class OrderRequest:
    """An add_order request. `fee_in_quote=None` is Kraken's default: quote when buying (fciq), base when
    selling (fcib). `validate=True` runs every check and creates nothing."""

    symbol: str
    side: Side
    order_type: str
    qty: Decimal
    limit_price: Decimal | None = None
    trigger_price: Decimal | None = None
    cl_ord_id: str | None = None
    post_only: bool = False
    time_in_force: str = "gtc"
    fee_in_quote: bool | None = None
    validate: bool = False


@dataclass(frozen=True, slots=True)
class Execution:
    """One event on the WS v2 `executions` channel.

    exec_type: pending_new | new | trade | filled | canceled | expired | amended | status (a trigger fired).
    order_status: pending_new | new | partially_filled | filled | canceled | expired.
    trigger_status: None for orders without a trigger, else "untriggered" | "triggered".
    """

    exec_type: str
    order_id: str
    cl_ord_id: str | None
    symbol: str
    side: Side
    order_type: str
    order_status: str
    order_qty: Decimal
    cum_qty: Decimal
    cum_cost: Decimal
    avg_price: Decimal | None
    limit_price: Decimal | None
    trigger_price: Decimal | None
    ts: datetime
    exec_id: str | None = None
    trade_id: int | None = None
    last_qty: Decimal | None = None
    last_price: Decimal | None = None
    liquidity: str | None = None  # "m" maker | "t" taker
    cost: Decimal | None = None
    fee: Decimal | None = None
    fee_asset: str | None = None
    reason: str | None = None
    trigger_status: str | None = None


@dataclass(frozen=True, slots=True)
class OrderSnapshot:
    """One order of the engine at one moment, frozen, as REST OpenOrders/ClosedOrders/QueryOrders reports it.

    status is REST's (open | closed | canceled | expired), order_status the WS v2 one. `fee` is the total
    in quote-currency terms, as REST reports it, even where a fill paid its fee in base.
    """

    order_id: str
    cl_ord_id: str | None
    symbol: str
    side: Side
    order_type: str
    status: str
    order_status: str
    qty: Decimal
    cum_qty: Decimal
    cum_cost: Decimal
    fee: Decimal
    avg_price: Decimal | None
    limit_price: Decimal | None
    trigger_price: Decimal | None
    time_in_force: str
    post_only: bool
    fee_in_quote: bool
    triggered: bool | None  # None for orders without a trigger
    opened: datetime
    closed: datetime | None
    reason: str | None
    amended: bool
    trade_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class FillView:
    """One fill as REST TradesHistory reports it; `exec_id` is its key there, `trade_id` the WS number."""

    exec_id: str
    trade_id: int
    order_id: str
    cl_ord_id: str | None
    symbol: str
    side: Side
    order_type: str
    price: Decimal
    qty: Decimal
    cost: Decimal
    fee: Decimal
    fee_asset: str
    maker: bool
    ts: datetime
