"""The immutable messages actors exchange.

Frozen, slotted dataclasses with `Decimal` money and aware UTC datetimes. Where acting on an invalid object
would be dangerous (a candle whose high is below its low, a long position whose stop is above its entry, a
signal without a stop) the constructor refuses it with `InvalidMessage`.
"""

from crocbot.core.checks import InvalidMessage
from crocbot.core.messages.flow import (
    ATRUpdate,
    CandleHistory,
    CandleHistoryWanted,
    ExitRequest,
    FeedHealth,
    PositionChanged,
    PositionClosed,
    PositionOpened,
    ReconcileRequest,
    SafeModeChanged,
    StartupReconciled,
    StartupReconciling,
    StopAmendRequest,
    VenueCatchUp,
)
from crocbot.core.messages.health import (
    ActorEscalated,
    ActorExited,
    ActorRestarted,
    BreakerState,
    BreakerStateChanged,
    HealthEvent,
    HealthStatus,
)
from crocbot.core.messages.market import BookLevel, BookUpdate, Candle, Ticker, Timeframe, Trade
from crocbot.core.messages.orders import (
    HELD_BACK,
    RATE_LIMITED,
    UNSENT,
    CommandRejected,
    CommandUnknown,
    Fill,
    Liquidity,
    OrderAmended,
    OrderEvent,
    OrderIntent,
    OrderLookedUp,
    OrderPurpose,
    OrderStatus,
    OrderType,
    valid_cl_ord_id,
)
from crocbot.core.messages.positions import Position, Signal, StopChanged, StopKind
from crocbot.core.messages.side import PositionSide, Side
from crocbot.core.messages.trades import ClosedTrade, ExitReason, TradeContext

__all__ = [
    "InvalidMessage",
    "Side",
    "PositionSide",
    "Ticker",
    "BookLevel",
    "BookUpdate",
    "Trade",
    "Timeframe",
    "Candle",
    "Signal",
    "Position",
    "StopKind",
    "StopChanged",
    "ClosedTrade",
    "ExitReason",
    "TradeContext",
    "PositionOpened",
    "PositionChanged",
    "PositionClosed",
    "ExitRequest",
    "StopAmendRequest",
    "FeedHealth",
    "SafeModeChanged",
    "StartupReconciled",
    "VenueCatchUp",
    "StartupReconciling",
    "ReconcileRequest",
    "ATRUpdate",
    "CandleHistory",
    "CandleHistoryWanted",
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
    "HELD_BACK",
    "RATE_LIMITED",
    "UNSENT",
    "HealthStatus",
    "HealthEvent",
    "BreakerState",
    "BreakerStateChanged",
    "ActorRestarted",
    "ActorExited",
    "ActorEscalated",
]
