"""The base of every crocbot actor: it reports every way of dying to its supervisor.

pykka has no supervision. It calls `on_failure` when a `tell` handler raises, but neither `on_failure` nor
`on_stop` when `on_start` raises, and an exception in an `ask` handler only goes back to the asker. This base
closes those gaps: a failing `started()` and a failing `tell` are reported as crashes, and so is a failing
`ask` whose exception type the actor lists in `fatal_ask_errors`. A normal stop the actor did not get from
its supervisor is reported too, so that a permanent child is brought back.

Subclasses implement `started()`, `handle(message)` and `stopping()`, never pykka's hooks.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Any, ClassVar, final

import pykka
from loguru import logger

from crocbot.actors.activity import CountingInbox
from crocbot.actors.bus import Bus, ConflatedReady
from crocbot.actors.directory import Directory
from crocbot.actors.protocol import ChildExited, ExitCause, Heartbeat, Ready
from crocbot.actors.scheduler import Scheduler
from crocbot.core.clock import Clock
from crocbot.ops.redact import redact

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["Services", "ChildContext", "SupervisedActor", "ActorRetired", "describe_error"]


@dataclass(frozen=True, slots=True)
class Services:
    """What every actor in one runtime shares."""

    clock: Clock
    scheduler: Scheduler
    directory: Directory
    bus: Bus
    rng: random.Random


@dataclass(frozen=True, slots=True)
class ChildContext:
    """Given to each actor instance by the supervisor that starts it."""

    name: str
    instance: int
    services: Services
    report: Callable[[ChildExited], None]
    retired: threading.Event


class ActorRetired(pykka.ActorDeadError):
    """Raised to an asker whose message reached an instance the supervisor has already replaced (it hung, then woke
    up): the answer would come from stale state, so there is none. Ask again: the directory has the successor."""


def describe_error(error: BaseException) -> str:
    """One line for logs and exit reports, with any configured secret masked."""
    return redact(f"{type(error).__name__}: {error}")


class SupervisedActor(pykka.ThreadingActor):
    """Base actor. Handlers run in the actor's own thread, one message at a time."""

    fatal_ask_errors: ClassVar[tuple[type[Exception], ...]] = ()
    """Exception types that, raised while answering an `ask`, mean this instance can no longer be trusted."""

    def __init__(self, ctx: ChildContext) -> None:
        super().__init__()
        inbox = self.actor_inbox
        if isinstance(inbox, CountingInbox):
            inbox.stopped = self.actor_stopped
        self.ctx = ctx
        self.name = ctx.name
        self._exit_reported = False
        self._log = logger.bind(actor=ctx.name)

    # -- hooks for subclasses -------------------------------------------------------------------------

    def started(self) -> None:
        """Set up (rebuild state from the journal or the venue, subscribe, start timers)."""

    def handle(self, message: Any) -> Any:
        """Handle one message; the return value answers an `ask`."""
        self._log.warning("{} ignores a message of type {}", self.name, type(message).__name__)
        return None

    def stopping(self) -> None:
        """Clean up on a stop (not called after a crash)."""

    def crashed(self, error: BaseException) -> None:
        """Last words after a crash, in the actor's thread (a supervisor stops its children here)."""

    # -- conveniences ---------------------------------------------------------------------------------

    @property
    def clock(self) -> Clock:
        return self.ctx.services.clock

    @property
    def services(self) -> Services:
        return self.ctx.services

    def send_later(self, delay: float, message: object) -> None:
        self.ctx.services.scheduler.send_later(delay, self.actor_ref, message)

    # -- pykka hooks, closed to subclasses ------------------------------------------------------------

    @staticmethod
    def _create_actor_inbox() -> CountingInbox:
        return CountingInbox()

    @final
    def on_start(self) -> None:
        try:
            self.started()
        except Exception as error:
            self._report(ExitCause.CRASH, error)
            self._call_crashed(error)
            raise

    @final
    def on_receive(self, message: Any) -> Any:
        if self.ctx.retired.is_set():  # an abandoned instance that woke up: its successor owns the work now
            inbox = self.actor_inbox
            if isinstance(inbox, CountingInbox) and inbox.asked:
                # Whoever asked must not take None for this instance's answer (a venue view, a journal record).
                raise ActorRetired(f"{self.name} instance {self.ctx.instance} was replaced; ask its successor")
            return None
        kind = type(message)
        if kind is Heartbeat or kind is Ready:
            return True
        try:
            if kind is ConflatedReady:
                for item in message.slot.drain():
                    self.handle(item)
                return None
            return self.handle(message)
        except self.fatal_ask_errors as error:
            # pykka hands an ask's exception to the asker and keeps the actor alive; this one is declared fatal.
            self.ctx.retired.set()
            self._report(ExitCause.CRASH, error)
            self._call_crashed(error)
            self.stop()
            raise

    @final
    def on_failure(
        self,
        exception_type: type[BaseException] | None,
        exception_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        error = exception_value or RuntimeError("unknown failure")
        self._report(ExitCause.CRASH, error)
        self._call_crashed(error)

    @final
    def on_stop(self) -> None:
        try:
            self.stopping()
        finally:
            self._report(ExitCause.NORMAL, None)

    # -- internals ------------------------------------------------------------------------------------

    def _call_crashed(self, error: BaseException) -> None:
        try:
            self.crashed(error)
        except Exception:  # noqa: BLE001 - the crash is already reported; cleanup must not mask it
            self._log.opt(exception=True).error("{} failed while cleaning up after a crash", self.name)

    def _report(self, reason: ExitCause, error: BaseException | None) -> None:
        if self._exit_reported:
            return
        self._exit_reported = True
        text = describe_error(error) if error is not None else ""
        if reason is ExitCause.CRASH:
            self._log.opt(exception=error).error("{} crashed: {}", self.name, text)
        try:
            self.ctx.report(ChildExited(self.name, self.ctx.instance, reason, text))
        except pykka.ActorDeadError:
            if reason is not ExitCause.NORMAL:
                self._log.critical("{} exited ({}) but its supervisor is gone", self.name, reason)
            # a normal exit while the supervisor itself stops is how every shutdown ends
