"""The live venue's parts: orders over Kraken's private WS v2 with REST as the fallback, and the `executions`
channel turned into the venue protocol's events. The lead's composition root wires them into `VenueCalls`:
`KrakenOrderCalls` is its `OrderCalls`, `ExecutionFeed` publishes fills and order events from the private WS.
"""

from crocbot.venues.live.executions import ExecutionsMerger, LiveEvent, MergedOrder
from crocbot.venues.live.feed import ExecutionFeed
from crocbot.venues.live.order_calls import KrakenOrderCalls, OutcomeUnknown
from crocbot.venues.live.ws_orders import WsNotConnected, WsRefusal, WsTrading, WsUnknown

__all__ = [
    "ExecutionsMerger",
    "LiveEvent",
    "MergedOrder",
    "ExecutionFeed",
    "KrakenOrderCalls",
    "OutcomeUnknown",
    "WsTrading",
    "WsRefusal",
    "WsUnknown",
    "WsNotConnected",
]
