"""One bot per state directory, enforced by the operating system: a lock on `<state_dir>/bot.lock` held for the
bot's whole life.

`bot.json` and `/readyz` say which bot runs, but a bot that is paused, swapping or busy does not answer its health
probe in time, and a second bot started beside it would share its journal and paper account, each trading on half
the story. The lock does not depend on an answer: the kernel holds it while the process lives and drops it when
the process dies, however it dies (kill -9 included), so a stale lock cannot outlive its bot.

Within one process the lock is counted, not exclusive: the tests run several bots in one process, one after the
other, on one state directory, and abandon a bot to stand for a crash.
"""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path
from typing import BinaryIO

__all__ = ["LOCK_FILE", "StateDirLocked", "lock_state_dir", "unlock_state_dir"]

LOCK_FILE = "bot.lock"

_guard = threading.Lock()
_held: dict[Path, tuple[BinaryIO, int]] = {}  # this process's locks: the open file and how many bots share it


class StateDirLocked(Exception):
    """Another process holds the state directory's lock."""


def lock_state_dir(state_dir: Path) -> None:
    """Take the state directory's lock, or raise StateDirLocked at once (never waits) if another process has it."""
    path = (state_dir / LOCK_FILE).resolve()
    with _guard:
        held = _held.get(path)
        if held is not None:
            _held[path] = (held[0], held[1] + 1)
            return
        handle = path.open("a+b")
        try:
            _os_lock(handle)
        except OSError:
            handle.close()
            raise StateDirLocked(
                f"another crocbot process holds {path} (it runs, perhaps paused or not answering its health checks)"
            ) from None
        _held[path] = (handle, 1)


def unlock_state_dir(state_dir: Path) -> None:
    """Release one hold of the lock; the file stays (removing it would race a bot taking it)."""
    path = (state_dir / LOCK_FILE).resolve()
    with _guard:
        held = _held.get(path)
        if held is None:
            return
        handle, count = held
        if count > 1:
            _held[path] = (handle, count - 1)
            return
        del _held[path]
        handle.close()  # closing the file releases the OS lock on both systems


if sys.platform == "win32":
    import msvcrt

    def _os_lock(handle: BinaryIO) -> None:
        if os.fstat(handle.fileno()).st_size == 0:
            handle.write(b"\0")  # msvcrt locks bytes: give it one to lock
            handle.flush()
        handle.seek(0)
        msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)

else:
    import fcntl

    def _os_lock(handle: BinaryIO) -> None:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
