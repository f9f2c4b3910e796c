"""A venue that carries commands out through a gateway (`crocbot.actors.venue.calls`), alone and behind the router:
an amend without an answer is unknown and looked up, a hung call for one order never delays another's, an exit waits
for its stop's confirmed cancel, and the stop updates are counted in `/metrics`."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from crocbot.actors.gateway import Deadline, Gateway
from crocbot.actors.messages import VenueRequest
from crocbot.actors.persistence import Persistence
from crocbot.actors.router import STOP_UPDATES_METRIC, Router
from crocbot.actors.runtime import Runtime
from crocbot.actors.supervisor import ChildSpec, Policy
from crocbot.actors.venue import VenueCalls, VenueRefusal
from crocbot.actors.venue.in_flight import OrdersInFlight
from crocbot.config.model import RiskSettings
from crocbot.config.policies import risk_limits
from crocbot.core.clock import SimClock
from crocbot.core.desk import DeskConfig
from crocbot.core.messages import (
    HELD_BACK,
    UNSENT,
    CommandRejected,
    CommandUnknown,
    OrderAmended,
    OrderEvent,
    OrderIntent,
    OrderLookedUp,
    OrderPurpose,
    OrderStatus,
    OrderType,
    Position,
    PositionChanged,
    PositionSide,
    Side,
    StopAmendRequest,
    StopKind,
)
from crocbot.ops.metrics import Metrics
from crocbot.store.journal import Journal
from crocbot.venues.protocol import Amend, Cancel, Query, Submit, VenueEvent
from tests.core.desk_support import SOL
from tests.support.actors import WAIT, Tap, settle, take

D = Decimal
TIMEOUT = 2.0


class FakeCalls:
    """Orders' triggers on a fake exchange; the amends named in `hang` take effect and then hang (answer lost)."""

    def __init__(self) -> None:
        self.triggers: dict[str, Decimal] = {}
        self.hang: set[str] = set()
        self.hung = threading.Event()
        self.release = threading.Event()
        self.cancel_refused: set[str] = set()
        self.filled_before_cancel: dict[str, Decimal] = {}  # client id -> what the order had filled when cancelled
        self.submitted: list[str] = []
        self.queries = 0
        self.gates: dict[str, threading.Event] = {}
        self.reached: dict[str, threading.Event] = {}

    def amend(self, amend: Amend, deadline: Deadline) -> Sequence[VenueEvent]:
        assert amend.trigger_price is not None
        self.triggers[amend.cl_ord_id] = amend.trigger_price
        if amend.cl_ord_id in self.hang:
            self.hang.discard(amend.cl_ord_id)
            self.hung.set()
            self.release.wait(WAIT)
        return [OrderAmended(amend.cl_ord_id, datetime.now(UTC), trigger_price=amend.trigger_price)]

    def cancel(self, cancel: Cancel, deadline: Deadline) -> Sequence[VenueEvent]:
        self._hang_if_asked(cancel.cl_ord_id)
        if cancel.cl_ord_id in self.cancel_refused:
            raise VenueRefusal("EOrder:Invalid order")
        filled = self.filled_before_cancel.get(cancel.cl_ord_id, D(0))
        return [OrderEvent(cancel.cl_ord_id, OrderStatus.CANCELLED, datetime.now(UTC), filled_qty=filled)]

    def submit(self, intent: OrderIntent, deadline: Deadline) -> Sequence[VenueEvent]:
        self._hang_if_asked(intent.cl_ord_id)
        self.submitted.append(intent.cl_ord_id)
        return [OrderEvent(intent.cl_ord_id, OrderStatus.ACKED, datetime.now(UTC))]

    def _hang_if_asked(self, cl_ord_id: str) -> None:
        """A cancel or submit whose client id is in `gates` waits there (`reached` says it does)."""
        if cl_ord_id in self.gates:
            self.reached[cl_ord_id].set()
            self.gates[cl_ord_id].wait(WAIT)

    def gate(self, cl_ord_id: str) -> threading.Event:
        self.reached[cl_ord_id] = threading.Event()
        self.gates[cl_ord_id] = threading.Event()
        return self.gates[cl_ord_id]

    def query(self, query: Query, deadline: Deadline) -> OrderLookedUp:
        self.queries += 1
        trigger = self.triggers.get(query.cl_ord_id)
        return OrderLookedUp(query.cl_ord_id, datetime.now(UTC), OrderStatus.ACKED, D(1), trigger_price=trigger)


