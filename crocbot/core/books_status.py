"""The books as the running bot last saw them, for `crocbot status`: a state document the router saves now and
then (and when it stops), so that a status run beside the bot, or after it, shows equity and unrealised P&L at
real marks, and when each symbol's market data last came.

Why a journal document rather than an HTTP endpoint: the same record answers while the bot runs and after it
stopped or was killed (then as "last known", with its time), the health server keeps asking no actor anything,
and one small upsert every few seconds costs the journal nothing it would notice.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from crocbot.core.desk import Desk
from crocbot.core.money import fmt

__all__ = ["BOOKS_KEY", "books_document"]

BOOKS_KEY = "status.books"


def books_document(desk: Desk, last_data: Mapping[str, datetime], now: datetime) -> dict[str, Any]:
    """Cash, equity and unrealised P&L at the desk's marks, the marks with the time of the data they came from.

    A symbol held without any price seen yet is valued at its entry (as the risk gate does) and has no mark here."""
    ledger = desk.ledger
    return {
        "ts": now.isoformat(),
        "quote": ledger.quote,
        "cash": fmt(ledger.cash),
        "equity": fmt(desk.equity()),
        "unrealized": fmt(desk.unrealized()),
        "marks": {
            symbol: {"price": fmt(price), "ts": last_data[symbol].isoformat() if symbol in last_data else None}
            for symbol, price in sorted(desk.marks.items())
        },
        "last_data": {symbol: ts.isoformat() for symbol, ts in sorted(last_data.items())},
    }
