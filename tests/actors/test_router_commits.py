"""One journal commit per event, measured against a real journal behind the router: an entry fill is booked,
journaled and protected with one durable commit, and its stop goes out only once that commit is made."""

from __future__ import annotations

import queue
from decimal import Decimal
from pathlib import Path
from typing import Any

from crocbot.actors.messages import ApplyReconciliation, ReadJournal, VenueRequest
from crocbot.actors.persistence import Persistence
from crocbot.actors.router import Router
from crocbot.actors.runtime import Runtime
from crocbot.actors.supervisor import ChildSpec, Policy
from crocbot.config.model import RiskSettings
from crocbot.config.policies import risk_limits
from crocbot.core.clock import SimClock
from crocbot.core.desk import DeskConfig
from crocbot.core.messages import OrderEvent, OrderPurpose, OrderStatus
from crocbot.core.messages.commands import Submit
from crocbot.core.reconcile import ForeignOrderPolicy, Plan
from crocbot.ops.metrics import Metrics
from tests.core.desk_support import SOL, fill, signal
from tests.support.actors import WAIT, Tap, settle, take

D = Decimal


def _commits(runtime: Runtime) -> int:
    return int(runtime.directory.ask("persistence", ReadJournal(lambda journal: journal.commits), timeout=WAIT))


def _submitted(requests: queue.Queue[Any], purpose: OrderPurpose) -> Submit:
    for _ in range(10):
        request = take(requests, VenueRequest)
        for command in request.commands:
            if isinstance(command, Submit) and command.intent.purpose is purpose:
                return command
    raise AssertionError(f"no {purpose} order sent")


def test_an_entry_fill_costs_one_commit_and_its_stop_goes_out_after_it(
    runtime: Runtime, clock: SimClock, tmp_path: Path
) -> None:
    requests: queue.Queue[Any] = queue.Queue()
    runtime.start(
        [
            ChildSpec.actor("persistence", Persistence, tmp_path / "journal.sqlite3", tmp_path / "trades.jsonl"),
            ChildSpec.actor(
                "router",
                Router,
                {"SOL/USD": SOL},
                risk_limits(RiskSettings()),
                DeskConfig(chase_step=D("0.0005")),
                cash=D("10000"),
                metrics=Metrics(),
            ),
            ChildSpec.actor("tap", Tap, requests, (VenueRequest,)),
        ],
        Policy(),
    )
    ready = ApplyReconciliation(Plan(), ForeignOrderPolicy.ADOPT, startup=True)
    runtime.directory.ask("router", ready, timeout=WAIT)

    before_entry = _commits(runtime)
    runtime.bus.publish(signal(ts=clock.now()))
    entry = _submitted(requests, OrderPurpose.ENTRY).intent
    assert _commits(runtime) == before_entry + 1  # its intent, journaled before it went out
    runtime.bus.publish(OrderEvent(entry.cl_ord_id, OrderStatus.ACKED, clock.now()))
    settle()  # the ack: one commit of its own

    before_fill = _commits(runtime)
    runtime.bus.publish(fill("F1", entry.cl_ord_id, entry.qty, "100", "0.62", ts=clock.now()))
    stop = _submitted(requests, OrderPurpose.STOP).intent

    # The fill booked, the position opened, the stop's intent, the ledger and the risk state: one commit, made
    # before the stop went out.
    assert _commits(runtime) == before_fill + 1
    journaled = runtime.directory.ask(
        "persistence",
        ReadJournal(lambda journal: (journal.order(stop.cl_ord_id), journal.has_fill("F1"))),
        timeout=WAIT,
    )
    assert journaled[0] is not None
    assert journaled[1] is True
