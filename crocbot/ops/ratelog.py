"""Rate-limited logging for conditions that can repeat thousands of times a minute (bad frames, drops)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from loguru import logger

from crocbot.core.throttle import Throttle

__all__ = ["RateLimitedLog"]


class RateLimitedLog:
    """Logs the first occurrence at once, then at most one summary line per `interval` seconds."""

    def __init__(
        self,
        what: str,
        *,
        interval: float = 60.0,
        level: str = "WARNING",
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._what = what
        self._level = level
        self._monotonic = monotonic
        self._lock = threading.Lock()  # any thread may report; the throttle itself is single-threaded
        self._throttle = Throttle(interval)

    def __call__(self, detail: str) -> None:
        now = self._monotonic()
        with self._lock:
            suppressed = self._throttle.admit(None, now)
        if suppressed is None:
            return
        more = f" ({suppressed} more since the last report)" if suppressed else ""
        logger.log(self._level, "{}: {}{}", self._what, detail, more)
