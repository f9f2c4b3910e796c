"""Messages of the runtime itself: readiness, heartbeats, and children reporting their exit."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

__all__ = ["ExitCause", "ChildExited", "Ready", "Heartbeat", "READY", "HEARTBEAT"]


class ExitCause(StrEnum):
    """Why an actor instance ended (not why a trade did: that is `crocbot.core.messages.ExitReason`)."""

    NORMAL = "normal"  # the actor stopped itself
    CRASH = "crash"  # an exception escaped a handler, on_start, or a fatal ask
    HUNG = "hung"  # the watchdog got no heartbeat in time


@dataclass(frozen=True, slots=True)
class ChildExited:
    """Sent by a child (or the watchdog on its behalf) to the supervisor that owns it."""

    name: str
    instance: int
    reason: ExitCause
    error: str = ""


@dataclass(frozen=True, slots=True)
class Ready:
    """Asked by a supervisor after starting a child: answered once `on_start` has finished."""


@dataclass(frozen=True, slots=True)
class Heartbeat:
    """Asked by the watchdog; any live, unblocked actor answers at once."""


READY = Ready()
HEARTBEAT = Heartbeat()
