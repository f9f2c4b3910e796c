"""`crocbot record` against the simulator, then `crocbot replay --verify` on what it wrote."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from crocbot.kraken.jsontext import dumps
from crocbot.kraken.recording import Recorder, verify_recording
from tests.support.process import CONFIG, crocbot_env, run_crocbot
from tests.support.sim import running_simulator

WAIT = 60.0


def crocbot(args: list[str], tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return run_crocbot([*args, "--config", str(CONFIG)], cwd=tmp_path, env=crocbot_env(tmp_path, **env))


def test_a_recording_of_the_simulator_replays_with_zero_mismatches(tmp_path: Path) -> None:
    out = tmp_path / "btc-eth.jsonl"
    with running_simulator(drive=True, speed=30.0, symbols=("BTC/USD", "ETH/USD", "AAPLx/USD")) as sim:
        recorded = crocbot(
            ["record", "--symbols", "BTC/USD,ETH/USD,AAPLx/USD", "--out", str(out), "--duration", "4s"],
            tmp_path,
            CROCBOT_KRAKEN__WS_URL=sim.ws_url,
        )
    assert recorded.returncode == 0, recorded.stderr
    progress = [line for line in recorded.stderr.splitlines() if line.startswith("crocbot record:")]
    assert progress[0] == f"crocbot record: BTC/USD, ETH/USD, AAPLx/USD to {out}, for 4 s"
    assert progress[-1].startswith(f"crocbot record: {json.loads(recorded.stdout)['frames']} frames in ")
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


def _book(kind: str, checksum: int, bids: list[dict[str, object]] | None = None) -> str:
    data = [
        {"symbol": "BTC/USD", "bids": bids or [], "asks": [], "checksum": checksum, "timestamp": "2026-01-01T00:00:00Z"}
    ]
    return dumps({"channel": "book", "type": kind, "data": data})


def test_replay_counts_the_book_updates_it_could_not_verify_after_a_mismatch(tmp_path: Path) -> None:
    path = tmp_path / "gap.jsonl"
    recorder = Recorder(path)
    recorder("in", _book("snapshot", 12345))  # wrong checksum: the book is invalid until the next snapshot
    for price in ("100.0", "101.0", "102.0"):
        recorder("in", _book("update", 1, [{"price": price, "qty": "1.0"}]))
    recorder.close()

    summary = verify_recording(path)

    assert (summary.checksum_mismatches, summary.unverified) == (1, 3)
    assert summary.as_json()["unverified_after_mismatch"] == 3


def test_replay_verify_fails_a_truncated_or_damaged_line_and_says_so(tmp_path: Path) -> None:
    path = tmp_path / "cut.jsonl"
    recorder = Recorder(path)
    recorder("in", dumps({"channel": "heartbeat"}))
    recorder.close()
    whole = path.read_text()
    path.write_text(whole + "this is not json\n" + whole[: len(whole) // 2])  # a damaged line, then a cut-off one

    verified = crocbot(["replay", str(path), "--verify"], tmp_path)
    plain = crocbot(["replay", str(path)], tmp_path)

    assert verified.returncode == 1, verified.stdout + verified.stderr
    assert json.loads(verified.stdout)["bad_lines"] == 2
    assert "2 damaged or truncated lines" in verified.stderr
    assert plain.returncode == 0  # without --verify a replay only reports


def test_replay_verify_fails_a_malformed_frame(tmp_path: Path) -> None:
    path = tmp_path / "malformed.jsonl"
    recorder = Recorder(path)
    recorder("in", "{not a frame")
    recorder.close()

    result = crocbot(["replay", str(path), "--verify"], tmp_path)

    assert result.returncode == 1, result.stdout + result.stderr
    assert json.loads(result.stdout)["malformed"] == 1


def test_record_reports_progress_while_it_waits() -> None:
    from crocbot.cli_market import _wait

    calls: list[int] = []

    _wait(1.0, lambda: calls.append(1), every_wall=0.2)  # a bounded wait: one second at most

    assert calls  # the first report is due after 0.2 s, well inside the second
