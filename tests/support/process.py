"""Running the real `crocbot` command in a child process, with every wait bounded."""

from __future__ import annotations

import os
import queue
import subprocess
import sys
import threading
from collections.abc import Iterable
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / "config" / "crocbot.toml"
WAIT = 20.0


def crocbot_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """The parent's environment without crocbot's variables, logging under `tmp_path`, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CROCBOT_", "KRAKEN_")) and k != "REAL_TRADING"}
    return env | {"CROCBOT_LOG_DIR": str(tmp_path / "logs"), "PYTHONUNBUFFERED": "1"} | extra


def run_crocbot(
    args: list[str], *, cwd: Path, env: dict[str, str] | None = None, timeout: float = WAIT
) -> subprocess.CompletedProcess[str]:
    """`python -m crocbot ARGS` to its end, both streams captured; the environment is `crocbot_env(cwd)` unless
    given."""
    return subprocess.run(
        [sys.executable, "-m", "crocbot", *args],
        cwd=cwd,
        env=crocbot_env(cwd) if env is None else env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


_SIGINT_DEFAULT = (
    "import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); os.execv(sys.argv[1], sys.argv[1:])"
)


class Crocbot:
    """`python -m crocbot ARGS` with both output streams read by threads, so no read can block a test."""

    def __init__(self, args: list[str], *, cwd: Path, env: dict[str, str], sigint_ignored: bool = False) -> None:
        command = [sys.executable, "-m", "crocbot", *args]
        if sigint_ignored:  # as a background job starts (POSIX): through a shell that ignores SIGINT, then execs
            command = ["sh", "-c", 'trap "" INT; exec "$0" "$@"', *command]
        elif sys.platform != "win32":
            # As from a terminal, whatever this test run inherited: a suite started as a background job (`make test
            # &`, nohup) ignores SIGINT and its children would too, so a Ctrl-C test would wait in vain. A shell
            # cannot undo an ignore it inherited; Python can, and the default survives the exec.
            command = [sys.executable, "-c", _SIGINT_DEFAULT, *command]
        self.process = subprocess.Popen(
            command,
            cwd=cwd,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: queue.Queue[tuple[str, str]] = queue.Queue()
        self.seen: list[tuple[str, str]] = []
        self._readers = [
            threading.Thread(target=self._read, args=(name, stream), daemon=True)
            for name, stream in (("out", self.process.stdout), ("err", self.process.stderr))
        ]
        for reader in self._readers:
            reader.start()

    def _read(self, name: str, stream: Iterable[str]) -> None:
        for line in stream:
            self.lines.put((name, line))

    def wait_for_line(self, text: str, timeout: float = WAIT) -> None:
        """Block until a line of either stream contains `text`; raises queue.Empty after `timeout`."""
        while True:
            name, line = self.lines.get(timeout=timeout)
            self.seen.append((name, line))
            if text in line:
                return

    def finish(self, timeout: float = WAIT) -> tuple[int, str, str]:
        """Wait for the exit; returns (exit code, all stdout, all stderr)."""
        try:
            code = self.process.wait(timeout=timeout)
        finally:
            self.process.kill()
        for reader in self._readers:
            reader.join(timeout=timeout)
        while not self.lines.empty():
            self.seen.append(self.lines.get_nowait())
        out = "".join(line for name, line in self.seen if name == "out")
        err = "".join(line for name, line in self.seen if name == "err")
        return code, out, err
