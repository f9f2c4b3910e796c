"""One simulated market: its synthetic book, the views sent at each depth, recent trades, candles and ticker.

Pure state plus the public frames it produces; the exchange holds the lock and decides who receives them.
"""

from __future__ import annotations

import random
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from crocbot.core.instrument import Instrument
from crocbot.sim.bookmaker import BookData, DepthView, SyntheticBook
from crocbot.sim.frames import ohlc_frame, rfc3339, ticker_frame, trade_frame
from crocbot.sim.market import MarketTrade

__all__ = ["SimMarket", "OHLC_INTERVALS", "RecordedTrade"]

OHLC_INTERVALS = (1, 5, 15, 30, 60, 240, 1440)
_KEEP_TRADES = 20_000  # REST Trades pages over a downtime of hours, and the WS trade snapshot (last 50)
_KEEP_CANDLES = 721  # Kraken's REST OHLC answers at most 720 rows plus the forming one
_KEEP_SPREADS = 200  # Kraken's REST Spread answers about the last 200 changes of the best bid and ask


@dataclass(frozen=True, slots=True)
class RecordedTrade:
    trade_id: int
    trade: MarketTrade
    ord_type: str


@dataclass(slots=True)
class _Candle:
    begin: datetime
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal = Decimal(0)
    cost: Decimal = Decimal(0)
    trades: int = 0


@dataclass(slots=True)
class _Day:
    open: Decimal | None = None
    low: Decimal | None = None
    high: Decimal | None = None
    volume: Decimal = Decimal(0)
    cost: Decimal = Decimal(0)
    trades: int = 0


