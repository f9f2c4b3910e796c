"""Start-up reconciliation end to end: the paper account (the venue in paper mode) knows something the journal does
not, as a kill -9 at the wrong moment leaves it, and the restarted bot learns it before it calls itself ready.

Each test runs a flat BTC/USD market in the simulator, stops the bot, changes the saved state the way a crash in
one particular window would have left it, and starts a new bot on the same state directory:
- the venue saved a stop's fill, the router never heard of it (kill between the venue's save and its publish);
- the venue executed an entry whose intent the journal holds as unsent (kill between the send and the answer);
- the journal holds an intent the venue never got (kill between the intent's journaling and the send);
- the venue holds an order the journal does not know (a manual order, or a journal restored from a backup);
- the trade log lacks a fill the journal has (kill between the journal's commit and the log's append);
- the venue sends a fill again that the ledger's state no longer names (it keeps only its recent fill ids).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from crocbot.actors.messages import REPORT_KEY
from crocbot.app import TRADE_LOG_FILE
from crocbot.core.desk import LEDGER_KEY
from crocbot.core.messages import (
    OrderIntent,
    OrderPurpose,
    OrderStatus,
    OrderType,
    PositionSide,
    Side,
    Signal,
    Trade,
)
from crocbot.core.messages.journal import EntryBrackets
from crocbot.core.reconcile import NEVER_SENT
from crocbot.sim.catalog import DEFAULT_INSTRUMENTS
from crocbot.sim.market import MarketTrade
from crocbot.status import collect_status, render_status
from crocbot.store.paper_account import PAPER_ACCOUNT_KEY
from crocbot.venues.paper import PaperVenue
from crocbot.venues.protocol import Amend, Submit
from tests.support.e2e import Paper, fifo_realized

SYMBOL = "BTC/USD"
START = datetime(2024, 2, 6, 9, 0, tzinfo=UTC)
PRE_ROLL = timedelta(hours=1)
TOP = Decimal(40_000)
EVERY = timedelta(seconds=5)
STEP = next(i for i in DEFAULT_INSTRUMENTS if i.symbol == SYMBOL).price_increment
WALL_BOUND = 60.0


def flat_market() -> Iterator[MarketTrade]:
    t, n = START, 0
    while t < START + PRE_ROLL + timedelta(hours=3):
        side = Side.BUY if n % 2 else Side.SELL
        yield MarketTrade(SYMBOL, t, TOP + (STEP if side is Side.BUY else 0), Decimal("0.02"), side)
        t, n = t + EVERY, n + 1


def make_paper(tmp_path: Path, **overrides: object) -> Paper:
    return Paper(tmp_path, sources={SYMBOL: flat_market()}, symbols=(SYMBOL,), pre_roll=PRE_ROLL, overrides=overrides)


@pytest.fixture
def paper(tmp_path: Path) -> Iterator[Paper]:
    paper = make_paper(tmp_path)
    try:
        yield paper.start()
        paper.run_until(START + PRE_ROLL + timedelta(minutes=1))
    finally:
        paper.stop()


def restart_after(paper: Paper, crash: Callable[[], None]) -> None:
    """Stop the bot, leave the state as a crash in some window would have, start a new bot on it."""
    bot, _ = paper.running
    bot.stop()
    crash()
    paper._start_bot()


def change_account(paper: Paper, change: Callable[[PaperVenue], object]) -> None:
    bot, _ = paper.running
    with paper.paper_account() as store:
        state = store.load_state(PAPER_ACCOUNT_KEY)
        assert state is not None
        venue = PaperVenue.from_state(state, bot.instruments, clock=paper.simulator.clock)
        book = paper.simulator.exchange.markets[SYMBOL].book
        venue.on_book(SYMBOL, book.bids(10), book.asks(10))
        change(venue)
        store.save_state(PAPER_ACCOUNT_KEY, venue.to_state())


def entry_intent(cl_ord_id: str, order_type: OrderType = OrderType.MARKET, limit: Decimal | None = None) -> OrderIntent:
    return OrderIntent(
        cl_ord_id, SYMBOL, Side.BUY, order_type, Decimal("0.01"), OrderPurpose.ENTRY, START, limit_price=limit
    )


def open_protected_long(paper: Paper) -> None:
    bot, _ = paper.running
    ask = paper.simulator.exchange.markets[SYMBOL].book.asks(1)[0][0]
    entry = (ask * Decimal("1.002")).quantize(STEP)
    stop, target = (entry * Decimal("0.985")).quantize(STEP), (entry * Decimal("1.05")).quantize(STEP)
    now = paper.simulator.clock.now()
    bot.runtime.bus.publish(Signal(SYMBOL, PositionSide.LONG, entry, stop, target, "by-hand", now))
    deadline = time.monotonic() + WALL_BOUND
    while not any(p.stop_live for p in bot.status().positions):
        assert time.monotonic() < deadline, "no protected position"
        paper.advance(1.0)


def assert_books_true(paper: Paper) -> None:
    """The journal, the trade log and the ledger hold every fill the venue made, once; open positions are
    protected by a stop the venue holds."""
    bot, _ = paper.running
    venue = bot.runtime.directory.get("venue")
    assert venue is not None
    engine = venue.proxy().venue.get().engine
    venue_fills = {f.exec_id for f in engine.fills()}
    journal_fills = {f.fill_id for f in paper.journal().fills()}
    logged = [r for r in paper.trade_log() if r["type"] == "fill"] if journal_fills else []
    assert venue_fills <= journal_fills
    assert sorted(r["fill_id"] for r in logged) == sorted(journal_fills)  # each once
    assert fifo_realized(logged) == bot.status().realized
    stops = {o.cl_ord_id: o for o in engine.open_orders() if o.order_type == "stop-loss"}
    for position in bot.status().positions:
        live = [o for o in stops.values() if o.symbol == position.symbol]
        assert live, f"position {position.position_id} has no stop on the venue"
        assert sum(o.qty - o.cum_qty for o in live) == position.qty


def test_a_stop_fill_the_venue_saved_but_the_router_never_heard_of_is_backfilled(paper: Paper) -> None:
    open_protected_long(paper)
    bot, _ = paper.running
    stop_price = bot.status().positions[0].stop
    entry_fill = next(r for r in paper.trade_log() if r["type"] == "fill")

    def crash() -> None:
        def stop_out(venue: PaperVenue) -> None:
            now = paper.simulator.clock.now()
            venue.on_trade(Trade(SYMBOL, Side.SELL, stop_price - 10 * STEP, Decimal("1"), now))

        change_account(paper, stop_out)
        # ... and the entry fill's trade-log line was never appended (kill after the journal's commit)
        log = paper.tmp_path / "logs" / TRADE_LOG_FILE
        lines = log.read_text().splitlines(keepends=True)
        log.write_text("".join(line for line in lines if entry_fill["fill_id"] not in line))

    restart_after(paper, crash)

    bot, _ = paper.running
    assert bot.status().positions == ()
    journal = paper.journal()
    stop_fills = [f for f in journal.fills() if f.cl_ord_id.startswith("cbs")]
    assert len(stop_fills) == 1
    assert journal.backfilled_fill_ids() == {stop_fills[0].fill_id}
    backfilled = {r["fill_id"] for r in paper.trade_log() if r.get("backfilled")}
    assert backfilled == {stop_fills[0].fill_id, entry_fill["fill_id"]}
    assert [p for p in journal.positions() if p.is_open] == []
    report = journal.load_state(REPORT_KEY)
    assert report is not None
    assert report["backfilled_fills"] == [stop_fills[0].fill_id]
    assert paper.settings is not None
    status = collect_status(paper.settings, probe=False)
    assert status["backfilled_fills"] == 1
    assert "1 fills to book (1 new to the journal)" in render_status(status)
    assert_books_true(paper)


def test_a_stop_amend_the_venue_confirmed_but_the_journal_missed_is_taken_from_the_venue(paper: Paper) -> None:
    """Found by the kill -9 soak: the stop's size was amended at the venue, the router died before journaling the
    confirmation; the books kept the old size, and the stop's fill later over-filled it (booked, with a CRITICAL)."""
    open_protected_long(paper)
    bot, _ = paper.running
    (position,) = bot.status().positions
    stop_id = next(o.cl_ord_id for o in bot.status().orders if o.cl_ord_id.startswith("cbs"))
    tighter = position.stop + 5 * STEP

    def crash() -> None:
        def amend(venue: PaperVenue) -> None:
            venue.execute(Amend(stop_id, SYMBOL, paper.simulator.clock.now(), trigger_price=tighter))

        change_account(paper, amend)

    restart_after(paper, crash)

    bot, _ = paper.running
    (after,) = bot.status().positions
    assert (after.stop, after.stop_live) == (tighter, True)
    order = paper.journal().order(stop_id)
    assert order is not None
    assert order.trigger_price == tighter
    report = paper.journal().load_state(REPORT_KEY)
    assert report is not None
    assert any("amended as the venue confirmed" in line for line in report["actions"])
    assert_books_true(paper)


