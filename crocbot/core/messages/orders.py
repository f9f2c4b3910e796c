"""Orders: what the router intends to send, what the venue reports back, and fills."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from crocbot.core.checks import InvalidMessage, non_negative, positive, symbol, utc
from crocbot.core.messages.side import Side
from crocbot.core.money import ZERO

__all__ = [
    "OrderType",
    "OrderPurpose",
    "OrderStatus",
    "OrderIntent",
    "OrderEvent",
    "Liquidity",
    "Fill",
    "valid_cl_ord_id",
    "OrderAmended",
    "CommandRejected",
    "CommandUnknown",
    "OrderLookedUp",
    "VenueAnomaly",
    "HELD_BACK",
    "RATE_LIMITED",
    "UNSENT",
]

# The reason of an order a venue never sent because it was to go out only once the venue had confirmed the cancel
# of the orders it replaces (an exit after its position's stop), and a cancel was refused: the stop has filled, or
# is filling, and its own fill closes the position. Not a refusal by the exchange: nothing was sent.
HELD_BACK = "crocbot: not sent, an order it replaces could not be cancelled (filled or filling)"
# Kraken's refusal of a command that would take the pair's trading counter over its threshold (the fixed part is
# charged all the same): the command did nothing, and may be sent again once the counter has decayed.
RATE_LIMITED = "EOrder:Rate limit exceeded"
# The reason of a cancel or amend that never left crocbot (the venue's call queue was full, its breaker open, or its
# deadline passed in the queue): refused by nobody, it may be sent again.
UNSENT = "crocbot: not sent (the venue's calls are queued full, its breaker is open, or the deadline passed first)"

# Kraken accepts a long UUID (36 chars with dashes), a short UUID (32 hex) or free ASCII text of at most
# 18 characters; anything longer is `EGeneral:Invalid arguments` (nautilus_trader #3651).
_LONG_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_SHORT_UUID = re.compile(r"^[0-9a-fA-F]{32}$")
_FREE_TEXT = re.compile(r"^[\x21-\x7e]{1,18}$")


def valid_cl_ord_id(value: str) -> bool:
    return bool(_LONG_UUID.match(value) or _SHORT_UUID.match(value) or _FREE_TEXT.match(value))


class OrderType(StrEnum):
    """Kraken's spot order types that crocbot sends."""

    MARKET = "market"
    LIMIT = "limit"
    STOP_LOSS = "stop-loss"
    STOP_LOSS_LIMIT = "stop-loss-limit"
    TAKE_PROFIT = "take-profit"
    TAKE_PROFIT_LIMIT = "take-profit-limit"

    @property
    def needs_limit_price(self) -> bool:
        return self in (OrderType.LIMIT, OrderType.STOP_LOSS_LIMIT, OrderType.TAKE_PROFIT_LIMIT)

    @property
    def needs_trigger_price(self) -> bool:
        return self in (
            OrderType.STOP_LOSS,
            OrderType.STOP_LOSS_LIMIT,
            OrderType.TAKE_PROFIT,
            OrderType.TAKE_PROFIT_LIMIT,
        )


class OrderPurpose(StrEnum):
    ENTRY = "entry"
    EXIT = "exit"
    STOP = "stop"
    TAKE_PROFIT = "take_profit"


class OrderStatus(StrEnum):
    CREATED = "created"
    SUBMITTED = "submitted"
    ACKED = "acked"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    CANCELLED = "cancelled"
    REPLACED = "replaced"
    REJECTED = "rejected"
    EXPIRED = "expired"
    ERROR = "error"
    UNKNOWN = "unknown"  # the send timed out: the order may exist; look it up by cl_ord_id, never resend

    @property
    def is_terminal(self) -> bool:
        return self in (
            OrderStatus.FILLED,
            OrderStatus.CANCELLED,
            OrderStatus.REPLACED,
            OrderStatus.REJECTED,
            OrderStatus.EXPIRED,
            OrderStatus.ERROR,
        )


@dataclass(frozen=True, slots=True)
class OrderIntent:
    """An order the router has decided to send; journaled before anything goes to the venue."""

    cl_ord_id: str
    symbol: str
    side: Side
    order_type: OrderType
    qty: Decimal
    purpose: OrderPurpose
    ts: datetime
    limit_price: Decimal | None = None
    trigger_price: Decimal | None = None
    post_only: bool = False

    def __post_init__(self) -> None:
        if not valid_cl_ord_id(self.cl_ord_id):
            raise InvalidMessage(
                f"cl_ord_id {self.cl_ord_id!r}: Kraken takes a UUID or at most 18 printable ASCII characters"
            )
        symbol(self.symbol)
        positive(self.qty, "qty")
        if self.order_type.needs_limit_price:
            positive(_required(self.limit_price, "limit_price", self.order_type), "limit_price")
        elif self.limit_price is not None:
            raise InvalidMessage(f"limit_price: a {self.order_type} order takes no limit price")
        if self.order_type.needs_trigger_price:
            positive(_required(self.trigger_price, "trigger_price", self.order_type), "trigger_price")
        elif self.trigger_price is not None:
            raise InvalidMessage(f"trigger_price: a {self.order_type} order takes no trigger price")
        if self.post_only and self.order_type is not OrderType.LIMIT:
            raise InvalidMessage("post_only: only limit orders can be post-only")
        object.__setattr__(self, "ts", utc(self.ts, "ts"))


