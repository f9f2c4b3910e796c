"""Candles built from trades on event time: boundaries, late trades, flat gap candles, outages, backfill."""

from __future__ import annotations

import csv
import gzip
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import partial
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crocbot.core.candles import CandleBook, CandleSeries, floor_time, is_filled
from crocbot.core.messages import Candle, Side, Timeframe, Trade

D = Decimal
T0 = datetime(2025, 3, 10, 12, 0, tzinfo=UTC)
M5 = Timeframe.M5
TRADES_2019 = Path("/work/shared/data/cryptuoso-kraken-trades/kraken_btcusd_trades_2019-07-01T00.csv.gz")


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def trade(minutes: float, price: str, qty: str = "1", symbol: str = "BTC/USD") -> Trade:
    return Trade(symbol, Side.BUY, D(price), D(qty), at(minutes))


def row(minutes: int, close: str, *, closed: bool = True, symbol: str = "BTC/USD") -> Candle:
    c = D(close)
    return Candle(symbol, M5, at(minutes), c, c + 1, c - 1, c, D(2), 3, closed)


series = partial(CandleSeries, "BTC/USD", M5)


def forming_of(s: CandleSeries) -> Candle | None:
    """Read through a call: mypy keeps `s.forming` narrowed by an earlier assert across the trades that change it."""
    return s.forming


def test_trades_in_one_interval_build_a_forming_candle_with_ohlc_volume_and_count() -> None:
    s = series()
    assert s.on_trade(trade(0.01, "100", "1")) == []
    s.on_trade(trade(1, "105", "0.5"))
    s.on_trade(trade(2, "98", "2"))
    s.on_trade(Trade("BTC/USD", Side.SELL, D("101"), D("1"), at(5) - timedelta(microseconds=1)))
    assert s.forming == Candle("BTC/USD", M5, T0, D(100), D(105), D(98), D(101), D("4.5"), 4, False)
    assert s.history == ()


def test_a_trade_exactly_on_the_boundary_closes_the_candle_and_opens_the_next() -> None:
    s = series()
    s.on_trade(trade(1, "100"))
    closed = s.on_trade(trade(5, "102", "3"))
    assert closed == [Candle("BTC/USD", M5, T0, D(100), D(100), D(100), D(100), D(1), 1, True)]
    assert s.history == tuple(closed)
    assert s.forming == Candle("BTC/USD", M5, at(5), D(102), D(102), D(102), D(102), D(3), 1, False)


def test_a_trade_older_than_the_forming_candle_is_ignored_and_counted_late() -> None:
    s = series()
    s.on_trade(trade(1, "100"))
    s.on_trade(trade(6, "102"))
    forming = s.forming
    assert s.on_trade(trade(4.9, "999")) == []
    assert s.late_trades == 1
    assert s.forming == forming
    assert s.history[-1].high == D(100)


def test_a_trade_in_an_interval_a_timer_already_closed_is_late() -> None:
    s = series()
    s.on_trade(trade(1, "100"))
    assert [c.open_time for c in s.close_until(at(5))] == [T0]
    assert s.forming is None
    assert s.on_trade(trade(4, "101")) == []
    assert s.late_trades == 1


def test_close_until_closes_the_forming_candle_only_once_event_time_reaches_its_end() -> None:
    s = series()
    s.on_trade(trade(1, "100"))
    assert s.close_until(at(5) - timedelta(microseconds=1)) == []
    assert s.forming is not None
    closed = s.close_until(at(5))
    assert len(closed) == 1
    assert closed[0].closed


def test_intervals_without_trades_become_flat_candles_at_the_previous_close() -> None:
    s = series()
    s.on_trade(trade(1, "100"))
    s.on_trade(trade(2, "103"))
    closed = s.on_trade(trade(17, "110"))
    assert [c.open_time for c in closed] == [at(0), at(5), at(10)]
    flat = Candle("BTC/USD", M5, at(5), D(103), D(103), D(103), D(103), D(0), 0, True)
    assert closed[1] == flat
    assert [is_filled(c) for c in closed] == [False, True, True]
    assert s.forming is not None
    assert s.forming.open_time == at(15)


def test_without_fill_gaps_intervals_without_trades_have_no_candle() -> None:
    s = series(fill_gaps=False)
    s.on_trade(trade(1, "100"))
    assert [c.open_time for c in s.on_trade(trade(17, "110"))] == [at(0)]
    assert s.close_until(at(40)) == [s.history[-1]]
    assert [c.open_time for c in s.history] == [at(0), at(15)]


