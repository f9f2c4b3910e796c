"""A book that fails its checksum is logged loud and throttled: the symbol, both checksums, and what the client does."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from loguru import logger

from crocbot.core.clock import SimClock
from crocbot.kraken.ws import Subscription, WsClient
from crocbot.sim.faults import FaultPlan
from crocbot.sim.runner import Simulator
from tests.support.sim import catalog, running_simulator

SYMBOL = "BTC/USD"
WAIT = 10.0
MAX_STEPS = 2_000


class Frames:
    """Wakes the test whenever the client hands a message on (no sleeps)."""

    def __init__(self) -> None:
        self.cond = threading.Condition()

    def __call__(self, message: object) -> None:
        with self.cond:
            self.cond.notify_all()

    def wait_for(self, predicate: Callable[[], bool], timeout: float) -> bool:
        with self.cond:
            return self.cond.wait_for(predicate, timeout)


@pytest.fixture
def warnings() -> Iterator[list[dict[str, Any]]]:
    records: list[dict[str, Any]] = []
    sink = logger.add(lambda message: records.append(dict(message.record["extra"])), level="WARNING")
    yield records
    logger.remove(sink)


def one_more_mismatch(sim: Simulator, client: WsClient, frames: Frames) -> None:
    """Step the market until the client has seen one more corrupted checksum (bounded)."""
    before = client.stats.checksum_mismatches
    assert frames.wait_for(lambda: SYMBOL in client.books and client.books[SYMBOL].valid, WAIT), "no snapshot came"
    for _ in range(MAX_STEPS):
        sim.step(1)
        # a trade may leave the subscribed depth unchanged (no frame): then the next one is stepped
        if frames.wait_for(lambda: client.stats.checksum_mismatches > before, 0.2):
            return
    raise AssertionError(f"no checksum mismatch after {MAX_STEPS} trades")


def mismatch_reports(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in records if r.get("condition") == "checksum mismatch"]


def test_a_checksum_mismatch_is_logged_with_symbol_and_both_checksums_then_throttled_with_a_count(
    warnings: list[dict[str, Any]],
) -> None:
    faults = FaultPlan(seed=3)
    faults.corrupt_checksum_rate = 1.0  # every book frame after a snapshot is corrupted once
    clock = SimClock()  # the client's: the throttle moves only when the test says so
    frames = Frames()
    with running_simulator(faults=faults, symbols=(SYMBOL,), churn_per_trade=3, book_levels=60) as sim:
        client = WsClient(
            sim.ws_url,
            [Subscription("book", (SYMBOL,), {"depth": 10})],
            frames,
            catalog=catalog(),
            clock=clock,
            stale_after=1e6,  # the frozen clock must not read as a dead line when the test moves it
            log_every=30.0,
        )
        client.start()
        try:
            for _ in range(3):
                one_more_mismatch(sim, client, frames)
            first = mismatch_reports(warnings)
            sent = json.loads(sim.ws.corrupted_frames[0])["data"][0]["checksum"]

            clock.advance(30.0)
            one_more_mismatch(sim, client, frames)
            # the line is written before the client hands the resync on, which wakes this wait
            frames.wait_for(lambda: len(mismatch_reports(warnings)) >= 2, WAIT)
            second = mismatch_reports(warnings)
        finally:
            client.stop()

    assert client.stats.checksum_mismatches == 4
    assert len(first) == 1, "three mismatches within the interval make one line"
    assert (first[0]["symbol"], first[0]["expected"], first[0]["held_back"]) == (SYMBOL, sent, 0)
    assert first[0]["computed"] != first[0]["expected"]
    assert len(second) == 2
    assert second[1]["held_back"] == 2, "the next line counts the two held back"
