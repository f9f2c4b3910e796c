"""Rate-limited logging for conditions that can repeat thousands of times a minute (bad frames, drops)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from loguru import logger

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
        self._interval = interval
        self._level = level
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._last = -float("inf")
        self._suppressed = 0

    def __call__(self, detail: str) -> None:
        now = self._monotonic()
        with self._lock:
            if now - self._last < self._interval:
                self._suppressed += 1
                return
            suppressed, self._suppressed, self._last = self._suppressed, 0, now
        more = f" ({suppressed} more since the last report)" if suppressed else ""
        logger.log(self._level, "{}: {}{}", self._what, detail, more)
