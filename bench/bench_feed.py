"""Feed throughput: text frames through the codec, the L2 book and its checksum, next to a bare JSON parse.

Frames are Kraken-exact book updates for one symbol at depth 10, made by the simulator's book (every message
carries a checksum, and every checksum is checked). The baseline parses the same frames with
`json.loads(parse_float=Decimal)` and nothing else. Rounds alternate, medians are reported.
Target: the full path at >= 40 % of the bare parse (about 40,000 frames/s on a 2-core machine).
Run: `make bench` or `python bench/bench_feed.py`.
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import sys
import time
from datetime import UTC, datetime
from decimal import Decimal

from loguru import logger

from crocbot.kraken.book import Apply, L2Book
from crocbot.kraken.codec import Codec
from crocbot.sim.bookmaker import DepthView, SyntheticBook
from crocbot.sim.frames import book_frame
from crocbot.sim.market import synthetic_source

TARGET = 0.40


def make_frames(count: int, seed: int = 3) -> list[str]:
    increment, qty_increment = Decimal("0.1"), Decimal("0.00000001")
    book = SyntheticBook(
        "BTC/USD",
        price_increment=increment,
        qty_increment=qty_increment,
        price_precision=1,
        qty_precision=8,
        seed=seed,
        levels=60,
    )
    book.seed_around(Decimal("65000.0"))
    view = DepthView(10, price_precision=1, qty_precision=8)
    ts = datetime(2026, 1, 1, tzinfo=UTC)
    frames = [book_frame("BTC/USD", view.snapshot(book), snapshot=True, ts=ts)]
    # ~2 ticks a trade: the price path of a liquid book, not one that jumps a whole depth every print.
    trades = synthetic_source(
        "BTC/USD",
        seed=seed,
        start=ts,
        start_price=Decimal("65000.0"),
        price_increment=increment,
        qty_increment=qty_increment,
        volatility=0.000005,
    )
    while len(frames) < count:
        if len(frames) % 10 == 0:  # a trade now and then; most updates change a level or two, as on Kraken
            book.on_trade(next(trades))
        else:
            book.churn()
        data = view.diff(book)
        if data is not None:
            frames.append(book_frame("BTC/USD", data, snapshot=False, ts=ts))
    return frames


def bare(frames: list[str]) -> float:
    started = time.perf_counter()
    for frame in frames:
        json.loads(frame, parse_float=Decimal)
    return len(frames) / (time.perf_counter() - started)


def full(frames: list[str]) -> float:
    codec = Codec()
    book = L2Book("BTC/USD", 10, price_precision=1, qty_precision=8)
    started = time.perf_counter()
    for frame in frames:
        for message in codec.decode(frame):
            if book.apply(message) is not Apply.OK:  # type: ignore[arg-type]  # book frames only; isinstance is timed too
                raise RuntimeError("checksum mismatch in the benchmark's own frames")
    return len(frames) / (time.perf_counter() - started)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=50_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--check", action="store_true", help=f"exit 1 below {TARGET * 100:.0f}%% of the bare parse")
    args = parser.parse_args()
    logger.remove()
    frames = make_frames(args.frames)
    bare_rates, full_rates, ratios = [], [], []
    for _ in range(args.rounds):  # paired rounds: each ratio compares two runs a moment apart
        gc.collect()
        bare_rates.append(bare(frames))
        gc.collect()
        full_rates.append(full(frames))
        ratios.append(full_rates[-1] / bare_rates[-1])
    base, ours, ratio = statistics.median(bare_rates), statistics.median(full_rates), statistics.median(ratios)
    size = statistics.mean(len(f) for f in frames)
    print(f"feed path, one symbol, depth 10, {len(frames):,} frames of {size:.0f} bytes, {args.rounds} rounds")
    print(f"  bare json.loads(parse_float=Decimal): {base:>10,.0f} frames/s")
    print(f"  codec + book + checksum (every one):  {ours:>10,.0f} frames/s")
    print(f"  ratio, median of paired rounds: {ratio:.0%} (rounds: {', '.join(f'{r:.0%}' for r in ratios)})")
    print(f"target: >= {TARGET:.0%} of bare; {'met' if ratio >= TARGET else 'NOT met'}")
    return 1 if args.check and ratio < TARGET else 0


if __name__ == "__main__":
    sys.exit(main())