@dataclass(slots=True)
class SimMarket:
    instrument: Instrument
    book: SyntheticBook
    seed: int = 0
    views: dict[int, DepthView] = field(default_factory=dict)
    trades: deque[RecordedTrade] = field(default_factory=lambda: deque(maxlen=_KEEP_TRADES))
    candles: dict[int, deque[_Candle]] = field(default_factory=dict)
    day: _Day = field(default_factory=_Day)
    spreads: deque[tuple[int, Decimal, Decimal]] = field(default_factory=lambda: deque(maxlen=_KEEP_SPREADS))
    next_trade_id: int = 1
    rng: random.Random = field(default_factory=random.Random)

    @property
    def symbol(self) -> str:
        return self.instrument.symbol

    # -- book -----------------------------------------------------------------------------------------

    def view(self, depth: int) -> DepthView:
        view = self.views.get(depth)
        if view is None:
            view = DepthView(
                depth, price_precision=self.instrument.price_precision, qty_precision=self.instrument.qty_precision
            )
            view.snapshot(self.book)  # every later diff is relative to what the book is now
            self.views[depth] = view
        return view

    def book_snapshot(self, depth: int) -> BookData:
        return self.view(depth).snapshot(self.book)

    def book_diffs(self) -> list[tuple[int, BookData]]:
        """One diff per depth someone subscribed to, after the book changed."""
        out = []
        for depth, view in self.views.items():
            data = view.diff(self.book)
            if data is not None:
                out.append((depth, data))
        return out

    def record_spread(self, ts: datetime) -> None:
        """Note the best bid and ask (REST Spread) when either moved since the last note."""
        bid, ask = self.book.bids(1), self.book.asks(1)
        if not bid or not ask:
            return
        if self.spreads and self.spreads[-1][1:] == (bid[0][0], ask[0][0]):
            return
        self.spreads.append((int(ts.timestamp()), bid[0][0], ask[0][0]))

    # -- trades, candles, ticker ----------------------------------------------------------------------

    def record(self, trade: MarketTrade) -> RecordedTrade:
        recorded = RecordedTrade(self.next_trade_id, trade, "market" if self.rng.random() < 0.7 else "limit")
        self.next_trade_id += 1
        self.trades.append(recorded)
        day = self.day
        day.open = day.open if day.open is not None else trade.price
        day.low = trade.price if day.low is None else min(day.low, trade.price)
        day.high = trade.price if day.high is None else max(day.high, trade.price)
        day.volume += trade.qty
        day.cost += trade.qty * trade.price
        day.trades += 1
        for interval in OHLC_INTERVALS:
            self._candle(interval, trade)
        return recorded

    def _candle(self, interval: int, trade: MarketTrade) -> None:
        candles = self.candles.setdefault(interval, deque(maxlen=_KEEP_CANDLES))
        seconds = interval * 60
        begin = datetime.fromtimestamp(int(trade.ts.timestamp()) // seconds * seconds, trade.ts.tzinfo)
        if not candles or candles[-1].begin != begin:
            candles.append(_Candle(begin, trade.price, trade.price, trade.price, trade.price))
        candle = candles[-1]
        candle.high = max(candle.high, trade.price)
        candle.low = min(candle.low, trade.price)
        candle.close = trade.price
        candle.volume += trade.qty
        candle.cost += trade.qty * trade.price
        candle.trades += 1

    def trade_rows(self, recorded: list[RecordedTrade]) -> list[dict[str, Any]]:
        return [
            {
                "symbol": self.symbol,
                "side": str(r.trade.side),
                "price": r.trade.price,
                "qty": r.trade.qty,
                "ord_type": r.ord_type,
                "trade_id": r.trade_id,
                "timestamp": rfc3339(r.trade.ts),
            }
            for r in recorded
        ]

    def trade_frame(self, recorded: list[RecordedTrade], *, snapshot: bool) -> str:
        return trade_frame(self.trade_rows(recorded), snapshot=snapshot)

    def candle_row(self, interval: int, candle: _Candle) -> dict[str, Any]:
        vwap = (candle.cost / candle.volume) if candle.volume else candle.close
        end = candle.begin + timedelta(minutes=interval)
        return {
            "symbol": self.symbol,
            "open": candle.open,
            "high": candle.high,
            "low": candle.low,
            "close": candle.close,
            "trades": candle.trades,
            "volume": candle.volume,
            "vwap": self._price(vwap),
            "interval_begin": rfc3339(candle.begin),
            "interval": interval,
            "timestamp": rfc3339(end),
        }

    def ohlc_frame(self, interval: int, *, snapshot: bool, ts: datetime, count: int = 1) -> str | None:
        candles = list(self.candles.get(interval, ()))[-count:]
        if not candles:
            return None
        return ohlc_frame([self.candle_row(interval, c) for c in candles], snapshot=snapshot, ts=ts)

    def ticker_row(self, ts: datetime) -> dict[str, Any] | None:
        bid, ask = self.book.bids(1), self.book.asks(1)
        if not bid or not ask:
            return None
        day = self.day
        row: dict[str, Any] = {
            "symbol": self.symbol,
            "bid": bid[0][0],
            "bid_qty": bid[0][1],
            "ask": ask[0][0],
            "ask_qty": ask[0][1],
        }
        if self.trades:
            last = self.trades[-1].trade.price
            opened = day.open if day.open is not None else last
            change = last - opened
            row.update(
                last=last,
                volume=day.volume,
                vwap=self._price(day.cost / day.volume) if day.volume else last,
                low=day.low,
                high=day.high,
                change=change,
                change_pct=(change / opened * 100).quantize(Decimal("0.01")),
            )
        row["timestamp"] = rfc3339(ts)
        return row

    def ticker_frame(self, ts: datetime, *, snapshot: bool) -> str | None:
        row = self.ticker_row(ts)
        return ticker_frame(row, snapshot=snapshot) if row is not None else None

    def _price(self, value: Decimal) -> Decimal:
        return value.quantize(self.instrument.price_increment)

    def seed_book(self, price: Decimal) -> None:
        self.book.seed_around(price.quantize(self.instrument.price_increment))
