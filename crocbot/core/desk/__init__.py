"""The desk: the one owner of orders and positions, as pure code. Events go in (`Desk.on`), actions come out.

What the router hands it: the venue's events (`OrderEvent`, `FillSeen`, `OrderAmended`, `CommandRejected`,
`CommandUnknown`, `OrderLookedUp`), what the strategies and the SL manager want (`Signal`, `ExitRequest`,
`StopAmendRequest`), its own timers (`EntryTTL`, `StopBudgetDue`, `LookupDue`, `ProtectionDue`), what the router
did with its orders (`Submitted`, `NotSent`), the health of what it depends on (`FeedHealth`, `BreakerStateChanged`,
`ActorEscalated`), Kraken's status of a symbol (`InstrumentStatusChanged`),
a journal snapshot to start from (`Desk.restore`) and a reconciliation plan to apply (`Desk.reconcile`). What it
hands back, in order: one `Commit` of every record the event changed, then the commands
(`crocbot.core.messages.commands`), bus messages, timers and log lines.

Modules: `desk` (the facade), `handling` (an event to its behaviour, and what goes out: one `Commit`, the inventory
fence), the behaviours `entries`, `orders`, `fills`, `protection` (stops), `stop_updates`, `exits`, `safety`,
`trading_status`, `status_changes` and `halted` (Kraken's symbol status), the
start-up and reconciliation `restore`, `reconciliation`, `adoption`, and `state` (the books: private to the package),
`actions`, `events`, `trade_context`.
"""

from crocbot.core.desk.actions import Action, Commit, Emit, Note, Record, StartTimer
from crocbot.core.desk.adoption import ADOPTED
from crocbot.core.desk.desk import Desk
from crocbot.core.desk.events import (
    DeskEvent,
    EntryTTL,
    FillSeen,
    LookupDue,
    NotSent,
    ProtectionDue,
    StopBudgetDue,
    Submitted,
)
from crocbot.core.desk.restore import JournalSnapshot
from crocbot.core.desk.safety import ANOMALY, ESCALATED
from crocbot.core.desk.state import LEDGER_KEY, RISK_KEY, DeskConfig, PositionState
from crocbot.core.desk.stop_updates import StopOutcome, StopUpdates

__all__ = [
    "Desk",
    "DeskConfig",
    "DeskEvent",
    "LEDGER_KEY",
    "RISK_KEY",
    "ADOPTED",
    "Action",
    "Emit",
    "Commit",
    "Note",
    "Record",
    "StartTimer",
    "EntryTTL",
    "FillSeen",
    "LookupDue",
    "NotSent",
    "StopBudgetDue",
    "ProtectionDue",
    "Submitted",
    "PositionState",
    "ESCALATED",
    "ANOMALY",
    "JournalSnapshot",
    "StopOutcome",
    "StopUpdates",
]