def _required(value: Decimal | None, field: str, order_type: OrderType) -> Decimal:
    if value is None:
        raise InvalidMessage(f"{field}: a {order_type} order needs one")
    return value


@dataclass(frozen=True, slots=True)
class OrderEvent:
    """A state change of one order as the venue reported it."""

    cl_ord_id: str
    status: OrderStatus
    ts: datetime
    order_id: str | None = None
    filled_qty: Decimal = ZERO
    avg_price: Decimal | None = None
    reason: str = ""

    def __post_init__(self) -> None:
        non_negative(self.filled_qty, "filled_qty")
        if self.avg_price is not None:
            positive(self.avg_price, "avg_price")
        object.__setattr__(self, "ts", utc(self.ts, "ts"))


class Liquidity(StrEnum):
    MAKER = "maker"
    TAKER = "taker"


@dataclass(frozen=True, slots=True)
class Fill:
    """One execution. `fill_id` is the venue's trade id and makes the fill idempotent in the journal."""

    fill_id: str
    cl_ord_id: str
    order_id: str
    symbol: str
    side: Side
    qty: Decimal
    price: Decimal
    fee: Decimal
    fee_currency: str
    liquidity: Liquidity
    ts: datetime

    def __post_init__(self) -> None:
        if not self.fill_id:
            raise InvalidMessage("fill_id: a fill without an id cannot be deduplicated")
        symbol(self.symbol)
        positive(self.qty, "qty")
        positive(self.price, "price")
        non_negative(self.fee, "fee")
        object.__setattr__(self, "ts", utc(self.ts, "ts"))

    @property
    def notional(self) -> Decimal:
        return self.qty * self.price


@dataclass(frozen=True, slots=True)
class OrderAmended:
    cl_ord_id: str
    ts: datetime
    qty: Decimal | None = None
    limit_price: Decimal | None = None
    trigger_price: Decimal | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "ts", utc(self.ts, "ts"))


@dataclass(frozen=True, slots=True)
class CommandRejected:
    """A cancel or amend the venue refused (`EOrder:Invalid order` for one already gone, for instance)."""

    cl_ord_id: str
    command: str  # cancel | amend
    reason: str
    ts: datetime

    def __post_init__(self) -> None:
        object.__setattr__(self, "ts", utc(self.ts, "ts"))


@dataclass(frozen=True, slots=True)
class CommandUnknown:
    """A cancel or amend whose answer never came (the call passed its deadline): it may or may not have taken
    effect. Never taken as either: the order is looked up (`OrderLookedUp`)."""

    cl_ord_id: str
    command: str  # cancel | amend | query
    reason: str
    ts: datetime

    def __post_init__(self) -> None:
        object.__setattr__(self, "ts", utc(self.ts, "ts"))


@dataclass(frozen=True, slots=True)
class OrderLookedUp:
    """An order's current terms as the venue reports them when asked (after an unknown outcome). `status` is None
    when the venue does not know the order."""

    cl_ord_id: str
    ts: datetime
    status: OrderStatus | None
    qty: Decimal | None = None
    filled: Decimal = ZERO
    limit_price: Decimal | None = None
    trigger_price: Decimal | None = None

    def __post_init__(self) -> None:
        non_negative(self.filled, "filled")
        object.__setattr__(self, "ts", utc(self.ts, "ts"))


@dataclass(frozen=True, slots=True)
class VenueAnomaly:
    """CRITICAL: the venue reported a fill crocbot cannot square with its orders: beyond the order's quantity
    (`OVERFILL`) or for an order crocbot does not know (`UNKNOWN_ORDER`). The fill itself still goes out (the money
    moved); this tells the router to halt entries until a human has looked."""

    OVERFILL = "overfill"
    UNKNOWN_ORDER = "unknown_order"

    kind: str  # OVERFILL | UNKNOWN_ORDER
    cl_ord_id: str
    order_id: str
    fill_id: str
    symbol: str
    detail: str
    ts: datetime

    def __post_init__(self) -> None:
        if self.kind not in (VenueAnomaly.OVERFILL, VenueAnomaly.UNKNOWN_ORDER):
            raise InvalidMessage(f"kind: {self.kind!r} is not an anomaly crocbot knows")
        object.__setattr__(self, "ts", utc(self.ts, "ts"))
