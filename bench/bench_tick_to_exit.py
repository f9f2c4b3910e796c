"""Tick-to-exit latency: from a Kraken book frame that crosses a stop to the exit order reaching the venue.

The core of the real bot runs in a crocbot `Runtime` (system clock), built by the bot's own `core_tree`
(`crocbot/app/tree.py`): a `core` supervisor (rest_for_one) over persistence (SQLite journal with synchronous=FULL
and the trade log, in a temporary directory), the paper venue (latency 0), the router (market entries), the SL
manager and the reconciler, with the shipped settings' defaults (risk relaxed only so that 250 losing trades in a
row keep trading: no daily loss limit, no cooldown; the periodic reconciliation once a day, so never during the
measurement). The feed is emulated: a `WsClient` that never connects is handed raw WS v2 text frames the
way its receive thread handles them (`client._handle(client.codec.decode(text))`), and its `on_message`
publishes market data to the bus as `crocbot/actors/feed.py` does. Every book frame carries a valid checksum.

Each iteration opens a position through the real flow: a book snapshot (bid 99.99 / ask 100.01, depth 25), a
`Signal` (stop 98.50, wider than the round trip's cost), the market entry fills on the paper venue, the protective
stop is placed and acked (`PositionChanged` with stop_live). With everything idle, one book *update* frame sweeps
the top twenty bids, so the best bid gaps to 97.99, through the stop by more than the SL manager's backstop margin
(0.5 %: a price just through a live stop is the venue's stop's to fill, and the SL manager gives it a grace). A book
move alone does not trigger the venue's stop (it fires on trades), so the SL manager's own check must catch it:
ExitRequest -> router (journals the exit's intent) -> one VenueRequest(Cancel stop, Submit exit after it). The
clock starts just before the frame is decoded and stops when the venue actor starts handling that Submit (a
`VenueActor` subclass, handed to `core_tree`, notes it). Then the exit fills, the position closes and the next
iteration begins.

Baselines measured in the same run, paired with each iteration while the bot is idle:
  - one hop: `bus.publish` of one message -> a trivial actor handling it (a reliable subscription);
  - the frame alone: decode + L2 book + checksum of the same frame in a second WsClient, no actors;
  - one durable journal write: `ask` persistence to save a small state document (a commit with fsync). The
    exit path has the router journal the exit's intent, and the paper venue save its account after the stop's
    cancel, both through the one persistence actor.

Live (`--venue live`, issue 14): the same core with the live venue instead of the paper one, built as `crocbot run
--mode live` builds it (`bench_live_venue.py`): orders over WS v2 to the in-process simulator's private endpoint on
127.0.0.1, which fills the entry and rests the stop. The clock stops when the simulator receives the exit's
`add_order`; the stop's `cancel_order` before it is the stage the paper venue's Cancel is, and between the two lies
one WS round trip (the exit waits for the cancel's answer). `--venue both` (the default) measures paper, then live,
in one run, each with its own baselines.

Aim (the issues): p99 < 5 ms (paper), < 10 ms (live) on an idle machine.   Run: `make bench` or
`python bench/bench_tick_to_exit.py [--venue paper|live|both]`.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import queue
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from bench_live_venue import SimVenue, noting_requests
from bench_support import Summary, ratio
from loguru import logger

from crocbot.actors.base import ChildContext, SupervisedActor
from crocbot.actors.messages import VenueRequest
from crocbot.actors.persistence import Persistence
from crocbot.actors.protocol import HEARTBEAT
from crocbot.actors.runtime import Runtime
from crocbot.actors.supervisor import ChildSpec
from crocbot.actors.venue import VenueActor
from crocbot.app import ROOT_POLICY, core_tree
from crocbot.config import Settings
from crocbot.config.model import ExecutionSettings, ReconcileSettings, RiskSettings, StopSettings
from crocbot.config.policies import risk_limits
from crocbot.core.instrument import AssetClass, Instrument
from crocbot.core.messages import (
    ExitRequest,
    OrderPurpose,
    OrderType,
    PositionChanged,
    PositionClosed,
    PositionSide,
    Side,
    Signal,
    StartupReconciled,
    Ticker,
    Trade,
)
from crocbot.core.messages.journal import KnownFill, RecordBatch, RecordFill, SaveState
from crocbot.core.messages.market import BookView
from crocbot.core.risk_sizing import RiskLimits
from crocbot.kraken.book import L2Book, checksum_of
from crocbot.kraken.instruments import Catalog
from crocbot.kraken.ratelimit import TradingLimits
from crocbot.kraken.ws import Subscription, WsClient
from crocbot.ops.metrics import Metrics
from crocbot.sim.bookmaker import BookData
from crocbot.sim.frames import book_frame
from crocbot.venues.protocol import Cancel, Submit

AIMS = {"paper": 0.005, "live": 0.010}  # seconds: p99 from frame to exit order at the venue
VENUES = ("paper", "live")
WAIT = 10.0  # seconds: the bound on every wait; a healthy run never gets near it

D = Decimal
SYMBOL = "SOL/USD"
INSTRUMENT = Instrument(  # Kraken-like SOL/USD
    symbol=SYMBOL,
    base="SOL",
    quote="USD",
    asset_class=AssetClass.CURRENCY,
    status="online",
    price_precision=2,
    qty_precision=8,
    cost_precision=5,
    price_increment=D("0.01"),
    qty_increment=D("0.00000001"),
    qty_min=D("0.02"),
    cost_min=D("0.5"),
    taker_fee=D("0.004"),
    maker_fee=D("0.0025"),
)
DEPTH = ExecutionSettings().book_depth  # what the feed subscribes to (25)
LEVEL_QTY = D("10.00000000")
GONE = D("0.00000000")
ENTRY, STOP, TAKE_PROFIT = D("100.00"), D("98.50"), D("105.00")
Levels = list[tuple[Decimal, Decimal]]


# -- frames ---------------------------------------------------------------------------------------------


def _ladder(best: Decimal, step: Decimal, n: int) -> Levels:
    return [(best + step * i, LEVEL_QTY) for i in range(n)]


SNAPSHOT_BIDS = _ladder(D("99.99"), D("-0.10"), DEPTH)  # 99.99 down to 97.59
SNAPSHOT_ASKS = _ladder(D("100.01"), D("0.01"), DEPTH)
GAP = STOP * (1 - StopSettings().backstop_margin)  # 98.0075: beyond it the SL manager exits at once
SWEPT = [level for level in SNAPSHOT_BIDS if level[0] > GAP]  # the top twenty
REFILL = _ladder(SNAPSHOT_BIDS[-1][0] - D("0.10"), D("-0.10"), len(SWEPT))  # levels that come into range
AFTER_BIDS = [level for level in SNAPSHOT_BIDS if level[0] <= GAP] + REFILL  # best bid 97.99, a gap through the stop


def _checksum(asks: Levels, bids: Levels) -> int:
    return checksum_of(asks, bids, INSTRUMENT.price_precision, INSTRUMENT.qty_precision)


def snapshot_frame(ts: datetime) -> str:
    data = BookData(tuple(SNAPSHOT_BIDS), tuple(SNAPSHOT_ASKS), _checksum(SNAPSHOT_ASKS, SNAPSHOT_BIDS))
    return book_frame(SYMBOL, data, snapshot=True, ts=ts)


def sweep_frame(ts: datetime) -> str:
    """One update: the twenty bids above the gap deleted, twenty deeper ones coming into range (40 levels)."""
    bids = [(price, GONE) for price, _ in SWEPT] + REFILL
    data = BookData(tuple(bids), (), _checksum(SNAPSHOT_ASKS, AFTER_BIDS))
    return book_frame(SYMBOL, data, snapshot=False, ts=ts)


class Feed:
    """A `WsClient` fed by hand: exactly the receive thread's frame path, without a socket."""

    def __init__(self, on_message: Callable[[object], None]) -> None:
        self.problems: list[object] = []
        self._on_message = on_message
        self.client = WsClient(
            "ws://127.0.0.1:9/never-connected",
            [Subscription("book", (SYMBOL,), {"depth": DEPTH})],
            self._route,
            name="bench-feed",
            catalog=Catalog([INSTRUMENT]),
            view_levels=DEPTH,
        )
        book = L2Book(SYMBOL, DEPTH, price_precision=INSTRUMENT.price_precision, qty_precision=INSTRUMENT.qty_precision)
        self.client.books[SYMBOL] = book  # what subscribing would have created

    def _route(self, message: object) -> None:
        if type(message) in (BookView, Trade, Ticker):  # as the feed actor's receive-thread callback does
            self._on_message(message)
        else:
            self.problems.append(message)  # a resync or a malformed frame: the bench's own frames are wrong

    def frame(self, text: str) -> None:
        self.client._handle(self.client.codec.decode(text))
        if self.problems:
            raise RuntimeError(f"the bench's frame was not taken: {self.problems}")


