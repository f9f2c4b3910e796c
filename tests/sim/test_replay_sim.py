"""The simulator on a shared replay clock: its market starts at the anchor and keeps pace with the clock, and
`crocbot sim` plus `crocbot run` on one spec, as two processes, come up together and stop cleanly."""

from __future__ import annotations

import json
import signal
import sys
import threading
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from crocbot.cli import main
from crocbot.core.clock import ReplayClock
from crocbot.sim.runner import SimConfig, Simulator
from tests.support.process import CONFIG, Crocbot, crocbot_env
from tests.support.sim import free_port

ANCHOR = datetime(2026, 1, 5, 14, 30, tzinfo=UTC)
PAST = datetime(2020, 3, 2, tzinfo=UTC)  # market time far from any wall date this test will run on
READY_WITHIN = 60.0  # wall seconds; a loaded machine is slow to start two Pythons, a healthy one needs a few


def test_the_market_starts_at_the_anchor_and_its_trades_track_the_replay_clock() -> None:
    """At 50x for about a wall second: no trade is applied before the replay clock reaches it, none lags far
    behind, and the market moves about 50 event seconds."""
    replay = ReplayClock(ANCHOR, time.time(), 50)
    simulator = Simulator(SimConfig(symbols=("BTC/USD", "ETH/USD"), replay=replay))
    first = simulator.peek()
    assert first is not None
    assert ANCHOR <= first.ts < ANCHOR + timedelta(seconds=10)

    samples: list[tuple[datetime, datetime, datetime]] = []
    pause = threading.Event()  # never set: a bounded wait between samples of a running market
    with simulator.start():
        for _ in range(10):
            pause.wait(0.1)
            before = replay.now()
            market = simulator.clock.now()
            after = replay.now()
            samples.append((before, market, after))
        applied = simulator.trades_applied

    for before, market, after in samples:
        assert market <= after, (market, after)  # nothing runs ahead of the shared clock
        assert (before - market).total_seconds() < 25.0, (before, market)  # nor half a wall second behind it
    moved = (samples[-1][1] - samples[0][1]).total_seconds()
    assert moved > 20.0, moved  # at least 0.9 wall s at 50x: about 45 event seconds
    assert applied >= 40, applied  # two symbols, a trade every 0.5 event seconds each: about 180


def test_crocbot_sim_refuses_a_speed_together_with_a_replay_clock(capsys: pytest.CaptureFixture[str]) -> None:
    spec = ReplayClock(ANCHOR, time.time(), 20).spec

    assert main(["sim", "--replay-clock", spec, "--speed", "5", "--port", "0"]) == 2
    assert "--speed and --replay-clock" in capsys.readouterr().err


def test_crocbot_sim_refuses_a_bad_replay_clock_as_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["sim", "--replay-clock", "2026-01-05T14:30:00+00:00@1763700000x5000", "--port", "0"])

    assert exit_.value.code == 2
    assert "speed must be > 0 and <= 1000" in capsys.readouterr().err


def _endpoints(sim: Crocbot) -> dict[str, str]:
    """The JSON object `crocbot sim` prints as its first line on stdout."""
    sim.wait_for_line('"ws_url"')
    line = next(text for stream, text in sim.seen if stream == "out" and '"ws_url"' in text)
    endpoints: dict[str, str] = json.loads(line)
    return endpoints


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):  # 503 (HTTPError is a URLError) or not listening yet
        return False


@pytest.mark.skipif(sys.platform == "win32", reason="SIGTERM is POSIX; Windows uses CTRL_BREAK")
def test_sim_and_bot_processes_on_one_replay_spec_get_ready_and_stop_cleanly(tmp_path: Path) -> None:
    """The crash harness's set-up: two OS processes, market time 20x the wall clock, ports chosen by the OS."""
    spec = ReplayClock(PAST, time.time(), 20).spec
    env = crocbot_env(tmp_path)
    sim = Crocbot(
        ["sim", "--replay-clock", spec, "--port", "0", "--symbols", "BTC/USD,ETH/USD", "--duration", "2m"],
        cwd=tmp_path,
        env=env,
    )
    bot: Crocbot | None = None
    try:
        endpoints = _endpoints(sim)
        assert endpoints["replay_clock"] == spec
        urls = [endpoints["ws_url"], endpoints["ws_auth_url"], endpoints["rest_url"]]
        assert all(url.startswith(("ws://127.0.0.1:", "http://127.0.0.1:")) for url in urls), urls
        health_port = free_port()
        bot_env = crocbot_env(
            tmp_path,
            CROCBOT_KRAKEN__REST_URL=endpoints["rest_url"],
            CROCBOT_KRAKEN__WS_URL=endpoints["ws_url"],
            CROCBOT_KRAKEN__WS_AUTH_URL=endpoints["ws_auth_url"],
            CROCBOT_HEALTH__PORT=str(health_port),
        )
        bot = Crocbot(
            [
                "run",
                "--config",
                str(CONFIG),
                "--replay-clock",
                spec,
                "--mode",
                "paper",
                "--state-dir",
                str(tmp_path / "state"),
                "--log-dir",
                str(tmp_path / "logs"),
                "--symbols",
                "BTC/USD,ETH/USD",
                "--set",
                "strategy.timeframe=1m",
            ],
            cwd=tmp_path,
            env=bot_env,
        )
        deadline = time.monotonic() + READY_WITHIN
        ready = False
        while not ready and time.monotonic() < deadline and bot.process.poll() is None:
            ready = _ready(f"http://127.0.0.1:{health_port}/readyz")
            if not ready:
                threading.Event().wait(0.2)  # a bounded poll of another process; nothing to synchronise on
    finally:
        if bot is not None:
            bot.process.send_signal(signal.SIGTERM)
            bot_code, _, bot_err = bot.finish(timeout=30)
        sim.process.send_signal(signal.SIGTERM)
        sim_code, _, sim_err = sim.finish(timeout=30)

    assert ready, bot_err[-4000:]
    assert bot_code == 0, bot_err[-4000:]
    assert sim_code == 0, sim_err[-4000:]
    assert "stopped" in bot_err
    # The shutdown backup is stamped with the bot's event time: market time of 2020, not today's date.
    backups = sorted(path.name for path in (tmp_path / "state" / "backups").glob("journal-*"))
    assert backups, "no journal backup at shutdown"
    assert all(name.startswith("journal-202003") for name in backups), backups
