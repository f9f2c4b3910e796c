"""Failpoints: named places where a crash test may kill the process hard, like a power cut.

Off unless the environment variable `CROCBOT_FAILPOINTS` names some, e.g.

    CROCBOT_FAILPOINTS=router.after_intent=0.05,venue.after_save=0.1

Each entry is `name=probability` (a bare `name` means probability 1): every time the code passes that point it
dies with that probability. `CROCBOT_FAILPOINT_SEED` (an integer) makes the draws repeatable. The variables are
read once, when this module is imported; a malformed value or an unknown name refuses the start, so that a typo
in a crash test cannot quietly test nothing.

When a point fires, one line naming it goes to stderr (unbuffered), then the process is killed: SIGKILL on
POSIX, `os._exit(137)` elsewhere. No flush, no `atexit`, no `finally`: what is not on disk is lost, as it would be
in a power cut. With no failpoints configured, `hit` reads one class attribute and returns.

The points (each sits between two durable steps, where a crash leaves the records disagreeing):

- `router.after_intent`: an order's intent is journaled; the venue has not been asked.
- `router.after_fill_journal`: a fill is journaled (and in the trade log) in one commit with what its booking changed
  (ledger, position, the stop's intent); the stop it calls for has not been sent.
- `venue.after_save`: the paper account is saved with the new fills and order events; the router has not heard
  of them (the journal lacks them).
- `persistence.after_fill_commit`: a fill is committed to the journal; its trade-log line is not written yet.
- `venue.after_ws_ack` (live): Kraken's answer to an add_order on the private WS is in (the order is on the book);
  the bot has not acted on it (the order's id is not noted, no ACKED published, nothing journaled of it).
- `venue.after_stop_cancel` (live): the cancels an exit waits for (its position's stop) are confirmed; the exit
  that replaces the stop has not been sent, so the position is bare on the venue. The live path amends a stop in
  place (a refused amend only drops that level), so this exit is the one place where a stop is cancelled and
  replaced.
"""

from __future__ import annotations

import contextlib
import os
import random
import sys
from collections.abc import Mapping

__all__ = ["POINTS", "ENV_POINTS", "ENV_SEED", "EXIT_CODE", "FailpointError", "parse", "hit", "active", "reload"]

ENV_POINTS = "CROCBOT_FAILPOINTS"
ENV_SEED = "CROCBOT_FAILPOINT_SEED"
EXIT_CODE = 137  # what a shell reports for a SIGKILLed process; the exit code where there is no SIGKILL

POINTS = frozenset(
    {
        "router.after_intent",
        "router.after_fill_journal",
        "venue.after_save",
        "persistence.after_fill_commit",
        "venue.after_ws_ack",
        "venue.after_stop_cancel",
    }
)


class FailpointError(ValueError):
    """`CROCBOT_FAILPOINTS` or `CROCBOT_FAILPOINT_SEED` is malformed or names an unknown point."""


def parse(text: str) -> dict[str, float]:
    """`name=p,name2=p2,name3` -> {name: p, name2: p2, name3: 1.0}; FailpointError on anything else."""
    points: dict[str, float] = {}
    for raw in text.split(","):
        item = raw.strip()
        if not item:
            continue
        name, sep, value = (part.strip() for part in item.partition("="))
        if name not in POINTS:
            raise FailpointError(f"{ENV_POINTS}: unknown failpoint {name!r}; known: {', '.join(sorted(POINTS))}")
        if name in points:
            raise FailpointError(f"{ENV_POINTS}: {name} is named twice")
        try:
            probability = float(value) if sep else 1.0  # a probability, not money: float is right here
        except ValueError:
            raise FailpointError(f"{ENV_POINTS}: {item!r}: the probability must be a number in [0, 1]") from None
        if not 0.0 <= probability <= 1.0:
            raise FailpointError(f"{ENV_POINTS}: {item!r}: the probability must be in [0, 1]")
        if probability > 0:
            points[name] = probability
    return points


def _seed(text: str | None) -> int | None:
    if text is None or not text.strip():
        return None
    try:
        return int(text.strip())
    except ValueError:
        raise FailpointError(f"{ENV_SEED}: {text!r} is not an integer") from None


class _Config:
    __slots__ = ("points", "rng")

    def __init__(self, points: Mapping[str, float], seed: int | None) -> None:
        self.points = dict(points)
        self.rng = random.Random(seed)


class _Current:
    config: _Config | None = None  # None: no failpoints (the common case, checked first by `hit`)


def reload(environ: Mapping[str, str] | None = None) -> dict[str, float]:
    """Read the two variables again (from `environ`, default `os.environ`); returns the active points."""
    env = os.environ if environ is None else environ
    points = parse(env.get(ENV_POINTS, ""))
    _Current.config = _Config(points, _seed(env.get(ENV_SEED))) if points else None
    return dict(points)


def active() -> dict[str, float]:
    """The configured points and their probabilities (empty when failpoints are off)."""
    config = _Current.config
    return dict(config.points) if config is not None else {}


def hit(name: str) -> None:
    """Pass the point `name`: nothing when it is not configured, else die with its probability."""
    config = _Current.config
    if config is None:
        return
    probability = config.points.get(name)
    if probability is None or config.rng.random() >= probability:
        return
    _die(name)


def _die(name: str) -> None:
    with contextlib.suppress(OSError):  # no stderr to write to: die anyway
        os.write(2, f"crocbot failpoint {name} fired: killing process {os.getpid()}\n".encode())
    if sys.platform != "win32":
        import signal

        os.kill(os.getpid(), signal.SIGKILL)
    os._exit(EXIT_CODE)  # Windows, or a SIGKILL that has not landed yet


reload()
