"""The feed counts what the issue asks `/metrics` to show: frames per channel, checksum mismatches and book resyncs
per symbol, disconnects and reconnects; against the simulator, with corrupted checksums and a cut connection."""

from __future__ import annotations

import time
from collections.abc import Callable

from crocbot.actors.feed import Feed, FeedOptions
from crocbot.actors.runtime import Runtime
from crocbot.actors.supervisor import ChildSpec, Policy
from crocbot.kraken.ws import WsClient
from crocbot.ops.metrics import Metrics
from crocbot.sim.faults import FaultPlan
from tests.support.sim import catalog, running_simulator

SYMBOLS = ("BTC/USD", "ETH/USD")
WAIT = 60.0  # wall seconds any one condition may take


def _until(what: str, check: Callable[[], bool], step: Callable[[], object]) -> None:
    deadline = time.monotonic() + WAIT
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        step()


def test_mismatches_and_resyncs_are_counted_per_symbol_and_a_cut_connection_as_a_reconnect(runtime: Runtime) -> None:
    faults = FaultPlan(seed=3)
    faults.corrupt_checksum_rate = 0.05
    metrics = Metrics({"symbol": SYMBOLS})
    clients: list[WsClient] = []
    with running_simulator(faults=faults, symbols=SYMBOLS, churn_per_trade=3) as sim:
        runtime.start(
            [
                ChildSpec.actor(
                    "feed",
                    Feed,
                    sim.ws_url,
                    SYMBOLS,
                    catalog(),
                    options=FeedOptions(depth=10, backoff_initial=0.05, backoff_max=0.2),
                    metrics=metrics,
                    on_client=clients.append,
                )
            ],
            Policy(),
        )

        def mismatches() -> float:
            return sum(metrics.value("crocbot_checksum_mismatches_total", labels={"symbol": s}) for s in SYMBOLS)

        _until("a checksum mismatch counted", lambda: mismatches() >= 2, lambda: sim.step(20))
        faults.corrupt_checksum_rate = 0.0
        faults.disconnect_all()
        _until(
            "a reconnect counted",
            lambda: metrics.value("crocbot_feed_reconnects_total") >= 1,
            lambda: time.sleep(0.02),  # the client reconnects on its own thread; nothing to drive
        )
        counted = {s: metrics.value("crocbot_checksum_mismatches_total", labels={"symbol": s}) for s in SYMBOLS}
        resyncs = {s: metrics.value("crocbot_book_resyncs_total", labels={"symbol": s}) for s in SYMBOLS}

    assert len(clients) == 1
    assert sum(counted.values()) <= clients[0].stats.checksum_mismatches  # the feed counts what it has handled
    assert resyncs == counted  # a mismatch is the only resync on a live connection here
    assert metrics.value("crocbot_feed_frames_total", labels={"channel": "book"}) > 0
    assert metrics.value("crocbot_feed_disconnects_total") >= 1
