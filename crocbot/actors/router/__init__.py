"""The order router: the only actor that changes orders, a thin shell over the desk (`crocbot.core.desk`).

`actor` dispatches messages to the desk and carries out its actions (one interpreter); `write_ahead` commits each
event's records as one unit before anything they announce goes out, and keeps them while the journal cannot take
writes; `journal_health` halts entries while the journal fails and retries what waits; `opening` rebuilds the
desk from the journal at start; `status` tells about the books.
"""

from crocbot.actors.router.actor import Router
from crocbot.actors.router.status import FENCE_METRIC, STOP_UPDATES_METRIC, money_gauges, status_report
from crocbot.actors.router.write_ahead import WriteAhead, wait_for_journal

__all__ = [
    "Router",
    "FENCE_METRIC",
    "STOP_UPDATES_METRIC",
    "money_gauges",
    "status_report",
    "WriteAhead",
    "wait_for_journal",
]
