"""`crocbot status`, run as the real command: it asks only the bot named by the state directory's identity file,
tells a killed bot's stale file from a running bot, and exits with the same documented code as text or JSON."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from crocbot.exit_codes import ExitCode
from crocbot.ops.identity import IDENTITY_FILE, BotIdentity
from crocbot.store.journal import Journal
from tests.support.health import fake_health
from tests.support.process import CONFIG, WAIT, Crocbot, crocbot_env, run_crocbot
from tests.support.sim import free_port, kraken_env, running_simulator


def status(tmp_path: Path, health_port: int) -> tuple[int, str, int, dict[str, Any]]:
    """`crocbot status` and `crocbot status --json`: (code, text, code, parsed JSON)."""
    env = crocbot_env(tmp_path, CROCBOT_STATE_DIR=str(tmp_path / "state"), CROCBOT_HEALTH__PORT=str(health_port))
    runs = [
        run_crocbot(["status", "--config", str(CONFIG), *extra], cwd=tmp_path, env=env) for extra in ((), ("--json",))
    ]
    text, as_json = runs
    return text.returncode, text.stdout, as_json.returncode, json.loads(as_json.stdout)


def journal(tmp_path: Path) -> None:
    Journal(tmp_path / "state" / "journal.sqlite3").close()


def identity(tmp_path: Path, *, pid: int, port: int, instance_id: str = "a" * 32) -> BotIdentity:
    found = BotIdentity(instance_id, pid, datetime(2026, 12, 1, tzinfo=UTC), "127.0.0.1", port, "test")
    found.write(tmp_path / "state")
    return found


def dead_pid() -> int:
    command = [sys.executable, "-c", "import os; print(os.getpid())"]
    child = subprocess.run(command, capture_output=True, text=True, timeout=WAIT, check=True)
    return int(child.stdout)


def test_without_an_identity_file_status_asks_no_port_and_says_not_running(tmp_path: Path) -> None:
    """Before: it asked whatever answered on the configured port (8787) and reported that bot as this one."""
    journal(tmp_path)
    with fake_health({"ready": True, "failing": [], "checks": {}, "instance_id": "someone-else"}) as other:
        code, text, json_code, body = status(tmp_path, other.port)
    assert other.requests == []
    assert code == json_code == ExitCode.NOT_RUNNING
    assert "not running" in text
    assert "running, ready" not in text
    assert body["bot"] == "not_running"
    assert body["bot_running"] is False


def test_without_a_journal_status_never_says_running_and_exits_6(tmp_path: Path) -> None:
    with fake_health({"ready": True, "failing": [], "checks": {}}) as other:
        code, text, json_code, body = status(tmp_path, other.port)
    assert other.requests == []
    assert code == json_code == ExitCode.NO_STATE
    assert "no journal" in text
    assert "bot running" not in text
    assert body["bot_running"] is False


@pytest.mark.skipif(sys.platform == "win32", reason="the pid check is POSIX; Windows relies on the probe alone")
def test_a_killed_bots_identity_file_is_reported_stale(tmp_path: Path) -> None:
    journal(tmp_path)
    identity(tmp_path, pid=dead_pid(), port=free_port())
    code, text, json_code, body = status(tmp_path, 8787)
    assert code == json_code == ExitCode.NOT_RUNNING
    assert "is not running (killed?)" in text
    assert body["bot"] == "stale"


def test_another_process_answering_the_files_address_is_not_this_bot(tmp_path: Path) -> None:
    journal(tmp_path)
    with fake_health({"ready": True, "failing": [], "checks": {}, "instance_id": "b" * 32}) as other:
        identity(tmp_path, pid=dead_pid(), port=other.port, instance_id="a" * 32)
        code, text, json_code, body = status(tmp_path, other.port)
    assert other.requests  # the file's address was asked
    assert code == json_code == ExitCode.NOT_RUNNING
    assert "another process answers" in text
    assert body["bot"] == "stale"


def test_the_bot_of_the_file_answering_with_its_instance_id_is_running(tmp_path: Path) -> None:
    journal(tmp_path)
    ready = {"ready": True, "failing": [], "checks": {}, "instance_id": "a" * 32}
    with fake_health(ready) as bot:
        identity(tmp_path, pid=dead_pid(), port=bot.port)
        code, text, json_code, body = status(tmp_path, 8787)
    assert code == json_code == ExitCode.OK
    assert "running" in text
    assert ", ready" in text
    assert body["bot"] == "running"
    assert body["uptime_seconds"] > 0
    assert "uptime" in text


def test_a_running_bot_that_is_not_ready_names_its_failing_checks_and_exits_5(tmp_path: Path) -> None:
    journal(tmp_path)
    detail = "not connected: try 3 failed (Connection refused)"
    not_ready = {
        "ready": False,
        "failing": ["feed_connected"],
        "checks": {"feed_connected": {"ok": False, "detail": detail}},
        "instance_id": "a" * 32,
    }
    with fake_health(not_ready) as bot:
        identity(tmp_path, pid=dead_pid(), port=bot.port)
        code, text, json_code, body = status(tmp_path, 8787)
    assert code == json_code == ExitCode.NOT_READY
    assert f"NOT ready: feed_connected: {detail}" in text
    assert body["failing_checks"] == {"feed_connected": detail}


def test_the_identity_file_is_written_atomically_and_read_back(tmp_path: Path) -> None:
    (tmp_path / "state").mkdir()
    written = identity(tmp_path, pid=123, port=4567)
    assert json.loads((tmp_path / "state" / IDENTITY_FILE).read_text())["instance_id"] == written.instance_id
    assert list((tmp_path / "state").iterdir()) == [tmp_path / "state" / IDENTITY_FILE]  # no temporary left


@pytest.mark.skipif(sys.platform == "win32", reason="SIGTERM is POSIX; Windows uses CTRL_BREAK")
def test_status_beside_a_running_bot_shows_its_live_books_and_after_it_the_last_known(tmp_path: Path) -> None:
    with running_simulator(drive=True, speed=1.0) as simulator:
        env = crocbot_env(tmp_path, CROCBOT_STATE_DIR=str(tmp_path / "state"), **kraken_env(simulator))
        bot = Crocbot(["run", "--config", str(CONFIG)], cwd=tmp_path, env=env)
        try:
            bot.wait_for_line("press Ctrl-C to stop")
            port = int(env["CROCBOT_HEALTH__PORT"])
            running = _until(lambda: status(tmp_path, port), lambda s: s[3]["bot"] == "running" and s[3]["last_data"])
        finally:
            bot.process.send_signal(signal.SIGTERM)
            code, _, err = bot.finish()
        stopped = status(tmp_path, port)
    assert code == 0, err
    _, text, _, live = running
    assert live["marks_live"] is True
    assert live["equity"] is not None
    assert live["uptime_seconds"] is not None
    assert "marks of the running bot as of" in text
    _, text, json_code, last = stopped
    assert json_code == ExitCode.NOT_RUNNING
    assert last["marks_live"] is False
    assert set(last["last_data"]) == {"BTC/USD", "ETH/USD"}  # saved as the bot stopped
    assert "LAST KNOWN: marks as of" in text


def _until(read: Callable[[], Any], done: Callable[[Any], bool]) -> Any:
    deadline = time.monotonic() + WAIT
    value = read()
    while not done(value) and time.monotonic() < deadline:
        time.sleep(0.2)  # polling a subprocess's answer, bounded by WAIT; nothing to synchronise on across processes
        value = read()
    return value


@pytest.mark.skipif(sys.platform == "win32", reason="the pid check is POSIX; Windows relies on the probe alone")
def test_a_live_process_that_does_not_answer_its_address_is_reported_as_not_answering(tmp_path: Path) -> None:
    journal(tmp_path)
    identity(tmp_path, pid=os.getpid(), port=free_port())  # this test's process: alive, serving nothing
    code, text, json_code, body = status(tmp_path, 8787)
    assert code == json_code == ExitCode.NOT_READY
    assert "NOT answering" in text
    assert body["bot"] == "unresponsive"
