"""`crocbot record` against the simulator, then `crocbot replay --verify` on what it wrote."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from crocbot.kraken.jsontext import dumps
from crocbot.kraken.recording import Recorder, verify_recording
from tests.support.process import CONFIG, crocbot_env
from tests.support.sim import running_simulator

WAIT = 60.0


def crocbot(args: list[str], tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "crocbot", *args, "--config", str(CONFIG)],
        cwd=tmp_path,
        env=crocbot_env(tmp_path, **env),
        capture_output=True,
        text=True,
        timeout=WAIT,
        check=False,
    )


def test_a_recording_of_the_simulator_replays_with_zero_mismatches(tmp_path: Path) -> None:
    out = tmp_path / "btc-eth.jsonl"
    with running_simulator(drive=True, speed=30.0, symbols=("BTC/USD", "ETH/USD", "AAPLx/USD")) as sim:
        recorded = crocbot(
            ["record", "--symbols", "BTC/USD,ETH/USD,AAPLx/USD", "--out", str(out), "--duration", "4s"],
            tmp_path,
            CROCBOT_KRAKEN__WS_URL=sim.ws_url,
        )
    assert recorded.returncode == 0, recorded.stderr
    replayed = crocbot(["replay", str(out), "--verify"], tmp_path)

    summary = json.loads(replayed.stdout)
    assert replayed.returncode == 0, replayed.stdout + replayed.stderr
    assert summary["checksum_mismatches"] == 0
    assert summary["checksums_ok"] == summary["book_messages"] > 50
    assert summary["symbols"] == ["AAPLx/USD", "BTC/USD", "ETH/USD"]
    assert summary["frames_per_channel"]["instrument"] == 1
    assert summary["malformed"] == 0
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert {line["dir"] for line in lines} == {"in", "out"}
    assert all(line["t"].endswith("Z") and len(line["t"]) == 27 for line in lines)


def test_replay_verify_exits_1_on_a_checksum_mismatch(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    recorder = Recorder(path)
    snapshot = {
        "channel": "book",
        "type": "snapshot",
        "data": [{"symbol": "BTC/USD", "bids": [], "asks": [], "checksum": 12345, "timestamp": "2026-01-01T00:00:00Z"}],
    }
    recorder("in", dumps(snapshot))
    recorder.close()

    result = crocbot(["replay", str(path), "--verify"], tmp_path)

    assert result.returncode == 1
    assert json.loads(result.stdout)["checksum_mismatches"] == 1
    assert verify_recording(path).mismatched == [dumps(snapshot)]