# -- bench actors ---------------------------------------------------------------------------------------


@dataclass
class Marks:
    """perf_counter_ns stamps taken inside actor threads, and what the journal did for each entry fill."""

    cancel_ns: int = 0
    submit_ns: int = 0
    submitted: threading.Event = field(default_factory=threading.Event)
    entries: set[str] = field(default_factory=set)  # the entries' client ids, as they reach the venue
    fill_window: tuple[str, float] | None = None  # the fill the router asked the journal about, commits since
    per_entry_fill: list[tuple[float, int]] = field(default_factory=list)  # (commits, records) for each entry fill

    def reset(self) -> None:
        self.cancel_ns = self.submit_ns = 0
        self.submitted.clear()

    def at_simulator(self, arrived_ns: int, method: str, params: Mapping[str, Any]) -> None:
        """The live venue's requests as the simulator receives them: the entries, the stop's cancel, the exit."""
        if method == "cancel_order" and not self.cancel_ns:
            self.cancel_ns = arrived_ns
        if method != "add_order":
            return
        if params.get("side") == Side.BUY.value:
            self.entries.add(str(params.get("cl_ord_id")))
        elif params.get("order_type") == OrderType.MARKET.value:  # a market sell: the exit (the stop is stop-loss)
            self.submit_ns = arrived_ns
            self.submitted.set()


