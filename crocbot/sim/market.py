"""Market sources: time-ordered public trades for one symbol, from real files or a seeded random walk.

The simulator replays a source (at any speed; a source only produces timestamps) through its trade, ticker and
book channels. Real data comes as Kraken's OHLCVT candles, as tick trades, or as crocbot's own record files; the
synthetic walk runs forever for soaks. Every source is lazy, deterministic for a seed, and yields `Decimal` money
that is a multiple of the instrument's increments, so that frames built from it look like Kraken's.
"""

from __future__ import annotations

import gzip
import heapq
import json
import math
import random
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from itertools import pairwise
from pathlib import Path

from crocbot.core.checks import positive, utc
from crocbot.core.checks import symbol as check_symbol
from crocbot.core.messages import Side, Trade
from crocbot.core.money import fmt, quantize_down, to_decimal
from crocbot.kraken.codec import decimal_of, parse_time

__all__ = ["MarketTrade", "candle_csv_source", "trade_csv_source", "record_source", "synthetic_source", "merged"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_INTERVAL_SUFFIX = re.compile(r"_(\d+)$")
_SIDES = {"buy": Side.BUY, "b": Side.BUY, "sell": Side.SELL, "s": Side.SELL}
_TRADE_HEADER = ("time_ms", "timestamp", "side", "price", "amount")


@dataclass(frozen=True, slots=True)
class MarketTrade:
    """One public trade print; `side` is the taker's side."""

    symbol: str
    ts: datetime
    price: Decimal
    qty: Decimal
    side: Side

    def __post_init__(self) -> None:
        check_symbol(self.symbol)
        positive(self.price, "price")
        positive(self.qty, "qty")
        object.__setattr__(self, "ts", utc(self.ts, "ts"))

    def to_trade(self, trade_id: int | None = None) -> Trade:
        return Trade(self.symbol, self.side, self.price, self.qty, self.ts, trade_id)


# -- shared helpers ----------------------------------------------------------------------------------------------


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    """Numbered, stripped, non-blank lines of a text file or its .gz."""
    with gzip.open(path, "rt", encoding="utf-8") if path.suffix == ".gz" else path.open(encoding="utf-8") as handle:
        for number, raw in enumerate(handle, start=1):
            line = raw.strip()
            if line:
                yield number, line


def _number(text: str, where: str, field: str) -> Decimal:
    return to_decimal(text, field=f"{where}: {field}")


def _ticks(price: Decimal, increment: Decimal, where: str) -> int:
    """The price as a whole number of increments, rounded to the nearest one; a file may be finer than the book."""
    ticks = int((price / increment).to_integral_value(rounding=ROUND_HALF_EVEN))
    if ticks <= 0:
        raise ValueError(f"{where}: price {fmt(price)} is not positive at increment {fmt(increment)}")
    return ticks


def _price(ticks: int, increment: Decimal) -> Decimal:
    return (Decimal(ticks) * increment).quantize(increment)


def _side_of(previous: int | None, ticks: int, rng: random.Random) -> Side:
    """The tick rule: an uptick was a buyer lifting the ask, a downtick a seller hitting the bid."""
    if previous is None or previous == ticks:
        return rng.choice((Side.BUY, Side.SELL))
    return Side.BUY if ticks > previous else Side.SELL


def _check_increments(price_increment: Decimal, qty_increment: Decimal) -> None:
    for name, value in (("price_increment", price_increment), ("qty_increment", qty_increment)):
        if not isinstance(value, Decimal) or not value.is_finite() or value <= 0:
            raise ValueError(f"{name} must be a positive Decimal, got {value!r}")


def _aware(value: datetime | None, name: str) -> datetime | None:
    if value is not None and value.utcoffset() is None:
        raise ValueError(f"{name} must be an aware UTC datetime, got naive {value.isoformat()}")
    return None if value is None else value.astimezone(UTC)


# -- candles -----------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Candle:
    start: int  # unix seconds
    open: int  # prices in ticks
    high: int
    low: int
    close: int
    volume: Decimal
    trades: int


def _candle(line: str, where: str, increment: Decimal) -> _Candle:
    fields = line.split(",")
    if len(fields) != 7:
        raise ValueError(f"{where}: expected unix_time,open,high,low,close,volume,trades, got {line!r}")
    try:
        start, trades = int(fields[0]), int(fields[6])
    except ValueError:
        raise ValueError(f"{where}: unix_time and trades must be integers, got {line!r}") from None
    o, h, low, c = (_ticks(_number(fields[i], where, n), increment, where) for i, n in enumerate("ohlc", start=1))
    volume = _number(fields[5], where, "volume")
    if not low <= min(o, c) <= max(o, c) <= h:
        raise ValueError(f"{where}: open and close must lie within [low, high], got {line!r}")
    if volume < 0 or trades < 0:
        raise ValueError(f"{where}: volume and trades must not be negative, got {line!r}")
    return _Candle(start, o, h, low, c, volume, trades)


def _infer_interval(path: Path) -> timedelta:
    """Kraken names its files PAIR_MINUTES.csv; otherwise the smallest gap between rows is the interval."""
    stem = path.name.removesuffix(".gz").removesuffix(".csv")
    found = _INTERVAL_SUFFIX.search(stem)
    if found and int(found.group(1)) > 0:
        return timedelta(minutes=int(found.group(1)))
    times = [int(line.split(",", 1)[0]) for _, line in _lines(path)]
    gaps = [b - a for a, b in pairwise(times) if b > a]
    if not gaps:
        raise ValueError(f"{path}: cannot infer the candle interval (no name suffix like _5, fewer than two rows)")
    return timedelta(seconds=min(gaps))


def _path_ticks(c: _Candle, n: int) -> list[int]:
    """n prices along O -> L -> H -> C (or O -> H -> L -> C when the candle fell), hitting each exactly."""
    if n == 1 or c.open == c.high == c.low == c.close:
        return [c.open] * n
    points = [c.open, c.low, c.high, c.close] if c.close >= c.open else [c.open, c.high, c.low, c.close]
    legs = [abs(b - a) for a, b in pairwise(points)]
    extra = n - 4  # every leg has one step; the rest go to the legs by length (largest remainder)
    total = sum(legs)
    steps = [1 + extra * leg // total for leg in legs]
    order = sorted(range(3), key=lambda i: -(extra * legs[i] % total))
    for i in order[: n - 1 - sum(steps)]:
        steps[i] += 1
    out = [c.open]
    for (a, b), k in zip(pairwise(points), steps, strict=True):
        out.extend(a + (2 * (b - a) * j + k) // (2 * k) for j in range(1, k + 1))
    return out


def _split_units(total: int, n: int, rng: random.Random) -> list[int]:
    """n positive whole increments summing to `total` (or one each when there are too few)."""
    if total < n:
        return [1] * n
    weights = [rng.randint(1, 100) for _ in range(n)]
    extra = total - n
    shares = [1 + extra * w // sum(weights) for w in weights]
    for i in rng.sample(range(n), total - sum(shares)):
        shares[i] += 1
    return shares


def candle_csv_source(
    path: Path,
    symbol: str,
    *,
    price_increment: Decimal,
    qty_increment: Decimal,
    interval: timedelta | None = None,
    seed: int = 0,
    max_trades_per_candle: int = 12,
    start: datetime | None = None,
    end: datetime | None = None,
) -> Iterator[MarketTrade]:
    """Trades that retrace each Kraken OHLCVT candle's real path, so candles rebuilt from them equal the file's.

    Each candle gets its own generator seeded by (seed, candle time), so a window given by `start`/`end` yields
    the same trades as the full replay. Missing rows (intervals without trades) yield nothing.
    """
    check_symbol(symbol)
    _check_increments(price_increment, qty_increment)
    if max_trades_per_candle < 4:
        raise ValueError(f"max_trades_per_candle must be >= 4 to reach open, high, low, close: {max_trades_per_candle}")
    if interval is not None and interval <= timedelta(0):
        raise ValueError(f"interval must be positive, got {interval}")
    start, end = _aware(start, "start"), _aware(end, "end")
    if start is not None and end is not None and start >= end:
        raise ValueError(f"start {start.isoformat()} must be before end {end.isoformat()}")
    if not path.is_file():
        raise FileNotFoundError(f"candle file {path} does not exist")

    def trades() -> Iterator[MarketTrade]:
        step = interval if interval is not None else _infer_interval(path)
        step_us = step // timedelta(microseconds=1)
        previous_start: int | None = None
        previous_tick: int | None = None
        for number, line in _lines(path):
            where = f"{path}:{number}"
            c = _candle(line, where, price_increment)
            if previous_start is not None and (c.start - previous_start) * 1_000_000 < step_us:
                raise ValueError(f"{where}: row at {c.start} is less than one interval ({step}) after the last")
            previous_start = c.start
            opened = _EPOCH + timedelta(seconds=c.start)
            if end is not None and opened >= end:
                return
            if start is not None and opened + step <= start:
                previous_tick = c.close
                continue
            rng = random.Random(f"{seed}/{c.start}")
            flat = c.open == c.high == c.low == c.close
            n = max(1, min(c.trades, max_trades_per_candle)) if flat else max(4, min(c.trades, max_trades_per_candle))
            prices = _path_ticks(c, n)
            units = _split_units(int(quantize_down(c.volume, qty_increment) / qty_increment), n, rng)
            offsets = sorted(rng.sample(range(step_us), n))
            for ticks, unit, offset in zip(prices, units, offsets, strict=True):
                side = _side_of(previous_tick, ticks, rng)
                previous_tick = ticks
                ts = opened + timedelta(microseconds=offset)
                if (start is None or ts >= start) and (end is None or ts < end):
                    qty = (Decimal(unit) * qty_increment).quantize(qty_increment)
                    yield MarketTrade(symbol, ts, _price(ticks, price_increment), qty, side)

    return trades()


# -- tick trades -------------------------------------------------------------------------------------------------


def trade_csv_source(
    path: Path, symbol: str, *, price_increment: Decimal, qty_increment: Decimal
) -> Iterator[MarketTrade]:
    """Tick trades from a `time_ms,timestamp,side,price,amount` CSV, as recorded; sizes below one increment are
    dropped, since the exchange could not have printed them at that increment."""
    check_symbol(symbol)
    _check_increments(price_increment, qty_increment)
    if not path.is_file():
        raise FileNotFoundError(f"trade file {path} does not exist")

    def trades() -> Iterator[MarketTrade]:
        lines = _lines(path)
        first = next(lines, None)
        if first is None:
            return
        header = tuple(name.strip() for name in first[1].split(","))
        if not set(_TRADE_HEADER) <= set(header):
            raise ValueError(f"{path}:{first[0]}: expected a header with {','.join(_TRADE_HEADER)}, got {first[1]!r}")
        col = {name: header.index(name) for name in _TRADE_HEADER}
        last: datetime | None = None
        for number, line in lines:
            where = f"{path}:{number}"
            fields = line.split(",")
            if len(fields) != len(header):
                raise ValueError(f"{where}: expected {len(header)} fields, got {line!r}")
            try:
                ts = _EPOCH + timedelta(milliseconds=int(fields[col["time_ms"]]))
            except ValueError:
                raise ValueError(f"{where}: time_ms {fields[col['time_ms']]!r} is not an integer") from None
            side = _SIDES.get(fields[col["side"]].strip().lower())
            if side is None:
                raise ValueError(f"{where}: side {fields[col['side']]!r} is neither buy nor sell")
            if last is not None and ts < last:
                raise ValueError(f"{where}: time goes backwards ({ts.isoformat()} after {last.isoformat()})")
            last = ts
            ticks = _ticks(_number(fields[col["price"]], where, "price"), price_increment, where)
            qty = quantize_down(_number(fields[col["amount"]], where, "amount"), qty_increment)
            if qty > 0:
                yield MarketTrade(symbol, ts, _price(ticks, price_increment), qty, side)

    return trades()


# -- crocbot record files ----------------------------------------------------------------------------------------


def record_source(path: Path, symbol: str) -> Iterator[MarketTrade]:
    """The trades in the inbound `trade` frames of a crocbot record file, exactly as Kraken sent them.

    Lines or trades that cannot be read are skipped: a record is evidence, not input to be policed. Trades at or
    below the last trade id, or older than the last trade, are skipped too: a resubscription replays a snapshot
    of recent trades, and the source must stay time-ordered for `merged`.
    """
    check_symbol(symbol)
    if not path.is_file():
        raise FileNotFoundError(f"record file {path} does not exist")

    def trades() -> Iterator[MarketTrade]:
        last_id: int | None = None
        last_ts: datetime | None = None
        for _, line in _lines(path):
            try:
                entry = json.loads(line)
                frame = json.loads(entry["frame"], parse_float=Decimal) if entry.get("dir") == "in" else None
            except (ValueError, TypeError, KeyError, AttributeError):
                continue
            rows = frame.get("data") if isinstance(frame, dict) and frame.get("channel") == "trade" else None
            for row in rows if isinstance(rows, list) else ():
                if not isinstance(row, dict) or row.get("symbol") != symbol:
                    continue
                try:
                    trade = MarketTrade(
                        symbol,
                        parse_time(row["timestamp"]),
                        decimal_of(row["price"], "price"),
                        decimal_of(row["qty"], "qty"),
                        Side(row["side"]),
                    )
                except (ValueError, TypeError, KeyError):
                    continue
                trade_id = row.get("trade_id")
                if isinstance(trade_id, int) and last_id is not None and trade_id <= last_id:
                    continue
                if last_ts is not None and trade.ts < last_ts:
                    continue
                last_id = trade_id if isinstance(trade_id, int) else last_id
                last_ts = trade.ts
                yield trade

    return trades()


# -- synthetic ---------------------------------------------------------------------------------------------------


def synthetic_source(
    symbol: str,
    *,
    seed: int,
    start: datetime,
    start_price: Decimal,
    price_increment: Decimal,
    qty_increment: Decimal,
    volatility: float = 0.0005,
    mean_interval: float = 0.5,
    mean_qty: Decimal = Decimal("0.05"),
) -> Iterator[MarketTrade]:
    """An endless seeded random walk for soaks: Poisson arrivals, a log-normal price, exponential sizes.

    Floats drive the random process only; every price and size is rounded to a whole number of increments and
    built as a `Decimal` from that integer, so no float digits reach the money.
    """
    check_symbol(symbol)
    _check_increments(price_increment, qty_increment)
    begin = _aware(start, "start")
    if begin is None:
        raise ValueError("start is required")
    positive(start_price, "start_price")
    positive(mean_qty, "mean_qty")
    if not (math.isfinite(volatility) and volatility >= 0):
        raise ValueError(f"volatility must be a finite number >= 0, got {volatility!r}")
    if not (math.isfinite(mean_interval) and mean_interval > 0):
        raise ValueError(f"mean_interval must be a finite number of seconds > 0, got {mean_interval!r}")

    def trades() -> Iterator[MarketTrade]:
        rng = random.Random(seed)
        log_ticks = math.log(float(start_price / price_increment))
        mean_units = float(mean_qty / qty_increment)
        ts = begin
        previous: int | None = None
        while True:
            dt = rng.expovariate(1.0 / mean_interval)
            ts += timedelta(microseconds=max(1, round(dt * 1_000_000)))  # strictly increasing, whole microseconds
            log_ticks += rng.gauss(0.0, volatility * math.sqrt(dt))
            ticks = max(1, round(math.exp(log_ticks)))
            units = max(1, int(rng.expovariate(1.0) * mean_units))
            side = _side_of(previous, ticks, rng)
            previous = ticks
            qty = (Decimal(units) * qty_increment).quantize(qty_increment)
            yield MarketTrade(symbol, ts, _price(ticks, price_increment), qty, side)

    return trades()


def merged(*sources: Iterable[MarketTrade]) -> Iterator[MarketTrade]:
    """Several time-ordered sources as one; at equal timestamps the earlier source's trade comes first."""
    return heapq.merge(*sources, key=lambda trade: trade.ts)
