"""Market sources: candles replayed along their real path, tick trades as recorded, record files, a seeded walk."""

from __future__ import annotations

import gzip
import itertools
import json
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crocbot.core.checks import InvalidMessage
from crocbot.core.messages import Side
from crocbot.core.money import quantize_down
from crocbot.kraken import jsontext
from crocbot.sim.market import (
    MarketTrade,
    candle_csv_source,
    merged,
    record_source,
    synthetic_source,
    trade_csv_source,
)

DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
CANDLES = DATA / "kraken-ohlcvt-2023q1" / "XBTUSD_5.csv.gz"
TICKS = DATA / "cryptuoso-kraken-trades" / "kraken_btcusd_trades_2019-07-01T00.csv.gz"
needs_candles = pytest.mark.skipif(not CANDLES.exists(), reason=f"real candle data not present at {CANDLES}")
needs_ticks = pytest.mark.skipif(not TICKS.exists(), reason=f"real tick data not present at {TICKS}")

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
T0 = datetime(2024, 1, 1, tzinfo=UTC)
PRICE_INC = Decimal("0.1")
QTY_INC = Decimal("0.00000001")


def candles(path: Path, **options: Any) -> list[MarketTrade]:
    return list(candle_csv_source(path, "BTC/USD", price_increment=PRICE_INC, qty_increment=QTY_INC, **options))


def ticks(path: Path, qty_increment: Decimal = QTY_INC) -> list[MarketTrade]:
    return list(trade_csv_source(path, "BTC/USD", price_increment=PRICE_INC, qty_increment=qty_increment))


def candle_start(ts: datetime, step: timedelta) -> datetime:
    return EPOCH + (ts - EPOCH) // step * step


def write_csv(path: Path, rows: list[str]) -> Path:
    path.write_text("".join(row + "\n" for row in rows), encoding="utf-8")
    return path


# -- candles -----------------------------------------------------------------------------------------------------


@needs_candles
def test_candle_source_reproduces_open_high_low_close_and_volume_of_real_candles() -> None:
    with gzip.open(CANDLES, "rt", encoding="ascii") as handle:
        rows = [line.strip().split(",") for line in itertools.islice(handle, 301)]
    end = EPOCH + timedelta(seconds=int(rows[300][0]))
    trades = list(candle_csv_source(CANDLES, "BTC/USD", price_increment=PRICE_INC, qty_increment=QTY_INC, end=end))
    step = timedelta(minutes=5)
    by_candle: dict[datetime, list[MarketTrade]] = defaultdict(list)
    for trade in trades:
        by_candle[candle_start(trade.ts, step)].append(trade)

    assert all(a.ts < b.ts for a, b in itertools.pairwise(trades))
    assert list(by_candle) == [EPOCH + timedelta(seconds=int(row[0])) for row in rows[:300]]
    for row, group in zip(rows[:300], by_candle.values(), strict=True):
        o, h, low, c, volume = (Decimal(x) for x in row[1:6])
        prices = [t.price for t in group]
        assert (prices[0], max(prices), min(prices), prices[-1]) == (o, h, low, c), row
        assert 1 <= len(group) <= 12
        assert abs(sum(t.qty for t in group) - volume) <= len(group) * QTY_INC
        assert all(t.price % PRICE_INC == 0 and t.qty % QTY_INC == 0 and t.qty > 0 for t in group)


def test_candle_prices_are_the_exact_text_of_the_file_quantized_to_the_increment(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "XBTUSD_5.csv", ["1672531200,16528.7,16530.0,16520.1,16520.4,2.11146726,78"])
    prices = [t.price for t in candles(path)]
    assert str(max(prices)) == "16530.0"
    assert {str(p) for p in prices} >= {"16528.7", "16530.0", "16520.1", "16520.4"}
    assert all(p.as_tuple().exponent == -1 for p in prices)