# Latency, not Kraken's pacing, is measured: 250 round trips in seconds would overrun any tier's counter.
UNPACED = TradingLimits(threshold=1e12, decay=1e12, max_open_orders=1_000)


def noting_venue(marks: Marks) -> type[VenueActor]:
    """The paper venue actor, noting when the exit Submit (and the stop's Cancel before it) reaches it. A class of
    its own per run, because `core_tree` builds the venue from its class and the bot's arguments."""

    class NotingVenue(VenueActor):
        def __init__(
            self,
            ctx: ChildContext,
            instruments: Mapping[str, Instrument],
            balances: Mapping[str, Decimal],
            **options: Any,
        ) -> None:
            super().__init__(ctx, instruments, balances, **{**options, "trading": UNPACED})

        def handle(self, message: Any) -> Any:
            exit_submit = False
            if isinstance(message, VenueRequest):
                for command in message.commands:
                    if isinstance(command, Submit) and command.intent.purpose is OrderPurpose.ENTRY:
                        marks.entries.add(command.intent.cl_ord_id)
                    if isinstance(command, Submit) and command.intent.purpose is OrderPurpose.EXIT:
                        marks.submit_ns = time.perf_counter_ns()
                        exit_submit = True
                    elif isinstance(command, Cancel) and not marks.cancel_ns:
                        marks.cancel_ns = time.perf_counter_ns()
            try:
                return super().handle(message)
            finally:
                if exit_submit:
                    marks.submitted.set()

    return NotingVenue


