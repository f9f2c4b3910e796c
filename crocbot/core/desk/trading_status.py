"""What Kraken lets the desk do for a symbol, by the symbol's status, and what the desk does when it changes.

Kraken's statuses (WS v2 `instrument` channel, REST AssetPairs): `online` trades normally; `post_only` and
`limit_only` take only post-only limit or limit orders; `reduce_only` only orders that reduce a position; `cancel_only`
only cancels; `maintenance` and `delisted` nothing at all. xStocks change status with their market's hours.

- New entries only while `online`: an entry in any other state is either refused by Kraken or, worse, accepted on
  terms the strategy did not size for (a post-only limit that rests instead of filling).
- Stops are never cancelled for a status: a resting stop is the position's protection, and Kraken keeps it.
- A stop's amend (a trailing step, breakeven, a profit lock) needs Kraken to accept order changes: `online` and
  `reduce_only` (tightening a sell stop reduces). Otherwise the newest wish waits, conflated as ever, and goes out
  when the status comes back; the stop keeps its last level meanwhile, which still protects.
- An exit (a market sell) needs the same: otherwise it waits, and the stop is not cancelled for it (the exit's
  first step), because a cancelled stop beside a refused sale leaves the position bare. It goes when the status
  comes back.
- Each change is said once (`crocbot.core.desk.status_changes`): a WARNING when the symbol leaves `online`, an INFO
  when it comes back.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from crocbot.core.desk.state import Book

__all__ = ["ENTRY_STATUSES", "AMEND_STATUSES", "ENTRY_REFUSED", "entries_allowed", "amends_allowed", "exits_allowed"]

ENTRY_STATUSES = frozenset({"online"})
AMEND_STATUSES = frozenset({"online", "reduce_only"})
ENTRY_REFUSED = "instrument_status"  # the refusal's label in `crocbot_entries_refused_total`


def entries_allowed(book: Book, symbol: str) -> bool:
    instrument = book.instruments.get(symbol)
    return instrument is not None and instrument.status in ENTRY_STATUSES


def amends_allowed(book: Book, symbol: str) -> bool:
    instrument = book.instruments.get(symbol)
    return instrument is not None and instrument.status in AMEND_STATUSES


def exits_allowed(book: Book, symbol: str) -> bool:
    """A market sell: what Kraken takes when it takes a stop's amend (a sell reduces, so `reduce_only` takes it)."""
    return amends_allowed(book, symbol)
