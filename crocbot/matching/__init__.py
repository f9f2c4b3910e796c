"""The matching engine: one Kraken account's orders and balances matched against market liquidity the caller gives.

There is one engine, shared by the exchange simulator (`crocbot.sim`, which serves it to the real Kraken client
over loopback) and the paper venue (`crocbot.venues.paper`, which calls it in process), so both fill an order the
same way. It is pure: no I/O, no threads, no actors. These names are its public face; the modules behind them
(book, checks, account, match, state) are its own.
"""

from crocbot.matching.engine import DEFAULT_MAX_OPEN_ORDERS, MatchingEngine
from crocbot.matching.persist import RECENT, engine_from_state, engine_to_state, prune_history
from crocbot.matching.types import Execution, FillView, OrderError, OrderRequest, OrderSnapshot

__all__ = [
    "DEFAULT_MAX_OPEN_ORDERS",
    "MatchingEngine",
    "OrderRequest",
    "Execution",
    "OrderSnapshot",
    "FillView",
    "OrderError",
    "engine_to_state",
    "engine_from_state",
    "prune_history",
    "RECENT",
]