def noting_persistence(marks: Marks) -> type[Persistence]:
    """Persistence, noting the commits the router's handling of each entry fill costs: from its `KnownFill` read to
    the write that holds the fill (the stop goes out after it), with the number of records written. Counted in the
    persistence thread around each message, so nothing else's commits can slip in; before issue 13 every record was
    a commit of its own, so the records are the same run's baseline."""

    class NotingPersistence(Persistence):
        def handle(self, message: Any) -> Any:
            # The journal's own count, not the metric: a registry lookup collects every family (the process's
            # included) and cost more than the commit it counts, in the very path the bench times.
            before = self._commits_so_far()
            try:
                return super().handle(message)
            finally:
                self._note(message, self._commits_so_far() - before)

        def _commits_so_far(self) -> float:
            return float(self._journal.commits) if self._journal is not None else 0.0

        def _note(self, message: object, commits: float) -> None:
            if isinstance(message, KnownFill):
                marks.fill_window = (message.fill_id, 0.0)
                return
            records = message.records if isinstance(message, RecordBatch) else (message,)
            fills = [r.fill for r in records if isinstance(r, RecordFill)]
            window = marks.fill_window
            if window is not None:
                marks.fill_window = (window[0], window[1] + commits)
            for fill in fills:
                if fill.cl_ord_id in marks.entries:
                    spent = (
                        marks.fill_window[1] if marks.fill_window and marks.fill_window[0] == fill.fill_id else commits
                    )
                    marks.per_entry_fill.append((spent, len(records)))
                    marks.fill_window = None

    return NotingPersistence


@dataclass(frozen=True, slots=True)
class HopPing:
    seq: int


class Hop(SupervisedActor):
    """The single-hop baseline: a trivial actor that notes when a published message reaches it."""

    def __init__(self, ctx: ChildContext, done: queue.Queue[int]) -> None:
        super().__init__(ctx)
        self._done = done

    def started(self) -> None:
        self.services.bus.subscribe(HopPing, self.name)

    def handle(self, message: Any) -> Any:
        if isinstance(message, HopPing):
            self._done.put(time.perf_counter_ns())
            return None
        return super().handle(message)


class Tap(SupervisedActor):
    """Hands position events and exit requests, stamped on arrival, to the bench's main thread."""

    TOPICS = (PositionChanged, PositionClosed, ExitRequest, StartupReconciled)

    def __init__(self, ctx: ChildContext, sink: queue.Queue[tuple[int, object]]) -> None:
        super().__init__(ctx)
        self._sink = sink

    def started(self) -> None:
        for topic in self.TOPICS:
            self.services.bus.subscribe(topic, self.name)

    def handle(self, message: Any) -> Any:
        if isinstance(message, self.TOPICS):
            self._sink.put((time.perf_counter_ns(), message))
            return None
        return super().handle(message)


# -- the bot --------------------------------------------------------------------------------------------


def bench_settings(journal_dir: Path) -> Settings:
    """The shipped defaults (no `.env` read), except: market entries, no paper latency, no cooldown after a loss, and
    a periodic reconciliation once a day (the router takes no entry before the start-up one; none runs during the
    measurement)."""
    return Settings(
        _env_file=None,
        symbols=(SYMBOL,),
        state_dir=journal_dir,
        log_dir=journal_dir,
        execution=ExecutionSettings(entry_order="market", paper_latency_ms=0),
        risk=RiskSettings(cooldown_after_loss=0.0),
        reconcile=ReconcileSettings(interval=86_400.0),
    )


def limits(settings: Settings) -> RiskLimits:
    """The settings' risk limits without the daily loss limit, which 250 losing trades in a row would reach; a
    setting must stay below 1, so it is turned off here."""
    return dataclasses.replace(risk_limits(settings.risk), daily_loss_limit=D(1))