@pytest.fixture
def calls() -> Iterator[FakeCalls]:
    fake = FakeCalls()
    yield fake
    fake.release.set()


def _gateway(runtime: Runtime, workers: int = 2, queue_size: int = 8) -> Gateway:
    gateway = Gateway("kraken", runtime.scheduler, workers=workers, queue_size=queue_size)
    gateway.start()
    return gateway


def _exit(cl_ord_id: str, after: tuple[str, ...]) -> Submit:
    ts = datetime.now(UTC)
    intent = OrderIntent(cl_ord_id, "SOL/USD", Side.SELL, OrderType.MARKET, D(1), OrderPurpose.EXIT, ts)
    return Submit(intent, after)


def test_an_amend_without_an_answer_is_unknown_and_a_hung_call_never_delays_another_orders(
    runtime: Runtime, clock: SimClock, calls: FakeCalls
) -> None:
    events: queue.Queue[Any] = queue.Queue()
    gateway = _gateway(runtime)
    runtime.start(
        [
            ChildSpec.actor("venue", VenueCalls, calls, gateway, timeout=TIMEOUT),
            ChildSpec.actor("tap", Tap, events, (OrderAmended, CommandUnknown, CommandRejected)),
        ],
        Policy(),
    )
    calls.hang.add("cbsA")
    now = clock.now()
    runtime.bus.publish(VenueRequest((Amend("cbsA", "SOL/USD", now, trigger_price=D("100")),)))
    assert calls.hung.wait(WAIT)
    runtime.bus.publish(VenueRequest((Amend("cbsB", "SOL/USD", now, trigger_price=D("101")),)))
    assert take(events, OrderAmended).cl_ord_id == "cbsB"  # while A's call hangs
    clock.advance(TIMEOUT)
    unknown = take(events, CommandUnknown)
    assert (unknown.cl_ord_id, unknown.command) == ("cbsA", "amend")  # neither done nor refused
    gateway.stop(timeout=WAIT)


def test_an_exit_goes_out_only_after_its_stops_cancel_is_confirmed_and_is_held_back_otherwise(
    runtime: Runtime, calls: FakeCalls
) -> None:
    events: queue.Queue[Any] = queue.Queue()
    gateway = _gateway(runtime)
    runtime.start(
        [
            ChildSpec.actor("venue", VenueCalls, calls, gateway, timeout=TIMEOUT),
            ChildSpec.actor("tap", Tap, events, (OrderEvent,)),
        ],
        Policy(),
    )
    now = datetime.now(UTC)
    runtime.bus.publish(VenueRequest((Cancel("cbsA", "SOL/USD", now), _exit("cbxA", ("cbsA",)))))
    assert take(events, OrderEvent, cl_ord_id="cbsA").status is OrderStatus.CANCELLED
    assert take(events, OrderEvent, cl_ord_id="cbxA").status is OrderStatus.ACKED
    calls.cancel_refused.add("cbsB")  # the stop filled meanwhile: the exit must not sell the coins again
    runtime.bus.publish(VenueRequest((Cancel("cbsB", "SOL/USD", now), _exit("cbxB", ("cbsB",)))))
    held = take(events, OrderEvent, cl_ord_id="cbxB")
    assert (held.status, held.reason) == (OrderStatus.CANCELLED, HELD_BACK)
    calls.filled_before_cancel["cbsC"] = D("0.4")  # sold part of the position before its cancel landed
    runtime.bus.publish(VenueRequest((Cancel("cbsC", "SOL/USD", now), _exit("cbxC", ("cbsC",)))))
    partial = take(events, OrderEvent, cl_ord_id="cbsC")
    assert (partial.status, partial.filled_qty) == (OrderStatus.CANCELLED, D("0.4"))
    held = take(events, OrderEvent, cl_ord_id="cbxC")  # sized for the whole position: it would oversell
    assert (held.status, held.reason) == (OrderStatus.CANCELLED, HELD_BACK)
    assert calls.submitted == ["cbxA"]
    gateway.stop(timeout=WAIT)


