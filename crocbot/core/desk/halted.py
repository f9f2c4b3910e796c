"""A position's protection while Kraken takes no orders for its symbol, whether the desk heard of the halt from the
instrument channel or first from Kraken's refusal (`EService:Market in cancel_only mode`: the matching engine can be
ahead of the public feed, and an xStock's closing may never be announced there at all).

A stop that Kraken refuses for the halt, or that it cancels or expires during it, is placed again when Kraken takes
orders; the position is never sold for it (a stop lost to a halt is no reason to sell at the reopening), and the
refusals do not count toward giving up (`orders._MAX_REFUSALS`: that is for a venue that refuses a sound order). An
exit Kraken refuses for the halt waits the same way. Until the instrument channel says the symbol is back (a status
change releases everything at once, `status_changes`), the desk asks again after 30 s, doubling to 15 min: the first
refusal of a hold is a WARNING, the retries are DEBUG.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from crocbot.core.desk.actions import Action, Emit, Note, StartTimer
from crocbot.core.desk.events import ProtectionDue
from crocbot.core.desk.exits import exit_position
from crocbot.core.desk.protection import place_stop
from crocbot.core.desk.trading_status import amends_allowed
from crocbot.core.messages import ExitReason, OrderStatus, PositionChanged

if TYPE_CHECKING:
    from crocbot.core.desk.state import Book, PositionState

__all__ = ["halted_refusal", "hold_stop", "hold_exit", "on_protection_due", "resume"]

MARKET_HALTED = "EService:Market in"  # `cancel_only`, `post_only`, `limit_only`, `reduce_only` mode
_RETRY_FIRST = 30.0  # seconds
_RETRY_MAX = 900.0


def halted_refusal(reason: str) -> bool:
    return reason.startswith(MARKET_HALTED)


def hold_stop(book: Book, position: PositionState, stop: str, status: OrderStatus, reason: str) -> list[Action]:
    """The position's stop `stop` ended (`status`, `reason`) while Kraken takes no orders for its symbol."""
    first = not position.held_stop
    position.held_stop = True
    text = (
        f"stop {stop} {status} ({reason or 'no reason'}) while {position.symbol} takes no orders on Kraken: the "
        "position waits without a stop on the venue and is not sold for it; the stop is placed again when Kraken "
        "takes orders"
    )
    return [Note("WARNING" if first else "DEBUG", text, position.symbol), *_retry(book, position)]


def hold_exit(
    book: Book, position: PositionState, exit_order: str, reason: str, why: str, kind: ExitReason | None
) -> list[Action]:
    """Kraken refused the position's exit `exit_order` for a halt the desk had not heard of: the exit waits."""
    first = position.held_exit is None
    position.held_exit = (why, kind)
    text = f"exit {exit_order} of {position.position_id} refused ({reason}): it waits until Kraken takes orders"
    return [Note("WARNING" if first else "DEBUG", text, position.symbol), *_retry(book, position)]


def _retry(book: Book, position: PositionState) -> list[Action]:
    if not amends_allowed(book, position.symbol):
        return []  # the desk knows of the halt: the status change brings it back
    delay = min(_RETRY_MAX, max(_RETRY_FIRST, position.hold_retry * 2))
    position.hold_retry = delay
    return [StartTimer(delay, ProtectionDue(position.position_id))]


def on_protection_due(book: Book, timer: ProtectionDue, now: datetime) -> list[Action]:
    position = book.positions.get(timer.position_id)
    if position is None or not amends_allowed(book, position.symbol):
        return []
    return resume(book, position, now)


def resume(book: Book, position: PositionState, now: datetime) -> list[Action]:
    """Kraken takes orders for the position's symbol again (as far as the desk knows): the held exit goes, or the
    held stop is placed again."""
    if not position.open or position.exiting:
        position.held_exit, position.held_stop = None, False
        return []
    if position.held_exit is not None:
        why, kind = position.held_exit
        position.held_exit = None
        return exit_position(book, position, why, now, kind)
    if position.held_stop and position.stop_order is None:
        # still held until it rests (`protection.stop_live`): a refusal of this one is a retry, not news
        return [*place_stop(book, position, now), Emit(PositionChanged(position.message()))]
    return []