def test_an_entry_the_venue_filled_while_its_answer_was_lost_opens_a_protected_position(paper: Paper) -> None:
    intent = entry_intent("cbe-lost-answer")
    bid = paper.simulator.exchange.markets[SYMBOL].book.bids(1)[0][0]
    brackets = EntryBrackets((bid * Decimal("0.98")).quantize(STEP), (bid * Decimal("1.04")).quantize(STEP), "x")

    def crash() -> None:
        with paper.journal() as journal:
            journal.record_intent(intent, position_id="p-lost-answer", reason="test", brackets=brackets)
        change_account(paper, lambda venue: venue.execute(Submit(intent)))

    restart_after(paper, crash)

    bot, _ = paper.running
    (position,) = bot.status().positions
    assert position.stop == brackets.initial_stop
    assert position.take_profit == brackets.take_profit
    order = paper.journal().order(intent.cl_ord_id)
    assert order is not None
    assert order.status is OrderStatus.FILLED
    assert paper.journal().backfilled_fill_ids()
    # the stop goes out once ready; the paper venue acknowledges it after its latency
    deadline = time.monotonic() + WALL_BOUND
    while not bot.status().positions[0].stop_live:
        assert time.monotonic() < deadline, "the backfilled position got no stop"
        paper.advance(0.5)
    assert_books_true(paper)


