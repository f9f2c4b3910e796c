"""Kraken's public history over REST, for the actors that need the past: the candles' backfill at start and the
paper venue's catch-up after a restart.

Each call runs in a worker of the REST gateway, never in an actor's thread, behind the REST circuit breaker; the
gateway's deadline is carried over to the wall clock of the HTTP client.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from loguru import logger

from crocbot.actors.breaker import CircuitBreaker
from crocbot.actors.candles import candles_from_ohlc
from crocbot.actors.gateway import Deadline, Gateway
from crocbot.core.messages import Candle, Timeframe, Trade
from crocbot.kraken.endpoints import KrakenApi

__all__ = ["KrakenHistory"]

_CATCH_UP_PAGES = 50  # 50,000 prints, hours of BTC/USD; beyond that only the first 50,000 are judged (logged)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class KrakenHistory:
    """The REST calls, and the gateway and breaker every caller sends them through."""

    api: KrakenApi
    gateway: Gateway
    breaker: CircuitBreaker

    def candles(self, symbol: str, timeframe: Timeframe, deadline: Deadline) -> list[Candle]:
        """The closed candles Kraken's OHLC endpoint has for `symbol` (its forming last one dropped)."""
        wall_deadline = self.api.rest.clock.monotonic() + deadline.remaining()
        rows, _ = self.api.ohlc(symbol, timeframe.seconds // 60, deadline=wall_deadline)
        return candles_from_ohlc(symbol, timeframe, rows)

    def trades_since(self, symbol: str, since: datetime, until: datetime, deadline: Deadline) -> list[Trade]:
        """Public prints in (since, until], oldest first, page by page (1,000 a page).

        `until` is when the catch-up began: prints after it arrive live, so paging stops there instead of chasing a
        market that keeps printing while the pages come in."""
        wall_deadline = self.api.rest.clock.monotonic() + deadline.remaining()
        cursor = str((since - _EPOCH) // timedelta(microseconds=1) * 1000)  # Kraken's `since`: nanoseconds
        out: list[Trade] = []
        for _ in range(_CATCH_UP_PAGES):
            page, last = self.api.trades(symbol, cursor, deadline=wall_deadline)
            out += [t for t in page if since < t.ts <= until]
            if not page or not last or last == cursor or page[-1].ts >= until:
                return out
            cursor = last
        logger.warning("paper catch-up of {}: stopped after {} pages of trades", symbol, _CATCH_UP_PAGES)
        return out
