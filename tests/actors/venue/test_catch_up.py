"""The paper venue's catch-up after a restart runs its REST calls in the gateway, never in the venue's thread.

A restored account with a resting stop starts the venue actor; the router's `StartupReconciled` starts the catch-up.
While the fetch of the missed prints hangs, the venue still answers (a snapshot, a heartbeat) and holds the router's
commands; when the prints arrive, the stop fills at the print that ran through it, at its time, and only then do
the held commands run. A failing fetch is tried again, then given up loudly, and the venue carries on.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from crocbot.actors.gateway import Deadline, Gateway
from crocbot.actors.messages import VenueRequest, VenueSnapshot
from crocbot.actors.persistence import Persistence
from crocbot.actors.runtime import Runtime
from crocbot.actors.supervisor import ChildSpec, Policy
from crocbot.actors.venue import VenueActor
from crocbot.actors.venue.catch_up import CatchUp, CatchUpPolicy
from crocbot.core.clock import SimClock
from crocbot.core.messages import (
    Fill,
    OrderEvent,
    OrderPurpose,
    OrderStatus,
    OrderType,
    Side,
    StartupReconciled,
    Trade,
    VenueCatchUp,
)
from crocbot.core.reconcile import VenueView
from crocbot.store.journal import Journal
from crocbot.store.paper_account import PAPER_ACCOUNT_FILE, PAPER_ACCOUNT_KEY
from tests.support.actors import WAIT, Tap, take
from tests.venues.paper_support import INSTRUMENTS, book, make_venue, public_trade, submit

D = Decimal
POLICY = CatchUpPolicy(tries=3, pause=1.0, call_timeout=5.0, budget=30.0)


class Fetcher:
    """The venue's `fetch_trades`: answers from `prints`, fails `failures` times first, or blocks until released."""

    def __init__(self, prints: Sequence[Trade], *, failures: int = 0, hold: bool = False) -> None:
        self.prints = list(prints)
        self.failures = failures
        self.release = threading.Event()
        if not hold:
            self.release.set()
        self.entered = threading.Event()
        self.calls: list[tuple[str, datetime, datetime]] = []

    def __call__(self, symbol: str, since: datetime, until: datetime, deadline: Deadline) -> list[Trade]:
        self.calls.append((symbol, since, until))
        self.entered.set()
        assert self.release.wait(WAIT), "the test never released the fetch"
        if len(self.calls) <= self.failures:
            raise ConnectionError("EService:Unavailable")
        return [t for t in self.prints if t.symbol == symbol]


@pytest.fixture
def gateway(runtime: Runtime) -> Iterator[Gateway]:
    gw = Gateway("rest", runtime.scheduler, workers=2, queue_size=8)
    gw.start()
    yield gw
    gw.stop()


def saved_account_with_a_resting_stop(path: Path, *, placed_after: timedelta = timedelta(0)) -> tuple[datetime, D]:
    """A journal whose paper account holds 1 BTC under a sell stop at 59,000, placed `placed_after` the last print
    it saw (at 60,000). Returns that print's time and the stop's trigger."""
    venue, clock = make_venue({"USD": D(10_000), "BTC": D(1)})
    venue.on_book("BTC/USD", book(("59999", "1")), book(("60001", "1")))
    venue.on_trade(public_trade("60000", "0.1", clock=clock))
    last_print = clock.now()
    clock.advance(placed_after.total_seconds())
    stop = submit("stop1", Side.SELL, OrderType.STOP_LOSS, "1", trigger="59000", clock=clock, purpose=OrderPurpose.STOP)
    assert [e.status for e in venue.execute(stop) if isinstance(e, OrderEvent)] == [OrderStatus.ACKED]
    journal = Journal(path)
    try:
        journal.save_state(PAPER_ACCOUNT_KEY, venue.to_state())
    finally:
        journal.close()
    return last_print, D(59_000)


def start(runtime: Runtime, tmp_path: Path, fetcher: Fetcher, gateway: Gateway) -> queue.Queue[Any]:
    events: queue.Queue[Any] = queue.Queue()
    runtime.start(
        [
            ChildSpec.actor("tap", Tap, events, (Fill, OrderEvent, VenueCatchUp)),
            ChildSpec.actor("persistence", Persistence, tmp_path / "journal.sqlite3", tmp_path / "trades.jsonl"),
            ChildSpec.actor(
                "venue",
                VenueActor,
                INSTRUMENTS,
                {"USD": D(10_000)},
                account=tmp_path / PAPER_ACCOUNT_FILE,
                latency=0.0,
                fetch_trades=fetcher,
                gateway=gateway,
                catch_up=POLICY,
            ),
        ],
        Policy(),
    )
    return events


