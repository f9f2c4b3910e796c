"""Market data: ticker, L2 book updates, the top of an in-sync book, trades, candles."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from enum import Enum
from typing import NamedTuple

from crocbot.core.checks import InvalidMessage, non_negative, positive, symbol, utc
from crocbot.core.messages.side import Side
from crocbot.core.money import fmt

__all__ = ["Ticker", "BookLevel", "BookUpdate", "BookView", "Trade", "Timeframe", "Candle"]


@dataclass(frozen=True, slots=True)
class Ticker:
    """Level-1 view: best bid/ask and the last trade price (None when nothing traded in 24 h)."""

    symbol: str
    bid: Decimal
    bid_qty: Decimal
    ask: Decimal
    ask_qty: Decimal
    last: Decimal | None
    ts: datetime

    def __post_init__(self) -> None:
        symbol(self.symbol)
        positive(self.bid, "bid")
        positive(self.ask, "ask")
        if self.last is not None:
            positive(self.last, "last")
        non_negative(self.bid_qty, "bid_qty")
        non_negative(self.ask_qty, "ask_qty")
        object.__setattr__(self, "ts", utc(self.ts, "ts"))


class BookLevel(NamedTuple):
    """One price level; a quantity of zero in an update deletes the level.

    A NamedTuple, not a validating dataclass: books move thousands of levels a second. The codec checks every
    level it builds (price > 0, qty >= 0, sane magnitudes); other producers use `BookLevel.checked`.
    """

    price: Decimal
    qty: Decimal

    @classmethod
    def checked(cls, price: Decimal, qty: Decimal) -> BookLevel:
        return cls(positive(price, "price"), non_negative(qty, "qty"))


class BookUpdate(NamedTuple):
    """A snapshot or an incremental update of one symbol's L2 book, in wire order, with Kraken's checksum.

    A NamedTuple for speed (it is built for every book frame); `checked` validates, and the codec checks each
    field itself before building one. An update only ever feeds an `L2Book`, which verifies its checksum.
    """

    symbol: str
    bids: tuple[BookLevel, ...]
    asks: tuple[BookLevel, ...]
    snapshot: bool
    checksum: int | None
    ts: datetime

    @classmethod
    def checked(
        cls,
        symbol_: str,
        bids: tuple[BookLevel, ...],
        asks: tuple[BookLevel, ...],
        snapshot: bool,
        checksum: int | None,
        ts: datetime,
    ) -> BookUpdate:
        symbol(symbol_)
        if checksum is not None and not 0 <= checksum <= 0xFFFFFFFF:
            raise InvalidMessage(f"checksum: {checksum} is not a CRC32 value")
        for level in (*bids, *asks):
            BookLevel.checked(level.price, level.qty)
        return cls(symbol_, bids, asks, snapshot, checksum, utc(ts, "ts"))


@dataclass(frozen=True, slots=True)
class BookView:
    """The top of one in-sync book after an update whose checksum matched; best first on both sides."""

    symbol: str
    bids: tuple[tuple[Decimal, Decimal], ...]
    asks: tuple[tuple[Decimal, Decimal], ...]
    ts: datetime


@dataclass(frozen=True, slots=True)
class Trade:
    """A public trade print. `side` is the taker's side."""

    symbol: str
    side: Side
    price: Decimal
    qty: Decimal
    ts: datetime
    trade_id: int | None = None

    def __post_init__(self) -> None:
        symbol(self.symbol)
        positive(self.price, "price")
        positive(self.qty, "qty")
        object.__setattr__(self, "ts", utc(self.ts, "ts"))


class Timeframe(Enum):
    """Candle lengths crocbot builds; the value is the length in seconds."""

    M1 = 60
    M5 = 300
    M15 = 900
    H1 = 3600

    @property
    def seconds(self) -> int:
        return self.value

    @property
    def label(self) -> str:
        return {60: "1m", 300: "5m", 900: "15m", 3600: "1h"}[self.value]

    @classmethod
    def parse(cls, text: str) -> Timeframe:
        for frame in cls:
            if frame.label == text:
                return frame
        allowed = ", ".join(f.label for f in cls)
        raise ValueError(f"unknown timeframe {text!r}; use one of {allowed}")


@dataclass(frozen=True, slots=True)
class Candle:
    """OHLCV over `[open_time, open_time + timeframe)`. `closed` is False while the interval is still running."""

    symbol: str
    timeframe: Timeframe
    open_time: datetime
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal
    trades: int
    closed: bool

    def __post_init__(self) -> None:
        symbol(self.symbol)
        for name in ("open", "high", "low", "close"):
            positive(getattr(self, name), name)
        non_negative(self.volume, "volume")
        if self.trades < 0:
            raise InvalidMessage(f"trades: must be >= 0, got {self.trades}")
        if self.low > self.high:
            raise InvalidMessage(f"candle {self.symbol}: low {fmt(self.low)} is above high {fmt(self.high)}")
        if not self.low <= self.open <= self.high or not self.low <= self.close <= self.high:
            raise InvalidMessage(
                f"candle {self.symbol}: open {fmt(self.open)} and close {fmt(self.close)} must lie within "
                f"[low {fmt(self.low)}, high {fmt(self.high)}]"
            )
        open_time = utc(self.open_time, "open_time")
        if int(open_time.timestamp()) % self.timeframe.seconds or open_time.microsecond:
            raise InvalidMessage(
                f"candle {self.symbol}: open_time {open_time.isoformat()} is not on a {self.timeframe.label} boundary"
            )
        object.__setattr__(self, "open_time", open_time)

    @property
    def close_time(self) -> datetime:
        return self.open_time + timedelta(seconds=self.timeframe.seconds)
