"""The candle buffer: candles per symbol built from the trade stream and closed on event time.

At start it backfills history from REST OHLC (through the gateway, so the actor never waits on Kraken; Kraken's
last row is still forming and is dropped). Trades arrive reliably; a timer on the event clock closes candles
whose interval has passed even when no trade comes. While the feed is not fresh the outage is remembered and
marked as a gap when it ends. Each closed candle is published, with the symbol's ATR for trailing stops.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from loguru import logger

from crocbot.actors.base import ChildContext, SupervisedActor
from crocbot.actors.breaker import CircuitBreaker
from crocbot.actors.gateway import CallResult, Deadline, Gateway
from crocbot.core.candles import CandleBook
from crocbot.core.indicators import atr
from crocbot.core.messages import ATRUpdate, Candle, CandleHistory, CandleHistoryWanted, FeedHealth, Timeframe, Trade

__all__ = ["CandleBuffer", "BackfillFn", "candles_from_ohlc", "next_close"]

BackfillFn = Callable[[str, Timeframe, Deadline], list[Candle]]
_GRACE = 1.0  # event seconds a trade may lag its candle's end and still count


@dataclass(frozen=True, slots=True)
class _Tick:
    pass


def next_close(after: datetime, timeframe: Timeframe) -> datetime:
    """The first candle boundary strictly after `after`."""
    length = timeframe.seconds
    stamp = after.timestamp()
    return datetime.fromtimestamp((int(stamp // length) + 1) * length, UTC)


def candles_from_ohlc(symbol: str, timeframe: Timeframe, rows: Sequence[Sequence[Any]]) -> list[Candle]:
    """Kraken REST OHLC rows `[time, open, high, low, close, vwap, volume, count]`, the forming last one dropped."""
    return [
        Candle(
            symbol,
            timeframe,
            datetime.fromtimestamp(int(row[0]), UTC),
            Decimal(str(row[1])),
            Decimal(str(row[2])),
            Decimal(str(row[3])),
            Decimal(str(row[4])),
            Decimal(str(row[6])),
            int(row[7]),
            closed=True,
        )
        for row in rows[:-1]
    ]


# What `handle` acts on; the rest (`| object`) falls through to the base actor, which logs and ignores it.
_Handled = Trade | _Tick | FeedHealth | CallResult[Any] | CandleHistoryWanted


class CandleBuffer(SupervisedActor):
    def __init__(
        self,
        ctx: ChildContext,
        symbols: Sequence[str],
        timeframe: Timeframe,
        *,
        atr_period: int = 14,
        backfill: BackfillFn | None = None,
        gateway: Gateway | None = None,
        breaker: CircuitBreaker | None = None,
        max_candles: int = 1000,
    ) -> None:
        super().__init__(ctx)
        self._symbols = tuple(symbols)
        self._timeframe = timeframe
        self._atr_period = atr_period
        self._backfill = backfill
        self._gateway = gateway
        self._breaker = breaker
        self._book = CandleBook(max_candles=max_candles)
        self._down_since: datetime | None = None
        self._backfills_due: set[str] = set()  # symbols whose backfill has not answered yet
        self._backfilled: dict[str, int] = {}  # candles each successful one gave

    def started(self) -> None:
        bus = self.services.bus
        bus.subscribe(Trade, self.name)
        bus.subscribe(FeedHealth, self.name)
        bus.subscribe(CandleHistoryWanted, self.name)
        for symbol in self._symbols:  # the book takes trades only for series it has: without a backfill (none
            self._series(symbol)  # configured, or Kraken's REST down) candles must still build from live trades
        self._schedule_tick()
        if self._backfill is not None and self._gateway is not None:
            backfill = self._backfill
            self._backfills_due = set(self._symbols)
            for symbol in self._symbols:
                self._gateway.submit(
                    functools.partial(backfill, symbol, self._timeframe),
                    reply_to=self.actor_ref,
                    timeout=30.0,
                    tag=("backfill", symbol),
                    breaker=self._breaker,
                )

    def handle(self, message: _Handled | object) -> Any:
        if isinstance(message, Trade):
            if message.symbol in self._symbols:
                self._publish(self._book.on_trade(message))
        elif isinstance(message, _Tick):
            self._publish(self._book.close_until(self.clock.now() - timedelta(seconds=_GRACE)))
            self._schedule_tick()
        elif isinstance(message, FeedHealth):
            self._on_health(message)
        elif isinstance(message, CallResult):
            self._on_backfill(message)
        elif isinstance(message, CandleHistoryWanted):
            for symbol in self._symbols:
                history = tuple(self._series(symbol).history)
                if history:
                    self.services.bus.publish(CandleHistory(symbol, self._timeframe, history))
        else:
            return super().handle(message)
        return None

    def _schedule_tick(self) -> None:
        """Wake at the next candle close (plus the grace for late trades), not every second: a quiet market
        costs nothing, and an accelerated replay does not have to stop every simulated second."""
        now = self.clock.now()
        wake = next_close(now - timedelta(seconds=_GRACE), self._timeframe) + timedelta(seconds=_GRACE)
        self.send_later(max((wake - now).total_seconds(), 0.001), _Tick())

    def _series(self, symbol: str) -> Any:
        return self._book.series(symbol, self._timeframe)

    def _publish(self, closed: Sequence[Candle]) -> None:
        bus = self.services.bus
        touched: set[str] = set()
        for candle in closed:
            bus.publish(candle)
            touched.add(candle.symbol)
        for symbol in touched:
            value = atr(self._series(symbol).history, self._atr_period)
            if value is not None:
                bus.publish(ATRUpdate(symbol, value, self.clock.now()))

    def _on_health(self, health: FeedHealth) -> None:
        if not health.fresh and self._down_since is None:
            self._down_since = health.ts
        elif health.fresh and self._down_since is not None:
            start, self._down_since = self._down_since, None
            if health.ts <= start:  # fresh again at the instant it went stale (a start): no gap to mark or tell
                return
            self._book.mark_gap(start, health.ts)
            logger.info("market data gap {} .. {} marked in the candles", start.isoformat(), health.ts.isoformat())

    def _on_backfill(self, result: CallResult[Any]) -> None:
        tag = result.tag
        if not (isinstance(tag, tuple) and tag[0] == "backfill"):
            return
        symbol = str(tag[1])
        self._backfills_due.discard(symbol)
        self._on_backfill_result(symbol, result)
        if not self._backfills_due and self._backfilled:
            # one INFO line for the whole start, whatever the number of symbols; failures said so on their own
            done = ", ".join(f"{s} {n}" for s, n in sorted(self._backfilled.items()))
            short = sorted(s for s, n in self._backfilled.items() if n <= self._atr_period)
            if short:  # "backfilled: BTC/USD 0" read as success; the strategies of these symbols cannot decide yet
                logger.warning(
                    "candles backfilled ({} candles): {}; {} got no more than the {} the ATR needs: their strategies "
                    "wait for live candles",
                    self._timeframe.label,
                    done,
                    ", ".join(short),
                    self._atr_period,
                )
            else:
                logger.info("candles backfilled ({} candles): {}", self._timeframe.label, done)
            self._backfilled = {}

    def _on_backfill_result(self, symbol: str, result: CallResult[Any]) -> None:
        if not result.ok or not isinstance(result.value, list):
            logger.bind(symbol=symbol).warning(
                "candle backfill failed ({}: {}); building candles from live trades only", result.outcome, result.error
            )
            return
        candles: list[Candle] = result.value
        series = self._series(symbol)
        try:
            series.backfill(candles)
        except ValueError as error:
            logger.bind(symbol=symbol).warning("candle backfill refused: {}", error)
            return
        self.services.bus.publish(CandleHistory(symbol, self._timeframe, tuple(series.history)))
        value = atr(series.history, self._atr_period)
        if value is not None:
            self.services.bus.publish(ATRUpdate(symbol, value, self.clock.now()))
        logger.bind(symbol=symbol).debug("backfilled {} {} candles", len(candles), self._timeframe.label)
        self._backfilled[symbol] = len(candles)
