"""Failpoints: parsed once from the environment, off (a no-op) unless configured, and when one fires the process
dies at once, without flushing or running exit handlers (tested in child processes)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator

import pytest

from crocbot.ops import failpoints
from crocbot.ops.failpoints import ENV_POINTS, ENV_SEED, EXIT_CODE, POINTS, FailpointError, parse

WAIT = 30.0
POSIX = sys.platform != "win32"


@pytest.fixture(autouse=True)
def _restore() -> Iterator[None]:
    yield
    failpoints.reload()  # back to what the test process's own environment says (normally: off)


def _child(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if k not in (ENV_POINTS, ENV_SEED)}
    return subprocess.run(
        [sys.executable, "-c", code], env=base | env, capture_output=True, text=True, timeout=WAIT, check=False
    )


def test_parse_reads_names_with_probabilities_and_a_bare_name_as_always() -> None:
    assert parse("router.after_intent=0.05, venue.after_save=0.1") == {
        "router.after_intent": 0.05,
        "venue.after_save": 0.1,
    }
    assert parse("persistence.after_fill_commit") == {"persistence.after_fill_commit": 1.0}
    assert parse("") == {}
    assert parse(" , ") == {}
    assert parse("router.after_fill_journal=0") == {}  # probability 0 is the same as not named


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("router.after_intnet=0.1", "unknown failpoint 'router.after_intnet'"),
        ("venue.after_save=often", "must be a number"),
        ("venue.after_save=1.5", "must be in [0, 1]"),
        ("venue.after_save=-0.1", "must be in [0, 1]"),
        ("venue.after_save=0.1,venue.after_save=0.2", "named twice"),
    ],
)
def test_parse_refuses_a_malformed_spec_with_a_message_that_says_why(text: str, says: str) -> None:
    with pytest.raises(FailpointError) as error:
        parse(text)
    assert says in str(error.value)


def test_unset_failpoints_make_hit_a_no_op_for_every_point() -> None:
    assert failpoints.reload({}) == {}
    assert failpoints.active() == {}
    for _ in range(1000):
        for name in POINTS:
            failpoints.hit(name)  # still alive


def test_a_point_at_probability_zero_or_not_named_never_fires() -> None:
    assert failpoints.reload({ENV_POINTS: "router.after_intent=0", ENV_SEED: "3"}) == {}
    assert failpoints.reload({ENV_POINTS: "venue.after_save=0.0001", ENV_SEED: "3"}) == {"venue.after_save": 0.0001}
    for _ in range(100):
        failpoints.hit("router.after_intent")  # configured points only: this one is not


def test_a_bad_seed_is_refused() -> None:
    with pytest.raises(FailpointError, match="not an integer"):
        failpoints.reload({ENV_POINTS: "venue.after_save=0.5", ENV_SEED: "abc"})


@pytest.mark.skipif(not POSIX, reason="SIGKILL is POSIX; elsewhere the point exits with 137")
def test_a_firing_point_kills_the_process_with_sigkill_without_exit_handlers_or_flushing() -> None:
    code = (
        "import atexit, sys\n"
        "from crocbot.ops import failpoints\n"
        "atexit.register(lambda: print('atexit ran', flush=True))\n"
        "sys.stdout.write('buffered, never flushed')\n"
        "failpoints.hit('venue.after_save')\n"
        "print('survived', flush=True)\n"
    )
    result = _child(code, **{ENV_POINTS: "venue.after_save=1", "PYTHONUNBUFFERED": ""})

    assert result.returncode == -9
    assert "crocbot failpoint venue.after_save fired" in result.stderr
    assert result.stdout == ""  # the buffered line, the print after the point and the atexit handler: all lost


def test_a_point_fires_on_windows_style_exit_code_when_there_is_no_sigkill() -> None:
    """The same death where SIGKILL does not exist: `os._exit(137)` (checked here by faking the platform)."""
    code = (
        "import sys\n"
        "from crocbot.ops import failpoints\n"
        "sys.platform = 'win32'\n"
        "failpoints.hit('router.after_intent')\n"
        "print('survived', flush=True)\n"
    )
    result = _child(code, **{ENV_POINTS: "router.after_intent"})

    assert result.returncode == EXIT_CODE
    assert "survived" not in result.stdout


def test_a_seeded_point_fires_at_the_same_pass_every_run() -> None:
    code = (
        "from crocbot.ops import failpoints\n"
        "for i in range(10_000):\n"
        "    print(i, flush=True)\n"
        "    failpoints.hit('router.after_fill_journal')\n"
    )
    env = {ENV_POINTS: "router.after_fill_journal=0.05", ENV_SEED: "42"}
    first, second = _child(code, **env), _child(code, **env)

    assert first.returncode != 0
    assert first.stdout.split()[-1] == second.stdout.split()[-1]
    assert int(first.stdout.split()[-1]) < 9_999  # it fired, well before the loop ended


def test_a_typo_in_the_environment_refuses_the_import_loudly() -> None:
    result = _child("import crocbot.ops.failpoints", **{ENV_POINTS: "venue.afer_save=0.1"})

    assert result.returncode == 1
    assert "unknown failpoint 'venue.afer_save'" in result.stderr
