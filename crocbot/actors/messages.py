"""What the actors ask and tell each other, beyond the trading messages of `crocbot.core.messages`.

Here rather than in the module of the actor that answers, so that no actor module imports another's: an actor knows
the others only by name (`Directory`) and by these messages.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from crocbot.core.messages.journal import RecordFill
from crocbot.core.reconcile import ForeignOrderPolicy, Plan
from crocbot.venues.protocol import VenueCommand

__all__ = [
    "VenueRequest",
    "VenueSnapshot",
    "PaperAccountSaved",
    "ReadJournal",
    "FillsOnlyLogged",
    "LogFillAhead",
    "OpenPositions",
    "RouterStatus",
    "PositionView",
    "OrderView",
    "StatusReport",
    "BooksSnapshot",
    "ApplyReconciliation",
    "SAFE_MODE_KEY",
    "REPORT_KEY",
]

SAFE_MODE_KEY = "safe_mode"  # the journal's state document `crocbot status` reads to say whether safe mode is on
REPORT_KEY = "reconciliation"  # the journal's document with the last reconciliation that found something

# -- the venue --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class VenueRequest:
    """From the router: carry out `commands`, in order, as one batch (one durable save of the account)."""

    commands: tuple[VenueCommand, ...]

    def __post_init__(self) -> None:
        if not self.commands:
            raise ValueError("a venue request needs at least one command")


@dataclass(frozen=True, slots=True)
class VenueSnapshot:
    """Ask: the venue's view for reconciliation (`crocbot.core.reconcile.VenueView`): open orders, the closed ones
    among `cl_ord_ids`, fills since `fills_since` (all it keeps when None), balances."""

    cl_ord_ids: tuple[str, ...]
    fills_since: datetime | None


@dataclass(frozen=True, slots=True)
class PaperAccountSaved:
    """Published when saving the paper account starts failing (`saved` False, with the error) or works again."""

    saved: bool
    reason: str
    ts: datetime


# -- persistence ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ReadJournal:
    """Run `read(journal)` in the persistence thread and answer its result (start-up rebuilds, status)."""

    read: Any  # Callable[[Journal], Any]


@dataclass(frozen=True, slots=True)
class FillsOnlyLogged:
    """Ask: the fills the trade log has and the journal lacks (a journal restored from a backup), as `Fill`s."""


@dataclass(frozen=True, slots=True)
class LogFillAhead:
    """Ask: write this fill to the trade log now, although the journal has not taken it yet (the asker keeps it for
    the journal); the trade log gets it once. Answers True when the trade log has it."""

    fill: RecordFill


# -- the router ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OpenPositions:
    """Ask the router: the open positions, as `Position` messages (the SL manager asks when it (re)starts)."""


@dataclass(frozen=True, slots=True)
class RouterStatus:
    """Ask the router: its books at a glance (for health, the console and tests)."""


@dataclass(frozen=True, slots=True)
class PositionView:
    position_id: str
    symbol: str
    qty: Decimal
    entry: Decimal
    stop: Decimal
    stop_live: bool
    take_profit: Decimal | None
    mark: Decimal | None


@dataclass(frozen=True, slots=True)
class OrderView:
    cl_ord_id: str
    symbol: str
    purpose: str
    side: str
    order_type: str
    qty: Decimal
    filled: Decimal
    price: Decimal | None
    status: str


@dataclass(frozen=True, slots=True)
class StatusReport:
    equity: Decimal
    realized: Decimal
    open_positions: int
    safe_reasons: tuple[str, ...]
    kill_switch: bool
    ready: bool
    positions: tuple[PositionView, ...] = ()
    orders: tuple[OrderView, ...] = ()
    kill_reason: str = ""
    stop_updates_busy: int = 0  # positions with a stop amend in flight or a wish waiting


@dataclass(frozen=True, slots=True)
class BooksSnapshot:
    """Ask the router: its side of a reconciliation (`BooksView` without the journal's fill ids)."""


@dataclass(frozen=True, slots=True)
class ApplyReconciliation:
    """Ask the router: carry out a reconciliation plan; answers what it did, one line per kind of change.

    `startup`: the first one after a (re)start. Until it is applied, no entry is taken; with it, entries whose
    timers died with the old process are cancelled and every open position is protected (`restore.resume`)."""

    plan: Plan
    policy: ForeignOrderPolicy
    startup: bool