def collect(events: queue.Queue[Any], last: Callable[[Any], bool], *, timeout: float = WAIT) -> list[Any]:
    """Every event up to and including the first for which `last` is true."""
    seen: list[Any] = []
    for _ in range(1000):
        seen.append(events.get(timeout=timeout))
        if last(seen[-1]):
            return seen
    raise AssertionError(f"the awaited event was not among 1000: {seen[:20]}")


def drive(clock: SimClock, until: threading.Event, *, step: float = 0.5, limit: int = 200) -> None:
    """Advance event time (retry pauses, deadlines) until `until` is set; bounded by `limit` steps."""
    for _ in range(limit):
        if until.wait(0.02):
            return
        clock.advance(step)
    raise AssertionError("the awaited event never happened")


def test_the_venue_answers_and_holds_commands_while_the_fetch_hangs_then_the_stop_fills_at_the_missed_print(
    runtime: Runtime, clock: SimClock, tmp_path: Path, gateway: Gateway
) -> None:
    last_print, trigger = saved_account_with_a_resting_stop(tmp_path / PAPER_ACCOUNT_FILE)
    clock.set(last_print + timedelta(hours=1))  # crocbot was down for an hour
    through = Trade("BTC/USD", Side.SELL, D("58950"), D("2"), last_print + timedelta(minutes=20))
    fetcher = Fetcher([Trade("BTC/USD", Side.BUY, D("59500"), D("1"), last_print + timedelta(minutes=5)), through])
    fetcher.release.clear()
    events = start(runtime, tmp_path, fetcher, gateway)
    assert take(events, VenueCatchUp).done is False
    venue = runtime.directory.get("venue")
    assert venue is not None

    runtime.bus.publish(Trade("BTC/USD", Side.BUY, D("59100"), D("0.5"), clock.now()))  # live, before the router
    runtime.bus.publish(StartupReconciled("test", clock.now()))  # has reconciled: held, and the catch-up starts
    assert fetcher.entered.wait(WAIT)
    # answered while the fetch hangs
    snapshot: VenueView = venue.ask(VenueSnapshot(("stop1",), None), block=True, timeout=WAIT)
    runtime.bus.publish(VenueRequest((submit("buy1", Side.BUY, OrderType.MARKET, "0.01", clock=clock),)))
    runtime.bus.publish(Trade("BTC/USD", Side.BUY, D("59100"), D("0.5"), clock.now()))  # live, held
    later: VenueView = venue.ask(VenueSnapshot(("stop1",), None), block=True, timeout=WAIT)
    assert later.orders == snapshot.orders  # nothing ran yet
    assert later.pending == {"buy1"}  # held, and said so: reconciliation must not call it lost
    fetcher.release.set()

    seen = collect(events, lambda e: isinstance(e, OrderEvent) and e.cl_ord_id == "buy1")
    fills = [e for e in seen if isinstance(e, Fill)]
    assert [(f.cl_ord_id, f.price, f.ts) for f in fills] == [("stop1", through.price, through.ts)]
    assert through.price < trigger
    assert fetcher.calls == [("BTC/USD", last_print, clock.now())]
    done = next(e for e in seen if isinstance(e, VenueCatchUp) and e.done)
    assert done.done
    assert "BTC/USD: 2 prints" in done.summary
    held = seen[-1]
    assert seen.index(fills[0]) < seen.index(done) < seen.index(held)  # missed prints, caught up, held command
    assert held.status is OrderStatus.ACKED


def test_missed_prints_older_than_the_stop_do_not_fill_it_and_the_first_after_it_does(
    runtime: Runtime, clock: SimClock, tmp_path: Path, gateway: Gateway
) -> None:
    """Issue 11, part 2: the stop was placed 55 s after the last print the venue saw (no print reached it between);
    the catch-up fetches everything since that print, and those made before the stop existed must not fill it."""
    last_print, trigger = saved_account_with_a_resting_stop(
        tmp_path / PAPER_ACCOUNT_FILE, placed_after=timedelta(seconds=55)
    )
    clock.set(last_print + timedelta(minutes=10))
    before = Trade("BTC/USD", Side.SELL, D("58000"), D("2"), last_print + timedelta(seconds=31))  # through, too early
    after = Trade("BTC/USD", Side.SELL, D("58900"), D("2"), last_print + timedelta(seconds=61))
    events = start(runtime, tmp_path, Fetcher([before, after]), gateway)

    runtime.bus.publish(StartupReconciled("test", clock.now()))

    seen = collect(events, lambda e: isinstance(e, VenueCatchUp) and e.done)
    fills = [e for e in seen if isinstance(e, Fill)]
    assert [(f.cl_ord_id, f.price, f.ts) for f in fills] == [("stop1", after.price, after.ts)]
    assert before.price < after.price < trigger


