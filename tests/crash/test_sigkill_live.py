"""kill -9 in live mode: a real live-mode bot against `crocbot sim`'s private WS and REST (serving faults now and
then), killed at random moments and at failpoints, judged after each restart on the simulator's own records: every
fill there journaled and in the trade log, nothing sent twice, every position under a stop on the simulator within
a second of readiness, the ledger's realised P&L the FIFO P&L of the simulator's fills, no rate-limit error earned,
no nonce refused (see `tests.support.crash_live`).

Each test prints the harness's summary even when it passes.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.crash.test_sigkill import _assert_exercised, _assert_sound, _run
from tests.support.crash_live import LiveCrashConfig, LiveCrashHarness

pytestmark = pytest.mark.skipif(
    sys.platform == "win32", reason="SIGKILL is POSIX; the harness kills its children with it"
)


@pytest.mark.timeout(600)
def test_thirty_live_kill_9s_leave_the_simulator_and_the_bot_agreeing_after_each_restart(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    summary = _run(tmp_path, LiveCrashConfig(trials=30), capsys, table=True, harness_type=LiveCrashHarness)

    _assert_sound(summary, 30)
    _assert_exercised(summary, fired_points=2, trading_trials=4, repaired=1)


@pytest.mark.soak
@pytest.mark.timeout(3 * 3600)
def test_hundreds_of_live_kill_9s_leave_the_simulator_and_the_bot_agreeing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = LiveCrashConfig(trials=300, seed=17, alive=(0.5, 6.0))
    summary = _run(tmp_path, config, capsys, table=False, harness_type=LiveCrashHarness)

    _assert_sound(summary, 300)
    _assert_exercised(summary, fired_points=4, trading_trials=60, repaired=40)
