"""Candles built from the trade stream on event time.

Kraken's WS `ohlc` channel never says that a candle is final, so crocbot builds its own from trades: a trade
belongs to the interval `[open_time, open_time + timeframe)` that contains its timestamp, so a trade exactly on
a boundary opens the next candle. A candle closes when event time reaches its end: a trade in a later interval
(`on_trade`) or a timer (`close_until`).

Choices, in one place:

- Late trades (older than the forming candle, or inside an interval that already closed) are ignored and
  counted in `late_trades`; a closed candle never changes. A timer should therefore call
  `close_until(now - grace)` with a grace of a second or two, so that trades still in flight are not late.
- Intervals without trades: Kraken omits them. With `fill_gaps=True` (the default) the series emits a flat
  candle instead (open = high = low = close = the previous close, volume 0, trades 0; `is_filled` tells them
  apart) so that indicators see time passing and a timer-driven strategy still runs. With `fill_gaps=False`
  such intervals simply have no candle. One call emits at most `max_candles` flat candles: older ones would
  fall out of the bounded history at once.
- Feed outages: `mark_gap(start, end)` flags every candle overlapping `[start, end)`, including candles that
  close later (the one containing `end` lacks the trades before it). A forming candle that overlaps the gap is
  discarded: its totals are wrong. Trades after the outage in that same interval start a fresh candle, which is
  flagged too. `backfill` with the exchange's rows repairs flagged intervals (the flags are cleared).
"""

from __future__ import annotations

from bisect import bisect_left
from collections import deque
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from crocbot.core.checks import symbol as check_symbol
from crocbot.core.checks import utc
from crocbot.core.messages import Candle, Timeframe, Trade

