"""The composition root: builds the supervision tree from the settings and runs it until told to stop.

The tree grows with each capability (feed, candles, strategy, router, stop-loss manager, persistence,
reconciler); what is here now is the runtime they will run on.
"""

from __future__ import annotations

import signal
import threading
import time
from types import FrameType

from loguru import logger

from crocbot import __version__
from crocbot.actors.protocol import ChildExited
from crocbot.actors.runtime import Runtime
from crocbot.actors.supervisor import ChildSpec, Policy, Strategy
from crocbot.actors.watchdog import Watchdog
from crocbot.config import Settings, fingerprint
from crocbot.core.clock import Clock
from crocbot.ops.log import setup_logging

__all__ = ["run_bot", "build_children", "ROOT_POLICY"]

ROOT_POLICY = Policy(strategy=Strategy.ONE_FOR_ONE, max_restarts=5, within=60.0, backoff_initial=0.5)
_WAIT_SLICE = 0.2  # seconds; the main thread polls the signal flag this often


# A supervisor legitimately blocks while a child starts (start_timeout, 10 s by default) or stops; the watchdog
# must wait longer than that before calling it hung.
WATCHDOG_TIMEOUT = 15.0


def build_children(settings: Settings) -> list[ChildSpec]:
    return [ChildSpec.actor("watchdog", Watchdog, interval=1.0, timeout=WATCHDOG_TIMEOUT)]


def run_bot(settings: Settings, *, clock: Clock | None = None, stop: threading.Event | None = None) -> int:
    """Run until SIGINT/SIGTERM (CTRL_BREAK on Windows) or `stop`; returns the process exit code."""
    setup_logging(log_dir=settings.log_dir, level=settings.log_level)
    logger.bind(version=__version__, mode=settings.mode, config=fingerprint(settings)).info(
        "crocbot {} starting in {} mode (config {}) for {}",
        __version__,
        settings.mode,
        fingerprint(settings),
        ", ".join(settings.symbols),
    )
    if settings.mode == "live":
        logger.error("this build has no live venue yet; nothing was sent to Kraken. Run with --mode paper.")
        return 2
    stop = stop or threading.Event()
    escalated = threading.Event()

    def on_escalate(exited: ChildExited) -> None:
        logger.critical("the supervision tree gave up ({}); shutting down", exited.error)
        escalated.set()
        stop.set()

    runtime = Runtime(clock=clock, on_escalate=on_escalate)
    signalled: list[int] = []
    previous = _install_stop_signals(signalled)
    try:
        runtime.start(build_children(settings), ROOT_POLICY)
        logger.info("running; press Ctrl-C to stop")
        while not signalled and not stop.is_set():
            time.sleep(_WAIT_SLICE)
        if signalled:
            logger.info("signal {} received", signalled[0])
    finally:
        logger.info("stopping")
        runtime.shutdown()
        _restore_signals(previous)
        logger.info("stopped")
    return 1 if escalated.is_set() else 0


def _install_stop_signals(signalled: list[int]) -> dict[int, object]:
    if threading.current_thread() is not threading.main_thread():
        return {}

    def handler(signum: int, frame: FrameType | None) -> None:
        # Only a list append: a handler that took a lock (Event.set) could deadlock against the main thread,
        # which may hold that very lock when the signal arrives.
        signalled.append(signum)

    previous: dict[int, object] = {}
    for name in ("SIGINT", "SIGTERM", "SIGBREAK"):  # SIGBREAK exists on Windows only
        signum = getattr(signal, name, None)
        if signum is not None:
            previous[signum] = signal.signal(signum, handler)
    return previous


def _restore_signals(previous: dict[int, object]) -> None:
    for signum, handler in previous.items():
        signal.signal(signum, handler)  # type: ignore[arg-type]
