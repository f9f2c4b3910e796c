"""Lockstep: the simulator and the bot on one simulated clock, event time meaning what it means live.

The conductor moves time to the next thing that happens (a market trade, or a timer of the bot such as an
order's venue latency or a candle close), lets the simulator publish it, and waits until the bot has finished
reacting: every frame sent has been handled by the feed, no actor has a message waiting or in hand, and no
exchange call is in flight. Only then does time move on. So an accelerated replay of days of market data
gives the bot exactly the event-time ordering it would have seen live, however slow the machine is.

Events closer together than `quantum` seconds are applied in one go before waiting (a bounded blur, in event
time, that buys speed); `max_speed` caps simulated seconds per wall second for a watchable demo.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from loguru import logger

from crocbot.core.clock import Clock, SimClock
from crocbot.kraken.ws import WsClient
from crocbot.sim.runner import Simulator

__all__ = ["Conductor", "ConductorStats", "Timers", "PendingCalls", "Inboxes"]

_POLL = 0.0002  # wall seconds between checks while the bot works
_SETTLE_LIMIT = 10.0  # wall seconds the bot may take over one event before the conductor moves on (and says so)
_DISCONNECTED_LIMIT = 15.0  # wall seconds to wait for the feed to reconnect before time moves on without it
_MAX_BATCH = 100_000  # events applied before one wait, at most (a bound; the quantum ends a batch long before)


class Timers(Protocol):
    """The bot's timers (its scheduler): the clock they run on, and when the next one is due."""

    @property
    def clock(self) -> Clock: ...

    def next_deadline(self) -> float | None: ...


class PendingCalls(Protocol):
    """A gateway of blocking exchange calls: how many were submitted and have no result delivered yet."""

    @property
    def in_flight(self) -> int: ...


class Inboxes(Protocol):
    """The bot's actor inboxes taken together: whether no actor had a message waiting or in hand."""

    def quiet(self) -> bool: ...


@dataclass
class ConductorStats:
    events: int = 0
    trades: int = 0
    timers: int = 0
    settle_timeouts: int = 0
    wall_seconds: float = 0.0
    sim_seconds: float = 0.0

    @property
    def speed(self) -> float:
        return self.sim_seconds / self.wall_seconds if self.wall_seconds > 0 else 0.0


