"""One actor runtime: clock, scheduler, directory, bus, and the root of the supervision tree."""

from __future__ import annotations

import itertools
import random
import threading
from collections.abc import Callable, Sequence
from typing import Any

import pykka
from loguru import logger

from crocbot.actors.base import ChildContext, Services
from crocbot.actors.bus import Bus
from crocbot.actors.directory import Directory, Entry
from crocbot.actors.protocol import READY, ChildExited
from crocbot.actors.scheduler import Scheduler
from crocbot.actors.supervisor import ChildSpec, Policy, Supervisor
from crocbot.core.clock import Clock, SystemClock

__all__ = ["Runtime"]

_root_instances = itertools.count(1_000_000_000)


class Runtime:
    """Owns the shared services and the root supervisor.

    `on_escalate` is called (from an actor thread) when the root supervisor crashes or hangs: the tree could
    not keep itself alive. The application decides what that means; for crocbot it means safe mode.
    """

    def __init__(
        self,
        *,
        clock: Clock | None = None,
        rng: random.Random | None = None,
        on_escalate: Callable[[ChildExited], None] | None = None,
    ) -> None:
        self.clock = clock or SystemClock()
        self.scheduler = Scheduler(self.clock)
        self.directory = Directory()
        self.bus = Bus(self.directory)
        self.services = Services(self.clock, self.scheduler, self.directory, self.bus, rng or random.Random())
        self.escalated = threading.Event()
        self._on_escalate = on_escalate
        self._root: pykka.ActorRef[Any] | None = None
        self._root_name = ""
        self._root_instance = 0
        self._shutting_down = False

    @property
    def root(self) -> pykka.ActorRef[Any] | None:
        return self._root

    def start(
        self, children: Sequence[ChildSpec], policy: Policy, *, name: str = "root", timeout: float = 60.0
    ) -> pykka.ActorRef[Any]:
        self.scheduler.start()
        instance = next(_root_instances)
        retired = threading.Event()
        ctx = ChildContext(name, instance, self.services, self._root_exited, retired)
        ref = Supervisor.start(ctx, tuple(children), policy)
        try:
            ref.ask(READY, timeout=timeout)
        except (pykka.ActorDeadError, pykka.Timeout) as error:
            ref.stop(block=False)
            raise RuntimeError(f"the supervision tree did not start: {type(error).__name__}") from None
        self._root, self._root_name, self._root_instance = ref, name, instance
        self.directory.register(Entry(name, ref, instance, self._root_exited, retired))
        return ref

    def shutdown(self, timeout: float = 30.0) -> None:
        """Stop the tree in reverse start order, then the scheduler."""
        self._shutting_down = True
        if self._root is not None:
            self.directory.unregister(self._root_name, self._root_instance)
            try:
                self._root.stop(block=True, timeout=timeout)
            except pykka.Timeout:
                logger.error("the supervision tree did not stop within {}s", timeout)
        self.scheduler.stop()

    def _root_exited(self, exited: ChildExited) -> None:
        if self._shutting_down:
            return  # a root that stops by itself outside a shutdown is as bad as a crash
        self.escalated.set()
        logger.critical("the root supervisor {} {}: {}", exited.name, exited.reason, exited.error)
        if self._on_escalate is not None:
            self._on_escalate(exited)