def test_a_command_that_never_left_crocbot_is_reported_unsent(
    runtime: Runtime, clock: SimClock, calls: FakeCalls
) -> None:
    events: queue.Queue[Any] = queue.Queue()
    gateway = _gateway(runtime, workers=1, queue_size=1)
    runtime.start(
        [
            ChildSpec.actor("venue", VenueCalls, calls, gateway, timeout=TIMEOUT),
            ChildSpec.actor("tap", Tap, events, (CommandRejected,)),
        ],
        Policy(),
    )
    calls.hang.add("cbsA")
    now = clock.now()
    runtime.bus.publish(VenueRequest((Amend("cbsA", "SOL/USD", now, trigger_price=D("100")),)))
    assert calls.hung.wait(WAIT)
    amends = tuple(Amend(f"cbs{n}", "SOL/USD", now, trigger_price=D("100")) for n in "BC")
    runtime.bus.publish(VenueRequest(amends))  # B waits in the one queue slot; C finds the queue full
    refused = take(events, CommandRejected)
    assert (refused.cl_ord_id, refused.reason) == ("cbsC", UNSENT)
    calls.release.set()
    gateway.stop(timeout=WAIT)


def test_an_order_is_on_its_way_from_its_request_until_its_call_ends_however_long_the_call_takes(
    runtime: Runtime, clock: SimClock, calls: FakeCalls
) -> None:
    """Found by the live crash scenario (issue 14): the core restarted while an exit's call (or the cancel it waited
    for) was still running in the orders gateway, which outlives the venue actor; the start-up reconciliation found
    the exit neither at Kraken nor pending and marked it never sent, and its fill then moved a rejected order."""
    events: queue.Queue[Any] = queue.Queue()
    gateway = _gateway(runtime)
    in_flight = OrdersInFlight(clock)
    runtime.start(
        [
            ChildSpec.actor("venue", VenueCalls, calls, gateway, timeout=TIMEOUT, in_flight=in_flight),
            ChildSpec.actor("tap", Tap, events, (OrderEvent,)),
        ],
        Policy(),
    )
    now = clock.now()
    cancel_done, exit_done = calls.gate("cbsA"), calls.gate("cbxA")  # the stop's cancel takes its time, then the exit
    runtime.bus.publish(VenueRequest((Cancel("cbsA", "SOL/USD", now), _exit("cbxA", ("cbsA",)))))
    assert calls.reached["cbsA"].wait(WAIT)
    waiting = in_flight.pending()  # the exit waits for the cancel, not sent yet
    cancel_done.set()
    assert calls.reached["cbxA"].wait(WAIT)
    clock.advance(3 * TIMEOUT)  # its call runs past its deadline: the router hears "unknown", Kraken may get it yet
    unknown = take(events, OrderEvent, cl_ord_id="cbxA")
    running = in_flight.pending()
    exit_done.set()
    deadline = time.monotonic() + WAIT
    while in_flight.pending() and time.monotonic() < deadline:
        time.sleep(0.01)
    ended = in_flight.pending()
    calls.cancel_refused.add("cbsB")
    runtime.bus.publish(VenueRequest((Cancel("cbsB", "SOL/USD", now), _exit("cbxB", ("cbsB",)))))
    assert take(events, OrderEvent, cl_ord_id="cbxB").reason == HELD_BACK
    held_back = in_flight.pending()
    gateway.stop(timeout=WAIT)

    assert waiting == {"cbxA"}
    assert unknown.status is OrderStatus.UNKNOWN
    assert running == {"cbxA"}
    assert ended == set()
    assert held_back == set()


