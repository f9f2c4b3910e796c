"""OTP-style supervision for pykka actors.

A supervisor starts its children in spec order (each one ready before the next starts) and stops them in
reverse. When a child exits it decides by the child's restart type (permanent: always, transient: only after
a crash or a hang, temporary: never) and its strategy which children to restart: `one_for_one` the child
alone, `rest_for_one` the child and every child started after it, `one_for_all` all of them. Restarts wait a
jittered, exponentially growing backoff on the injected clock. More than `max_restarts` within `within`
seconds and the supervisor gives up: it stops its children and crashes, which hands the failure to its own
supervisor. Supervisors nest.

A policy may name its `essential` children (the root names the core): then only an essential child beyond the
intensity makes the supervisor give up. Any other child beyond it is restarted after the longest backoff, and the
supervisor publishes `ActorEscalated` all the same, so that the application can go safe while what matters most
keeps running (crocbot: entries halted, the money path and its stops kept alive).

Every restart makes a new actor instance with a new ref and registers it in the directory under the same name.
"""

from __future__ import annotations

import itertools
import threading
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import pykka

from crocbot.actors.base import ChildContext, SupervisedActor, describe_error
from crocbot.actors.directory import Entry
from crocbot.actors.protocol import READY, ChildExited, ExitCause
from crocbot.core.messages import ActorEscalated, ActorExited, ActorRestarted

__all__ = [
    "Restart",
    "RestartStrategy",
    "ChildSpec",
    "Policy",
    "ChildInfo",
    "WhichChildren",
    "Supervisor",
    "SupervisorEscalation",
]

_instances = itertools.count(1)


class Restart(StrEnum):
    PERMANENT = "permanent"
    TRANSIENT = "transient"
    TEMPORARY = "temporary"

    def wants_restart(self, reason: ExitCause) -> bool:
        if self is Restart.PERMANENT:
            return True
        return self is Restart.TRANSIENT and reason is not ExitCause.NORMAL


class RestartStrategy(StrEnum):
    ONE_FOR_ONE = "one_for_one"
    REST_FOR_ONE = "rest_for_one"
    ONE_FOR_ALL = "one_for_all"


@dataclass(frozen=True, slots=True)
class ChildSpec:
    name: str
    start: Callable[[ChildContext], pykka.ActorRef[Any]]
    restart: Restart = Restart.PERMANENT
    start_timeout: float = 10.0  # seconds for on_start to finish
    shutdown_timeout: float = 5.0  # seconds for on_stop to finish before the instance is abandoned

    @classmethod
    def actor(
        cls,
        name: str,
        actor_class: type[SupervisedActor],
        *args: Any,
        restart: Restart = Restart.PERMANENT,
        start_timeout: float = 10.0,
        shutdown_timeout: float = 5.0,
        **kwargs: Any,
    ) -> ChildSpec:
        def start(ctx: ChildContext) -> pykka.ActorRef[Any]:
            return actor_class.start(ctx, *args, **kwargs)

        return cls(name, start, restart, start_timeout, shutdown_timeout)

    @classmethod
    def supervisor(
        cls,
        name: str,
        children: Sequence[ChildSpec],
        policy: Policy,
        *,
        restart: Restart = Restart.PERMANENT,
    ) -> ChildSpec:
        start_timeout = 5.0 + sum(child.start_timeout for child in children)
        shutdown_timeout = 5.0 + sum(child.shutdown_timeout for child in children)
        return cls.actor(
            name,
            Supervisor,
            tuple(children),
            policy,
            restart=restart,
            start_timeout=start_timeout,
            shutdown_timeout=shutdown_timeout,
        )


@dataclass(frozen=True, slots=True)
class Policy:
    strategy: RestartStrategy = RestartStrategy.ONE_FOR_ONE
    max_restarts: int = 3
    within: float = 5.0  # seconds of event time
    backoff_initial: float = 0.1  # seconds before the first restart in a window; 0 restarts at once
    backoff_max: float = 10.0
    backoff_multiplier: float = 2.0
    backoff_jitter: float = 0.2  # +/- this fraction, so that siblings do not restart in lockstep
    # None: every child is essential (OTP). Otherwise a child not named here that exceeds the intensity is restarted
    # after `backoff_max` and reported (`ActorEscalated`) instead of making this supervisor give up.
    essential: frozenset[str] | None = None

    def __post_init__(self) -> None:
        if self.max_restarts < 0 or self.within <= 0:
            raise ValueError("a restart intensity needs max_restarts >= 0 and within > 0")
        if self.backoff_initial < 0 or self.backoff_max < self.backoff_initial or self.backoff_multiplier < 1:
            raise ValueError("backoff needs 0 <= initial <= max and multiplier >= 1")
        if not 0 <= self.backoff_jitter < 1:
            raise ValueError("backoff_jitter must be in [0, 1)")


