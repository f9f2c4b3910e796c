"""Persistence: the SQLite journal (write-ahead record of orders, fills, positions and state) and the JSONL
trade log (one line per fill and per closed trade, for people and scripts)."""

from crocbot.store.codec import dumps_state, loads_state
from crocbot.store.journal import (
    Journal,
    JournalConflict,
    JournalCorrupt,
    JournalError,
    UnknownOrder,
    UnknownPosition,
)
from crocbot.store.tradelog import TradeLog, TradeLogError, TradeLogRecords, fill_record, trade_record

__all__ = [
    "Journal",
    "JournalError",
    "JournalCorrupt",
    "JournalConflict",
    "UnknownOrder",
    "UnknownPosition",
    "dumps_state",
    "loads_state",
    "TradeLog",
    "TradeLogError",
    "TradeLogRecords",
    "fill_record",
    "trade_record",
]