def test_candle_path_goes_low_before_high_when_it_closed_up_and_high_first_when_down(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "X_1.csv", ["60,100.0,110.0,90.0,105.0,1,4", "120,100.0,110.0,90.0,95.0,1,4"])
    trades = candles(
        path,
    )
    assert [str(t.price) for t in trades] == ["100.0", "90.0", "110.0", "105.0", "100.0", "110.0", "90.0", "95.0"]
    assert [t.side for t in trades[1:4]] == [Side.SELL, Side.BUY, Side.SELL]  # the tick rule


def test_candle_trade_count_follows_the_trades_column_capped_and_at_least_four_when_prices_move(
    tmp_path: Path,
) -> None:
    rows = ["60,100.0,100.0,100.0,100.0,1,1", "120,100.0,100.0,100.0,100.0,1,3", "180,100.0,101.0,99.0,100.0,1,1"]
    rows.append("240,100.0,101.0,99.0,100.0,1,500")
    path = write_csv(tmp_path / "X_1.csv", rows)
    counts: dict[datetime, int] = defaultdict(int)
    for trade in candles(path, max_trades_per_candle=7):
        counts[candle_start(trade.ts, timedelta(minutes=1))] += 1
    assert list(counts.values()) == [1, 3, 4, 7]


def test_candle_volume_too_small_for_the_trades_gives_one_increment_each(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "X_5.csv", ["300,100.0,101.0,99.0,100.5,0.00000002,9"])
    trades = candles(
        path,
    )
    assert [t.qty for t in trades] == [QTY_INC] * 9


def test_missing_rows_produce_no_trades_and_time_stays_inside_each_interval(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "X_5.csv", ["0,1.0,2.0,0.5,1.5,3,20", "900,1.5,1.5,1.5,1.5,1,2"])  # 300 and 600 absent
    trades = candles(
        path,
    )
    starts = {candle_start(t.ts, timedelta(minutes=5)) for t in trades}
    assert starts == {EPOCH, EPOCH + timedelta(seconds=900)}
    assert all(a.ts < b.ts for a, b in itertools.pairwise(trades))


def test_interval_falls_back_to_the_smallest_gap_between_rows_without_a_name_suffix(tmp_path: Path) -> None:
    rows = ["0,1.0,2.0,0.5,1.5,3,12", "60,1.5,1.5,1.5,1.5,1,1", "240,1.0,2.0,0.5,1.5,3,12"]
    path = write_csv(tmp_path / "candles.csv", rows)
    for trade in candles(path):
        assert trade.ts - candle_start(trade.ts, timedelta(minutes=1)) < timedelta(minutes=1)


def test_a_window_yields_the_same_trades_as_the_full_replay(tmp_path: Path) -> None:
    rows = [f"{300 * i},{100 + i}.0,{102 + i}.0,{99 + i}.0,{101 + i}.0,2,10" for i in range(12)]
    path = write_csv(tmp_path / "X_5.csv", rows)
    full = candles(path, seed=3)
    start, end = EPOCH + timedelta(seconds=1000), EPOCH + timedelta(seconds=2500)
    window = candles(path, seed=3, start=start, end=end)
    assert window == [t for t in full if start <= t.ts < end]
    assert window


def test_same_seed_gives_the_same_candle_trades_and_another_seed_other_ones(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "X_5.csv", ["0,1.0,2.0,0.5,1.5,3,12"])
    one, two, other = (candles(path, seed=s) for s in (1, 1, 2))
    assert one == two
    assert one != other


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("300,1.0,2.0,abc,1.5,3,12", "is not a decimal number"),
        ("300,1.0,2.0,0.5,2.5,3,12", "within"),
        ("300,1.0,2.0,0.5,1.5,3", "expected"),
        ("300,1.0,2.0,0.5,1.5,-3,12", "negative"),
        ("0,1.0,2.0,0.5,1.5,3,12", "less than one interval"),
    ],
)
def test_bad_candle_rows_raise_naming_the_file_and_line(tmp_path: Path, row: str, message: str) -> None:
    path = write_csv(tmp_path / "X_5.csv", ["0,1.0,2.0,0.5,1.5,3,12", row])
    with pytest.raises(ValueError, match=rf"X_5\.csv:2: .*{message}"):
        candles(
            path,
        )