def test_a_failing_fetch_is_tried_again_after_a_pause_and_then_succeeds(
    runtime: Runtime, clock: SimClock, tmp_path: Path, gateway: Gateway
) -> None:
    last_print, _ = saved_account_with_a_resting_stop(tmp_path / PAPER_ACCOUNT_FILE)
    clock.set(last_print + timedelta(minutes=10))
    fetcher = Fetcher([Trade("BTC/USD", Side.SELL, D("58000"), D("1"), last_print + timedelta(minutes=1))], failures=2)
    events = start(runtime, tmp_path, fetcher, gateway)
    finished = threading.Event()

    def watch() -> None:
        take(events, Fill)
        finished.set()

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    runtime.bus.publish(StartupReconciled("test", clock.now()))
    drive(clock, finished)

    assert len(fetcher.calls) == 3
    assert {call[2] for call in fetcher.calls} == {last_print + timedelta(minutes=10)}  # one `until` for every try


def test_a_fetch_that_keeps_failing_is_given_up_loudly_and_the_venue_carries_on(
    runtime: Runtime, clock: SimClock, tmp_path: Path, gateway: Gateway, capfd: pytest.CaptureFixture[str]
) -> None:
    last_print, _ = saved_account_with_a_resting_stop(tmp_path / PAPER_ACCOUNT_FILE)
    clock.set(last_print + timedelta(minutes=10))
    fetcher = Fetcher([], failures=99)
    events = start(runtime, tmp_path, fetcher, gateway)
    assert take(events, VenueCatchUp).done is False
    done = threading.Event()
    outcome: list[VenueCatchUp] = []

    def watch() -> None:
        for _ in range(10):
            event = take(events, VenueCatchUp)
            if event.done:
                outcome.append(event)
                break
        done.set()

    threading.Thread(target=watch, daemon=True).start()
    runtime.bus.publish(StartupReconciled("test", clock.now()))
    drive(clock, done)

    assert len(fetcher.calls) == POLICY.tries
    assert outcome[0].done
    assert "BTC/USD: NOT fetched" in outcome[0].summary
    assert "could not be fetched in 3 tries" in capfd.readouterr().err


def test_a_venue_with_nothing_to_catch_up_says_so_at_start(runtime: Runtime, tmp_path: Path, gateway: Gateway) -> None:
    """An earlier instance may have died mid catch-up; without this the health board would wait for ever."""
    events = start(runtime, tmp_path, Fetcher([]), gateway)  # a new account: no resting orders

    said = take(events, VenueCatchUp)

    assert (said.done, said.summary) == (True, "nothing to catch up")


# -- the bookkeeping alone ----------------------------------------------------------------------------------------


def test_prints_outside_since_until_are_dropped_and_the_rest_kept_in_print_order() -> None:
    t0 = datetime.fromisoformat("2026-01-05T14:30:00+00:00")
    catch_up: CatchUp[str] = CatchUp()
    assert not catch_up.done  # holding, not begun
    catch_up.begin({"BTC/USD": t0}, t0 + timedelta(minutes=10))
    trades = [
        Trade("BTC/USD", Side.BUY, D(1), D(1), t0 + timedelta(minutes=m), trade_id=i)
        for i, m in enumerate((0, 5, 3, 10, 11))
    ]
    catch_up.fetching("BTC/USD")
    catch_up.fetched("BTC/USD", trades)

    prints = catch_up.outcomes["BTC/USD"].prints
    assert prints is not None
    assert [t.ts - t0 for t in prints] == [timedelta(minutes=m) for m in (3, 5, 10)]
    assert catch_up.done


def test_pauses_double_until_the_tries_are_spent_and_the_budget_gives_up_what_is_missing() -> None:
    t0 = datetime.fromisoformat("2026-01-05T14:30:00+00:00")
    catch_up: CatchUp[str] = CatchUp(CatchUpPolicy(tries=3, pause=1.0))
    catch_up.begin({"BTC/USD": t0, "ETH/USD": t0}, t0)
    pauses = []
    for _ in range(3):
        catch_up.fetching("BTC/USD")
        pauses.append(catch_up.failed("BTC/USD", "down"))

    assert pauses == [1.0, 2.0, None]
    assert catch_up.outcomes["BTC/USD"].prints is None
    assert not catch_up.done
    assert catch_up.give_up("budget spent") == ["ETH/USD"]
    assert catch_up.done
