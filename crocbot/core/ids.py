"""Client order ids that Kraken accepts (at most 18 printable characters) and that never repeat.

`cb` + purpose letter + milliseconds of the event clock in base 36 + a per-process counter (three base-36
digits: 46656 ids within one millisecond before it wraps) + two random characters, 16 characters in all: unique
across restarts (time moves on, and the random part covers a restart within the same millisecond of simulated
time), readable in a log (`cbe...` is an entry, `cbs...` a stop), and short.
"""

from __future__ import annotations

import itertools
import random
import threading
from datetime import datetime

from crocbot.core.messages import OrderPurpose, valid_cl_ord_id

__all__ = ["ClientIds"]

_DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"
_LETTER = {OrderPurpose.ENTRY: "e", OrderPurpose.EXIT: "x", OrderPurpose.STOP: "s", OrderPurpose.TAKE_PROFIT: "t"}


def _base36(value: int) -> str:
    out = ""
    while True:
        value, digit = divmod(value, 36)
        out = _DIGITS[digit] + out
        if not value:
            return out


class ClientIds:
    def __init__(self, rng: random.Random | None = None) -> None:
        self._rng = rng or random.Random()
        self._counter = itertools.count()
        self._lock = threading.Lock()

    def new(self, purpose: OrderPurpose, now: datetime) -> str:
        with self._lock:
            count = next(self._counter) % 36**3  # three base-36 digits: 46656 ids before a wrap
            noise = self._rng.randrange(1296)
        millis = int(now.timestamp() * 1000) % 36**8  # 8 digits: wraps every 89 years
        cl_ord_id = f"cb{_LETTER[purpose]}{_base36(millis):0>8}{_base36(count):0>3}{_base36(noise):0>2}"
        assert valid_cl_ord_id(cl_ord_id), cl_ord_id
        return cl_ord_id
