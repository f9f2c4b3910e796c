"""The desk: the one owner of orders and positions, as pure code. Events go in (`Desk.on`), actions come out.

What the router hands it: the venue's events (`OrderEvent`, `FillSeen`, `OrderAmended`, `CommandRejected`,
`CommandUnknown`, `OrderLookedUp`), what the strategies and the SL manager want (`Signal`, `ExitRequest`,
`StopAmendRequest`), its own timers (`EntryTTL`, `StopBudgetDue`, `LookupDue`), what the router did with its orders
(`Submitted`, `NotSent`), a journal snapshot to start from (`Desk.restore`) and a reconciliation plan to apply
(`Desk.reconcile`). What it hands back, in order: one `Commit` of every record the event changed, then the
commands (`crocbot.core.messages.commands`), bus messages, timers and log lines.

Modules: `book` (the desk itself: entries, order events, fills, exits and stops), `stop_updates` (stop amends
paced by the pair's trading counter), `restore`, `reconciliation` and `adoption` (start-up and reconciliation),
`state`, `actions`, `events`, `trade_context`.
"""

from crocbot.core.desk.actions import Action, Commit, Emit, Note, Record, StartTimer
from crocbot.core.desk.adoption import ADOPTED
from crocbot.core.desk.book import LEDGER_KEY, RISK_KEY, Desk, DeskConfig, DeskEvent
from crocbot.core.desk.events import EntryTTL, FillSeen, LookupDue, NotSent, StopBudgetDue, Submitted
from crocbot.core.desk.state import PositionState

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
    "Submitted",
    "PositionState",
]
