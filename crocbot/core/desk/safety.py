"""Safe mode and the day: one reason on or off at a time (said once, with what the check saw), the kill switch
reset at a new UTC day, and the desk giving up on a position the venue keeps refusing to protect."""

from __future__ import annotations

from datetime import datetime

from crocbot.core.desk.actions import Action, Emit, Note
from crocbot.core.desk.state import Book, PositionState
from crocbot.core.messages import (
    ActorEscalated,
    BreakerState,
    BreakerStateChanged,
    FeedHealth,
    SafeModeChanged,
    VenueAnomaly,
)

__all__ = [
    "set_safe",
    "on_day_tick",
    "give_up",
    "protected_again",
    "on_feed_health",
    "on_breaker",
    "on_escalated",
    "on_anomaly",
    "ESCALATED",
    "ANOMALY",
]

_UNPROTECTED = "a position the venue refuses to protect"
# Sticky for the life of the process: a supervisor that gave up means something keeps failing; an operator looks.
ESCALATED = "a supervisor gave up (too many restarts); restart crocbot once the cause is fixed"
# Sticky too: a fill beyond its order or for an order crocbot never sent means the books and the account disagree
# about money that moved; the start-up reconciliation after a restart is where a person settles it.
ANOMALY = "a venue fill crocbot cannot square with its orders; restart crocbot once the account is checked"


def on_feed_health(book: Book, health: FeedHealth, now: datetime) -> list[Action]:
    """Market data fresh or not. Until it was first fresh, safe mode for it is start-up, not news (told at INFO)."""
    detail = "" if health.fresh else health.reason
    symbol = ",".join(health.out_of_sync) or None
    actions = set_safe(
        book, "market data not fresh", not health.fresh, now, detail=detail, symbol=symbol, expected=not book.fed
    )
    book.fed = book.fed or health.fresh
    return actions


def on_breaker(book: Book, changed: BreakerStateChanged, now: datetime) -> list[Action]:
    return set_safe(book, f"circuit breaker {changed.name} open", changed.current is not BreakerState.CLOSED, now)


def on_anomaly(book: Book, anomaly: VenueAnomaly, now: datetime) -> list[Action]:
    """The venue filled beyond an order or for an order crocbot does not know (the fill itself is booked apart):
    entries halt for the life of the process; stops and exits carry on."""
    detail = f"{anomaly.kind} {anomaly.fill_id} of {anomaly.cl_ord_id or anomaly.order_id}"
    return set_safe(book, ANOMALY, True, now, detail=detail, symbol=anomaly.symbol)


def on_escalated(book: Book, escalated: ActorEscalated, now: datetime) -> list[Action]:
    """A supervisor gave up: entries halt for the life of the process; stops and exits carry on."""
    text = (
        f"supervisor {escalated.supervisor} gave up ({escalated.reason}): entries are halted; stops and exits carry on"
    )
    return [Note("CRITICAL", text), *set_safe(book, ESCALATED, True, now)]


def set_safe(
    book: Book,
    reason: str,
    on: bool,
    now: datetime,
    *,
    detail: str = "",
    symbol: str | None = None,
    expected: bool = False,
) -> list[Action]:
    """Turn one safe-mode reason on or off. `detail` says what the check saw (which books, which error) and
    `symbol` whom it concerns; both go on the line only, so the reason stays one key however they change.
    `expected`: a state every start passes through (no market data yet), told at INFO: a WARNING on every
    healthy start teaches the operator to ignore the one that matters."""
    before = book.risk.safe_reasons
    book.risk.set_safe_mode(reason, on)
    after = book.risk.safe_reasons
    if before == after:
        return []
    level = "WARNING" if on and not expected else "INFO"
    check = f"{reason} ({detail})" if detail else reason
    if on:
        text = "safe mode on: " + ", ".join(check if held == reason else held for held in after)
    elif after:
        text = f"safe mode on: {', '.join(after)} ({check} cleared)"
    else:
        text = f"safe mode off: {check} cleared"
    return [Note(level, text, symbol), Emit(SafeModeChanged(bool(after), after, now))]


def on_day_tick(book: Book, now: datetime) -> list[Action]:
    tripped = book.risk.kill_switch_tripped
    book.risk.roll_day(now, book.equity())
    book.forget_settled()
    if tripped and not book.risk.kill_switch_tripped:
        return [Note("INFO", "a new UTC day: the kill switch is reset"), *book.saves()]
    return []


def give_up(book: Book, position: PositionState, why: str, now: datetime) -> list[Action]:
    text = (
        f"position {position.position_id}: the venue refused its stop or exit {position.refusals} times in a "
        f"row, last: {why}; no more orders for it and entries halted until reconciliation or a person settles it"
    )
    book.given_up.add(position.position_id)
    return [Note("CRITICAL", text, position.symbol), *set_safe(book, _UNPROTECTED, True, now)]


def protected_again(book: Book, position: PositionState, now: datetime) -> list[Action]:
    """A position the desk gave up on has closed, or has a live stop again: when none is left, entries resume (the
    halt was for a position nothing protected; it stayed on after the position had closed, until a restart)."""
    if position.position_id not in book.given_up:
        return []
    book.given_up.discard(position.position_id)
    return [] if book.given_up else set_safe(book, _UNPROTECTED, False, now)
