"""The SL manager's loop with 200 open positions while one venue call in ten hangs for 5 s, and whether the stops
the venue ends up with are the ones the SL manager last wanted.

The real bot's stop path runs in a crocbot `Runtime` (system clock): persistence (the journal, in a temporary
directory), the router (its desk rebuilt from that journal, which holds 200 open long positions, 50 in each of 4
symbols, each protected by an acknowledged stop order), the SL manager, and a venue that carries the router's
commands out as calls through a `Gateway` (4 workers, a `CircuitBreaker`, a 2 s deadline per call):
`crocbot.actors.venue.VenueCalls` over a fake Kraken (`bench_sl_venue.FakeKraken`), which answers amends in
~1 ms with `OrderAmended`, refuses with Kraken's errors (the pair's trading counter is charged and enforced as
Kraken does, at the Pro tier by default: 50 stops share each pair's counter), answers lookups of an order's terms,
and hangs every 10th call for 5 s past its deadline, half of them on the way in (not applied) and half on the way
back (applied, answer lost: the router's lookup finds out). The SL manager's stop policy trails by a percentage and
`amend_min_interval` is 0, so every tick wants a tighter stop for each of the 50 positions of its symbol: 50
`StopAmendRequest`s a tick, which the router's desk conflates (one amend in flight per stop order, the newest wish
sent when it ends) and paces by the pair's counter. Rising book and trade ticks are published at a steady rate
(default 20 a second per symbol, half books, half trades) for 12 s.

Figures of the SL loop time (the `crocbot_sl_loop_seconds` histogram: one sample per evaluated tick):
  (a) crocbot, with the hangs;
  (b) crocbot, the same run without hangs: the in-run baseline of the design;
  (c) a blocking baseline, in the same process: the same evaluation done the naive way, the venue called inline
      inside the loop, with the same 1-in-10 5 s hang. The naive loop sends each tick's amends as ONE inline
      call (a batch), and runs a limited number of loops (default 50, about 25 s): one call per amend would be
      50 calls and 5 hangs a loop, ~25 s for every single loop, too long to measure a distribution of.
And whether the updates land: after the last tick, once every stop update has ended (no amend in flight, looked
up, or waiting for the counter) and 1 s more, the fraction of positions whose stop on the fake Kraken is the stop
the SL manager last wanted (the trailing level at the last price), for (a), (b) and
  (d) the old path, the same run as (a) but each `StopAmendRequest` put straight into the gateway as an amend call
      (no conflation, no pacing, no lookup), measured once its calls have ended or passed their deadline + 1 s.

Aims (the issue): loop p99 < 10 ms (the old bot allowed 100 ms); stops as wanted > 99 % with the hangs, 100 %
without.   Run: `make bench` or `python bench/bench_sl.py`.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from bench_sl_venue import FakeKraken, OldPath, ReadTally, Tally, seed_journal, stop_id
from bench_support import Summary, ratio
from loguru import logger

from crocbot.actors.breaker import BreakerConfig, CircuitBreaker
from crocbot.actors.gateway import Gateway
from crocbot.actors.messages import RouterStatus, StatusReport
from crocbot.actors.persistence import Persistence
from crocbot.actors.protocol import HEARTBEAT
from crocbot.actors.router import STOP_UPDATES_METRIC, Router
from crocbot.actors.runtime import Runtime
from crocbot.actors.sl_manager import SL_LOOP_METRIC, SLManager
from crocbot.actors.supervisor import ChildSpec, Policy
from crocbot.actors.venue import VenueCalls
from crocbot.config.model import RiskSettings
from crocbot.config.policies import risk_limits
from crocbot.core.desk import DeskConfig
from crocbot.core.desk.stop_updates import StopOutcome
from crocbot.core.instrument import AssetClass, Instrument
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
from crocbot.core.messages.market import BookView
from crocbot.core.stops import StopPolicy, StopTrack, stop_crossed
from crocbot.kraken.ratelimit import TRADING_LIMITS, Tier
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


def instrument(symbol: str) -> Instrument:
    increment = INCREMENT[symbol]
    return Instrument(
        symbol=symbol,
        base=symbol.split("/")[0],
        quote="USD",
        asset_class=AssetClass.CURRENCY,
        status="online",
        price_precision=-increment.as_tuple().exponent,  # type: ignore[operator]  # a finite Decimal's exponent
        qty_precision=8,
        cost_precision=5,
        price_increment=increment,
        qty_increment=D("0.00000001"),
        qty_min=D("0.0001"),
        cost_min=D("0.5"),
        taker_fee=D("0.004"),
        maker_fee=D("0.0025"),
    )


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


# -- (a), (b): crocbot; (d): the old path ---------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Run:
    loop: Summary
    published: int  # ticks put on the bus
    evaluated: int  # ticks the SL manager evaluated (conflation keeps only the newest per symbol)
    amends: int  # StopAmendRequests the SL manager published
    venue_calls: int
    hung_calls: int
    answers: dict[str, int]  # what the fake Kraken did with the amends that reached it
    updates: dict[str, int]  # crocbot_stop_updates_total by outcome; the old path: its calls' outcomes
    breaker_changes: list[str]
    seconds: float
    as_wanted: int = 0  # positions whose stop on the venue is the one last wanted
    positions: int = 0
    books_agree: int = 0  # positions whose stop in the router's books is the venue's
    settled_after: float = float("nan")  # seconds from the last tick until every stop update had ended

    @property
    def fraction(self) -> float:
        return self.as_wanted / self.positions if self.positions else float("nan")

    def as_json(self) -> dict[str, Any]:
        return {
            "loop": self.loop.as_json(),
            "ticks_published": self.published,
            "ticks_evaluated": self.evaluated,
            "amend_requests": self.amends,
            "venue_calls_started": self.venue_calls,
            "venue_calls_hung": self.hung_calls,
            "venue_answers": self.answers,
            "stop_updates": self.updates,
            "breaker_changes": self.breaker_changes,
            "seconds": round(self.seconds, 2),
            "stops_as_wanted": self.as_wanted,
            "positions": self.positions,
            "fraction_as_wanted": round(self.fraction, 4),
            "books_agree_with_venue": self.books_agree,
            "settled_after_s": round(self.settled_after, 2),
        }


def wanted_stops(positions: list[Position], published: int) -> dict[str, Decimal]:
    """The stop the SL manager last wanted for each position: the trailing level at its symbol's last price (prices
    only rise, and the newest tick of a symbol is always evaluated: conflation keeps the newest)."""
    last = {message.symbol: _price(message) for message in (tick(n) for n in range(max(0, published - 8), published))}
    out = {}
    for p in positions:
        increment = INCREMENT[p.symbol]
        track = StopTrack(p.position_id, p.symbol, p.side, p.entry_price, p.stop_price, p.stop_price, increment)
        proposal = track.next_stop(last[p.symbol], None, POLICY)
        out[p.position_id] = proposal[0] if proposal is not None else p.stop_price
    return out


def _price(message: BookView | Trade) -> Decimal:
    return message.bids[0][0] if isinstance(message, BookView) else message.price


class Bot:
    """One run's runtime, gateway and fake Kraken; `crocbot` wires the real stop path, else the old path."""

    def __init__(self, args: argparse.Namespace, *, hangs: bool, crocbot: bool, state: Path) -> None:
        self.args = args
        self.metrics = Metrics()  # fresh: the histogram holds this run's loops only
        self.released = threading.Event()
        limits = TRADING_LIMITS[Tier(args.tier)]
        self.kraken = FakeKraken(args.hang_every if hangs else 0, args.hang, self.released, limits)
        self.positions = make_positions(args.per_symbol, datetime.now(UTC))
        self.kraken.rest(self.positions)
        self.breaker_changes: list[str] = []
        self.runtime = Runtime()
        clock = self.runtime.clock
        self.breaker = CircuitBreaker("kraken-bench", BreakerConfig(), clock, on_state_change=self._on_breaker)
        self.gateway = Gateway("kraken-bench", self.runtime.scheduler, workers=args.workers, queue_size=64)
        self.crocbot = crocbot
        sl = ChildSpec.actor(
            "sl_manager", SLManager, POLICY, dict(INCREMENT), amend_min_interval=0.0, metrics=self.metrics
        )
        if crocbot:
            seed_journal(state / "journal.sqlite3", self.positions)
            instruments = {symbol: instrument(symbol) for symbol in SYMBOLS}
            children = [
                ChildSpec.actor("persistence", Persistence, state / "journal.sqlite3", state / "trades.jsonl"),
                ChildSpec.actor(
                    "venue", VenueCalls, self.kraken, self.gateway, breaker=self.breaker, timeout=args.call_timeout
                ),
                ChildSpec.actor(
                    "router",
                    Router,
                    instruments,
                    risk_limits(RiskSettings()),
                    DeskConfig(chase_step=D("0.0005")),
                    cash=D("1000000"),
                    metrics=self.metrics,
                    trading=limits,
                ),
                sl,
                # counts the SL manager's requests, as the old path's caller does (the same load on the bus)
                ChildSpec.actor(
                    "tap", OldPath, self.gateway, self.breaker, self.kraken, args.call_timeout, forward=False
                ),
            ]
        else:
            children = [
                ChildSpec.actor("venue", OldPath, self.gateway, self.breaker, self.kraken, args.call_timeout),
                sl,
            ]
        self.children = children

    def _on_breaker(self, change: BreakerStateChanged) -> None:
        self.breaker_changes.append(f"{change.previous}->{change.current}")

    def run(self) -> Run:
        args = self.args
        self.gateway.start()
        self.runtime.start(self.children, Policy())
        try:
            bus, directory = self.runtime.bus, self.runtime.directory
            sl_manager = directory.get("sl_manager")
            assert sl_manager is not None
            if not self.crocbot:  # the SL manager hears of the positions as when they open
                for position in self.positions:
                    bus.publish(PositionOpened(position))
            sl_manager.ask(HEARTBEAT, timeout=10)  # every position is watched before the first tick
            started = time.perf_counter()
            published = _drive(bus.publish, args.rate * len(SYMBOLS), args.seconds)
            sl_manager.ask(HEARTBEAT, timeout=10)  # the ticks handed to it are all evaluated
            seconds = time.perf_counter() - started
            last_tick = time.perf_counter()
            loop = Summary.of_histogram(self.metrics.histogram(SL_LOOP_METRIC))
            settled = self._settle(last_tick)
            triggers = self.kraken.triggers()  # before the hangs are cut short: as the venue has them now
            report = self._report() if self.crocbot else None
            self.released.set()
            wanted = wanted_stops(self.positions, published)
            as_wanted = sum(1 for p in self.positions if triggers[stop_id(p.position_id)] == wanted[p.position_id])
            agree = 0
            if report is not None:
                agree = sum(1 for v in report.positions if triggers[stop_id(v.position_id)] == v.stop)
            return Run(
                loop,
                published,
                loop.count,
                self._amends(),
                self.kraken.calls,
                self.kraken.hangs,
                dict(sorted(self.kraken.answers.items())),
                self._updates(),
                self.breaker_changes,
                seconds,
                as_wanted,
                len(self.positions),
                agree,
                settled,
            )
        finally:
            self.released.set()
            self.runtime.shutdown()
            self.gateway.stop(timeout=2.0)

    def _settle(self, last_tick: float) -> float:
        """Wait (bounded) until every stop update has ended, then 1 s more; seconds from the last tick until then."""
        deadline = time.monotonic() + self.args.settle_limit
        if not self.crocbot:  # the old path: its calls have all ended or passed their deadline
            venue = self.runtime.directory.get("venue")
            assert venue is not None
            venue.ask(ReadTally(), timeout=30)  # its inbox is empty: every request became a call
            time.sleep(self.args.call_timeout + 1.0)
            return time.perf_counter() - last_tick
        while time.monotonic() < deadline:
            if self._report().stop_updates_busy == 0:
                settled = time.perf_counter() - last_tick
                time.sleep(1.0)
                if self._report().stop_updates_busy == 0:
                    return settled
            time.sleep(0.25)
        return float("nan")  # not settled within the limit: measured as it is

    def _report(self) -> StatusReport:
        router = self.runtime.directory.get("router")
        assert router is not None
        answer = router.ask(RouterStatus(), timeout=30)
        assert isinstance(answer, StatusReport)
        return answer

    def _tally(self) -> Tally:
        tap = self.runtime.directory.get("tap" if self.crocbot else "venue")
        assert tap is not None
        tally = tap.ask(ReadTally(), timeout=30)
        assert isinstance(tally, Tally)
        return tally

    def _amends(self) -> int:
        return self._tally().requests

    def _updates(self) -> dict[str, int]:
        if not self.crocbot:
            return dict(sorted(self._tally().outcomes.items()))
        labels = (str(o) for o in StopOutcome)
        return {o: int(self.metrics.value(STOP_UPDATES_METRIC, labels={"outcome": o})) for o in labels}