def test_an_intent_the_venue_never_got_is_closed_as_never_sent(paper: Paper) -> None:
    intent = entry_intent("cbe-never-sent", OrderType.LIMIT, TOP - 100 * STEP)

    def crash() -> None:
        with paper.journal() as journal:
            journal.record_intent(intent, position_id="p-never-sent", reason="test")

    restart_after(paper, crash)

    bot, _ = paper.running
    order = paper.journal().order(intent.cl_ord_id)
    assert order is not None
    assert order.status is OrderStatus.REJECTED
    assert NEVER_SENT in [e.reason for e in paper.journal().order_events(intent.cl_ord_id)]
    assert bot.status().positions == ()
    assert bot.status().orders == ()
    assert_books_true(paper)


def foreign_order(paper: Paper) -> None:
    intent = entry_intent("manual-order-1", OrderType.LIMIT, TOP - 200 * STEP)
    change_account(paper, lambda venue: venue.execute(Submit(intent)))


def test_a_venue_order_the_journal_does_not_know_halts_entries_by_default(paper: Paper) -> None:
    restart_after(paper, lambda: foreign_order(paper))

    bot, _ = paper.running
    readiness = {c.name: c for c in bot.board.readiness()}
    assert not readiness["not_safe_mode"].ok
    assert "venue orders unknown to the journal" in readiness["not_safe_mode"].detail
    assert readiness["reconciled"].ok
    report = paper.journal().load_state(REPORT_KEY)
    assert report is not None
    assert report["venue_orders_unknown_to_journal"] == ["manual-order-1"]
    venue = bot.runtime.directory.get("venue")
    assert venue is not None
    assert [o.cl_ord_id for o in venue.proxy().venue.get().engine.open_orders()] == ["manual-order-1"]


def test_with_the_cancel_policy_a_venue_order_the_journal_does_not_know_is_cancelled(tmp_path: Path) -> None:
    paper = make_paper(tmp_path, reconcile={"unknown_orders": "cancel"})
    try:
        paper.start()
        paper.run_until(START + PRE_ROLL + timedelta(minutes=1))
        restart_after(paper, lambda: foreign_order(paper))
        paper.advance(1.0)  # the cancel takes the paper venue's latency
        bot, _ = paper.running
        venue = bot.runtime.directory.get("venue")
        assert venue is not None
        assert venue.proxy().venue.get().engine.open_orders() == []
        assert {c.name: c.ok for c in bot.board.readiness()}["not_safe_mode"]
    finally:
        paper.stop()


def test_a_fill_sent_again_after_it_left_the_ledgers_recent_fills_is_not_booked_twice(paper: Paper) -> None:
    """The ledger's state names only its recent fills (the history is the journal's): an older fill that comes again
    is recognised by the journal, which answers that it held it already."""
    open_protected_long(paper)
    entry = next(f for f in paper.journal().fills() if f.cl_ord_id.startswith("cbe"))

    def forget() -> None:  # as if a hundred fills had been booked since
        with paper.journal() as journal:
            state = journal.load_state(LEDGER_KEY)
            assert state is not None
            assert entry.fill_id in state["recent_fills"]
            journal.save_state(LEDGER_KEY, state | {"recent_fills": []})

    restart_after(paper, forget)
    bot, _ = paper.running
    before = bot.status()

    bot.runtime.bus.publish(entry)
    paper.advance(1.0)

    after = bot.status()
    assert [p.qty for p in after.positions] == [p.qty for p in before.positions]
    assert after.realized == before.realized
    assert_books_true(paper)