__all__ = ["floor_time", "is_filled", "CandleSeries", "CandleBook"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def floor_time(ts: datetime, timeframe: Timeframe) -> datetime:
    """The open time of the `timeframe` interval containing `ts` (integer arithmetic: no float rounding)."""
    delta = utc(ts, "ts") - _EPOCH
    seconds = delta.days * 86_400 + delta.seconds
    return _EPOCH + timedelta(seconds=seconds - seconds % timeframe.seconds)


def is_filled(candle: Candle) -> bool:
    """A flat candle standing in for an interval without trades (every candle built from trades has some)."""
    return candle.trades == 0


class _Forming:
    """The mutable totals of the candle in progress; a `Candle` is made from them on demand."""

    __slots__ = ("close", "high", "low", "open", "open_time", "trades", "volume")

    def __init__(self, open_time: datetime, price: Decimal, qty: Decimal) -> None:
        self.open_time = open_time
        self.open = self.high = self.low = self.close = price
        self.volume = qty
        self.trades = 1

    def add(self, price: Decimal, qty: Decimal) -> None:
        if price > self.high:
            self.high = price
        elif price < self.low:
            self.low = price
        self.close = price
        self.volume += qty
        self.trades += 1

    def candle(self, symbol: str, timeframe: Timeframe, *, closed: bool) -> Candle:
        return Candle(
            symbol,
            timeframe,
            self.open_time,
            self.open,
            self.high,
            self.low,
            self.close,
            self.volume,
            self.trades,
            closed,
        )


class CandleSeries:
    """Closed candles and the forming one, for one symbol and one timeframe."""

    def __init__(self, symbol: str, timeframe: Timeframe, *, max_candles: int = 1000, fill_gaps: bool = True) -> None:
        if max_candles < 1:
            raise ValueError(f"max_candles must be >= 1, got {max_candles}")
        self._symbol = check_symbol(symbol)
        self._timeframe = timeframe
        self._step = timedelta(seconds=timeframe.seconds)
        self._max = max_candles
        self._fill = fill_gaps
        self._history: deque[Candle] = deque(maxlen=max_candles)
        self._forming: _Forming | None = None
        # Disjoint, sorted [start, end) outages; pruned once they end before the oldest kept candle.
        self._gaps: list[tuple[datetime, datetime]] = []
        self._late = 0

    @property
    def symbol(self) -> str:
        return self._symbol

    @property
    def timeframe(self) -> Timeframe:
        return self._timeframe

    @property
    def history(self) -> Sequence[Candle]:
        """Closed candles, oldest first, at most `max_candles` (a copy: callers cannot change the series)."""
        return tuple(self._history)

    @property
    def last(self) -> Candle | None:
        """The newest closed candle."""
        return self._history[-1] if self._history else None

    @property
    def forming(self) -> Candle | None:
        """The candle in progress (closed=False), or None between a close and the next trade."""
        f = self._forming
        return None if f is None else f.candle(self._symbol, self._timeframe, closed=False)

    @property
    def late_trades(self) -> int:
        return self._late

    @property
    def gaps(self) -> tuple[tuple[datetime, datetime], ...]:
        """Outages `[start, end)` that still overlap a kept or future candle."""
        return tuple(self._gaps)

    def is_gapped(self, candle: Candle) -> bool:
        """True when the feed was down during part of the candle's interval: its totals may be wrong."""
        start, end = candle.open_time, candle.close_time
        return any(g_start < end and start < g_end for g_start, g_end in self._gaps)

    def on_trade(self, trade: Trade) -> list[Candle]:
        """Add a trade; return the candles (real and flat) that closed because event time reached their end."""
        if trade.symbol != self._symbol:
            raise ValueError(f"{self._symbol} {self._timeframe.label} series was given a {trade.symbol} trade")
        open_time = floor_time(trade.ts, self._timeframe)
        closed: list[Candle] = []
        forming = self._forming
        if forming is not None:
            if open_time == forming.open_time:
                forming.add(trade.price, trade.qty)
                return closed
            if open_time < forming.open_time:
                self._late += 1
                return closed
            closed.append(self._close_forming(forming))
        elif self._history and open_time < self._history[-1].close_time:
            self._late += 1
            return closed
        closed.extend(self._fill_before(open_time))
        self._forming = _Forming(open_time, trade.price, trade.qty)
        return closed

    def close_until(self, now: datetime) -> list[Candle]:
        """Event time is `now`: close the forming candle if it has ended, and fill empty intervals before `now`."""
        now = utc(now, "now")
        closed: list[Candle] = []
        forming = self._forming
        if forming is not None:
            if now < forming.open_time + self._step:
                return closed
            closed.append(self._close_forming(forming))
        closed.extend(self._fill_before(floor_time(now, self._timeframe)))
        return closed

    def mark_gap(self, start: datetime, end: datetime) -> None:
        """The feed missed `[start, end)`: flag the candles overlapping it and drop a forming candle inside it."""
        start, end = utc(start, "start"), utc(end, "end")
        if end < start:
            raise ValueError(f"gap end {end.isoformat()} is before its start {start.isoformat()}")
        if end == start:
            return  # nothing was missed
        merged: list[tuple[datetime, datetime]] = []
        for g_start, g_end in sorted([*self._gaps, (start, end)]):
            if merged and g_start <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(merged[-1][1], g_end))
            else:
                merged.append((g_start, g_end))
        self._gaps = merged
        forming = self._forming
        if forming is not None and forming.open_time < end and start < forming.open_time + self._step:
            self._forming = None
        self._prune_gaps()

    def backfill(self, candles: Sequence[Candle]) -> None:
        """Merge closed history, e.g. Kraken REST OHLC rows, oldest first.

        Kraken's last REST row is the interval still in progress: the caller must leave it out (it is not
        closed). Every row must be closed, of this symbol and timeframe, in strictly increasing open time, and
        older than the forming candle. Rows replace kept candles with the same open time and clear gap flags
        on their intervals (the exchange saw every trade). With `fill_gaps`, holes become flat candles, up to
        the forming candle if there is one.
        """
        if not candles:
            return
        previous: datetime | None = None
        for row in candles:
            if row.symbol != self._symbol or row.timeframe is not self._timeframe:
                raise ValueError(
                    f"{self._symbol} {self._timeframe.label} series was given a {row.symbol} "
                    f"{row.timeframe.label} candle"
                )
            if not row.closed:
                raise ValueError(f"backfill candle at {row.open_time.isoformat()} is not closed")
            if previous is not None and row.open_time <= previous:
                raise ValueError(
                    f"backfill candles must be in strictly increasing open time; "
                    f"{row.open_time.isoformat()} follows {previous.isoformat()}"
                )
            previous = row.open_time
        forming = self._forming
        if forming is not None and candles[-1].open_time >= forming.open_time:
            raise ValueError(
                f"backfill candle at {candles[-1].open_time.isoformat()} is not older than the forming candle "
                f"({forming.open_time.isoformat()}); leave out Kraken's last, still forming, OHLC row"
            )
        by_time = {c.open_time: c for c in self._history}
        for row in candles:
            by_time[row.open_time] = row
            self._clear_gap(row.open_time, row.close_time)
        ordered = sorted(by_time.values(), key=lambda c: c.open_time)
        if not self._fill:
            self._history = deque(ordered[-self._max :], maxlen=self._max)
        else:
            end = forming.open_time if forming is not None else ordered[-1].close_time
            self._history = deque(self._continuous(ordered, end), maxlen=self._max)
        self._prune_gaps()

    # -- internals -------------------------------------------------------------------------------------------

    def _close_forming(self, forming: _Forming) -> Candle:
        candle = forming.candle(self._symbol, self._timeframe, closed=True)
        self._forming = None
        self._append(candle)
        return candle

    def _append(self, candle: Candle) -> None:
        self._history.append(candle)
        if self._gaps and self._gaps[0][1] <= self._history[0].open_time:
            self._prune_gaps()

    def _flat(self, open_time: datetime, price: Decimal) -> Candle:
        return Candle(self._symbol, self._timeframe, open_time, price, price, price, price, Decimal(0), 0, True)

    def _fill_before(self, open_time: datetime) -> list[Candle]:
        """Flat candles for the empty intervals between the last closed candle and `open_time`."""
        if not self._fill or not self._history:
            return []
        last = self._history[-1]
        start = last.close_time
        missing = (open_time - start) // self._step
        if missing <= 0:
            return []
        # More than max_candles would push each other out of the history: only the newest ones matter.
        start += self._step * max(0, missing - self._max)
        flats = [self._flat(start + self._step * i, last.close) for i in range(min(missing, self._max))]
        for candle in flats:
            self._append(candle)
        return flats

    def _continuous(self, ordered: list[Candle], end: datetime) -> Iterator[Candle]:
        """The newest `max_candles` slots before `end`, real candles where there are some, flat ones between."""
        first_slot = max(ordered[0].open_time, end - self._step * self._max)
        times = [c.open_time for c in ordered]
        index = bisect_left(times, first_slot)
        # The price a flat first slot repeats: the last real close before it (there is one: slot >= ordered[0]).
        price = ordered[index - 1].close if index > 0 else ordered[0].close
        slot = first_slot
        for _ in range((end - first_slot) // self._step):
            if index < len(ordered) and ordered[index].open_time == slot:
                candle = ordered[index]
                index += 1
            else:
                candle = self._flat(slot, price)
            price = candle.close
            yield candle
            slot += self._step

    def _clear_gap(self, start: datetime, end: datetime) -> None:
        """Remove `[start, end)` from the outages: the exchange's own row covers it."""
        kept: list[tuple[datetime, datetime]] = []
        for g_start, g_end in self._gaps:
            if g_end <= start or end <= g_start:
                kept.append((g_start, g_end))
                continue
            if g_start < start:
                kept.append((g_start, start))
            if end < g_end:
                kept.append((end, g_end))
        self._gaps = kept

    def _prune_gaps(self) -> None:
        if self._history:
            oldest = self._history[0].open_time
            self._gaps = [g for g in self._gaps if g[1] > oldest]
        # Outages are merged and pruned, so this rarely binds; if it does, coalescing the oldest two flags
        # more candles than needed, never fewer.
        while len(self._gaps) > self._max:
            (first_start, _), (_, second_end) = self._gaps[0], self._gaps[1]
            self._gaps[:2] = [(first_start, second_end)]


class CandleBook:
    """A `CandleSeries` per (symbol, timeframe), created on first use; trades go to every series of their symbol."""

    def __init__(self, *, max_candles: int = 1000, fill_gaps: bool = True) -> None:
        self._max = max_candles
        self._fill = fill_gaps
        self._by_symbol: dict[str, dict[Timeframe, CandleSeries]] = {}

    def series(self, symbol: str, timeframe: Timeframe) -> CandleSeries:
        frames = self._by_symbol.setdefault(check_symbol(symbol), {})
        found = frames.get(timeframe)
        if found is None:
            found = frames[timeframe] = CandleSeries(symbol, timeframe, max_candles=self._max, fill_gaps=self._fill)
        return found

    def __iter__(self) -> Iterator[CandleSeries]:
        for frames in self._by_symbol.values():
            yield from frames.values()

    @property
    def late_trades(self) -> int:
        return sum(s.late_trades for s in self)

    def on_trade(self, trade: Trade) -> list[Candle]:
        """Feed a trade to its symbol's series (none yet: ignored); the candles that closed, shortest frame first."""
        frames = self._by_symbol.get(trade.symbol, {})
        closed: list[Candle] = []
        for timeframe in sorted(frames, key=lambda f: f.seconds):
            closed.extend(frames[timeframe].on_trade(trade))
        return closed

    def close_until(self, now: datetime) -> list[Candle]:
        closed: list[Candle] = []
        for series in self:
            closed.extend(series.close_until(now))
        return closed

    def mark_gap(self, start: datetime, end: datetime, *, symbol: str | None = None) -> None:
        """Flag an outage on one symbol's series, or on every series when `symbol` is None (a feed reconnect)."""
        for series in self:
            if symbol is None or series.symbol == symbol:
                series.mark_gap(start, end)
