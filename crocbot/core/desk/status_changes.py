"""A symbol's Kraken status changed: the desk takes the new status as the symbol's (see
`crocbot.core.desk.trading_status` for what each allows), says so once, and sends what waited for it: stop amends, and
exits held while Kraken took no sale."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from crocbot.core.desk.actions import Action, Note
from crocbot.core.desk.halted import resume
from crocbot.core.desk.state import Book
from crocbot.core.desk.trading_status import AMEND_STATUSES, ENTRY_STATUSES
from crocbot.core.messages import InstrumentStatusChanged

__all__ = ["on_instrument_status"]


def on_instrument_status(book: Book, event: InstrumentStatusChanged, now: datetime) -> list[Action]:
    symbol = event.symbol
    instrument = book.instruments.get(symbol)
    if instrument is None or instrument.status == event.status:
        return []
    was = instrument.status
    book.instruments[symbol] = replace(instrument, status=event.status)
    resumed: list[Action] = []
    if event.status in AMEND_STATUSES:  # amends and sales go again: what waited for them first
        waiting = [p for p in book.positions.values() if p.symbol == symbol and (p.held_exit or p.held_stop)]
        resumed = [a for p in waiting for a in resume(book, p, now)]
        resumed += book.stop_updates.drain(book, symbol, now)
    if event.status in ENTRY_STATUSES:
        text = f"{symbol} is {event.status} again on Kraken (was {was}): entries, exits and stop amendments resume"
        return [Note("INFO", text, symbol), *resumed]
    held = [p for p in book.positions.values() if p.open and p.symbol == symbol]
    consequences = ["no new entries"]
    if held:
        consequences.append(f"{len(held)} open position(s) keep their stops on the venue")
    if event.status not in AMEND_STATUSES:
        consequences.append("stop amendments and exits wait until it is back")
    text = f"{symbol} is {event.status} on Kraken (was {was}): {'; '.join(consequences)}"
    return [Note("WARNING", text, symbol), *resumed]
