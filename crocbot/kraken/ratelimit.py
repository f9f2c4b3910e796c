"""Kraken's rate limits as a model, shared by the client (which waits for budget) and the simulator (which enforces).

Two leaky counters, both decaying continuously:
- the REST call counter per API key: +1 per call, +4 for ledger and trade-history calls (Kraken's pages disagree
  between 2 and 4; 4 is the safe budget), nothing for order calls, which use the trading counter instead;
- the trading counter per pair: +1 to add, +1 plus an age penalty to amend, an age penalty to cancel, where the
  age is the time since the order was placed or last amended.
Going over the limit earns `EAPI:Rate limit exceeded` / `EOrder:Rate limit exceeded`. The client reserves a
margin below the limit, so that its estimate, taken a moment before the exchange's, never tips it over.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from enum import StrEnum

from crocbot.core.trading_counter import ADD_COST, amend_cost, cancel_cost  # the table is the core's (the desk paces)

__all__ = [
    "Tier",
    "RestLimits",
    "TradingLimits",
    "REST_LIMITS",
    "TRADING_LIMITS",
    "rest_cost",
    "amend_cost",
    "cancel_cost",
    "ADD_COST",
    "LeakyCounter",
    "HISTORY_METHODS",
    "ORDER_METHODS",
]


class Tier(StrEnum):
    STARTER = "starter"
    INTERMEDIATE = "intermediate"
    PRO = "pro"


@dataclass(frozen=True, slots=True)
class RestLimits:
    limit: float
    decay: float  # per second


@dataclass(frozen=True, slots=True)
class TradingLimits:
    threshold: float
    decay: float  # per second
    max_open_orders: int  # per pair


REST_LIMITS = {
    Tier.STARTER: RestLimits(15, 0.33),
    Tier.INTERMEDIATE: RestLimits(20, 0.5),
    Tier.PRO: RestLimits(20, 1.0),
}
TRADING_LIMITS = {
    Tier.STARTER: TradingLimits(60, 1.0, 60),
    Tier.INTERMEDIATE: TradingLimits(125, 2.34, 80),
    Tier.PRO: TradingLimits(180, 3.75, 225),
}

HISTORY_METHODS = frozenset({"Ledgers", "QueryLedgers", "TradesHistory", "QueryTrades", "ClosedOrders"})
ORDER_METHODS = frozenset({"AddOrder", "AddOrderBatch", "AmendOrder", "EditOrder", "CancelOrder", "CancelOrderBatch"})


def rest_cost(method: str) -> float:
    if method in ORDER_METHODS:
        return 0.0
    return 4.0 if method in HISTORY_METHODS else 1.0


class LeakyCounter:
    """A counter that decays by `decay` per second toward zero. Thread-safe; time is passed in (monotonic s)."""

    _EPSILON = 1e-9

    def __init__(self, limit: float, decay: float) -> None:
        if limit <= 0 or decay <= 0:
            raise ValueError("a leaky counter needs a positive limit and decay")
        self.limit = limit
        self.decay = decay
        self._value = 0.0
        self._at: float | None = None
        self._lock = threading.Lock()

    def level(self, now: float) -> float:
        with self._lock:
            return self._level_locked(now)

    def _level_locked(self, now: float) -> float:
        if self._at is None:
            return 0.0
        return max(0.0, self._value - (now - self._at) * self.decay)

    def wait_needed(self, cost: float, now: float, *, margin: float = 0.0) -> float:
        """Seconds until `cost` fits below `limit - margin` (0 if it fits now)."""
        with self._lock:
            excess = self._level_locked(now) + cost - (self.limit - margin)
        return max(0.0, excess / self.decay) if excess > self._EPSILON else 0.0

    def add(self, cost: float, now: float) -> None:
        with self._lock:
            self._value = self._level_locked(now) + cost
            self._at = now

    def at_least(self, level: float, now: float) -> None:
        """The exchange said where the counter stands: never below that (a model that counts low earns refusals;
        one that counts high only waits a little longer)."""
        with self._lock:
            if level > self._level_locked(now):
                self._value = level
                self._at = now

    def try_add(self, cost: float, now: float) -> bool:
        """The exchange's side: take the cost if it fits, refuse (and take nothing) if it would go over."""
        with self._lock:
            level = self._level_locked(now)
            if level + cost > self.limit + self._EPSILON:
                return False
            self._value = level + cost
            self._at = now
            return True
