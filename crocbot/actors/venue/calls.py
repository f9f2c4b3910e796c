"""A venue that carries the router's commands out as exchange calls through a `Gateway`: the live venue's executor.

The paper venue answers in its own thread at once; a real exchange answers over the network, late or never. This
actor takes each `VenueRequest`, runs every command as one call in the gateway (with a deadline the call hands on
to the exchange, e.g. Kraken's `deadline` on AmendOrder, so that a request stuck on the way is refused once it is
past), and turns each call's one `CallResult` into the venue protocol's events (`crocbot.venues.protocol`):
- an answer: the events the call returned (`OrderAmended`, `OrderEvent`s, `OrderLookedUp`);
- a business refusal (`VenueRefusal`): the order `REJECTED`, or the cancel or amend `CommandRejected`, with
  Kraken's error string;
- no answer by the deadline, or a failure on the way (the request may have reached the exchange): the order
  `UNKNOWN` (looked up by client id by reconciliation, never sent again), the cancel, amend or lookup
  `CommandUnknown` (the router looks the order up);
- never sent (queue full, breaker open, deadline passed in the queue): `CommandRejected` with `UNSENT`, the order
  rejected with it; nothing reached the exchange, so the router may send it again.
Calls run side by side, so a hung call for one order never delays another's; a `Submit` with `after_cancels` waits
for those cancels in its request and goes out only if each one was confirmed with nothing filled, else it is held
back (`HELD_BACK`), as the protocol says: an exit sized before its stop filled in part would oversell.
The exchange's own client (signing, the wire) is behind `OrderCalls`, which the live venue
implements over Kraken's REST or WS API; the bench implements it over a fake Kraken.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from loguru import logger

from crocbot.actors.base import ChildContext, SupervisedActor
from crocbot.actors.breaker import CircuitBreaker
from crocbot.actors.gateway import CallOutcome, CallResult, Deadline, Gateway
from crocbot.actors.messages import VenueRequest
from crocbot.actors.venue.in_flight import OrdersInFlight
from crocbot.core.messages import HELD_BACK, UNSENT, OrderEvent, OrderIntent, OrderStatus
from crocbot.ops import failpoints
from crocbot.venues.protocol import (
    Amend,
    Cancel,
    CommandRejected,
    CommandUnknown,
    OrderLookedUp,
    Query,
    Submit,
    VenueCommand,
    VenueEvent,
)

__all__ = ["OrderCalls", "VenueRefusal", "VenueCalls"]


class VenueRefusal(Exception):
    """The exchange refused the command (its error string in `code`): the order or its terms did not change."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


class OrderCalls(Protocol):
    """The exchange's order calls, each run in a gateway worker with the call's deadline. A refusal raises
    `VenueRefusal`; anything else raised means the outcome is unknown. `query` answers `OrderLookedUp` with status
    None for an order the exchange does not know."""

    def submit(self, intent: OrderIntent, deadline: Deadline) -> Sequence[VenueEvent]: ...

    def amend(self, amend: Amend, deadline: Deadline) -> Sequence[VenueEvent]: ...

    def cancel(self, cancel: Cancel, deadline: Deadline) -> Sequence[VenueEvent]: ...

    def query(self, query: Query, deadline: Deadline) -> OrderLookedUp: ...


@dataclass(slots=True)
class _Request:
    """One `VenueRequest` in progress: its commands, the outcome of its cancels, the orders waiting for them."""

    commands: tuple[VenueCommand, ...]
    open_calls: int = 0
    cancelled: dict[str, bool] = field(default_factory=dict)  # cancel's client id -> confirmed
    waiting: list[Submit] = field(default_factory=list)


# What `handle` acts on; the rest (`| object`) falls through to the base actor, which logs and ignores it.
_Handled = VenueRequest | CallResult[Any]


