"""How often a repeating condition may be reported: the first time at once, then at most once per interval per key.

A book that fails its checksum every second for a minute must leave a line that says so (silence hid exactly that),
and must not leave sixty. The caller asks `admit(key, now)` for every occurrence; an admitted one carries how many
were held back since the previous admitted one of the same key, so the line it writes still counts them all.
Pure: no I/O, no threads, no lock (one caller thread per instance); time is the caller's monotonic `now`.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass

__all__ = ["Throttle"]


@dataclass(slots=True)
class _Key:
    last: float
    held: int = 0


class Throttle:
    def __init__(self, interval: float) -> None:
        if interval < 0:
            raise ValueError(f"interval must be >= 0 seconds, got {interval}")
        self.interval = interval
        self._keys: dict[Hashable, _Key] = {}

    def admit(self, key: Hashable, now: float) -> int | None:
        """None when this occurrence is held back; else how many of `key` were held back since the last admitted.

        Keys are few and bounded by the caller (a symbol, a condition), so they are kept for the instance's life.
        """
        state = self._keys.get(key)
        if state is None:
            self._keys[key] = _Key(now)
            return 0
        if now - state.last < self.interval:
            state.held += 1
            return None
        held, state.held, state.last = state.held, 0, now
        return held
