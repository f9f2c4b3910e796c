"""The `crocbot` command: version, help, `python -m crocbot`, and a paper run against the simulator that answers
its health checks and stops cleanly on SIGTERM."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from crocbot import __version__
from crocbot.cli import main
from tests.support.process import CONFIG, Crocbot, crocbot_env
from tests.support.sim import kraken_env, running_simulator

WAIT = 20.0


def test_version_and_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as version:
        main(["--version"])
    assert version.value.code == 0
    assert capsys.readouterr().out.strip() == f"crocbot {__version__}"
    with pytest.raises(SystemExit):
        main(["--help"])
    help_text = capsys.readouterr().out
    assert "run" in help_text
    assert "config" in help_text


def test_no_command_prints_help_and_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert "usage: crocbot" in capsys.readouterr().out


def test_python_dash_m_and_the_console_script_both_work(tmp_path: Path) -> None:
    module = subprocess.run(
        [sys.executable, "-m", "crocbot", "--version"], capture_output=True, text=True, timeout=WAIT, check=False
    )
    assert module.returncode == 0
    assert module.stdout.strip() == f"crocbot {__version__}"
    script = shutil.which("crocbot", path=str(Path(sys.executable).parent))
    assert script is not None, "the crocbot console script is not installed next to this interpreter"
    installed = subprocess.run([script, "--version"], capture_output=True, text=True, timeout=WAIT, check=False)
    assert installed.stdout.strip() == f"crocbot {__version__}"


@pytest.mark.skipif(sys.platform == "win32", reason="SIGTERM is POSIX; Windows uses CTRL_BREAK")
def test_a_paper_run_gets_ready_answers_health_checks_and_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    with running_simulator(drive=True, speed=1.0) as simulator:
        env = crocbot_env(tmp_path, CROCBOT_STATE_DIR=str(tmp_path / "state"), **kraken_env(simulator))
        bot = Crocbot(["run", "--config", str(CONFIG)], cwd=tmp_path, env=env)
        try:
            bot.wait_for_line("press Ctrl-C to stop")
            base = f"http://127.0.0.1:{env['CROCBOT_HEALTH__PORT']}"
            ready = _poll_ready(base + "/readyz")
            alive = _get(base + "/healthz")
            metrics = urllib.request.urlopen(base + "/metrics", timeout=WAIT).read().decode()
        finally:
            bot.process.send_signal(signal.SIGTERM)
            code, _, err = bot.finish()

    assert code == 0, err
    assert ready["ready"] is True, ready
    assert alive == {"alive": True, "failing": [], "checks": alive["checks"]}
    assert alive["checks"]["actor:router"] == {"ok": True, "detail": "running"}
    assert "crocbot_feed_fresh 1.0" in metrics
    assert f"crocbot {__version__} starting in paper mode" in err
    assert "stopped" in err
    assert (tmp_path / "logs" / "crocbot.jsonl").is_file()
    assert (tmp_path / "state" / "journal.sqlite3").is_file()


def _get(url: str) -> Any:
    try:
        with urllib.request.urlopen(url, timeout=WAIT) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as error:  # 503 carries the same JSON body
        return json.loads(error.read())


def _poll_ready(url: str) -> Any:
    deadline = time.monotonic() + WAIT
    body: Any = None
    while time.monotonic() < deadline:
        body = _get(url)
        if body["ready"]:
            return body
        time.sleep(0.1)
    return body


REPLAY_SPEC = "2026-01-05T14:30:00+00:00@1763700000x20"


def _run_replay(tmp_path: Path, *flags: str) -> int:
    empty_env = tmp_path / "empty.env"
    empty_env.write_text("")
    return main(
        [
            "run",
            "--config",
            str(CONFIG),
            "--env-file",
            str(empty_env),
            "--state-dir",
            str(tmp_path / "state"),
            "--log-dir",
            str(tmp_path / "logs"),
            "--replay-clock",
            REPLAY_SPEC,
            *flags,
        ]
    )


def test_run_with_a_replay_clock_is_refused_against_kraken(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Accelerated time against a real market would make candles and cooldowns run 20 times too fast."""
    assert _run_replay(tmp_path) == 2

    err = capsys.readouterr().err
    assert "a replay clock only makes sense against the simulator" in err
    assert "kraken.rest_url is https://api.kraken.com" in err
    assert "kraken.ws_url is wss://ws.kraken.com/v2" in err
    assert not (tmp_path / "state").exists()  # refused before anything started


def test_run_with_a_replay_clock_names_each_url_that_is_not_loopback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _run_replay(tmp_path, "--set", "kraken.rest_url=http://localhost:9") == 2

    err = capsys.readouterr().err
    assert "kraken.ws_url is wss://ws.kraken.com/v2" in err
    assert "kraken.rest_url" not in err


def test_run_with_a_replay_clock_is_paper_only(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = _run_replay(
        tmp_path,
        "--mode",
        "live",
        "--set",
        "kraken.rest_url=http://127.0.0.1:9",
        "--set",
        "kraken.ws_url=ws://[::1]:9/v2",
    )

    assert code == 2
    err = capsys.readouterr().err
    assert "mode is live; a replay clock runs in paper mode only" in err
    assert "kraken." not in err


def test_run_refuses_a_malformed_replay_clock_as_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["run", "--replay-clock", "2026-01-05T14:30:00@1763700000x20"])

    assert exit_.value.code == 2
    assert "has no UTC offset" in capsys.readouterr().err