class Conductor:
    """Drives the simulator and the bot in lockstep. It sees the bot only through `Timers`, `PendingCalls` and
    `Inboxes`, so the simulator does not depend on the actor runtime; the code that builds both passes the
    bot's scheduler, gateways and inbox activity in."""

    def __init__(
        self,
        simulator: Simulator,
        scheduler: Timers,
        *,
        activity: Inboxes,
        gateways: Sequence[PendingCalls] = (),
        quantum: float = 0.0,
        max_speed: float | None = None,
    ) -> None:
        if not isinstance(simulator.clock, SimClock) or scheduler.clock is not simulator.clock:
            raise ValueError("the bot's scheduler must run on the simulator's SimClock")
        self.simulator = simulator
        self.clock: SimClock = simulator.clock
        self.scheduler = scheduler
        self.activity = activity
        self.gateways = tuple(gateways)
        self.quantum = quantum
        self.max_speed = max_speed
        self.require_feed = True  # False while a test lets time run on with the feed cut off
        self.stats = ConductorStats()
        self._client: WsClient | None = None
        self._private: WsClient | None = None
        self._lock = threading.Lock()

    # -- the feed -------------------------------------------------------------------------------------

    def on_feed_client(self, client: WsClient) -> None:
        """Given to the bot's feed: the connection client whose frames the conductor waits for."""
        with self._lock:
            self._client = client

    def _feed_caught_up(self) -> bool | None:
        """True when caught up, False when frames are on their way, None when no feed connection is open."""
        with self._lock:
            client = self._client
        sessions = [s for s in self.simulator.ws.sessions() if not s.private]
        if client is None or len(sessions) != 1 or not client.connected.is_set():
            return None
        session = sessions[0]
        return session.idle and session.sent == client.stats.session_frames

    def on_private_client(self, client: WsClient) -> None:
        """Given to a live bot's venue: its private connection, whose frames (order answers, executions) the
        conductor waits for too, or time would move on while a fill is on its way to the bot."""
        with self._lock:
            self._private = client

    def _private_caught_up(self) -> bool:
        """True unless frames are on their way to the live venue (no private connection: nothing is)."""
        with self._lock:
            client = self._private
        sessions = [s for s in self.simulator.ws.sessions() if s.private]
        if client is None or len(sessions) != 1 or not client.connected.is_set():
            return True
        session = sessions[0]
        return session.idle and session.sent == client.stats.session_frames

    # -- waiting for the bot --------------------------------------------------------------------------

    def quiet(self) -> bool:
        if any(g.in_flight for g in self.gateways):
            return False
        feed = self._feed_caught_up()
        if feed is False or (feed is None and self.require_feed):
            return False
        return self._private_caught_up() and self.activity.quiet()

    def settle(self, limit: float = _SETTLE_LIMIT) -> bool:
        """Wait (bounded) until the bot is quiet; False if it was not within `limit` wall seconds."""
        started = time.monotonic()
        quiet_twice = 0
        while True:
            if self.quiet():
                quiet_twice += 1
                if quiet_twice >= 2:  # twice in a row: a frame in the socket between checks shows up on the second
                    return True
            else:
                quiet_twice = 0
            waited = time.monotonic() - started
            if waited > (limit if self._feed_caught_up() is not None else max(limit, _DISCONNECTED_LIMIT)):
                self.stats.settle_timeouts += 1
                logger.warning("lockstep: the bot did not settle within {:.0f}s; moving time on", waited)
                return False
            time.sleep(_POLL)

    # -- moving time ----------------------------------------------------------------------------------

    def step(self) -> bool:
        """Apply the next batch of events and wait for the bot; False when nothing is left to happen."""
        trade = self.simulator.peek()
        deadline = self.scheduler.next_deadline()
        now = self.clock.monotonic()
        trade_at = now + (trade.ts - self.clock.now()).total_seconds() if trade is not None else None
        if trade_at is None and deadline is None:
            return False
        first = min(t for t in (trade_at, deadline) if t is not None)
        horizon = max(first, now) + self.quantum
        for _ in range(_MAX_BATCH):
            trade = self.simulator.peek()
            deadline = self.scheduler.next_deadline()
            now = self.clock.monotonic()
            trade_at = now + (trade.ts - self.clock.now()).total_seconds() if trade is not None else None
            if deadline is not None and deadline <= horizon and (trade_at is None or deadline <= trade_at):
                # Up to the next whole microsecond (the clock's resolution), or a deadline a hair ahead is never met.
                self.clock.advance(timedelta(microseconds=math.ceil(max(0.0, deadline - now) * 1_000_000)))
                self.stats.timers += 1
            elif trade_at is not None and trade_at <= horizon:
                self.simulator.step(1)
                self.stats.trades += 1
            else:
                break
        self.stats.events += 1
        self.settle()
        return True

    def run(
        self,
        *,
        until: datetime | None = None,
        wall_limit: float | None = None,
        stop: threading.Event | None = None,
        every: Callable[[], None] | None = None,
        every_wall: float = 1.0,
    ) -> ConductorStats:
        """Step until the event time `until`, the data ends, `wall_limit` seconds pass, or `stop` is set.
        `every` runs about every `every_wall` wall seconds (the demo redraws its console view there)."""
        started_wall = time.monotonic()
        started_sim = self.clock.monotonic()
        last_every = started_wall
        try:
            while stop is None or not stop.is_set():
                if until is not None and self.clock.now() >= until:
                    break
                wall = time.monotonic() - started_wall
                if wall_limit is not None and wall >= wall_limit:
                    break
                if self.max_speed is not None:
                    ahead = (self.clock.monotonic() - started_sim) / self.max_speed - wall
                    if ahead > 0:
                        time.sleep(min(ahead, 0.05))
                        continue
                if not self.step():
                    break
                if every is not None and time.monotonic() - last_every >= every_wall:
                    last_every = time.monotonic()
                    every()
        finally:
            self.stats.wall_seconds += time.monotonic() - started_wall
            self.stats.sim_seconds += self.clock.monotonic() - started_sim
        return self.stats

    def advance(self, seconds: float) -> None:
        """Let `seconds` of event time pass in lockstep (market trades and timers included)."""
        self.run(until=self.clock.now() + timedelta(seconds=seconds))
