"""What the router does when the journal fails: entries stop (safe mode, loudly), what waits is written again every
few seconds, and entries resume once the journal takes writes again.

A journal that cannot take writes for now (a full disk, a read-only file, persistence restarting) keeps the
records in the write-ahead queue (`write_ahead`); one that refused a record keeps entries halted until an operator
looks. The safe-mode document `crocbot status` reads is saved on every change of safe mode, except while the
journal fails: that save would fail as well.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from loguru import logger

from crocbot.actors.messages import SAFE_MODE_KEY
from crocbot.actors.router.write_ahead import WriteAhead, journal_unavailable
from crocbot.core.desk import Action, Desk
from crocbot.core.messages import SafeModeChanged
from crocbot.core.messages.journal import SaveState
from crocbot.ops.metrics import Metrics

__all__ = ["JournalHealth", "RetryJournal"]

JOURNAL_FAILING = "journal failing"  # the safe-mode reason
_JOURNAL_RETRY = 5.0  # event seconds between tries to write what the journal refused


@dataclass(frozen=True, slots=True)
class RetryJournal:
    """Timer: write the records the journal refused, in order."""


class JournalHealth:
    """The journal-failure policy over the router's write-ahead queue (`queue`). `ask` asks persistence; `desk` is
    the router's desk and `carry_out` its interpreter; `send_later` sets a timer to the router."""

    def __init__(
        self,
        ask: Callable[[object], Any],
        metrics: Metrics,
        desk: Callable[[], Desk],
        carry_out: Callable[[list[Action]], None],
        send_later: Callable[[float, object], None],
        now: Callable[[], datetime],
    ) -> None:
        self._ask = ask
        self._metrics = metrics
        self._desk = desk
        self._carry_out = carry_out
        self._send_later = send_later
        self._now = now
        self._retry_due = False
        self.queue = WriteAhead(ask, self.failed)  # each event's records, one commit, in order

    def failed(self, error: BaseException) -> None:
        """The journal could not take a write: entries stop, and what waits is tried again in a few seconds."""
        if JOURNAL_FAILING not in self._desk().risk.safe_reasons:
            logger.critical("the journal could not be written ({}); entries are halted", error)
        self._metrics.inc("crocbot_journal_failures_total")
        self._carry_out(self._desk().set_safe(JOURNAL_FAILING, True, self._now()))
        if not self._retry_due and journal_unavailable(error):  # a refused record keeps entries halted
            self._retry_due = True
            self._send_later(_JOURNAL_RETRY, RetryJournal())

    def retry(self) -> None:
        """Write what waits, oldest first; once all of it is journaled, entries may resume."""
        self._retry_due = False
        written = self.queue.retry()
        if written is None or JOURNAL_FAILING not in self._desk().risk.safe_reasons:
            return
        try:  # the journal may have failed on an entry alone, which does not wait: see that it takes writes now
            self._ask(SaveState(SAFE_MODE_KEY, {"reasons": [], "ts": self._now().isoformat()}))
        except Exception as error:  # noqa: BLE001 - still failing
            self.failed(error)
            return
        logger.warning("the journal takes writes again ({} waiting records written); entries may resume", written)
        self._carry_out(self._desk().set_safe(JOURNAL_FAILING, False, self._now()))

    def safe_mode_changed(self, changed: SafeModeChanged) -> None:
        """Save the safe-mode document `crocbot status` reads; not while the journal fails (the save would fail as
        well, and the document can lag)."""
        if JOURNAL_FAILING in changed.reasons:
            return
        try:
            self._ask(SaveState(SAFE_MODE_KEY, {"reasons": list(changed.reasons), "ts": changed.ts.isoformat()}))
        except Exception:  # noqa: BLE001 - the journal failing is safe mode already; the status file can lag
            logger.opt(exception=True).error("could not save the safe-mode state for `crocbot status`")
