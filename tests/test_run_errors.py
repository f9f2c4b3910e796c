"""`crocbot run` refuses what it cannot work with in one clear line and a documented exit code: a log or state
directory that is a file or read-only (2, before any network call), Kraken unreachable without a cached catalog
(3, after a few tries each logged with its cause). With a cached catalog it starts, and the feed's retries show in
`/readyz` and `crocbot status`; the identity file it leaves while running goes when it stops."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from crocbot.exit_codes import ExitCode
from crocbot.kraken.instruments import Catalog
from crocbot.ops.identity import IDENTITY_FILE, BotIdentity
from tests.core.desk_support import SOL
from tests.support.health import fake_health
from tests.support.process import CONFIG, WAIT, Crocbot, crocbot_env, run_crocbot
from tests.support.sim import free_port


def closed_url(scheme: str = "http") -> str:
    """A loopback address nothing listens on: a connection is refused at once."""
    return f"{scheme}://127.0.0.1:{free_port()}"


@contextmanager
def listener() -> Iterator[tuple[str, list[object]]]:
    """A loopback port that accepts connections and counts them (and answers nothing)."""
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen()
    server.settimeout(0.05)
    accepted: list[object] = []
    done = threading.Event()

    def accept() -> None:
        while not done.is_set():
            try:
                connection, _ = server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            accepted.append(connection)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.getsockname()[1]}", accepted
    finally:
        done.set()
        thread.join(timeout=WAIT)
        server.close()


def run(tmp_path: Path, *extra: str, **env: str) -> subprocess.CompletedProcess[str]:
    base = {
        "CROCBOT_STATE_DIR": str(tmp_path / "state"),
        "CROCBOT_KRAKEN__REST_URL": closed_url(),
        "CROCBOT_KRAKEN__WS_URL": closed_url("ws"),
        "CROCBOT_HEALTH__PORT": str(free_port()),
    }
    return subprocess.run(
        [sys.executable, "-m", "crocbot", "run", "--config", str(CONFIG), "--symbols", "BTC/USD", *extra],
        cwd=tmp_path,
        env=crocbot_env(tmp_path, **(base | env)),
        capture_output=True,
        text=True,
        timeout=WAIT * 2,
        check=False,
    )


def one_clear_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert "Traceback" not in stderr, stderr
    assert len(lines) == 1, stderr
    return lines[0]


def test_a_log_directory_that_is_a_file_refuses_the_start_with_one_line_and_exit_2(tmp_path: Path) -> None:
    """Before: a FileExistsError traceback and exit 1."""
    (tmp_path / "logs").write_text("not a directory")
    done = run(tmp_path)
    assert done.returncode == ExitCode.REFUSED
    line = one_clear_line(done.stderr)
    assert f"{tmp_path / 'logs'} is a file, not a directory" in line


def _read_only(path: Path) -> Callable[[], None]:
    """Make `path` read-only for this user, root included (`chattr +i`); returns the undo. Skips if impossible."""
    if os.geteuid() != 0:
        mode = path.stat().st_mode
        path.chmod(mode & 0o555)
        return lambda: path.chmod(mode)
    result = subprocess.run(["chattr", "+i", str(path)], capture_output=True, check=False, timeout=10)
    if result.returncode != 0:
        pytest.skip(f"cannot make {path} read-only as root: {result.stderr.decode().strip()}")

    def make_mutable() -> None:
        subprocess.run(["chattr", "-i", str(path)], check=True, timeout=10)

    return make_mutable


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX permissions")
def test_a_read_only_log_directory_refuses_the_start_with_one_line_and_exit_2(tmp_path: Path) -> None:
    """Before: an OSError from the log sink and exit 1."""
    logs = tmp_path / "logs"
    logs.mkdir()
    undo = _read_only(logs)
    try:
        done = run(tmp_path)
    finally:
        undo()
    assert done.returncode == ExitCode.REFUSED
    assert f"{logs} is not writable" in one_clear_line(done.stderr)


def test_a_state_directory_problem_is_reported_before_any_network_call(tmp_path: Path) -> None:
    (tmp_path / "state").write_text("not a directory")
    with listener() as (url, accepted):
        done = run(tmp_path, CROCBOT_KRAKEN__REST_URL=url)
    assert done.returncode == ExitCode.REFUSED
    assert f"{tmp_path / 'state'} is a file, not a directory" in one_clear_line(done.stderr)
    assert accepted == []


def test_kraken_unreachable_without_a_cached_catalog_exits_3_after_a_line_per_try(tmp_path: Path) -> None:
    started = time.monotonic()
    done = run(tmp_path)
    elapsed = time.monotonic() - started
    assert done.returncode == ExitCode.UNREACHABLE, done.stderr
    tries = [line for line in done.stderr.splitlines() if "try " in line and " of 3 failed" in line]
    assert len(tries) == 2, done.stderr
    assert all("Connection refused" in line for line in tries), tries
    assert "after 3 tries" in done.stderr
    assert "no cached copy" in done.stderr
    assert "Traceback" not in done.stderr
    assert elapsed < WAIT * 2  # bounded: 1 s and 2 s between the tries


def _get(url: str) -> Any:
    try:
        with urllib.request.urlopen(url, timeout=WAIT) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as error:
        return json.loads(error.read())


def _status(tmp_path: Path, env: dict[str, str]) -> tuple[int, dict[str, Any]]:
    done = run_crocbot(["status", "--config", str(CONFIG), "--json"], cwd=tmp_path, env=env)
    return done.returncode, json.loads(done.stdout)


@pytest.mark.skipif(sys.platform == "win32", reason="SIGTERM is POSIX; Windows uses CTRL_BREAK")
def test_with_a_cached_catalog_the_bot_starts_and_its_feed_retries_show_in_readyz_and_status(tmp_path: Path) -> None:
    state = tmp_path / "state"
    Catalog([dataclasses.replace(SOL, symbol="BTC/USD", base="BTC")]).save(state / "instruments.json")
    env = crocbot_env(
        tmp_path,
        CROCBOT_STATE_DIR=str(state),
        CROCBOT_KRAKEN__REST_URL=closed_url(),
        CROCBOT_KRAKEN__WS_URL=closed_url("ws"),
        CROCBOT_HEALTH__PORT=str(free_port()),
    )
    bot = Crocbot(["run", "--config", str(CONFIG), "--symbols", "BTC/USD"], cwd=tmp_path, env=env)
    try:
        bot.wait_for_line("press Ctrl-C to stop")
        identity = json.loads((state / IDENTITY_FILE).read_text())
        assert identity["pid"] == bot.process.pid
        assert identity["health_port"] == int(env["CROCBOT_HEALTH__PORT"])
        url = f"http://127.0.0.1:{identity['health_port']}/readyz"
        deadline = time.monotonic() + WAIT
        ready = _get(url)
        while " failed: " not in ready["checks"]["feed_connected"]["detail"] and time.monotonic() < deadline:
            time.sleep(0.1)  # polling another process's HTTP answer, bounded by WAIT
            ready = _get(url)
        code, status = _status(tmp_path, env)
    finally:
        bot.process.send_signal(signal.SIGTERM)
        exit_code, _, err = bot.finish()
    assert exit_code == 0, err
    assert ready["instance_id"] == identity["instance_id"]
    assert ready["ready"] is False
    assert not ready["checks"]["feed_connected"]["ok"]
    assert code == ExitCode.NOT_READY
    assert status["bot"] == "running"
    assert status["instance_id"] == identity["instance_id"]
    feed = ready["checks"]["feed_connected"]["detail"]
    assert "Connection refused" in feed
    assert re.search(r"not connected: attempt \d+ failed: ", feed), feed
    assert "Connection refused" in status["failing_checks"]["feed_connected"]
    assert " failed: " in status["failing_checks"]["feed_connected"]
    assert not (state / IDENTITY_FILE).exists()  # removed on a clean stop
    after, _ = _status(tmp_path, env)
    assert after == ExitCode.NOT_RUNNING


def test_a_second_bot_on_a_state_directory_whose_bot_runs_is_refused_before_any_network_call(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    body = {"ready": True, "failing": [], "checks": {}, "instance_id": "a" * 32}
    with fake_health(body) as running, listener() as (url, accepted):
        BotIdentity("a" * 32, 4242, datetime(2026, 12, 1, tzinfo=UTC), "127.0.0.1", running.port, "test").write(state)
        done = run(tmp_path, CROCBOT_KRAKEN__REST_URL=url)
    assert done.returncode == ExitCode.REFUSED
    assert f"another crocbot runs on {state} (pid 4242" in one_clear_line(done.stderr)
    assert accepted == []
    assert json.loads((state / IDENTITY_FILE).read_text())["instance_id"] == "a" * 32  # the running bot's, kept


def test_a_stale_identity_file_does_not_stop_a_new_bot(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    BotIdentity("a" * 32, 4242, datetime(2026, 12, 1, tzinfo=UTC), "127.0.0.1", free_port(), "test").write(state)
    done = run(tmp_path)
    assert done.returncode == ExitCode.UNREACHABLE  # it went on to ask Kraken (closed here)


def test_a_second_bot_beside_one_that_holds_the_state_directory_is_refused_before_any_network_call(
    tmp_path: Path,
) -> None:
    """The review's case: the first bot was paused (kill -STOP), so it answered no health probe and left no
    running verdict; the second started on its journal. The OS lock on the state directory refuses it whatever
    the first bot answers."""
    state = tmp_path / "state"
    state.mkdir()
    hold = "import sys; from pathlib import Path; from crocbot.ops.state_lock import lock_state_dir; "
    hold += "lock_state_dir(Path(sys.argv[1])); print('locked', flush=True); sys.stdin.read()"
    holder = subprocess.Popen(
        [sys.executable, "-c", hold, str(state)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "locked"
        with listener() as (url, accepted):
            done = run(tmp_path, CROCBOT_KRAKEN__REST_URL=url)
    finally:
        holder.kill()
        holder.wait(timeout=WAIT)
    assert done.returncode == ExitCode.REFUSED
    assert "another crocbot process holds" in one_clear_line(done.stderr)
    assert accepted == []
