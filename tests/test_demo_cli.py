"""`crocbot demo` through the real entry point: Ctrl-C while it trades still prints the summary and exits 130,
and each run starts from empty logs (crocbot's own files in the log folder; nothing else there is touched)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.process import CONFIG, Crocbot, crocbot_env

STARTUP = 180.0  # wall seconds for the pre-roll, the backfill and readiness on a busy 2-core machine
SHUTDOWN = 90.0


@pytest.mark.timeout(STARTUP + SHUTDOWN + 30)
@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT to a child is POSIX; Windows sends CTRL_C to a group")
def test_ctrl_c_while_trading_prints_the_summary_and_exits_130_and_the_logs_start_empty(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "crocbot.jsonl").write_text('{"text": "a line of an earlier run"}\n')
    (logs / "crocbot.2026-01-01_00-00-00_000000.jsonl").write_text("rotated\n")
    (logs / "trades.jsonl").write_text('{"text": "a trade of an earlier run"}\n')
    (logs / "notes.txt").write_text("not crocbot's\n")
    args = ["demo", "--config", str(CONFIG), "--data", "synthetic", "--duration", "10m", "--no-view", "--json"]
    demo = Crocbot(
        [*args, "--state-dir", str(tmp_path / "state"), "--log-dir", str(logs)],
        cwd=tmp_path,
        env=crocbot_env(tmp_path),
    )
    try:
        demo.wait_for_line("trading for", timeout=STARTUP)
    finally:
        demo.process.send_signal(signal.SIGINT)
    code, out, err = demo.finish(timeout=SHUTDOWN)

    assert code == 130, out + err
    assert "crocbot demo summary" in out
    assert "ended       early, by Ctrl-C" in out
    assert "Interrupted." not in err
    summary = json.loads(out.strip().splitlines()[-1])  # --json: the summary's JSON line comes last
    assert summary["interrupted"] is True
    assert summary["venue"] == "paper"  # the default venue
    assert "venue_check" not in summary
    assert "LIVE" not in out
    assert summary["wall_seconds"] < 600
    assert "earlier run" not in (logs / "crocbot.jsonl").read_text()
    assert not (logs / "crocbot.2026-01-01_00-00-00_000000.jsonl").exists()
    assert not (logs / "trades.jsonl").exists() or "earlier run" not in (logs / "trades.jsonl").read_text()
    assert (logs / "notes.txt").read_text() == "not crocbot's\n"


def test_the_command_line_loads_the_demo_runtime_only_when_the_demo_runs() -> None:
    """`crocbot --help` imports `crocbot.demo` for its default data path; the bot and the simulator stay unloaded."""
    probe = "import sys, crocbot.cli; print(sorted(m for m in ('crocbot.demo.run', 'crocbot.app') if m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60)

    assert done.stdout.strip() == "[]"