class Bench:
    """The core tree with the paper venue (`venue="paper"`), or with the live venue against the simulator."""

    def __init__(self, journal_dir: Path, settle: float, venue: str = "paper") -> None:
        self.marks = Marks()
        self.events: queue.Queue[tuple[int, object]] = queue.Queue()
        self.hops: queue.Queue[int] = queue.Queue()
        self.settle_for = settle
        self.seen: set[str] = set()
        self._closing = contextlib.ExitStack()
        settings = bench_settings(journal_dir)
        self.sim: SimVenue | None = None
        if venue == "live":
            self.sim = self._closing.enter_context(contextlib.closing(SimVenue(settings, INSTRUMENT)))
            self._closing.enter_context(noting_requests(self.marks.at_simulator))
            settings, self.runtime = self.sim.settings, self.sim.bot.runtime
            self.sim.start()
        else:
            self.runtime = Runtime()
        metrics = Metrics()
        core = core_tree(
            settings,
            {SYMBOL: INSTRUMENT},
            metrics=metrics,
            limits=limits(settings),
            venue_actor=noting_venue(self.marks),
            persistence_actor=noting_persistence(self.marks),
            live=self.sim.parts if self.sim is not None else None,
        )
        # the tap first: it must hear the start-up reconciliation, which the core may finish as it starts
        self.runtime.start(
            [ChildSpec.actor("tap", Tap, self.events), ChildSpec.actor("hop", Hop, self.hops), core], ROOT_POLICY
        )
        self._closing.callback(self.runtime.shutdown)  # first on the way out: the tree before the venue it calls
        self.wait_for(lambda m: isinstance(m, StartupReconciled), "start-up reconciliation")  # no entry before it
        self.bus = self.runtime.bus
        self.feed = Feed(self.bus.publish)
        self.bare = Feed(lambda message: None)  # the frame-only baseline: same client code, nothing downstream

    def ask_all(self, *names: str) -> None:
        for name in names:
            ref = self.runtime.directory.get(name)
            if ref is None:
                raise RuntimeError(f"{name} is not running")
            ref.ask(HEARTBEAT, timeout=WAIT)

    def rest(self) -> None:
        """Between a position's stop going live and the exit: the live venue's quiet minutes (`SimVenue.rest`)."""
        if self.sim is not None:
            self.sim.rest()

    def settle(self) -> None:
        """Idle: every actor has drained its inbox, then a short pause."""
        self.ask_all("persistence", "venue", "router", "sl_manager", "tap", "hop")
        time.sleep(self.settle_for)

    def wait_for(self, predicate: Callable[[object], bool], what: str) -> tuple[int, object]:
        deadline = time.monotonic() + WAIT
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise RuntimeError(f"no {what} within {WAIT}s")
            try:
                stamp, message = self.events.get(timeout=remaining)
            except queue.Empty:
                continue
            if predicate(message):
                return stamp, message

    def open_position(self) -> str:
        now = datetime.now(UTC)
        self.feed.frame(snapshot_frame(now))
        self.bare.frame(snapshot_frame(now))
        self.ask_all("venue", "router", "sl_manager")  # each has the fresh book before the entry goes out
        self.bus.publish(Signal(SYMBOL, PositionSide.LONG, ENTRY, STOP, TAKE_PROFIT, "bench", now, "tick-to-exit"))
        _, message = self.wait_for(
            lambda m: (
                isinstance(m, PositionChanged) and m.position.stop_live and m.position.position_id not in self.seen
            ),
            "new position with a live stop",
        )
        assert isinstance(message, PositionChanged)
        self.seen.add(message.position.position_id)
        return message.position.position_id

    def hop(self, seq: int) -> float:
        started = time.perf_counter_ns()
        self.bus.publish(HopPing(seq))
        arrived = self.hops.get(timeout=WAIT)
        return (arrived - started) / 1e9

    def frame_only(self) -> float:
        text = sweep_frame(datetime.now(UTC))
        started = time.perf_counter_ns()
        self.bare.frame(text)
        return (time.perf_counter_ns() - started) / 1e9

    def journal_write(self, seq: int) -> float:
        ref = self.runtime.directory.get("persistence")
        if ref is None:
            raise RuntimeError("persistence is not running")
        started = time.perf_counter_ns()
        ref.ask(SaveState("bench_probe", {"seq": seq}), timeout=WAIT)
        return (time.perf_counter_ns() - started) / 1e9

    def exit(self, position_id: str) -> tuple[float, float, float]:
        """Seconds from the frame to: the ExitRequest at a subscriber, the Cancel at the venue, the exit Submit."""
        self.marks.reset()
        text = sweep_frame(datetime.now(UTC))
        started = time.perf_counter_ns()
        self.feed.frame(text)
        if not self.marks.submitted.wait(WAIT):
            raise RuntimeError(f"no exit order reached the venue within {WAIT}s")
        requested, _ = self.wait_for(
            lambda m: isinstance(m, ExitRequest) and m.position_id == position_id, "exit request"
        )
        self.wait_for(lambda m: isinstance(m, PositionClosed) and m.position_id == position_id, "closed position")
        marks = self.marks
        return (
            (requested - started) / 1e9,
            (marks.cancel_ns - started) / 1e9 if marks.cancel_ns else float("nan"),
            (marks.submit_ns - started) / 1e9,
        )

    def close(self) -> None:
        self._closing.close()


