"""A book subscription whose snapshot never arrives is asked for again, on the same connection."""

from __future__ import annotations

import time
from typing import Any

from loguru import logger

from crocbot.kraken.reconnect import Backoff
from crocbot.kraken.wire import BookResync
from crocbot.kraken.ws import Subscription, WsClient
from crocbot.sim.faults import FaultPlan
from tests.support.sim import catalog, running_simulator

SYMBOLS = ("BTC/USD", "ETH/USD")
WAIT = 20.0


def test_a_lost_snapshot_is_resubscribed_logged_per_book_and_the_books_sync_without_a_reconnect() -> None:
    reports: list[dict[str, Any]] = []
    messages: list[object] = []
    logger.add(lambda message: reports.append(dict(message.record["extra"])), level="WARNING")
    faults = FaultPlan(seed=3)
    with running_simulator(faults=faults, symbols=SYMBOLS) as sim:
        client = WsClient(
            sim.ws_url,
            [Subscription("book", SYMBOLS, {"depth": 10})],
            messages.append,
            catalog=catalog(),
            backoff=Backoff(initial=0.05, maximum=0.2),
            stale_after=5.0,
            snapshot_timeout=1.0,
        )
        # The line is silent while the client connects and subscribes: acks and snapshots are lost, and after
        # the stall heartbeats flow again, so the connection looks alive while both books stay dark.
        faults.stall(0.6)
        client.start()
        try:
            deadline = time.monotonic() + WAIT
            while not all(symbol in client.books and client.books[symbol].valid for symbol in SYMBOLS):
                assert time.monotonic() < deadline, f"books never synced: {client.stats}"
                sim.step(1)
                time.sleep(0.05)
        finally:
            client.stop()

    assert client.stats.connects == 1
    assert client.stats.snapshot_timeouts >= len(SYMBOLS)
    assert client.stats.book_resubscribes >= len(SYMBOLS)
    overdue = {r["symbol"] for r in reports if r.get("condition") == "snapshot overdue"}
    assert overdue == set(SYMBOLS), "each dark book says so, with its symbol"
    # and the feed hears of it as a resync (crocbot_book_resyncs_total counted only checksum mismatches)
    resyncs = {m.symbol for m in messages if isinstance(m, BookResync) and m.reason == "snapshot overdue"}
    assert resyncs == set(SYMBOLS)