class VenueCalls(SupervisedActor):
    def __init__(
        self,
        ctx: ChildContext,
        calls: OrderCalls,
        gateway: Gateway,
        *,
        breaker: CircuitBreaker | None = None,
        timeout: float = 5.0,
        in_flight: OrdersInFlight | None = None,
    ) -> None:
        """`in_flight`: where the orders handed to the gateway are noted until their call ends (live: read by the
        reconciler's view, so that an order a crashed instance handed over is not taken for one never sent)."""
        super().__init__(ctx)
        self._in_flight = in_flight
        self._calls = calls
        self._gateway = gateway
        self._breaker = breaker
        self._timeout = timeout
        self._seq = itertools.count()
        self._requests: dict[int, _Request] = {}

    def started(self) -> None:
        self.services.bus.subscribe(VenueRequest, self.name)

    def handle(self, message: _Handled | object) -> Any:
        if isinstance(message, VenueRequest):
            self._start(message.commands)
        elif isinstance(message, CallResult):
            self._settle(message)
        else:
            return super().handle(message)
        return None

    def _start(self, commands: tuple[VenueCommand, ...]) -> None:
        seq = next(self._seq)
        request = self._requests[seq] = _Request(commands)
        for index, command in enumerate(commands):
            if isinstance(command, Submit) and command.after_cancels:
                request.waiting.append(command)
                if self._in_flight is not None:  # on its way from now: its cancels' calls, then its own
                    self._in_flight.handed(command.intent.cl_ord_id, 2 * self._timeout)
            else:
                self._call(seq, request, index, command)
        self._release(seq, request)

    def _call(self, seq: int, request: _Request, index: int, command: VenueCommand) -> None:
        calls = self._calls
        if isinstance(command, Submit):
            fn: Any = self._submit_fn(command)
        elif isinstance(command, Amend):
            fn = lambda deadline: calls.amend(command, deadline)  # noqa: E731 - one call per command
        elif isinstance(command, Cancel):
            fn = lambda deadline: calls.cancel(command, deadline)  # noqa: E731 - one call per command
        else:
            fn = lambda deadline: [calls.query(command, deadline)]  # noqa: E731 - one call per command
        request.open_calls += 1
        self._gateway.submit(
            fn, reply_to=self.actor_ref, timeout=self._timeout, tag=(seq, index), breaker=self._breaker
        )

    def _submit_fn(self, command: Submit) -> Any:
        calls, in_flight, cl_ord_id = self._calls, self._in_flight, command.intent.cl_ord_id
        if in_flight is None:
            return lambda deadline: calls.submit(command.intent, deadline)
        in_flight.handed(cl_ord_id, self._timeout)

        def submit(deadline: Deadline) -> Sequence[VenueEvent]:
            in_flight.started(cl_ord_id)
            try:
                return calls.submit(command.intent, deadline)
            finally:
                in_flight.ended(cl_ord_id)

        return submit

    def _settle(self, result: CallResult[Any]) -> None:
        tag = result.tag
        if not isinstance(tag, tuple) or tag[0] not in self._requests:
            return
        seq, index = int(tag[0]), int(tag[1])
        request = self._requests[seq]
        request.open_calls -= 1
        command = request.commands[index]
        events = self._events(command, result)
        if isinstance(command, Cancel):
            # Confirmed only when the order ended unfilled: a stop that sold part of the position before its cancel
            # landed leaves less to sell than the exit behind it was sized for, and that exit would sell coins that
            # are not crocbot's. It is held back instead; the stop's fills and its end reach the desk, which sizes
            # what is left anew.
            request.cancelled[command.cl_ord_id] = any(
                isinstance(e, OrderEvent)
                and e.cl_ord_id == command.cl_ord_id
                and e.status is OrderStatus.CANCELLED
                and e.filled_qty == 0
                for e in events
            )
        for event in events:
            self.services.bus.publish(event)
        self._release(seq, request)

    def _release(self, seq: int, request: _Request) -> None:
        """Send the orders whose cancels have all been answered (held back unless each was confirmed)."""
        for submit in list(request.waiting):
            if any(c not in request.cancelled for c in submit.after_cancels if self._in(request, c)):
                continue  # a cancel of this request is still on its way
            request.waiting.remove(submit)
            if all(request.cancelled.get(c, False) for c in submit.after_cancels):
                failpoints.hit("venue.after_stop_cancel")  # crash tests: the stop cancelled, its exit not sent
                self._call(seq, request, request.commands.index(submit), submit)
            else:
                if self._in_flight is not None:
                    self._in_flight.ended(submit.intent.cl_ord_id)
                held = OrderEvent(submit.intent.cl_ord_id, OrderStatus.CANCELLED, self.clock.now(), reason=HELD_BACK)
                self.services.bus.publish(held)
        if request.open_calls == 0 and not request.waiting:
            del self._requests[seq]

    @staticmethod
    def _in(request: _Request, cl_ord_id: str) -> bool:
        return any(isinstance(c, Cancel) and c.cl_ord_id == cl_ord_id for c in request.commands)

    def _events(self, command: VenueCommand, result: CallResult[Any]) -> list[VenueEvent]:
        now = self.clock.now()
        if result.ok:
            return list(result.value or ())
        cl_ord_id = command.intent.cl_ord_id if isinstance(command, Submit) else command.cl_ord_id
        kind = {Amend: "amend", Cancel: "cancel", Query: "query"}.get(type(command), "submit")
        error = result.error
        if isinstance(error, VenueRefusal):
            if isinstance(command, Submit):
                return [OrderEvent(cl_ord_id, OrderStatus.REJECTED, now, reason=error.code)]
            if isinstance(command, Query):
                return [CommandUnknown(cl_ord_id, kind, error.code, now)]  # no terms came: asked again later
            return [CommandRejected(cl_ord_id, kind, error.code, now)]
        if not result.sent:
            if isinstance(command, Submit):
                return [OrderEvent(cl_ord_id, OrderStatus.REJECTED, now, reason=UNSENT)]
            if isinstance(command, Query):
                return [CommandUnknown(cl_ord_id, kind, UNSENT, now)]
            return [CommandRejected(cl_ord_id, kind, UNSENT, now)]
        timed_out = result.outcome is CallOutcome.TIMED_OUT
        why = "no answer by the deadline" if timed_out else f"{result.outcome}: {error}"
        logger.bind(actor=self.name).warning("{} of {}: outcome unknown ({})", kind, cl_ord_id, why)
        if isinstance(command, Submit):
            return [OrderEvent(cl_ord_id, OrderStatus.UNKNOWN, now, reason=why)]
        return [CommandUnknown(cl_ord_id, kind, why, now)]
