"""Health: component status, breaker state changes, supervision events."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from crocbot.core.checks import InvalidMessage, utc

__all__ = [
    "HealthStatus",
    "HealthEvent",
    "BreakerState",
    "BreakerStateChanged",
    "ActorRestarted",
    "ActorExited",
    "ActorEscalated",
    "PrivateWsHealth",
]


class HealthStatus(StrEnum):
    OK = "ok"
    DEGRADED = "degraded"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class HealthEvent:
    component: str
    status: HealthStatus
    detail: str
    ts: datetime

    def __post_init__(self) -> None:
        object.__setattr__(self, "ts", utc(self.ts, "ts"))


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


@dataclass(frozen=True, slots=True)
class BreakerStateChanged:
    """A circuit breaker moved between states; rates are percentages over the window that decided it."""

    name: str
    previous: BreakerState
    current: BreakerState
    ts: datetime
    failure_rate: float
    slow_call_rate: float
    calls: int
    open_for: float = 0.0

    def __post_init__(self) -> None:
        if self.previous is self.current:
            raise InvalidMessage(f"breaker {self.name}: a state change needs two different states")
        object.__setattr__(self, "ts", utc(self.ts, "ts"))


@dataclass(frozen=True, slots=True)
class ActorRestarted:
    name: str
    supervisor: str
    reason: str
    restarts_in_window: int
    ts: datetime

    def __post_init__(self) -> None:
        object.__setattr__(self, "ts", utc(self.ts, "ts"))


@dataclass(frozen=True, slots=True)
class ActorExited:
    """A child exited and, by its restart type, stays down (a transient child's normal exit, a temporary one)."""

    name: str
    supervisor: str
    reason: str
    ts: datetime

    def __post_init__(self) -> None:
        object.__setattr__(self, "ts", utc(self.ts, "ts"))


@dataclass(frozen=True, slots=True)
class ActorEscalated:
    """A supervisor gave up (too many restarts) and handed the failure to its parent."""

    supervisor: str
    reason: str
    ts: datetime

    def __post_init__(self) -> None:
        object.__setattr__(self, "ts", utc(self.ts, "ts"))


@dataclass(frozen=True, slots=True)
class PrivateWsHealth:
    """Live mode: the private WS (orders, executions, balances) is up or not, and why. While it is down orders go
    over REST and fills arrive by reconciliation: trading goes on, slower, and `/readyz` says so."""

    connected: bool
    reason: str
    ts: datetime

    def __post_init__(self) -> None:
        object.__setattr__(self, "ts", utc(self.ts, "ts"))
