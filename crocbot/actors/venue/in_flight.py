"""The orders a venue has handed to its exchange calls and whose call has not ended: on their way to the exchange.

The orders gateway outlives the venue actor that fed it: when the core restarts (a crash, `rest_for_one`), an order
call the crashed instance handed over carries on and may reach Kraken after the new instance's start-up
reconciliation read the account. That reconciliation must not call such an order "never sent" (it would mark it
rejected, and its fills would then move a rejected order). This record is kept for the life of the process, shared
by every instance of the venue, and read as the `pending` of the reconciler's venue view.

An order is pending from the moment it is handed to the gateway until its call ends; a call the gateway never
started (its deadline passed in the queue, or the breaker refused it) stops being pending at its deadline, after
which the gateway never starts it.
"""

from __future__ import annotations

import math
import threading

from crocbot.core.clock import Clock

__all__ = ["OrdersInFlight"]


class OrdersInFlight:
    """Thread-safe: the venue's thread hands orders over, gateway workers start and end their calls, the
    reconciler's view reads them. `clock` is the gateway's, on which the calls' deadlines count."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._until: dict[str, float] = {}  # cl_ord_id -> when it stops being pending unless its call started

    def handed(self, cl_ord_id: str, timeout: float) -> None:
        """The order's call is queued with `timeout` seconds to start and end."""
        with self._lock:
            self._until[cl_ord_id] = self._clock.monotonic() + timeout

    def started(self, cl_ord_id: str) -> None:
        """Its call runs: pending until it ends, however long that takes."""
        with self._lock:
            self._until[cl_ord_id] = math.inf

    def ended(self, cl_ord_id: str) -> None:
        with self._lock:
            self._until.pop(cl_ord_id, None)

    def pending(self) -> frozenset[str]:
        now = self._clock.monotonic()
        with self._lock:
            for cl_ord_id in [k for k, until in self._until.items() if until <= now]:
                del self._until[cl_ord_id]
            return frozenset(self._until)
