"""Restart safety for the end-to-end tests: a crafted market that trades, crash injection, and the invariants.

The market (BTC/USD only) is flat for the pre-roll, then repeats a cycle: flat, a rise of 2 % (the SL manager
moves the stop to breakeven), a fall of 5 % (the stop fills). A long signal published at the start of each flat
gives an entry, a protective stop, a stop amend, a stop fill and a closed trade per cycle.

Crashes are injected the honest way: `Crash` is told to the actor, its handler raises, pykka reports the failure
and the supervisor restarts the actor (and, under `rest_for_one`, the ones after it). `SupervisedActor.handle`,
which every actor falls back to for a message it does not know, is patched for the test to raise on `Crash`.

The invariants are checked against the venue's own account, not the router's view of it (`venue_books`): on paper
the paper account's file holds the balances every fill moved and the resting orders; live, the simulator's account
(its matching engine) is Kraken's truth.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from crocbot.actors.base import SupervisedActor
from crocbot.app import ACTOR_NAMES, TRADE_LOG_FILE
from crocbot.core.messages import OrderPurpose, OrderStatus, PositionSide, Side, Signal
from crocbot.sim.catalog import DEFAULT_INSTRUMENTS
from crocbot.sim.market import MarketTrade
from crocbot.store.paper_account import PAPER_ACCOUNT_KEY
from crocbot.store.tradelog import TradeLog
from tests.support.e2e import Paper, fifo_realized
from tests.support.sim import API_KEY

SYMBOL = "BTC/USD"
QUOTE = "USD"
BASES = {i.symbol: i.base for i in DEFAULT_INSTRUMENTS}
STEPS = {i.symbol: i.price_increment for i in DEFAULT_INSTRUMENTS}
COST_UNITS = {i.symbol: Decimal(1).scaleb(-i.cost_precision) for i in DEFAULT_INSTRUMENTS}
START = datetime(2024, 3, 5, 0, 0, tzinfo=UTC)
PRE_ROLL = timedelta(hours=1)
FLAT = timedelta(minutes=5)
RISE = timedelta(minutes=5)
FALL = timedelta(minutes=2)
CYCLE = FLAT + RISE + FALL
TOP = Decimal(40_000)
EVERY = timedelta(seconds=5)
STEP = next(i for i in DEFAULT_INSTRUMENTS if i.symbol == SYMBOL).price_increment
WALL_BOUND = 30.0  # wall seconds any one wait may take
CENT = Decimal("0.01")

# Trades happen within simulated minutes: no trailing (the stop moves to breakeven at 1R), no cooldown.
OVERRIDES: dict[str, Any] = {
    "risk": {"cooldown_after_loss": 0},
    "stops": {"trailing": "none"},
}


def cycle_start(index: int) -> datetime:
    return START + PRE_ROLL + index * CYCLE


def cycling_market(cycles: int) -> Iterator[MarketTrade]:
    """Flat for the pre-roll, then `cycles` times: flat, 2 % up, 5 % down; then flat for an hour."""
    qty = Decimal("0.02")
    t, price, n = START, TOP, 0

    def flat(until: datetime) -> Iterator[MarketTrade]:
        nonlocal t, n
        while t < until:
            side = Side.BUY if n % 2 else Side.SELL
            yield MarketTrade(SYMBOL, t, price + (STEP if side is Side.BUY else 0), qty, side)
            t, n = t + EVERY, n + 1

    def move(to: Decimal, over: timedelta) -> Iterator[MarketTrade]:
        nonlocal t, price
        steps = int(over / EVERY)
        start = price
        for i in range(1, steps + 1):
            level = (start + (to - start) * i / steps).quantize(STEP)
            yield MarketTrade(SYMBOL, t, level, qty, Side.BUY if to > start else Side.SELL)
            t += EVERY
        price = to

    yield from flat(START + PRE_ROLL)
    for _ in range(cycles):
        yield from flat(t + FLAT)
        yield from move((price * Decimal("1.02")).quantize(STEP), RISE)
        yield from move((price * Decimal("0.95")).quantize(STEP), FALL)
    yield from flat(t + timedelta(hours=1))


# -- driving the bot ----------------------------------------------------------------------------------------


def cycling_paper(tmp_path: Path, cycles: int = 2, *, venue: str = "paper") -> Paper:
    """A bot on BTC/USD alone, trading `cycles` cycles of the crafted market on `venue` (not started yet)."""
    return Paper(
        tmp_path,
        sources={SYMBOL: cycling_market(cycles)},
        symbols=(SYMBOL,),
        pre_roll=PRE_ROLL,
        overrides=OVERRIDES,
        live=venue == "live",
    )


def wait_for(paper: Paper, what: str, check: Any, *, step: float = 0.25) -> None:
    """Let event time pass in small steps until `check()` holds, bounded in wall time."""
    deadline = time.monotonic() + WALL_BOUND
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        paper.advance(step)


def long_signal(paper: Paper, symbol: str = SYMBOL, *, why: str = "by-hand") -> None:
    """A marketable long: entry 0.2 % over the ask, stop 1.5 % under the entry, take-profit 10 % over it."""
    bot, _ = paper.running
    step = STEPS[symbol]
    ask = paper.simulator.exchange.markets[symbol].book.asks(1)[0][0]
    entry = (ask * Decimal("1.002")).quantize(step)
    bot.runtime.bus.publish(
        Signal(
            symbol,
            PositionSide.LONG,
            entry,
            (entry * Decimal("0.985")).quantize(step),
            (entry * Decimal("1.1")).quantize(step),
            why,
            paper.simulator.clock.now(),
        )
    )


def protected(paper: Paper, symbol: str | None = None) -> bool:
    """An open position (in `symbol`, if given) and every open position's stop live."""
    bot, _ = paper.running
    positions = bot.status().positions
    wanted = [p for p in positions if symbol is None or p.symbol == symbol]
    return bool(wanted) and all(p.stop_live for p in positions)


