"""The one protocol between the order router and a venue (paper or live).

The commands are the desk's own (`crocbot.core.messages.commands`): one vocabulary from decision to venue.

The router sends commands; the venue answers with events: `OrderEvent`s and `Fill`s (core messages), plus an
`OrderAmended` when an amend took effect and a `CommandRejected` when a cancel or an amend did not (the order
itself is unchanged then). A cancel or amend whose answer never came is reported `CommandUnknown` (a venue that
calls Kraken through the gateway: the call passed its deadline), never as done or refused; the router then sends a
`Query` and the venue answers with the order's terms (`OrderLookedUp`). A rejected order (`OrderEvent` with
status rejected) carries Kraken's error string as its reason. A venue never raises for a business outcome.

A `Submit` with `after_cancels` goes out only once the venue has confirmed the cancel of each of those orders
(an exit sold with the coins its position's stop holds): if a cancel is refused (the stop filled, or is filling),
the order is not sent and is reported cancelled with the reason `HELD_BACK`. The paper venue takes the cancels and
the order in one request and checks the outcome of each cancel before it places the order; a gateway-backed venue
(`crocbot.actors.venue.calls`) waits for the answer to each cancel before it sends the order. A stop that filled in
part before its cancel landed leaves less to sell than the exit asks for: Kraken's answer to a cancel does not say
how much the order had filled (its `canceled` execution report does, as `cum_qty`), so a live venue must size the
exit from that report, not from the answer: the live venue's cancel reports it as the event's `filled_qty`
(`crocbot.venues.live.order_calls`; REST's `vol_exec` when no report came); the paper venue's stops fill whole
or not.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from crocbot.core.messages import (
    HELD_BACK,
    CommandRejected,
    CommandUnknown,
    Fill,
    OrderAmended,
    OrderEvent,
    OrderLookedUp,
)
from crocbot.core.messages.commands import Amend, Cancel, Query, Submit, VenueCommand

__all__ = [
    "Submit",
    "Amend",
    "Cancel",
    "Query",
    "VenueCommand",
    "OrderAmended",
    "CommandRejected",
    "CommandUnknown",
    "OrderLookedUp",
    "VenueEvent",
    "Venue",
    "HELD_BACK",
]


VenueEvent = OrderEvent | Fill | OrderAmended | CommandRejected | CommandUnknown | OrderLookedUp


class Venue(Protocol):
    def execute(self, command: VenueCommand) -> list[VenueEvent]:
        """Carry out one command; its events, in order."""
        ...

    def execute_all(self, commands: Sequence[VenueCommand]) -> list[VenueEvent]:
        """Carry out one request's commands in order, holding back a `Submit` whose `after_cancels` did not all
        succeed; the events of all of them, in order."""
        ...
