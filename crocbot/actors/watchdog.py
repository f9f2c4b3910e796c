"""Finds hung actors: a thread stuck in a handler answers no heartbeat, and is treated like a crashed one.

On every tick (a timer on the injected clock) the watchdog asks each registered actor for a heartbeat without
waiting for the answer. On a later tick, an actor whose heartbeat is still unanswered after `timeout` seconds of
clock time is reported to its supervisor as hung; the supervisor abandons that instance and starts a new one.
The watchdog itself never blocks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pykka

from crocbot.actors.base import ChildContext, SupervisedActor
from crocbot.actors.protocol import HEARTBEAT, ChildExited, ExitCause

__all__ = ["Watchdog", "WatchdogTick", "HungActors"]


@dataclass(frozen=True, slots=True)
class WatchdogTick:
    """Sent by the scheduler every `interval`; tests may send it themselves."""


@dataclass(frozen=True, slots=True)
class HungActors:
    """Ask the watchdog which names it has reported as hung so far (for health checks and tests)."""


# What `handle` acts on; the rest (`| object`) falls through to the base actor, which logs and ignores it.
_Handled = WatchdogTick | HungActors


@dataclass(slots=True)
class _Probe:
    instance: int
    sent_at: float
    answer: pykka.Future[Any]


class Watchdog(SupervisedActor):
    def __init__(self, ctx: ChildContext, *, interval: float = 1.0, timeout: float = 5.0) -> None:
        super().__init__(ctx)
        if interval <= 0 or timeout <= 0:
            raise ValueError("watchdog interval and timeout must be positive")
        self._interval = interval
        self._timeout = timeout
        self._probes: dict[str, _Probe] = {}
        self._reported: list[str] = []

    def started(self) -> None:
        self.services.scheduler.send_every(self._interval, self.actor_ref, WatchdogTick())

    def handle(self, message: _Handled | object) -> Any:
        if isinstance(message, WatchdogTick):
            self._tick()
            return None
        if isinstance(message, HungActors):
            return tuple(self._reported)
        return super().handle(message)

    def _tick(self) -> None:
        now = self.clock.monotonic()
        live = {entry.name: entry for entry in self.services.directory.entries() if entry.name != self.name}
        for name in list(self._probes):
            if name not in live or live[name].instance != self._probes[name].instance:
                del self._probes[name]  # stopped or replaced since the last probe
        for name, entry in live.items():
            probe = self._probes.get(name)
            if probe is not None and not _answered(probe.answer):
                if now - probe.sent_at < self._timeout:
                    continue
                del self._probes[name]
                self._reported.append(name)
                waited = now - probe.sent_at
                self._log.error("{} has not answered a heartbeat for {:.1f}s; reporting it as hung", name, waited)
                error = f"no heartbeat for {waited:.1f}s"
                entry.report(ChildExited(name, entry.instance, ExitCause.HUNG, error))
                continue
            try:
                answer = entry.ref.ask(HEARTBEAT, block=False)
            except pykka.ActorDeadError:
                continue  # dead actors report themselves
            self._probes[name] = _Probe(entry.instance, now, answer)


def _answered(answer: pykka.Future[Any]) -> bool:
    try:
        answer.get(timeout=0)
    except pykka.Timeout:
        return False
    except Exception:  # noqa: BLE001 - answered with an error: the actor is not hung
        return True
    return True