@dataclass
class Run:
    """One venue's samples, in seconds, paired iteration by iteration."""

    venue: str
    hops: list[float] = field(default_factory=list)
    frames: list[float] = field(default_factory=list)
    writes: list[float] = field(default_factory=list)
    to_request: list[float] = field(default_factory=list)
    to_cancel: list[float] = field(default_factory=list)
    to_exit: list[float] = field(default_factory=list)
    per_entry_fill: list[tuple[float, int]] = field(default_factory=list)
    seconds: float = 0.0
    journal_dir: str = ""


def measure(venue: str, args: argparse.Namespace) -> Run:
    run = Run(venue)
    with tempfile.TemporaryDirectory(prefix="crocbot-bench-", dir=args.journal_dir) as tmp:
        bench = Bench(Path(tmp), args.settle, venue)
        started = time.perf_counter()
        try:
            for i in range(args.warmup + args.iterations):
                position_id = bench.open_position()
                bench.rest()
                bench.settle()
                hop = bench.hop(i)
                frame = bench.frame_only()
                write = bench.journal_write(i)
                bench.settle()
                request, cancel, submit = bench.exit(position_id)
                if i >= args.warmup:
                    run.hops.append(hop)
                    run.frames.append(frame)
                    run.writes.append(write)
                    run.to_request.append(request)
                    run.to_cancel.append(cancel)
                    run.to_exit.append(submit)
        finally:
            bench.close()
        run.seconds = time.perf_counter() - started
        run.journal_dir = tmp
    run.per_entry_fill = bench.marks.per_entry_fill[args.warmup :]
    return run


_WHERE = {
    "paper": ("exit Submit handled by the venue", "stop Cancel at the venue"),
    "live": ("exit add_order at the simulator", "stop cancel_order at the sim"),
}