def test_a_timer_fills_every_complete_empty_interval_but_not_the_running_one() -> None:
    s = series()
    s.on_trade(trade(1, "100"))
    closed = s.close_until(at(16))
    assert [(c.open_time, is_filled(c)) for c in closed] == [(at(0), False), (at(5), True), (at(10), True)]
    assert s.close_until(at(16)) == []  # idempotent
    assert [c.open_time for c in s.close_until(at(20))] == [at(15)]


def test_one_long_silence_emits_at_most_max_candles_flat_candles_ending_just_before_the_next_trade() -> None:
    s = series(max_candles=3)
    s.on_trade(trade(1, "100"))
    closed = s.on_trade(trade(24 * 60 + 1, "101"))
    assert len(closed) == 4  # the real candle, then the three newest flat slots
    assert [c.open_time for c in closed[1:]] == [at(24 * 60 - 15), at(24 * 60 - 10), at(24 * 60 - 5)]
    assert s.history == tuple(closed[1:])


def test_history_keeps_only_the_newest_max_candles() -> None:
    s = series(max_candles=5)
    for i in range(20):
        s.on_trade(trade(5 * i + 1, str(100 + i)))
    assert len(s.history) == 5
    assert [c.close for c in s.history] == [D(114), D(115), D(116), D(117), D(118)]


def test_a_gap_discards_the_forming_candle_it_overlaps_and_flags_every_candle_it_touches() -> None:
    s = series()
    s.on_trade(trade(1, "100"))
    s.on_trade(trade(6, "101"))  # closes 12:00, forms 12:05
    s.mark_gap(at(7), at(12))  # the feed was down from 12:07 to 12:12
    assert s.forming is None
    closed = s.on_trade(trade(12.5, "104"))  # back: a trade inside the 12:10 interval
    assert [(c.open_time, is_filled(c)) for c in closed] == [(at(5), True)]  # the dropped candle's slot
    closed += s.on_trade(trade(16, "105"))
    assert [c.open_time for c in closed] == [at(5), at(10)]
    assert [s.is_gapped(c) for c in s.history] == [False, True, True]
    forming = forming_of(s)
    assert forming is not None
    assert s.is_gapped(forming) is False
    assert s.gaps == ((at(7), at(12)),)


def test_a_gap_that_does_not_touch_the_forming_candle_keeps_it() -> None:
    s = series()
    s.on_trade(trade(6, "101"))
    s.mark_gap(at(0), at(5))
    assert s.forming is not None
    s.mark_gap(at(5), at(5))  # empty: nothing missed
    assert s.gaps == ((at(0), at(5)),)
    with pytest.raises(ValueError, match="before its start"):
        s.mark_gap(at(5), at(4))


def test_overlapping_gaps_are_merged_and_forgotten_once_history_moves_past_them() -> None:
    s = series(max_candles=2)
    s.on_trade(trade(1, "100"))
    s.mark_gap(at(2), at(3))
    s.mark_gap(at(2.5), at(4))
    assert s.gaps == ((at(2), at(4)),)
    for i in range(1, 5):
        s.on_trade(trade(5 * i + 1, "100"))
    assert not s.gaps


def test_backfill_refuses_unordered_foreign_forming_or_too_new_rows() -> None:
    s = series()
    with pytest.raises(ValueError, match="strictly increasing"):
        s.backfill([row(5, "100"), row(0, "100")])
    with pytest.raises(ValueError, match="ETH/USD"):
        s.backfill([row(0, "100", symbol="ETH/USD")])
    with pytest.raises(ValueError, match="not closed"):
        s.backfill([row(0, "100", closed=False)])
    s.on_trade(trade(6, "100"))
    with pytest.raises(ValueError, match="still forming"):
        s.backfill([row(0, "100"), row(5, "100")])
    assert s.history == ()


def test_backfill_merges_history_fills_holes_up_to_the_forming_candle_and_lets_trades_continue() -> None:
    s = series()
    s.on_trade(trade(21, "120"))  # forming 12:20
    s.backfill([row(-10, "100"), row(5, "105")])
    assert [(c.open_time, is_filled(c), c.close) for c in s.history] == [
        (at(-10), False, D(100)),
        (at(-5), True, D(100)),
        (at(0), True, D(100)),
        (at(5), False, D(105)),
        (at(10), True, D(105)),
        (at(15), True, D(105)),
    ]
    closed = s.on_trade(trade(26, "121"))
    assert [c.open_time for c in closed] == [at(20)]


