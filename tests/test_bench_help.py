"""Every benchmark answers `--help`: its help is its documentation, and a broken one hides how to run it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench"
# the runnable ones; the others (bench_support, bench_sl_venue) are modules the benchmarks import
SCRIPTS = sorted(p for p in BENCH.glob("bench_*.py") if 'if __name__ == "__main__"' in p.read_text(encoding="utf-8"))


def test_there_are_benchmarks() -> None:
    assert len(SCRIPTS) >= 5, SCRIPTS


@pytest.mark.parametrize("script", SCRIPTS, ids=[p.stem for p in SCRIPTS])
def test_a_benchmark_prints_its_help(script: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(script), "--help"], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "usage:" in done.stdout
