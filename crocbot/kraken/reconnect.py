"""When to reconnect: jittered exponential backoff under Kraken's connection budget.

Cloudflare in front of Kraken bans an IP for 10 minutes after about 150 connection attempts in 10 minutes, so
every attempt is counted in a sliding window and the client waits rather than go over its own, lower, budget.
"""

from __future__ import annotations

import random
from collections import deque

__all__ = ["Backoff", "ConnectBudget"]


class Backoff:
    """Delay before reconnect attempt n: min(max, initial * 2**n) scaled by a random factor in [1 - jitter, 1]."""

    def __init__(
        self, *, initial: float = 0.5, maximum: float = 30.0, jitter: float = 0.5, rng: random.Random | None = None
    ) -> None:
        if initial <= 0 or maximum < initial or not 0 <= jitter < 1:
            raise ValueError("backoff needs 0 < initial <= maximum and 0 <= jitter < 1")
        self.initial = initial
        self.maximum = maximum
        self.jitter = jitter
        self._rng = rng or random.Random()
        self.attempt = 0

    def next_delay(self) -> float:
        base: float = min(self.maximum, self.initial * 2.0 ** min(self.attempt, 30))
        self.attempt += 1
        return base * (1 - self.jitter * self._rng.random())

    def reset(self) -> None:
        self.attempt = 0


class ConnectBudget:
    """At most `limit` connection attempts in any `window` seconds (Kraken bans at ~150 per 600 s)."""

    def __init__(self, limit: int = 100, window: float = 600.0) -> None:
        if limit < 1 or window <= 0:
            raise ValueError("a connect budget needs limit >= 1 and window > 0")
        self.limit = limit
        self.window = window
        self._attempts: deque[float] = deque()

    def wait_needed(self, now: float) -> float:
        while self._attempts and self._attempts[0] <= now - self.window:
            self._attempts.popleft()
        if len(self._attempts) < self.limit:
            return 0.0
        return self._attempts[0] + self.window - now

    def record(self, now: float) -> None:
        self._attempts.append(now)

    @property
    def used(self) -> int:
        return len(self._attempts)