def test_backfilled_rows_replace_kept_candles_and_clear_their_gap_flags() -> None:
    s = series()
    s.on_trade(trade(1, "100"))
    s.on_trade(trade(6, "100"))
    s.on_trade(trade(11, "100"))
    s.mark_gap(at(3), at(8))
    assert [s.is_gapped(c) for c in s.history] == [True, True]
    s.backfill([row(0, "99")])
    assert s.history[0] == row(0, "99")
    assert [s.is_gapped(c) for c in s.history] == [False, True]
    assert s.gaps == ((at(5), at(8)),)


def test_a_series_refuses_trades_of_another_symbol() -> None:
    with pytest.raises(ValueError, match="ETH/USD"):
        series().on_trade(trade(1, "100", symbol="ETH/USD"))


def test_floor_time_is_exact_at_and_just_before_a_boundary() -> None:
    assert floor_time(at(5), M5) == at(5)
    assert floor_time(at(5) - timedelta(microseconds=1), M5) == at(0)
    assert floor_time(at(59), Timeframe.H1) == at(0)


def test_a_book_feeds_every_timeframe_of_a_symbol_and_marks_gaps_on_all_of_them() -> None:
    book = CandleBook()
    m1, m5 = book.series("BTC/USD", Timeframe.M1), book.series("BTC/USD", M5)
    eth = book.series("ETH/USD", Timeframe.M1)
    assert book.series("BTC/USD", M5) is m5
    book.on_trade(trade(1, "100"))
    closed = book.on_trade(trade(5, "101"))
    assert [(c.timeframe, c.open_time) for c in closed] == [
        (Timeframe.M1, at(1)),
        (Timeframe.M1, at(2)),
        (Timeframe.M1, at(3)),
        (Timeframe.M1, at(4)),
        (M5, at(0)),
    ]
    assert book.on_trade(trade(5, "1", symbol="SOL/USD")) == []  # no series: ignored
    book.mark_gap(at(5), at(6))
    assert m1.forming is None
    assert m5.forming is None
    assert eth.gaps == ((at(5), at(6)),)
    book.on_trade(trade(4, "1"))
    assert book.late_trades == 2


@given(
    offsets=st.lists(st.integers(0, 3_600_000_000), min_size=1, max_size=60),
    prices=st.lists(st.integers(1, 10_000), min_size=60, max_size=60),
)
def test_candles_equal_a_naive_grouping_of_the_trades_by_interval(offsets: list[int], prices: list[int]) -> None:
    trades = [
        Trade("BTC/USD", Side.BUY, D(prices[i]), D(i + 1) / 8, T0 + timedelta(microseconds=us))
        for i, us in enumerate(sorted(offsets))
    ]
    s = series(fill_gaps=False)
    closed = [c for t in trades for c in s.on_trade(t)]
    closed += s.close_until(T0 + timedelta(hours=2))
    groups: dict[datetime, list[Trade]] = {}
    for t in trades:
        groups.setdefault(floor_time(t.ts, M5), []).append(t)
    expected = [
        Candle(
            "BTC/USD",
            M5,
            start,
            group[0].price,
            max(t.price for t in group),
            min(t.price for t in group),
            group[-1].price,
            sum((t.qty for t in group), D(0)),
            len(group),
            True,
        )
        for start, group in sorted(groups.items())
    ]
    assert closed == expected
    assert s.late_trades == 0


@pytest.mark.skipif(not TRADES_2019.exists(), reason=f"real trade data not found at {TRADES_2019}")
def test_an_hour_of_real_kraken_trades_gives_twelve_five_minute_candles_holding_all_the_volume() -> None:
    with gzip.open(TRADES_2019, "rt", newline="") as handle:
        trades = [
            Trade(
                "BTC/USD",
                Side(r["side"]),
                D(r["price"]),
                D(r["amount"]),
                datetime.fromtimestamp(int(r["time_ms"]) // 1000, UTC)
                + timedelta(milliseconds=int(r["time_ms"]) % 1000),
            )
            for r in csv.DictReader(handle)
        ]
    s = series()
    closed = [c for t in trades for c in s.on_trade(t)]
    closed += s.close_until(datetime(2019, 7, 1, 1, 0, tzinfo=UTC))
    assert len(closed) == 12
    assert sum((c.volume for c in closed), D(0)) == sum((t.qty for t in trades), D(0))
    assert sum(c.trades for c in closed) == len(trades) == 2672
    assert closed[0].open == trades[0].price
    assert closed[-1].close == trades[-1].price
    assert s.late_trades == 0