def run_bot(args: argparse.Namespace, *, hangs: bool, crocbot: bool) -> Run:
    with tempfile.TemporaryDirectory(prefix="bench-sl-") as state:
        return Bot(args, hangs=hangs, crocbot=crocbot, state=Path(state)).run()


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


class InlineKraken:
    """A venue call made inline: ~1 ms, except every `hang_every`-th call, which hangs `hang` seconds."""

    def __init__(self, hang_every: int, hang: float) -> None:
        self.hang_every = hang_every
        self.hang = hang
        self.calls = 0
        self.hangs = 0

    def call(self, request: object) -> None:
        self.calls += 1
        hangs = self.hang_every > 0 and self.calls % self.hang_every == 0
        self.hangs += hangs
        time.sleep(self.hang if hangs else 0.001)


def run_naive(args: argparse.Namespace) -> Run:
    """The same evaluation in one thread, the venue called inline: the loop waits for the venue."""
    kraken = InlineKraken(args.hang_every, args.hang)
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
    return Run(loop, args.naive_loops, loop.count, amends, kraken.calls, kraken.hangs, {}, {}, [], seconds)


# -- report -----------------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--per-symbol", type=int, default=50, help="positions per symbol (4 symbols)")
    parser.add_argument("--rate", type=float, default=20.0, help="ticks a second per symbol")
    parser.add_argument("--seconds", type=float, default=12.0, help="wall seconds of ticks in runs (a), (b), (d)")
    parser.add_argument("--hang-every", type=int, default=10, help="every n-th venue call hangs")
    parser.add_argument("--hang", type=float, default=5.0, help="seconds a hung venue call takes")
    parser.add_argument("--workers", type=int, default=4, help="gateway workers")
    parser.add_argument("--call-timeout", type=float, default=2.0, help="gateway deadline per venue call")
    parser.add_argument("--tier", choices=[t.value for t in Tier], default="pro", help="Kraken's trading-counter tier")
    parser.add_argument("--settle-limit", type=float, default=90.0, help="longest wait for the stop updates to end")
    parser.add_argument("--naive-loops", type=int, default=50, help="loops of the blocking baseline (c)")
    parser.add_argument("--check", action="store_true", help="exit 1 if an aim is not met")
    args = parser.parse_args()
    logger.remove()  # the actors' and the gateway's log lines are not part of the measurement

    load = os.getloadavg()[0]
    a = run_bot(args, hangs=True, crocbot=True)
    b = run_bot(args, hangs=False, crocbot=True)
    c = run_naive(args)
    d = run_bot(args, hangs=True, crocbot=False)

    positions = args.per_symbol * len(SYMBOLS)
    limits = TRADING_LIMITS[Tier(args.tier)]
    print(
        f"SL loop: {positions} positions ({args.per_symbol} per tick, {len(SYMBOLS)} symbols), trailing stops, "
        f"amend_min_interval 0; {args.rate:g} ticks/s per symbol for {args.seconds:g} s; venue: 1 call in "
        f"{args.hang_every} hangs {args.hang:g} s, others ~1 ms, deadline {args.call_timeout:g} s; trading counter "
        f"{args.tier} ({limits.threshold:g}, -{limits.decay:g}/s per pair); load average at start {load:.2f}"
    )
    print(f"{'':44}{'ticks':>7}{'requests':>10}{'p50 ms':>10}{'p99 ms':>10}{'max ms':>10}{'as wanted':>11}")
    rows = (
        ("(a) crocbot, with hangs", a, True),
        ("(b) crocbot, no hangs", b, True),
        (f"(c) naive, inline call ({args.naive_loops} loops)", c, False),
        ("(d) old path (no conflation), with hangs", d, True),
    )
    for label, run, landed in rows:
        wanted = f"{run.fraction:>10.1%}" if landed else f"{'-':>10}"
        print(f"{label:44}{run.evaluated:>7}{run.amends:>10}{run.loop.row(width=10)} {wanted}")
    p99_ratio = ratio(a.loop.p99, b.loop.p99)
    p50_ratio, max_ratio = ratio(a.loop.p50, b.loop.p50), ratio(a.loop.max, b.loop.max)
    print(f"(a)/(b): p50 {p50_ratio:.2f}x, p99 {p99_ratio:.2f}x, max {max_ratio:.2f}x")
    print(f"(c)/(a): p99 {ratio(c.loop.p99, a.loop.p99):,.0f}x")
    for label, run in (("(a)", a), ("(b)", b), ("(d)", d)):
        updates = ", ".join(f"{k} {v}" for k, v in run.updates.items() if v) or "none"
        answers = ", ".join(f"{k} {v}" for k, v in run.answers.items()) or "none"
        print(
            f"{label} stops as wanted {run.as_wanted}/{run.positions} ({run.fraction:.1%}), "
            f"{'settled' if label != '(d)' else 'measured'} {run.settled_after:.1f} s after the last tick; "
            f"ticks published {run.published}, evaluated {run.evaluated}; venue calls {run.venue_calls}, hung "
            f"{run.hung_calls}; venue: {answers}; {'stop updates' if label != '(d)' else 'calls'}: {updates}; "
            f"breaker: {', '.join(run.breaker_changes) or 'stayed closed'}"
            + (f"; router's stops = venue's: {run.books_agree}/{run.positions}" if label != "(d)" else "")
        )
    per_loop = args.per_symbol // args.hang_every if args.hang_every else 0
    print(
        f"(c) venue calls {c.venue_calls}, hung {c.hung_calls}, in {c.seconds:.1f} s: a tick's {args.per_symbol} "
        f"amends go as one inline call (one call per amend would hang {per_loop} times a loop)"
    )
    loop_met = a.loop.p99 < AIM
    landed_met = a.fraction > 0.99 and b.fraction == 1.0
    print(
        f"aims: loop p99 < {AIM * 1e3:.0f} ms (the old bot allowed {OLD_BOT * 1e3:.0f} ms): (a) {a.loop.p99 * 1e3:.3f}"
        f" ms, {'met' if loop_met else 'NOT met'}; stops as wanted > 99 % with hangs, 100 % without: (a) "
        f"{a.fraction:.1%}, (b) {b.fraction:.1%}, {'met' if landed_met else 'NOT met'}"
    )
    record = {
        "bench": "sl_loop",
        "positions": positions,
        "per_tick": args.per_symbol,
        "rate_per_symbol": args.rate,
        "hang_every": args.hang_every,
        "hang_s": args.hang,
        "tier": args.tier,
        "load_avg_1m": round(load, 2),
        "a_with_hangs": a.as_json(),
        "b_no_hangs": b.as_json(),
        "c_naive_inline": c.as_json(),
        "d_old_path_with_hangs": d.as_json(),
        "ratio_a_b_p99": round(p99_ratio, 3),
        "aim_p99_ms": AIM * 1e3,
        "met": loop_met and landed_met,
    }
    print(json.dumps(record, sort_keys=False))
    return 1 if args.check and not (loop_met and landed_met) else 0


if __name__ == "__main__":
    sys.exit(main())