def test_candle_source_refuses_bad_arguments_before_reading(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "X_5.csv", ["0,1.0,2.0,0.5,1.5,3,12"])
    with pytest.raises(ValueError, match="max_trades_per_candle"):
        candles(path, max_trades_per_candle=3)
    with pytest.raises(ValueError, match="naive"):
        candles(path, start=datetime(2024, 1, 1))  # noqa: DTZ001 - a naive time on purpose: it must be refused
    with pytest.raises(ValueError, match="price_increment"):
        candle_csv_source(path, "BTC/USD", price_increment=Decimal(0), qty_increment=QTY_INC)
    with pytest.raises(FileNotFoundError):
        candles(tmp_path / "absent_5.csv")


# -- tick trades -------------------------------------------------------------------------------------------------


@needs_ticks
@pytest.mark.parametrize("qty_increment", [QTY_INC, Decimal("0.01")])
def test_trade_csv_yields_every_trade_that_survives_rounding_in_time_order(qty_increment: Decimal) -> None:
    with gzip.open(TICKS, "rt", encoding="ascii") as handle:
        rows = [line.strip().split(",") for line in handle][1:]
    assert len(rows) == 2672
    kept = [row for row in rows if quantize_down(Decimal(row[4]), qty_increment) > 0]
    trades = list(trade_csv_source(TICKS, "BTC/USD", price_increment=PRICE_INC, qty_increment=qty_increment))
    assert len(trades) == len(kept)
    assert all(a.ts <= b.ts for a, b in itertools.pairwise(trades))
    first = kept[0]
    assert trades[0].ts == EPOCH + timedelta(milliseconds=int(first[0]))
    assert (trades[0].side, trades[0].price) == (Side(first[2]), Decimal(first[3]))
    assert all(t.qty % qty_increment == 0 for t in trades)


def test_trade_csv_renders_whole_prices_at_the_increment_and_skips_dust(tmp_path: Path) -> None:
    rows = ["time_ms,timestamp,side,price,amount", "1000,x,buy,10765,0.5", "2000,x,sell,10765.1,0.000000001"]
    path = write_csv(tmp_path / "t.csv", rows)
    trades = ticks(path)
    assert [(str(t.price), str(t.qty), t.side) for t in trades] == [("10765.0", "0.50000000", Side.BUY)]


def test_trade_csv_time_going_backwards_raises_naming_the_line(tmp_path: Path) -> None:
    rows = ["time_ms,timestamp,side,price,amount", "2000,x,buy,1.0,1", "1000,x,buy,1.0,1"]
    path = write_csv(tmp_path / "t.csv", rows)
    with pytest.raises(ValueError, match=r"t\.csv:3: time goes backwards"):
        ticks(path)


def test_trade_csv_without_the_expected_header_is_refused(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "t.csv", ["a,b,c", "1,2,3"])
    with pytest.raises(ValueError, match=r"t\.csv:1: expected a header"):
        ticks(path)


# -- records -----------------------------------------------------------------------------------------------------


def _frame(data: list[dict[str, Any]], kind: str = "update") -> str:
    return jsontext.dumps({"channel": "trade", "type": kind, "data": data})


