"""`<state_dir>/bot.json`: which process runs on a state directory, and where it answers.

A running bot writes its pid, its health address, an instance id (new at every start) and its start time there,
atomically, and removes the file when it stops cleanly. `crocbot status` asks only that address, and believes
the bot runs only when `/readyz` answers with the same instance id: whatever else listens on the port (another
bot, another program) is not this state directory's bot. A file left by a killed bot names an address that does
not answer, or answers with another id, and is reported as stale.
"""

from __future__ import annotations

import json
import os
import sys
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

__all__ = [
    "IDENTITY_FILE",
    "BotCheck",
    "BotIdentity",
    "check_bot",
    "new_identity",
    "pid_alive",
    "read_identity",
    "remove_identity",
]

IDENTITY_FILE = "bot.json"


@dataclass(frozen=True, slots=True)
class BotIdentity:
    instance_id: str
    pid: int
    started_at: datetime
    health_host: str | None  # None: the bot serves no health endpoints (then only its pid says it runs)
    health_port: int | None
    version: str

    @property
    def health_url(self) -> str | None:
        if self.health_host is None or self.health_port is None:
            return None
        return f"http://{self.health_host}:{self.health_port}"

    def to_json(self) -> dict[str, Any]:
        return {
            "instance_id": self.instance_id,
            "pid": self.pid,
            "started_at": self.started_at.isoformat(),
            "health_host": self.health_host,
            "health_port": self.health_port,
            "version": self.version,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> BotIdentity:
        started = datetime.fromisoformat(str(data["started_at"]))
        if started.tzinfo is None:
            raise ValueError("started_at has no time zone")
        port = data.get("health_port")
        host = data.get("health_host")
        return cls(
            instance_id=str(data["instance_id"]),
            pid=int(data["pid"]),
            started_at=started,
            health_host=None if host is None else str(host),
            health_port=None if port is None else int(port),
            version=str(data.get("version", "")),
        )

    def write(self, state_dir: Path) -> None:
        """Atomically: a reader sees the old file or the new one, never half of one."""
        target = state_dir / IDENTITY_FILE
        temporary = state_dir / f".{IDENTITY_FILE}.{self.pid}.tmp"
        with temporary.open("w", encoding="utf-8") as handle:
            json.dump(self.to_json(), handle, indent=1)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, target)


def new_identity(started_at: datetime, host: str | None, port: int | None, version: str) -> BotIdentity:
    return BotIdentity(uuid.uuid4().hex, os.getpid(), started_at, host, port, version)


def read_identity(state_dir: Path) -> BotIdentity | str | None:
    """The identity in `state_dir`; None without a file; a text saying what is wrong with an unreadable one."""
    path = state_dir / IDENTITY_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as error:
        return f"{path} cannot be read ({error.strerror or error})"
    try:
        data = json.loads(text)
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
        return BotIdentity.from_json(data)
    except (ValueError, KeyError, TypeError) as error:
        return f"{path} is not a crocbot identity file ({error})"


def remove_identity(state_dir: Path, instance_id: str) -> None:
    """Remove the file if it is still this instance's (a newer bot may have replaced it)."""
    current = read_identity(state_dir)
    if isinstance(current, BotIdentity) and current.instance_id == instance_id:
        (state_dir / IDENTITY_FILE).unlink(missing_ok=True)


def pid_alive(pid: int) -> bool | None:
    """Whether a process with `pid` exists; None where that cannot be asked safely.

    On Windows `os.kill(pid, 0)` is not a probe: it calls TerminateProcess for any signal it does not know, so
    the health probe alone decides there."""
    if sys.platform == "win32":
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, owned by someone else
    except OSError:
        return None
    return True


@dataclass(frozen=True, slots=True)
class BotCheck:
    """What `crocbot status` found about the bot of a state directory.

    `state`: running (its health address answers with its instance id), unresponsive (its process exists but its
    address does not answer), stale (the file's bot is gone: killed, or another process answers), not_running
    (no file: stopped cleanly, or never started)."""

    state: str
    detail: str
    identity: BotIdentity | None = None
    readiness: dict[str, Any] | None = None  # the /readyz body when running

    @property
    def running(self) -> bool:
        return self.state == "running"


def check_bot(state_dir: Path, *, timeout: float = 1.0) -> BotCheck:
    """Ask the bot named by `state_dir`'s identity file, and nothing else, whether it runs."""
    path = state_dir / IDENTITY_FILE
    found = read_identity(state_dir)
    if found is None:
        return BotCheck("not_running", f"not running (no {IDENTITY_FILE}: no bot runs on this state directory)")
    if isinstance(found, str):
        return BotCheck("stale", f"unknown: {found}")
    who = f"pid {found.pid}, started {found.started_at.isoformat(timespec='seconds')}"
    alive = pid_alive(found.pid)
    url = found.health_url
    if url is None:  # a bot without health endpoints: its pid is all there is
        if alive is False:
            return BotCheck("stale", f"not running: the bot that wrote {path} ({who}) is gone (killed?)", found)
        return BotCheck("running", f"running ({who}; it serves no health endpoints)", found)
    body = _readyz(url, timeout)
    if body is not None and body.get("instance_id") == found.instance_id:
        return BotCheck("running", f"running ({who}, health on {url})", found, body)
    if body is not None:
        return BotCheck(
            "stale",
            f"not running: the bot that wrote {path} ({who}) is not running (killed?); another process answers on "
            f"{url}",
            found,
        )
    if alive:
        return BotCheck(
            "unresponsive",
            f"NOT answering: process {found.pid} exists but {url}/readyz does not answer (hung, or the pid was "
            "reused by another program)",
            found,
        )
    return BotCheck(
        "stale",
        f"not running: the bot that wrote {path} ({who}) is not running (killed?); {url} does not answer",
        found,
    )


def _readyz(url: str, timeout: float) -> dict[str, Any] | None:
    try:
        with urllib.request.urlopen(f"{url}/readyz", timeout=timeout) as response:
            body = json.loads(response.read())
    except urllib.error.HTTPError as error:  # 503: not ready, with the same JSON body
        try:
            body = json.loads(error.read())
        except (OSError, ValueError):
            return None
    except (OSError, ValueError):
        return None
    return body if isinstance(body, dict) else None
