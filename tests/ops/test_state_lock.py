"""One bot per state directory, held by the operating system (a review of issue 12 started a second bot beside a
paused one: the first did not answer its health probe in time, so the second took its journal and paper account)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from crocbot.ops.state_lock import StateDirLocked, lock_state_dir, unlock_state_dir

_HOLD = """
import sys
from pathlib import Path
from crocbot.ops.state_lock import lock_state_dir
lock_state_dir(Path(sys.argv[1]))
print("locked", flush=True)
sys.stdin.read()  # hold it until the test closes our stdin (or kills us)
"""


def _holder(state_dir: Path) -> subprocess.Popen[str]:
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLD, str(state_dir)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout is not None
    assert holder.stdout.readline().strip() == "locked"  # returns once the other process holds the lock
    return holder


def test_a_state_dir_another_process_holds_is_refused_at_once_and_free_once_it_dies(tmp_path: Path) -> None:
    holder = _holder(tmp_path)
    try:
        with pytest.raises(StateDirLocked, match="another crocbot process holds"):
            lock_state_dir(tmp_path)
    finally:
        holder.kill()  # kill -9 on POSIX: the kernel drops the lock with the process
        holder.wait(timeout=30)
    lock_state_dir(tmp_path)
    unlock_state_dir(tmp_path)


def test_within_one_process_the_lock_is_counted_and_freed_by_the_last_release(tmp_path: Path) -> None:
    lock_state_dir(tmp_path)
    lock_state_dir(tmp_path)  # the tests run bots one after another in one process, and abandon one for a crash
    unlock_state_dir(tmp_path)
    holder = subprocess.run(
        [sys.executable, "-c", _HOLD, str(tmp_path)], input="", capture_output=True, text=True, timeout=60
    )
    assert holder.returncode != 0  # one hold is left
    assert "StateDirLocked" in holder.stderr
    unlock_state_dir(tmp_path)
    holder = subprocess.run(
        [sys.executable, "-c", _HOLD, str(tmp_path)], input="", capture_output=True, text=True, timeout=60
    )
    assert holder.returncode == 0, holder.stderr