def entries(paper: Paper) -> list[str]:
    with paper.journal() as journal:
        return [o.cl_ord_id for o in journal.orders() if o.intent.purpose is OrderPurpose.ENTRY]


# -- crashing actors ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Crash:
    """Told to an actor by a test: its handler raises `InjectedCrash`."""

    why: str


class InjectedCrash(RuntimeError):
    """The crash a test asked for."""


@pytest.fixture
def crashable(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every actor raises on `Crash` (the base handler is what each actor falls back to for unknown messages)."""
    fallback = SupervisedActor.handle

    def handle(self: SupervisedActor, message: Any) -> Any:
        if isinstance(message, Crash):
            raise InjectedCrash(f"{self.name}: {message.why}")
        return fallback(self, message)

    monkeypatch.setattr(SupervisedActor, "handle", handle)


def instance(paper: Paper, name: str) -> int:
    bot, _ = paper.running
    entry = bot.runtime.directory.entry(name)
    assert entry is not None, f"{name} is not running"
    return entry.instance


def all_running(paper: Paper) -> bool:
    bot, _ = paper.running
    return all(check.ok for check in bot.board.liveness() if check.name.startswith("actor:"))


FEED_RESTARTS = ("feed", "market")  # crashing these takes the market-data connection down until the restart


def crash(paper: Paper, name: str, why: str = "injected") -> None:
    """Crash `name` and wait (in event time, bounded) until it and every other actor run again."""
    bot, conductor = paper.running
    before = instance(paper, name)
    entry = bot.runtime.directory.entry(name)
    assert entry is not None
    # Lockstep waits for the feed to catch up before time moves on; without a connection, the restart (a timer)
    # would wait for it in turn. Time moves on without the feed, as it would live, until the feed is back.
    conductor.require_feed = name not in FEED_RESTARTS
    try:
        entry.ref.tell(Crash(why))
        wait_for(
            paper,
            f"{name} restarted",
            lambda: (
                (e := bot.runtime.directory.entry(name)) is not None and e.instance != before and all_running(paper)
            ),
        )
    finally:
        conductor.require_feed = True
    if name in FEED_RESTARTS:
        paper.wait_ready()


# -- the invariants -----------------------------------------------------------------------------------------


def paper_account(paper: Paper) -> dict[str, Any]:
    with paper.paper_account() as store:
        state = store.load_state(PAPER_ACCOUNT_KEY)
    assert state is not None, "no paper account saved"
    return state


def resting_stops(account: dict[str, Any]) -> dict[tuple[str, str], Decimal]:
    """The venue's resting stop orders: (symbol, cl_ord_id) -> the quantity they would still sell."""
    return {
        (row["instrument"], row["cl_ord_id"]): Decimal(row["qty"]) - Decimal(row["cum_qty"])
        for row in account["open_orders"]
        if row["order_type"].startswith("stop-loss") and row["side"] == "sell" and not row["triggered"]
    }


def venue_books(paper: Paper) -> tuple[dict[str, Decimal], dict[tuple[str, str], Decimal]]:
    """The venue's own balances and resting stops (`resting_stops`): the paper account's file on paper, the
    simulator's account live."""
    if not paper.live:
        account = paper_account(paper)
        return {asset: Decimal(amount) for asset, amount in account["balances"].items()}, resting_stops(account)
    exchange = paper.simulator.exchange
    with exchange.lock:  # the simulator's request threads change the account
        engine = exchange.accounts[API_KEY].engine
        balances, orders = engine.balances(), engine.open_orders()
    stops = {
        (order.symbol, order.cl_ord_id or order.order_id): order.qty - order.cum_qty
        for order in orders
        if order.order_type.startswith("stop-loss") and order.side is Side.SELL and not order.triggered
    }
    return balances, stops


@dataclass(frozen=True)
class Books:
    """What the records say at one moment, for the invariants."""

    seen: frozenset[str]
    journal: frozenset[str]
    logged: frozenset[str]
    balances: dict[str, Decimal]
    stops: dict[tuple[str, str], Decimal]


def trade_log_fills(paper: Paper) -> list[dict[str, Any]]:
    """Every fill line of the trade log and of its fallback file (where a line goes when the log cannot take it)."""
    fills = [r for r in paper.trade_log() if r["type"] == "fill"]
    fallback = paper.tmp_path / "logs" / (Path(TRADE_LOG_FILE).stem + ".fallback.jsonl")
    if fallback.exists():
        records = TradeLog.read(fallback)
        assert records.torn == 0, f"torn fallback lines {records.torn_lines}"
        fills += [r for r in records if r["type"] == "fill"]
    return fills


def check_invariants(paper: Paper, where: str) -> Books:
    """Fills: none missing from the journal or the trade log, and the venue's balances are what it started with
    plus the journal's fills. Orders: no cl_ord_id sent or acknowledged twice, one entry per position. Protection: what
    the venue holds is covered by resting stop orders, the router knows it as protected positions. Money: the
    ledger's realised P&L equals a FIFO recomputation from the trade log."""
    bot, _ = paper.running
    balances, stops = venue_books(paper)
    start = paper.venue_start()
    with paper.journal() as journal:
        fills = journal.fills()
        orders = journal.orders()
    logged = trade_log_fills(paper)
    with paper.seen.lock:
        seen = {f.fill_id for f in paper.seen.fills}
        events = list(paper.seen.order_events)
    journaled = {f.fill_id for f in fills}
    logged_ids = [r["fill_id"] for r in logged]

    # No fill missing: what the venue reported is in the journal, and the journal and the trade log agree.
    assert seen <= journaled, f"{where}: fills the venue reported but the journal lacks: {seen - journaled}"
    assert len(logged_ids) == len(set(logged_ids)), f"{where}: a fill logged twice"
    assert set(logged_ids) == journaled, f"{where}: journal and trade log differ: {set(logged_ids) ^ journaled}"
    # The venue's own account moved by exactly the journaled fills (a fill it booked but nobody journaled, or
    # one journaled twice, shows here even if no listener saw it).
    expected = dict(start)
    rounding = Decimal(0)  # what Kraken's rounding may move the quote by, live
    for fill in fills:
        assert fill.fee_currency in (QUOTE, "Z" + QUOTE), fill
        base, cost = BASES[fill.symbol], fill.qty * fill.price
        sign = 1 if fill.side is Side.BUY else -1
        expected[base] = expected.get(base, Decimal(0)) + sign * fill.qty
        expected[QUOTE] = expected.get(QUOTE, Decimal(0)) - (sign * cost + fill.fee)
        rounding += COST_UNITS[fill.symbol]
    for asset in set(balances) | set(expected):
        held, want = balances.get(asset, Decimal(0)), expected.get(asset, Decimal(0))
        if paper.live and asset == QUOTE:
            # Kraken books each fill's cost at the pair's decimals (and its fee, which the fill reports, rounded
            # down to them); the journal keeps the exact qty x price. Within a unit of those decimals per fill,
            # never more: a fill booked twice or missing moves it by its whole cost.
            assert abs(held - want) <= rounding, f"{where}: the venue holds {held} {asset}, the fills say {want}"
            continue
        assert held == want, f"{where}: the venue holds {held} {asset}, the journaled fills say {want}"

    # No duplicate orders.
    venue_ids: dict[str, set[str]] = {}
    for event in events:
        if event.status is OrderStatus.ACKED and event.order_id:
            venue_ids.setdefault(event.cl_ord_id, set()).add(event.order_id)
        assert "uplicate" not in event.reason, f"{where}: {event}"
    twice = {k: v for k, v in venue_ids.items() if len(v) > 1}
    assert not twice, f"{where}: client order ids with two venue orders: {twice}"
    per_position: dict[str, int] = {}
    for order in orders:
        if order.intent.purpose is OrderPurpose.ENTRY and order.position_id is not None:
            per_position[order.position_id] = per_position.get(order.position_id, 0) + 1
    assert all(n == 1 for n in per_position.values()), f"{where}: a position with two entries: {per_position}"

    # Every open position is protected on the venue, and the router knows it. What crocbot holds is what its fills
    # bought: coins the account had before (a live account the trader shares) are not its to protect.
    status = bot.status()
    for symbol in paper.symbols:
        base = BASES[symbol]
        held = expected.get(base, Decimal(0)) - start.get(base, Decimal(0))
        covered = sum((qty for (sym, _), qty in stops.items() if sym == symbol), Decimal(0))
        assert covered == held, f"{where}: the venue holds {held} of {symbol}, its resting stops cover {covered}"
        known = sum((p.qty for p in status.positions if p.symbol == symbol), Decimal(0))
        assert known == held, f"{where}: the router knows {known} of {symbol}, the venue holds {held}"
    assert all(p.stop_live for p in status.positions), f"{where}: {status.positions}"

    # The ledger equals an independent FIFO recomputation from the trade log.
    ordered = sorted(logged, key=lambda r: r["ts"])
    assert fifo_realized(ordered).quantize(CENT) == status.realized.quantize(CENT), f"{where}: realised P&L"
    return Books(frozenset(seen), frozenset(journaled), frozenset(logged_ids), expected, stops)


__all__ = [
    "ACTOR_NAMES",
    "Books",
    "Crash",
    "InjectedCrash",
    "OVERRIDES",
    "PRE_ROLL",
    "START",
    "SYMBOL",
    "check_invariants",
    "crash",
    "crashable",
    "cycle_start",
    "cycling_market",
    "cycling_paper",
    "entries",
    "long_signal",
    "paper_account",
    "protected",
    "resting_stops",
    "venue_books",
    "wait_for",
]