def test_an_order_call_the_gateway_never_started_stops_being_on_its_way_at_its_deadline(clock: SimClock) -> None:
    in_flight = OrdersInFlight(clock)
    in_flight.handed("cbeA", TIMEOUT)
    before = in_flight.pending()
    clock.advance(TIMEOUT)

    assert before == {"cbeA"}
    assert in_flight.pending() == set()


# -- behind the router -----------------------------------------------------------------------------------------


def _journal_a_protected_position(path: Path, opened: datetime) -> Position:
    position = Position("pos1", "SOL/USD", PositionSide.LONG, D(1), D("100"), D("98"), opened, stop_live=True)
    journal = Journal(path)
    try:
        stop = OrderIntent(
            "cbs1", "SOL/USD", Side.SELL, OrderType.STOP_LOSS, D(1), OrderPurpose.STOP, opened, None, D(98)
        )
        journal.record_intent(stop, position_id="pos1")
        journal.record_order_event(OrderEvent("cbs1", OrderStatus.ACKED, opened, order_id="O1"))
        journal.open_position(position)
        journal.update_stop("pos1", D("98"), StopKind.INITIAL, opened, "cbs1")
    finally:
        journal.close()
    return position


def test_stop_updates_behind_a_hung_amend_are_looked_up_sent_in_turn_and_counted(
    runtime: Runtime, clock: SimClock, calls: FakeCalls, tmp_path: Path
) -> None:
    _journal_a_protected_position(tmp_path / "journal.sqlite3", clock.now())
    metrics = Metrics()
    events: queue.Queue[Any] = queue.Queue()
    gateway = _gateway(runtime)
    runtime.start(
        [
            ChildSpec.actor("persistence", Persistence, tmp_path / "journal.sqlite3", tmp_path / "trades.jsonl"),
            ChildSpec.actor("venue", VenueCalls, calls, gateway, timeout=TIMEOUT),
            ChildSpec.actor(
                "router",
                Router,
                {"SOL/USD": SOL},
                risk_limits(RiskSettings()),
                DeskConfig(chase_step=D("0.0005")),
                cash=D("10000"),
                metrics=metrics,
            ),
            ChildSpec.actor("tap", Tap, events, (PositionChanged,)),
        ],
        Policy(),
    )
    calls.hang.add("cbs1")  # the first amend takes effect, and its answer never comes
    runtime.bus.publish(StopAmendRequest("pos1", "SOL/USD", D("99"), StopKind.TRAILING, clock.now()))
    assert calls.hung.wait(WAIT)
    for stop in ("99.5", "100"):  # while it hangs: conflated, the newest waits
        runtime.bus.publish(StopAmendRequest("pos1", "SOL/USD", D(stop), StopKind.TRAILING, clock.now()))
    settle()
    clock.advance(TIMEOUT)  # no answer by the deadline: looked up, found done, and the newest wish sent
    assert take(events, PositionChanged).position.stop_price == D("99")
    assert take(events, PositionChanged).position.stop_price == D("100")
    settle()
    assert calls.triggers["cbs1"] == D("100")
    assert calls.queries == 1
    counted = {o: metrics.value(STOP_UPDATES_METRIC, labels={"outcome": o}) for o in ("sent", "confirmed")}
    assert counted == {"sent": 2, "confirmed": 2}
    assert metrics.value(STOP_UPDATES_METRIC, labels={"outcome": "unknown"}) == 1
    assert metrics.value(STOP_UPDATES_METRIC, labels={"outcome": "conflated"}) == 1
    calls.release.set()
    gateway.stop(timeout=WAIT)
