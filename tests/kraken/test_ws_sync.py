"""The WS client keeps its books equal to the simulator's through disconnects and corrupted checksums."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from pathlib import Path

from crocbot.kraken.reconnect import Backoff
from crocbot.kraken.recording import Recorder, read_recording, verify_recording
from crocbot.kraken.ws import Subscription, WsClient
from crocbot.sim.faults import FaultPlan
from crocbot.sim.runner import Simulator
from tests.support.sim import catalog, running_simulator

SYMBOLS = ("BTC/USD", "ETH/USD", "AAPLx/USD")
UPDATES = 100_000
WAIT = 30.0


class Progress:
    """Counts what the client hands on, and wakes the test each time it does (no sleeps)."""

    def __init__(self) -> None:
        self.cond = threading.Condition()
        self.messages = 0
        self.waiting = False

    def __call__(self, message: object) -> None:
        self.messages += 1
        if self.waiting:  # wake the test only while it waits: a notify per frame would cost the run its speed
            with self.cond:
                self.cond.notify_all()

    def wait_for(self, predicate: Callable[[], bool], timeout: float = WAIT) -> bool:
        if predicate():
            return True
        with self.cond:
            self.waiting = True
            try:
                return self.cond.wait_for(predicate, timeout)
            finally:
                self.waiting = False


def backlog(sim: Simulator) -> int:
    return max((s.backlog for s in sim.ws.sessions()), default=0)


def books_equal(client: WsClient, sim: Simulator) -> bool:
    try:
        for symbol in SYMBOLS:
            mine, theirs = client.books[symbol], sim.exchange.markets[symbol].book
            if not mine.valid or mine.bids() != theirs.bids(10) or mine.asks() != theirs.asks(10):
                return False
    except (KeyError, IndexError, RuntimeError):  # read while the receive thread was writing: look again
        return False
    return backlog(sim) == 0


def test_books_equal_the_simulators_through_100k_updates_with_disconnects_and_corrupted_checksums(
    tmp_path: Path,
) -> None:
    faults = FaultPlan(seed=5)
    faults.corrupt_checksum_rate = 0.01
    recording = tmp_path / "client.jsonl"
    recorder = Recorder(recording)
    progress = Progress()
    with running_simulator(faults=faults, symbols=SYMBOLS, churn_per_trade=3, book_levels=60) as sim:
        client = WsClient(
            sim.ws_url,
            [Subscription("book", SYMBOLS, {"depth": 10})],
            progress,
            catalog=catalog(),
            recorder=recorder,
            backoff=Backoff(initial=0.05, maximum=0.2),
        )
        client.start()
        try:
            assert client.connected.wait(WAIT)
            cuts, last_cut, started = 0, time.monotonic(), time.monotonic()
            while client.codec.per_channel["book"] < UPDATES:
                assert time.monotonic() - started < 300, "the run is far slower than it should be"
                sim.step(20)
                if time.monotonic() - last_cut >= 5.0 and sim.ws.sessions():  # a cut only counts when there is a line
                    faults.disconnect_all()
                    cuts, last_cut = cuts + 1, time.monotonic()
                assert progress.wait_for(lambda: backlog(sim) < 2_000), "the client stopped reading"
            assert progress.wait_for(lambda: books_equal(client, sim)), "the books did not converge"
        finally:
            client.stop()
            recorder.close()
        corrupted = set(sim.ws.corrupted_frames)
        served = dict(faults.served)

    received = [frame for _, direction, frame in read_recording(recording) if direction == "in"]
    corrupted_received = sum(1 for frame in received if frame in corrupted)
    book_updates = sum(1 for frame in received if frame.startswith('{"channel":"book"'))
    full_subscribes = [
        frame
        for _, direction, frame in read_recording(recording)
        if direction == "out" and '"subscribe"' in frame and len(json.loads(frame)["params"]["symbol"]) == 3
    ]
    replay = verify_recording(recording, catalog())

    assert book_updates >= UPDATES
    assert cuts >= 3, f"only {cuts} disconnects"
    assert client.stats.connects == cuts + 1  # every disconnect was followed by a reconnect...
    assert len(full_subscribes) == client.stats.connects  # ...and a full resubscription
    assert served["corrupt_checksum"] >= 10
    assert corrupted_received > 0
    # Every corrupted frame that arrived was caught and its book resubscribed; nothing else was flagged.
    assert client.stats.checksum_mismatches == corrupted_received
    # A snapshot that is slow to come under load (a loaded CI machine) is chased with a resubscription too; a third
    # miss drops the line instead (counted in the reconnects above), so it adds no resubscription.
    assert corrupted_received <= client.stats.book_resubscribes <= corrupted_received + client.stats.snapshot_timeouts
    assert replay.checksum_mismatches == corrupted_received
    assert set(replay.mismatched) <= corrupted
    assert replay.malformed == 0
