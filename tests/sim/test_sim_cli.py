"""`crocbot sim` prints every setting a bot needs to attach to it, the replay clock's spec included."""

from __future__ import annotations

import json
import time
from pathlib import Path

from crocbot.core.clock import ReplayClock
from tests.support.process import crocbot_env, run_crocbot

WAIT = 60.0


def test_sim_prints_the_urls_symbols_mode_and_the_replay_clock_a_bot_needs(tmp_path: Path) -> None:
    spec = ReplayClock.parse(f"2026-01-05T14:30:00+00:00@{time.time():.0f}x20").spec
    args = ["sim", "--port", "0", "--replay-clock", spec, "--symbols", "BTC/USD,ETH/USD", "--duration", "1s"]
    result = run_crocbot([*args], cwd=tmp_path, env=crocbot_env(tmp_path))

    assert result.returncode == 0, result.stderr
    first, *rest = result.stdout.splitlines()
    endpoints = json.loads(first)
    settings = dict(line.strip().split("=", 1) for line in rest if line.startswith("  CROCBOT_"))
    assert settings == {
        "CROCBOT_KRAKEN__WS_URL": endpoints["ws_url"],
        "CROCBOT_KRAKEN__WS_AUTH_URL": endpoints["ws_auth_url"],
        "CROCBOT_KRAKEN__REST_URL": endpoints["rest_url"],
        "CROCBOT_SYMBOLS": "BTC/USD,ETH/USD",
        "CROCBOT_MODE": "paper",
    }
    assert endpoints["replay_clock"] == spec
    assert endpoints["symbols"] == ["BTC/USD", "ETH/USD"]
    assert f"crocbot run --replay-clock {spec}" in result.stdout
