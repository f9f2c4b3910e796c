"""What goes wrong in the simulator, and when: the faults crocbot must survive, injected on purpose.

WebSocket: dropped, duplicated, malformed and delayed frames, corrupted book checksums, stalls (nothing at all,
not even heartbeats), and disconnects (at once, or every N seconds). REST: HTTP 5xx, calls that hang past the
client's timeout, `EService:Unavailable`, `EAPI:Rate limit exceeded`, and an AddOrder that is executed but whose
answer is lost. Probabilities use a seeded RNG; one-shot faults are queued and taken by the next matching call.
Scheduled faults run when the simulator's clock passes their time. Every fault served is counted (and recorded,
with `records`).

Standing rates, for a crash test that wants a venue misbehaving now and then (`crocbot sim --fault-*`):
`private_rest_fault_rate` turns that share of private REST calls into one of `private_rest_faults` (never a rate
limit: the bot is judged on the rate-limit errors it earns), `lose_add_order_rate` carries out that share of
add_orders (WS and REST) without answering, and `private_disconnect_every` drops the private WS connections only.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from crocbot.sim.records import SimRecords

__all__ = ["FaultPlan", "RestFault", "REST_FAULTS"]

REST_FAULTS = frozenset({"http_502", "timeout", "unavailable", "rate_limit", "lose_response"})


@dataclass(frozen=True, slots=True)
class RestFault:
    kind: str  # one of REST_FAULTS
    method: str | None = None  # only calls to this method (None: any call)


class FaultPlan:
    def __init__(self, seed: int = 0) -> None:
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self.drop_rate = 0.0
        self.duplicate_rate = 0.0
        self.malformed_rate = 0.0
        self.corrupt_checksum_rate = 0.0
        self.frame_delay = 0.0  # seconds added before every outgoing frame
        self.disconnect_every: float | None = None  # wall seconds between forced disconnects of every WS connection
        self.rest_hang = 30.0  # how long a `timeout` fault holds the request
        self.private_rest_fault_rate = 0.0
        self.private_rest_faults: tuple[str, ...] = ("http_502", "timeout", "unavailable")
        self.lose_add_order_rate = 0.0
        self.private_disconnect_every: float | None = None  # wall seconds between drops of the private WS only
        self.records: SimRecords | None = None
        self._stalled_until = 0.0
        self._private_stalled_until = 0.0
        self._rest: deque[RestFault] = deque()
        self._schedule: list[tuple[float, Callable[[], None]]] = []
        self._disconnect_listeners: list[Callable[[], None]] = []
        self.served: Counter[str] = Counter()

    # -- WebSocket ------------------------------------------------------------------------------------

    def roll(self, rate: float) -> bool:
        if rate <= 0:
            return False
        with self._lock:
            return self._rng.random() < rate

    def count(self, what: str, n: int = 1) -> None:
        with self._lock:
            self.served[what] += n
        if self.records is not None:
            self.records.write("fault", fault=what, n=n)

    def lose_add_order(self) -> bool:
        """Whether this add_order's answer is to be lost (`lose_add_order_rate`); counted when it is."""
        if not self.roll(self.lose_add_order_rate):
            return False
        self.count("lose_add_order_answer")
        return True

    def stall(self, seconds: float, *, private: bool = True) -> None:
        """Send nothing, heartbeats included, for `seconds` of wall time; with `private=False` on the market data
        links only (Kraken's public and private WS are separate endpoints: market data may stall while the account's
        link carries on)."""
        until = time.monotonic() + seconds
        with self._lock:
            self._stalled_until = max(self._stalled_until, until)
            if private:
                self._private_stalled_until = max(self._private_stalled_until, until)
        self.count("stall")

    @property
    def stalled(self) -> bool:
        return time.monotonic() < self._stalled_until

    def link_stalled(self, private: bool) -> bool:
        """Whether a link (a private one, or a market data one) delivers nothing now."""
        return time.monotonic() < (self._private_stalled_until if private else self._stalled_until)

    def on_disconnect(self, listener: Callable[[], None]) -> None:
        with self._lock:
            self._disconnect_listeners.append(listener)

    def disconnect_all(self) -> None:
        with self._lock:
            listeners = list(self._disconnect_listeners)
        self.count("disconnect")
        for listener in listeners:
            listener()

    # -- REST -----------------------------------------------------------------------------------------

    def rest_next(self, kind: str, *, count: int = 1, method: str | None = None) -> None:
        if kind not in REST_FAULTS:
            raise ValueError(f"unknown REST fault {kind!r}; one of {', '.join(sorted(REST_FAULTS))}")
        with self._lock:
            self._rest.extend(RestFault(kind, method) for _ in range(count))

    def take_rest_fault(self, method: str, *, private: bool = False) -> RestFault | None:
        """The fault for this call: a queued one, else (a private call) one drawn at the standing rates."""
        chosen: RestFault | None = None
        with self._lock:
            for index, fault in enumerate(self._rest):
                if fault.method is None or fault.method == method:
                    del self._rest[index]
                    chosen = fault
                    break
            drawn = private and self.private_rest_fault_rate > 0
            if chosen is None and drawn and self._rng.random() < self.private_rest_fault_rate:
                chosen = RestFault(self._rng.choice(self.private_rest_faults), method)
        if chosen is None and method == "AddOrder" and self.roll(self.lose_add_order_rate):
            chosen = RestFault("lose_response", method)
        if chosen is not None:
            self.count(f"rest_{chosen.kind}")
        return chosen

    # -- schedule -------------------------------------------------------------------------------------

    def at(self, sim_seconds: float, action: Callable[[], None]) -> None:
        """Run `action` once the simulator's clock has run `sim_seconds` since its start."""
        with self._lock:
            self._schedule.append((sim_seconds, action))
            self._schedule.sort(key=lambda item: item[0])

    def due(self, sim_seconds: float) -> list[Callable[[], None]]:
        with self._lock:
            ready = [action for at, action in self._schedule if at <= sim_seconds]
            self._schedule = [(at, action) for at, action in self._schedule if at > sim_seconds]
        return ready