def test_record_source_reads_inbound_trade_frames_for_the_symbol_and_skips_the_rest(tmp_path: Path) -> None:
    def trade(symbol: str, trade_id: int, price: str, second: int) -> dict[str, Any]:
        ts = f"2024-01-01T00:00:{second:02d}.123456789Z"
        qty = Decimal("0.10000000")
        return {
            "symbol": symbol,
            "side": "buy",
            "price": Decimal(price),
            "qty": qty,
            "trade_id": trade_id,
            "timestamp": ts,
        }

    both = [trade("BTC/USD", 1, "30000.10", 1), trade("ETH/USD", 9, "2000.5", 1)]
    lines = [
        {"t": "x", "dir": "in", "frame": _frame(both)},
        {"t": "x", "dir": "out", "frame": _frame([trade("BTC/USD", 2, "1.0", 2)])},
        {"t": "x", "dir": "in", "frame": '{"channel":"ticker","data":[{"symbol":"BTC/USD"}]}'},
        {"t": "x", "dir": "in", "frame": "not json"},
        {"t": "x", "dir": "in", "frame": _frame([trade("BTC/USD", 3, "30001.0", 3)])},
        {"t": "x", "dir": "in", "frame": _frame([trade("BTC/USD", 1, "30000.10", 1)], "snapshot")},  # a replay
    ]
    path = tmp_path / "record.jsonl"
    path.write_text("\n".join([json.dumps(line) for line in lines] + ["{broken"]) + "\n", encoding="utf-8")
    trades = list(record_source(path, "BTC/USD"))
    assert [(str(t.price), str(t.qty), t.side) for t in trades] == [
        ("30000.10", "0.10000000", Side.BUY),
        ("30001.0", "0.10000000", Side.BUY),
    ]
    assert trades[0].ts == datetime(2024, 1, 1, 0, 0, 1, 123456, tzinfo=UTC)


# -- synthetic and merged ----------------------------------------------------------------------------------------


def _walk(seed: int, **overrides: Any) -> list[MarketTrade]:
    options: dict[str, Any] = {"start": T0, "start_price": Decimal("30000.0"), **overrides}
    source = synthetic_source("BTC/USD", seed=seed, price_increment=PRICE_INC, qty_increment=QTY_INC, **options)
    return list(itertools.islice(source, 2000))


def test_synthetic_source_is_reproducible_from_its_seed() -> None:
    assert _walk(5) == _walk(5)
    assert _walk(5) != _walk(6)


def test_synthetic_prices_never_reach_zero_even_in_a_wild_walk_near_zero() -> None:
    trades = _walk(1, start_price=Decimal("0.3"), volatility=2.0)
    assert min(t.price for t in trades) == PRICE_INC  # clamped at one increment, never below
    assert all(a.ts < b.ts for a, b in itertools.pairwise(trades))


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32), volatility=st.floats(0, 0.05), mean_qty=st.sampled_from(["0.00000001", "0.05", "3"]))
def test_synthetic_trades_are_positive_multiples_of_the_increments(seed: int, volatility: float, mean_qty: str) -> None:
    trades = _walk(seed, volatility=volatility, mean_qty=Decimal(mean_qty))[:200]
    assert all(t.price > 0 and t.price % PRICE_INC == 0 and t.qty >= QTY_INC and t.qty % QTY_INC == 0 for t in trades)
    assert all(t.ts.tzinfo is UTC for t in trades)


def test_merged_interleaves_sources_by_time_keeping_source_order_on_ties() -> None:
    def at(seconds: int, price: str) -> MarketTrade:
        return MarketTrade("BTC/USD", T0 + timedelta(seconds=seconds), Decimal(price), Decimal(1), Side.BUY)

    a = [at(1, "1"), at(3, "3"), at(5, "5")]
    b = [at(2, "2"), at(3, "30"), at(4, "4")]
    assert [str(t.price) for t in merged(a, b)] == ["1", "2", "3", "30", "4", "5"]


def test_market_trade_refuses_naive_time_and_non_positive_qty() -> None:
    with pytest.raises(InvalidMessage, match="naive"):
        MarketTrade("BTC/USD", datetime(2024, 1, 1), Decimal(1), Decimal(1), Side.BUY)  # noqa: DTZ001 - a naive time on purpose: it must be refused
    with pytest.raises(InvalidMessage, match="qty"):
        MarketTrade("BTC/USD", T0, Decimal(1), Decimal(0), Side.BUY)