class SupervisorEscalation(Exception):
    """Raised by a supervisor that exceeded its restart intensity; its parent sees it as a crash."""


@dataclass(frozen=True, slots=True)
class ChildInfo:
    name: str
    instance: int | None
    running: bool


@dataclass(frozen=True, slots=True)
class WhichChildren:
    """Ask a supervisor for its children, in start order."""


@dataclass(frozen=True, slots=True)
class _RestartDue:
    epoch: int


# What `handle` acts on; the rest (`| object`) falls through to the base actor, which logs and ignores it.
_Handled = ChildExited | _RestartDue | WhichChildren


@dataclass(slots=True)
class _Child:
    spec: ChildSpec
    instance: int | None = None  # the instance this supervisor expects to hear from
    entry: Entry | None = None
    pending_restart: bool = False
    running: bool = field(default=False)


class Supervisor(SupervisedActor):
    def __init__(self, ctx: ChildContext, children: Sequence[ChildSpec], policy: Policy) -> None:
        super().__init__(ctx)
        names = [spec.name for spec in children]
        if len(set(names)) != len(names):
            raise ValueError(f"supervisor {ctx.name}: child names must be unique, got {names}")
        self._children: dict[str, _Child] = {spec.name: _Child(spec) for spec in children}
        self._policy = policy
        self._restarts: deque[float] = deque()
        self._epoch = 0
        self._stopping = False
        self._held_on: set[str] = set()  # non-essential children restarted beyond the intensity

    # -- lifecycle ------------------------------------------------------------------------------------

    def started(self) -> None:
        for child in list(self._children.values()):
            self._start(child)

    def stopping(self) -> None:
        self._stopping = True
        self._terminate_all()

    def crashed(self, error: BaseException) -> None:
        self._stopping = True
        self._terminate_all()

    def handle(self, message: _Handled | object) -> Any:
        if isinstance(message, ChildExited):
            self._on_exit(message)
        elif isinstance(message, _RestartDue):
            if message.epoch == self._epoch and not self._stopping:
                self._restart_pending()
        elif isinstance(message, WhichChildren):
            return tuple(ChildInfo(c.spec.name, c.instance, c.running) for c in self._children.values())
        else:
            return super().handle(message)
        return None

    # -- exits and restarts ---------------------------------------------------------------------------

    def _on_exit(self, exited: ChildExited) -> None:
        child = self._children.get(exited.name)
        if self._stopping or child is None or child.instance != exited.instance:
            return  # an instance this supervisor already replaced or stopped
        self._forget(child, retire=exited.reason is ExitCause.HUNG)
        spec = child.spec
        if not spec.restart.wants_restart(exited.reason):
            self._log.info("{} exited ({}); {} child, not restarted", spec.name, exited.reason, spec.restart)
            if spec.restart is Restart.TEMPORARY:
                del self._children[spec.name]
            self.services.bus.publish(ActorExited(spec.name, self.name, str(exited.reason), self.clock.now()))
            return
        now = self.clock.monotonic()
        while self._restarts and self._restarts[0] <= now - self._policy.within:
            self._restarts.popleft()
        beyond = len(self._restarts) >= self._policy.max_restarts
        held_on: ActorEscalated | None = None
        if beyond:
            essential = self._policy.essential
            if essential is None or spec.name in essential:
                self._escalate(exited)
            held_on = self._hold_on(exited)
        self._restarts.append(now)
        affected = self._affected(spec.name)
        for name in reversed(affected):
            sibling = self._children[name]
            if name != spec.name and sibling.running:
                self._terminate(sibling)
            if name != spec.name and sibling.spec.restart is Restart.TEMPORARY:
                del self._children[name]
            else:
                sibling.pending_restart = True
        delay = self._policy.backoff_max if beyond else self._backoff(len(self._restarts) - 1)
        self._log.warning(
            "{} {} ({}); restarting {} in {:.2f}s ({} of {} allowed within {}s)",
            spec.name,
            exited.reason,
            exited.error or "no error",
            ", ".join(n for n in affected if n in self._children),
            delay,
            len(self._restarts),
            self._policy.max_restarts,
            self._policy.within,
        )
        self._epoch += 1
        if delay <= 0:
            if held_on is not None:  # before a restart that may fail: entries must halt whatever happens next
                self.services.bus.publish(held_on)
            self._restart_pending()
        else:
            self.send_later(delay, _RestartDue(self._epoch))
            # Published once the restart is scheduled, so that an observer can move the clock on.
            if held_on is not None:
                self.services.bus.publish(held_on)
        self.services.bus.publish(
            ActorRestarted(spec.name, self.name, str(exited.reason), len(self._restarts), self.clock.now())
        )

    def _affected(self, name: str) -> list[str]:
        order = list(self._children)
        strategy = self._policy.strategy
        if strategy is RestartStrategy.ONE_FOR_ONE:
            return [name]
        if strategy is RestartStrategy.REST_FOR_ONE:
            return order[order.index(name) :]
        return order

    def _backoff(self, restarts_before: int) -> float:
        policy = self._policy
        if policy.backoff_initial <= 0:
            return 0.0
        base = min(policy.backoff_max, policy.backoff_initial * policy.backoff_multiplier**restarts_before)
        jitter = self.services.rng.uniform(-policy.backoff_jitter, policy.backoff_jitter)
        return base * (1 + jitter)

    def _restart_pending(self) -> None:
        for child in list(self._children.values()):
            if child.pending_restart:
                child.pending_restart = False
                self._start(child)

    def _escalate(self, exited: ChildExited) -> None:
        reason = (
            f"{self._policy.max_restarts} restarts within {self._policy.within}s exceeded; "
            f"last: {exited.name} {exited.reason} ({exited.error or 'no error'})"
        )
        self._log.critical("supervisor {} gives up: {}", self.name, reason)
        self.services.bus.publish(ActorEscalated(self.name, reason, self.clock.now()))
        self._stopping = True
        self._terminate_all()
        raise SupervisorEscalation(f"{self.name}: {reason}")

    def _hold_on(self, exited: ChildExited) -> ActorEscalated | None:
        """A non-essential child beyond the intensity: keep the essential ones running, say so loudly (once per
        child), and let the application go safe on the `ActorEscalated` it sees (published by the caller once the
        slow restart is scheduled, so that an observer of the event may move the clock on)."""
        reason = (
            f"{self._policy.max_restarts} restarts within {self._policy.within}s exceeded; "
            f"last: {exited.name} {exited.reason} ({exited.error or 'no error'})"
        )
        if exited.name in self._held_on:
            self._log.error("supervisor {}: {} keeps failing ({})", self.name, exited.name, reason)
            return None
        self._held_on.add(exited.name)
        self._log.critical(
            "supervisor {} holds on: {}; {} is restarted every {}s from now on, the essential children keep "
            "running, and the bot goes safe",
            self.name,
            reason,
            exited.name,
            self._policy.backoff_max,
        )
        return ActorEscalated(self.name, reason, self.clock.now())

    # -- starting and stopping children ---------------------------------------------------------------

    def _start(self, child: _Child) -> None:
        spec = child.spec
        instance = next(_instances)
        retired = threading.Event()
        report = self.actor_ref.tell
        child.instance = instance
        try:
            ref = spec.start(ChildContext(spec.name, instance, self.services, report, retired))
        except Exception as error:  # noqa: BLE001 - a failing constructor is a crash like any other
            self.actor_ref.tell(ChildExited(spec.name, instance, ExitCause.CRASH, describe_error(error)))
            return
        child.entry = Entry(spec.name, ref, instance, report, retired)
        try:
            ref.ask(READY, timeout=spec.start_timeout)
        except pykka.ActorDeadError:
            return  # on_start failed; its crash report is already in this supervisor's inbox
        except pykka.Timeout:
            reason = f"not ready within {spec.start_timeout}s"
            self.actor_ref.tell(ChildExited(spec.name, instance, ExitCause.HUNG, reason))
            return
        child.running = True
        self.services.directory.register(child.entry)

    def _forget(self, child: _Child, *, retire: bool) -> None:
        entry = child.entry
        child.instance = None
        child.entry = None
        child.running = False
        if entry is None:
            return
        self.services.directory.unregister(entry.name, entry.instance)
        if retire:
            # A hung thread cannot be killed; mark it so that it drops its inbox when it wakes, and stops.
            entry.retired.set()
            entry.ref.stop(block=False)

    def _terminate(self, child: _Child) -> None:
        entry = child.entry
        self._forget(child, retire=False)
        if entry is None:
            return
        try:
            entry.ref.stop(block=True, timeout=child.spec.shutdown_timeout)
        except pykka.Timeout:
            entry.retired.set()
            self._log.error("{} did not stop within {}s; abandoned", child.spec.name, child.spec.shutdown_timeout)

    def _terminate_all(self) -> None:
        for child in reversed(list(self._children.values())):
            child.pending_restart = False
            self._terminate(child)
