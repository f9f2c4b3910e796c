"""The SL manager's evaluation loop with 200 open positions while one venue call in ten hangs for 5 s.

The real `SLManager` runs in a crocbot `Runtime` (system clock) and watches 200 long positions, 50 in each of 4
symbols, so every tick evaluates 50. Its stop policy trails by a percentage and `amend_min_interval` is 0, so
every tick proposes a tighter stop for each of the 50 and publishes 50 `StopAmendRequest`s. A bench "venue
caller" actor takes every `StopAmendRequest` / `ExitRequest` off the bus and carries it out as a venue call
through a `Gateway` (4 workers, a `CircuitBreaker`, a 2 s call timeout). The fake venue answers in ~1 ms, except
every 10th call, which hangs 5 s and ignores its deadline (a hung Kraken call). Rising book and trade ticks are
published at a steady rate (default 20 a second per symbol, half books, half trades) for 12 s.

Three figures of the SL loop time (the `crocbot_sl_loop_seconds` histogram: one sample per evaluated tick):

  (a) crocbot, with the hangs;
  (b) crocbot, the same run without hangs: the in-run baseline of the design;
  (c) a blocking baseline, in the same process: the same evaluation done the naive way, the venue called inline
      inside the loop, with the same 1-in-10 5 s hang. The naive loop sends each tick's amends as ONE inline
      call (a batch), and runs a limited number of loops (default 50, about 25 s): one call per amend would be
      50 calls and 5 hangs a loop, ~25 s for every single loop, too long to measure a distribution of.

Aim (the issue): p99 < 10 ms; the old bot allowed 100 ms.   Run: `make bench` or `python bench/bench_sl.py`.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from functools import partial
from typing import Any

from bench_support import Summary, ratio
from loguru import logger

from crocbot.actors.base import ChildContext, SupervisedActor
from crocbot.actors.breaker import BreakerConfig, CircuitBreaker
from crocbot.actors.gateway import CallResult, Deadline, Gateway
from crocbot.actors.protocol import HEARTBEAT
from crocbot.actors.runtime import Runtime
from crocbot.actors.sl_manager import SL_LOOP_METRIC, SLManager
from crocbot.actors.supervisor import ChildSpec, Policy
from crocbot.core.messages import (
    BreakerStateChanged,
    ExitRequest,
    Position,
    PositionOpened,
    PositionSide,
    Side,
    StopAmendRequest,
    Trade,
)
from crocbot.core.stops import StopPolicy, StopTrack, stop_crossed
from crocbot.kraken.wire import BookView
from crocbot.ops.metrics import Metrics

AIM = 0.010  # seconds: p99 of the SL loop
OLD_BOT = 0.100

D = Decimal
SYMBOLS = ("BTC/USD", "ETH/USD", "SOL/USD", "XRP/USD")
INCREMENT = {"BTC/USD": D("0.1"), "ETH/USD": D("0.01"), "SOL/USD": D("0.01"), "XRP/USD": D("0.00001")}
START = {"BTC/USD": D("65000.0"), "ETH/USD": D("3000.00"), "SOL/USD": D("150.00"), "XRP/USD": D("0.60000")}
LEVEL_QTY = D("5")
POLICY = StopPolicy(trailing="percent", trail_percent=D("0.005"))  # a trailing stop 0.5 % under the best bid


def _step(symbol: str) -> Decimal:
    """Each tick of a symbol is 0.02 % above its previous one (at least one increment): trailing stops move."""
    increment = INCREMENT[symbol]
    return max(increment, (START[symbol] * D("0.0002")).quantize(increment))


def make_positions(per_symbol: int, now: datetime) -> list[Position]:
    positions = []
    for symbol in SYMBOLS:
        increment = INCREMENT[symbol]
        for i in range(per_symbol):
            entry = (START[symbol] * (1 - D("0.0004") * i)).quantize(increment)
            stop = (entry * D("0.98")).quantize(increment)
            positions.append(
                Position(f"{symbol[:3].lower()}-{i:03d}", symbol, PositionSide.LONG, D(1), entry, stop, now, None, True)
            )
    return positions


def tick(n: int) -> BookView | Trade:
    """The n-th tick of the run: symbols in turn, each symbol alternating a book and a trade, prices rising."""
    symbol = SYMBOLS[n % len(SYMBOLS)]
    visit = n // len(SYMBOLS)
    price = START[symbol] + _step(symbol) * visit
    now = datetime.now(UTC)
    if visit % 2 == 0:
        return BookView(symbol, ((price, LEVEL_QTY),), ((price + INCREMENT[symbol], LEVEL_QTY),), now)
    return Trade(symbol, Side.BUY, price, LEVEL_QTY, now)


# -- the venue side ---------------------------------------------------------------------------------------


class FakeKraken:
    """A venue call: ~1 ms, except every `hang_every`-th call (0: none), which hangs `hang` seconds.

    A hung call ignores its deadline, as a stuck socket would; only the end of the run (`released`) cuts it
    short, so that the bench finishes on time.
    """

    def __init__(self, hang_every: int, hang: float, released: threading.Event) -> None:
        self.hang_every = hang_every
        self.hang = hang
        self.released = released
        self._numbers = itertools.count(1)
        self._lock = threading.Lock()
        self.calls = 0
        self.hangs = 0

    def call(self, request: object, deadline: Deadline | None = None) -> None:
        with self._lock:
            number = next(self._numbers)
            self.calls += 1
            hangs = self.hang_every > 0 and number % self.hang_every == 0
            self.hangs += hangs
        if hangs:
            self.released.wait(self.hang)
        else:
            time.sleep(0.001)


@dataclass
class Tally:
    """What the venue caller did; written by its actor thread, read once the run is over."""

    requests: Counter[str] = field(default_factory=Counter)
    outcomes: Counter[str] = field(default_factory=Counter)
    breaker_changes: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class ReadTally:
    """Asked of the venue caller: a copy of its tally, taken in its own thread."""


class VenueCaller(SupervisedActor):
    """Carries out each stop amend and exit request as one venue call through the gateway; never blocks."""

    def __init__(
        self,
        ctx: ChildContext,
        gateway: Gateway,
        breaker: CircuitBreaker,
        call: Callable[[object, Deadline], None],
        tally: Tally,
        timeout: float,
    ) -> None:
        super().__init__(ctx)
        self._gateway = gateway
        self._breaker = breaker
        self._call = call
        self._tally = tally
        self._timeout = timeout

    def started(self) -> None:
        self.services.bus.subscribe(StopAmendRequest, self.name)
        self.services.bus.subscribe(ExitRequest, self.name)

    def handle(self, message: Any) -> Any:
        if isinstance(message, StopAmendRequest | ExitRequest):
            self._tally.requests[type(message).__name__] += 1
            self._gateway.submit(
                partial(self._call, message),
                reply_to=self.actor_ref,
                timeout=self._timeout,
                tag=message.position_id,
                breaker=self._breaker,
            )
        elif isinstance(message, CallResult):
            self._tally.outcomes[str(message.outcome)] += 1
        elif isinstance(message, ReadTally):
            tally = self._tally
            return Tally(Counter(tally.requests), Counter(tally.outcomes), list(tally.breaker_changes))
        else:
            return super().handle(message)
        return None


# -- (a) and (b): crocbot ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Run:
    loop: Summary
    published: int  # ticks put on the bus
    evaluated: int  # ticks the SL manager evaluated (conflation keeps only the newest per symbol)
    amends: int
    exits: int
    venue_calls: int
    hung_calls: int
    outcomes: dict[str, int]
    breaker_changes: list[str]
    seconds: float

    def as_json(self) -> dict[str, Any]:
        return {
            "loop": self.loop.as_json(),
            "ticks_published": self.published,
            "ticks_evaluated": self.evaluated,
            "amend_requests": self.amends,
            "exit_requests": self.exits,
            "venue_calls_started": self.venue_calls,
            "venue_calls_hung": self.hung_calls,
            "call_outcomes": self.outcomes,
            "breaker_changes": self.breaker_changes,
            "seconds": round(self.seconds, 2),
        }


def run_crocbot(args: argparse.Namespace, *, hangs: bool) -> Run:
    metrics = Metrics()  # fresh: the histogram holds this run's loops only
    tally = Tally()
    released = threading.Event()
    kraken = FakeKraken(args.hang_every if hangs else 0, args.hang, released)
    runtime = Runtime()

    def on_breaker(change: BreakerStateChanged) -> None:
        tally.breaker_changes.append(f"{change.previous}->{change.current}")

    breaker = CircuitBreaker("kraken-bench", BreakerConfig(), runtime.clock, on_state_change=on_breaker)
    gateway = Gateway("kraken-bench", runtime.scheduler, workers=args.workers, queue_size=64)
    gateway.start()
    increments = dict(INCREMENT)
    runtime.start(
        [
            ChildSpec.actor("venue_caller", VenueCaller, gateway, breaker, kraken.call, tally, args.call_timeout),
            ChildSpec.actor("sl_manager", SLManager, POLICY, increments, amend_min_interval=0.0, metrics=metrics),
        ],
        Policy(),
    )
    try:
        bus = runtime.bus
        sl_manager = runtime.directory.get("sl_manager")
        caller = runtime.directory.get("venue_caller")
        assert sl_manager is not None
        assert caller is not None
        for position in make_positions(args.per_symbol, runtime.clock.now()):
            bus.publish(PositionOpened(position))
        sl_manager.ask(HEARTBEAT, timeout=10)  # every position is watched before the first tick
        started = time.perf_counter()
        published = _drive(bus.publish, args.rate * len(SYMBOLS), args.seconds)
        sl_manager.ask(HEARTBEAT, timeout=10)  # the ticks handed to it are all evaluated
        seconds = time.perf_counter() - started
        loop = Summary.of_histogram(metrics.histogram(SL_LOOP_METRIC))
        released.set()  # the hung calls end now; nothing below is measured
        done = caller.ask(ReadTally(), timeout=30)  # once it has taken every request off its inbox
        assert isinstance(done, Tally)
        return Run(
            loop,
            published,
            loop.count,
            done.requests["StopAmendRequest"],
            done.requests["ExitRequest"],
            kraken.calls,
            kraken.hangs,
            dict(sorted(done.outcomes.items())),
            done.breaker_changes,
            seconds,
        )
    finally:
        released.set()
        runtime.shutdown()
        gateway.stop(timeout=2.0)


def _drive(publish: Callable[[object], None], per_second: float, seconds: float) -> int:
    """Publish ticks at a steady rate (as the feed's receive thread would) for `seconds`; returns how many."""
    interval = 1.0 / per_second
    start = time.perf_counter()
    n = 0
    while n * interval < seconds:
        wait = start + n * interval - time.perf_counter()
        if wait > 0:
            time.sleep(wait)
        publish(tick(n))
        n += 1
    return n


# -- (c): the naive loop ----------------------------------------------------------------------------------


def run_naive(args: argparse.Namespace) -> Run:
    """The same evaluation in one thread, the venue called inline: the loop waits for the venue."""
    kraken = FakeKraken(args.hang_every, args.hang, threading.Event())  # never released: every hang is paid
    now = datetime.now(UTC)
    tracks: dict[str, list[StopTrack]] = {symbol: [] for symbol in SYMBOLS}
    for p in make_positions(args.per_symbol, now):
        tracks[p.symbol].append(
            StopTrack(p.position_id, p.symbol, p.side, p.entry_price, p.stop_price, p.stop_price, INCREMENT[p.symbol])
        )
    histogram = Metrics().histogram(SL_LOOP_METRIC)
    amends = exits = 0
    interval = 1.0 / (args.rate * len(SYMBOLS))
    started = time.perf_counter()
    for n in range(args.naive_loops):
        wait = started + n * interval - time.perf_counter()
        if wait > 0:
            time.sleep(wait)
        message = tick(n)
        if isinstance(message, BookView):
            symbol, price = message.symbol, message.bids[0][0]
        else:
            symbol, price = message.symbol, message.price
        began = time.perf_counter()
        batch: list[object] = []
        for track in tracks[symbol]:
            if stop_crossed(track.side, track.stop, price):
                batch.append(ExitRequest(track.position_id, symbol, "through the stop", now))
                continue
            proposal = track.next_stop(price, None, POLICY)
            if proposal is not None:
                batch.append(StopAmendRequest(track.position_id, symbol, proposal[0], proposal[1], now))
        if batch:
            kraken.call(batch)  # inline: the loop cannot go on until the venue answers
        histogram.observe(time.perf_counter() - began)
        amends += sum(1 for m in batch if isinstance(m, StopAmendRequest))
        exits += sum(1 for m in batch if isinstance(m, ExitRequest))
    seconds = time.perf_counter() - started
    loop = Summary.of_histogram(histogram)
    return Run(loop, args.naive_loops, loop.count, amends, exits, kraken.calls, kraken.hangs, {}, [], seconds)


# -- report -----------------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--per-symbol", type=int, default=50, help="positions per symbol (4 symbols)")
    parser.add_argument("--rate", type=float, default=20.0, help="ticks a second per symbol")
    parser.add_argument("--seconds", type=float, default=12.0, help="wall seconds of ticks in runs (a) and (b)")
    parser.add_argument("--hang-every", type=int, default=10, help="every n-th venue call hangs")
    parser.add_argument("--hang", type=float, default=5.0, help="seconds a hung venue call takes")
    parser.add_argument("--workers", type=int, default=4, help="gateway workers")
    parser.add_argument("--call-timeout", type=float, default=2.0, help="gateway deadline per venue call")
    parser.add_argument("--naive-loops", type=int, default=50, help="loops of the blocking baseline (c)")
    parser.add_argument("--check", action="store_true", help=f"exit 1 if (a)'s p99 is not below {AIM * 1e3:.0f} ms")
    args = parser.parse_args()
    logger.remove()  # the SL manager's and the gateway's log lines are not part of the measurement

    load = os.getloadavg()[0]
    a = run_crocbot(args, hangs=True)
    b = run_crocbot(args, hangs=False)
    c = run_naive(args)

    positions = args.per_symbol * len(SYMBOLS)
    print(
        f"SL loop: {positions} positions ({args.per_symbol} per tick, {len(SYMBOLS)} symbols), trailing stops, "
        f"amend_min_interval 0; {args.rate:g} ticks/s per symbol for {args.seconds:g} s; "
        f"venue: 1 call in {args.hang_every} hangs {args.hang:g} s, others ~1 ms; load average at start {load:.2f}"
    )
    print(f"{'':40}{'ticks':>8}{'amends':>9}{'p50 ms':>11}{'p99 ms':>11}{'max ms':>11}")
    for label, run in (
        ("(a) crocbot, with hangs", a),
        ("(b) crocbot, no hangs", b),
        (f"(c) naive, inline call ({args.naive_loops} loops)", c),
    ):
        print(f"{label:40}{run.evaluated:>8}{run.amends:>9}{run.loop.row()}")
    p99_ratio = ratio(a.loop.p99, b.loop.p99)
    p50_ratio, max_ratio = ratio(a.loop.p50, b.loop.p50), ratio(a.loop.max, b.loop.max)
    print(f"(a)/(b): p50 {p50_ratio:.2f}x, p99 {p99_ratio:.2f}x, max {max_ratio:.2f}x")
    print(f"(c)/(a): p99 {ratio(c.loop.p99, a.loop.p99):,.0f}x")
    for label, run in (("(a)", a), ("(b)", b)):
        outcomes = ", ".join(f"{k} {v}" for k, v in run.outcomes.items()) or "none"
        print(
            f"{label} ticks published {run.published}, evaluated {run.evaluated} (conflated per symbol); "
            f"venue calls started {run.venue_calls}, hung {run.hung_calls}; outcomes: {outcomes}; "
            f"breaker: {', '.join(run.breaker_changes) or 'stayed closed'}"
        )
    per_loop = args.per_symbol // args.hang_every if args.hang_every else 0
    print(
        f"(c) venue calls {c.venue_calls}, hung {c.hung_calls}, in {c.seconds:.1f} s: a tick's {args.per_symbol} "
        f"amends go as one inline call (one call per amend would hang {per_loop} times a loop)"
    )
    met = a.loop.p99 < AIM
    print(
        f"aim: p99 < {AIM * 1e3:.0f} ms (the old bot allowed {OLD_BOT * 1e3:.0f} ms); "
        f"(a) p99 {a.loop.p99 * 1e3:.3f} ms: {'met' if met else 'NOT met'}"
    )
    record = {
        "bench": "sl_loop",
        "positions": positions,
        "per_tick": args.per_symbol,
        "rate_per_symbol": args.rate,
        "hang_every": args.hang_every,
        "hang_s": args.hang,
        "load_avg_1m": round(load, 2),
        "a_with_hangs": a.as_json(),
        "b_no_hangs": b.as_json(),
        "c_naive_inline": c.as_json(),
        "ratio_a_b_p99": round(p99_ratio, 3),
        "aim_p99_ms": AIM * 1e3,
        "met": met,
    }
    print(json.dumps(record, sort_keys=False))
    return 1 if args.check and not met else 0


if __name__ == "__main__":
    sys.exit(main())