def report(run: Run, args: argparse.Namespace) -> dict[str, Any]:
    """Print one venue's figures with its own baselines; its JSON record."""
    total, hop_s, frame_s, write_s = (Summary.of(x) for x in (run.to_exit, run.hops, run.frames, run.writes))
    stage_request, stage_cancel = Summary.of(run.to_request), Summary.of(run.to_cancel)
    stage_after = Summary.of([submit - cancel for submit, cancel in zip(run.to_exit, run.to_cancel, strict=True)])
    half = len(run.to_exit) // 2
    first, second = Summary.of(run.to_exit[:half]), Summary.of(run.to_exit[half:])
    exit_at, cancel_at = _WHERE[run.venue]
    venue = (
        "the paper venue"
        if run.venue == "paper"
        else "the simulator (live venue: WS v2 private add_order over 127.0.0.1)"
    )
    print(
        f"\ntick-to-exit, {run.venue}: book frame through the stop -> exit order at {venue}; {total.count} exits "
        f"(+{args.warmup} warm-up) in {run.seconds:.1f} s; journal in {run.journal_dir} (synchronous=FULL)"
    )
    print(f"{'':52}{'p50 ms':>11}{'p99 ms':>11}{'max ms':>11}")
    print(f"{'frame -> ' + exit_at:52}{total.row()}")
    print(f"{'  of which: frame -> ExitRequest at a subscriber':52}{stage_request.row()}")
    print(f"{'            frame -> ' + cancel_at:52}{stage_cancel.row()}")
    print(f"{'            then -> the exit (the cancel answered)':52}{stage_after.row()}")
    print(f"{'baseline: one hop (bus.publish -> trivial actor)':52}{hop_s.row()}")
    print(f"{'baseline: frame decode + book + checksum only':52}{frame_s.row()}")
    print(f"{'reference: one durable journal write (ask + fsync)':52}{write_s.row()}")
    print(
        f"in hops: p50 {ratio(total.p50, hop_s.p50):.1f}x, p99 {ratio(total.p99, hop_s.p99):.1f}x one hop; "
        f"first half p50 {first.p50 * 1e3:.3f} ms, second half p50 {second.p50 * 1e3:.3f} ms"
    )
    # The router's work for an entry fill: it books the fill, opens the position and journals the stop's intent, the
    # ledger and the risk state, then sends the stop. Before issue 13 each record was a commit of its own.
    per_fill = sorted(commits for commits, _ in run.per_entry_fill)
    records = sorted(n for _, n in run.per_entry_fill)
    if per_fill:
        print(
            f"journal commits per entry fill (before its stop goes out): median {per_fill[len(per_fill) // 2]:g}, "
            f"max {per_fill[-1]:g} over {len(per_fill)} fills; aim <= 2"
        )
        print(
            f"baseline: records journaled for an entry fill (one commit each before issue 13): median "
            f"{records[len(records) // 2]}, max {records[-1]}"
        )
    aim = AIMS[run.venue]
    met = total.p99 < aim
    verdict = "met" if met else "NOT met"
    print(f"aim: p99 < {aim * 1e3:.0f} ms on an idle machine; p99 {total.p99 * 1e3:.3f} ms: {verdict}")
    return {
        "venue": run.venue,
        "exits": total.count,
        "tick_to_exit": total.as_json(),
        "to_exit_request": stage_request.as_json(),
        "to_stop_cancel": stage_cancel.as_json(),
        "stop_cancel_to_exit": stage_after.as_json(),
        "hop_baseline": hop_s.as_json(),
        "frame_only_baseline": frame_s.as_json(),
        "journal_write": write_s.as_json(),
        "ratio_p50_hops": round(ratio(total.p50, hop_s.p50), 2),
        "ratio_p99_hops": round(ratio(total.p99, hop_s.p99), 2),
        "aim_p99_ms": aim * 1e3,
        "journal_commits_per_entry_fill_max": per_fill[-1] if per_fill else None,
        "journal_records_per_entry_fill_max": records[-1] if records else None,
        "met": met,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--iterations", type=int, default=250, help="measured exits (after the warm-up)")
    parser.add_argument("--warmup", type=int, default=10, help="exits first, not counted")
    parser.add_argument("--settle", type=float, default=0.005, help="idle seconds before each measurement")
    parser.add_argument("--journal-dir", type=Path, default=None, help="where the journal goes (default: a temp dir)")
    parser.add_argument(
        "--venue",
        choices=(*VENUES, "both"),
        default="both",
        help="the paper venue, the live venue against the in-process simulator, or both in one run (default)",
    )
    aims = ", ".join(f"{venue} {aim * 1e3:.0f} ms" for venue, aim in AIMS.items())
    parser.add_argument("--check", action="store_true", help=f"exit 1 if a p99 is not below its aim ({aims})")
    args = parser.parse_args()
    logger.remove()  # log lines (entries, exits) are not part of the measurement

    load = os.getloadavg()[0]
    venues = VENUES if args.venue == "both" else (args.venue,)
    runs = [measure(venue, args) for venue in venues]
    print(f"load average at start {load:.2f}")
    records = [report(run, args) for run in runs]
    if len(runs) == 2:
        paper, live = (Summary.of(run.to_exit) for run in runs)
        print(
            f"\nlive against paper, same run: p50 {live.p50 * 1e3:.3f} vs {paper.p50 * 1e3:.3f} ms "
            f"(+{(live.p50 - paper.p50) * 1e3:.3f}), p99 {live.p99 * 1e3:.3f} vs {paper.p99 * 1e3:.3f} ms "
            f"(+{(live.p99 - paper.p99) * 1e3:.3f})"
        )
    print(json.dumps({"bench": "tick_to_exit", "load_avg_1m": round(load, 2), "venues": records}))
    return 1 if args.check and not all(record["met"] for record in records) else 0


if __name__ == "__main__":
    sys.exit(main())
