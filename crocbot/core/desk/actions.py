"""What the desk asks the router to carry out, in order: journal, send, publish, time, log."""

from __future__ import annotations

from dataclasses import dataclass

from crocbot.core.messages.commands import Amend, Cancel, Query, Submit
from crocbot.core.messages.journal import JournalRecord

__all__ = ["Emit", "Record", "Commit", "StartTimer", "Note", "Action"]


@dataclass(frozen=True, slots=True)
class Emit:
    """Publish on the bus (position changes, safe mode)."""

    message: object


@dataclass(frozen=True, slots=True)
class Record:
    """Journal this (an intent, a position, a stop, a state document): the desk's `on` gathers an event's records
    into one `Commit`."""

    message: JournalRecord


@dataclass(frozen=True, slots=True)
class Commit:
    """Commit `records` to the journal as one transaction (one durable commit) before the actions after it: the
    desk's `on` returns at most one per event, first, so that no command goes out ahead of what it changed."""

    records: tuple[JournalRecord, ...]


@dataclass(frozen=True, slots=True)
class StartTimer:
    delay: float
    message: object


@dataclass(frozen=True, slots=True)
class Note:
    """Something to log: `level` is loguru's (INFO, WARNING, ERROR, CRITICAL)."""

    level: str
    text: str
    symbol: str | None = None


Action = Submit | Amend | Cancel | Query | Emit | Record | Commit | StartTimer | Note
