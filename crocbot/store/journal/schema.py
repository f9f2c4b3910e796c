"""The journal's schema: every table in one place, numbered migrations, and the code that applies them.

Money columns are declared TEXT: with TEXT affinity SQLite keeps `"65432.10000000"` as those characters, where a
NUMERIC or REAL column would turn it into a float. Times are TEXT in one fixed-width UTC form (see
`crocbot.store.codec`), so `ORDER BY ts` and `ts >= ?` compare times correctly.

A migration is a list of statements that is applied once, in one transaction, together with the row that
records its version. The statements are `IF NOT EXISTS` as well, so a migration interrupted by a crash and run
again is harmless. A journal written by a newer crocbot is refused rather than guessed at.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime

__all__ = ["SCHEMA_VERSION", "MIGRATIONS", "migrate", "schema_version", "SchemaTooNew"]

_V1: tuple[str, ...] = (
    # One row per order: the intent as journaled before sending, and its current state at the venue.
    """CREATE TABLE IF NOT EXISTS orders (
        seq           INTEGER PRIMARY KEY AUTOINCREMENT,
        cl_ord_id     TEXT NOT NULL UNIQUE,
        symbol        TEXT NOT NULL,
        side          TEXT NOT NULL,
        order_type    TEXT NOT NULL,
        qty           TEXT NOT NULL,
        purpose       TEXT NOT NULL,
        limit_price   TEXT,
        trigger_price TEXT,
        post_only     INTEGER NOT NULL,
        intent_ts     TEXT NOT NULL,
        position_id   TEXT,
        reason        TEXT NOT NULL,
        status        TEXT NOT NULL,
        order_id      TEXT,
        filled_qty    TEXT NOT NULL,
        avg_price     TEXT,
        updated_at    TEXT NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS orders_status ON orders (status)",
    "CREATE INDEX IF NOT EXISTS orders_intent_ts ON orders (intent_ts)",
    # Every event as the venue reported it, in arrival order; the unique index makes a replay a no-op
    # (COALESCE because SQLite treats NULLs as distinct in a unique index).
    """CREATE TABLE IF NOT EXISTS order_events (
        seq         INTEGER PRIMARY KEY AUTOINCREMENT,
        cl_ord_id   TEXT NOT NULL REFERENCES orders (cl_ord_id),
        status      TEXT NOT NULL,
        ts          TEXT NOT NULL,
        order_id    TEXT,
        filled_qty  TEXT NOT NULL,
        avg_price   TEXT,
        reason      TEXT NOT NULL
    )""",
    """CREATE UNIQUE INDEX IF NOT EXISTS order_events_key ON order_events (
        cl_ord_id, status, ts, filled_qty, COALESCE(order_id, ''), COALESCE(avg_price, ''), reason
    )""",
    # Fills carry no foreign key: a fill the venue reports for an order the journal never saw (found by the
    # reconciler) must still be kept, never refused.
    """CREATE TABLE IF NOT EXISTS fills (
        seq          INTEGER PRIMARY KEY AUTOINCREMENT,
        fill_id      TEXT NOT NULL UNIQUE,
        cl_ord_id    TEXT NOT NULL,
        order_id     TEXT NOT NULL,
        symbol       TEXT NOT NULL,
        side         TEXT NOT NULL,
        qty          TEXT NOT NULL,
        price        TEXT NOT NULL,
        fee          TEXT NOT NULL,
        fee_currency TEXT NOT NULL,
        liquidity    TEXT NOT NULL,
        ts           TEXT NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS fills_ts ON fills (ts, seq)",
    # A position and its current stop (the latest by time in `stops`); closed ones keep their row.
    """CREATE TABLE IF NOT EXISTS positions (
        seq            INTEGER PRIMARY KEY AUTOINCREMENT,
        position_id    TEXT NOT NULL UNIQUE,
        symbol         TEXT NOT NULL,
        side           TEXT NOT NULL,
        qty            TEXT NOT NULL,
        entry_price    TEXT NOT NULL,
        initial_stop   TEXT NOT NULL,
        take_profit    TEXT,
        opened_at      TEXT NOT NULL,
        stop_price     TEXT NOT NULL,
        stop_kind      TEXT NOT NULL,
        stop_ts        TEXT NOT NULL,
        stop_cl_ord_id TEXT,
        closed_at      TEXT,
        trade_id       TEXT,
        realized_pnl   TEXT
    )""",
    "CREATE INDEX IF NOT EXISTS positions_open ON positions (closed_at)",
    """CREATE TABLE IF NOT EXISTS stops (
        seq            INTEGER PRIMARY KEY AUTOINCREMENT,
        position_id    TEXT NOT NULL REFERENCES positions (position_id),
        ts             TEXT NOT NULL,
        stop           TEXT NOT NULL,
        kind           TEXT NOT NULL,
        stop_cl_ord_id TEXT
    )""",
    """CREATE UNIQUE INDEX IF NOT EXISTS stops_key ON stops (
        position_id, ts, stop, kind, COALESCE(stop_cl_ord_id, '')
    )""",
    """CREATE TABLE IF NOT EXISTS closed_trades (
        seq          INTEGER PRIMARY KEY AUTOINCREMENT,
        trade_id     TEXT NOT NULL UNIQUE,
        position_id  TEXT REFERENCES positions (position_id),
        symbol       TEXT NOT NULL,
        side         TEXT NOT NULL,
        qty          TEXT NOT NULL,
        entry_price  TEXT NOT NULL,
        exit_price   TEXT NOT NULL,
        fees         TEXT NOT NULL,
        realized_pnl TEXT NOT NULL,
        opened_at    TEXT NOT NULL,
        closed_at    TEXT NOT NULL,
        initial_risk TEXT
    )""",
    # JSON documents (crocbot.store.codec) keyed by owner: paper account, risk state, ledger state.
    """CREATE TABLE IF NOT EXISTS state (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
    )""",
)

# Version 2: an order's terms as last amended (Kraken amends in place: same ids, new size or price). NULL until
# an amend is confirmed; the intent's columns keep what was first sent.
_V2: tuple[str, ...] = (
    "ALTER TABLE orders ADD COLUMN amended_qty TEXT",
    "ALTER TABLE orders ADD COLUMN amended_limit TEXT",
    "ALTER TABLE orders ADD COLUMN amended_trigger TEXT",
)

# Version 3: what reconciliation needs. A fill the bot learnt of only by asking the venue after the fact is marked
# backfilled; an entry's brackets (stop, take-profit, strategy) are kept with its intent, so an entry that fills
# while crocbot is down still opens a protected position.
_V3: tuple[str, ...] = (
    "ALTER TABLE fills ADD COLUMN backfilled INTEGER NOT NULL DEFAULT 0",
    "ALTER TABLE orders ADD COLUMN brackets TEXT",
)

# Version 4: each state document carries the journal's newest fill (its seq) when it was saved. The ledger's state
# no longer lists every fill it booked: the fills journaled after its stamp are the ones a crash kept from it.
# NULL: saved before this version (a ledger's state then still lists its fill ids).
_V4: tuple[str, ...] = ("ALTER TABLE state ADD COLUMN fills_seq INTEGER",)

# Append new migrations; never edit one that has shipped (journals in the field have already applied it).
MIGRATIONS: tuple[tuple[int, tuple[str, ...]], ...] = ((1, _V1), (2, _V2), (3, _V3), (4, _V4))
SCHEMA_VERSION = MIGRATIONS[-1][0]

_VERSION_TABLE = """CREATE TABLE IF NOT EXISTS schema_version (
    version    INTEGER PRIMARY KEY,
    applied_at TEXT NOT NULL
)"""


class SchemaTooNew(Exception):
    """The journal was written by a newer crocbot; this one does not know its tables."""


def schema_version(conn: sqlite3.Connection) -> int:
    """The highest applied migration, 0 for a new file."""
    exists = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'").fetchone()
    if exists is None:
        return 0
    row = conn.execute("SELECT MAX(version) FROM schema_version").fetchone()
    return int(row[0]) if row is not None and row[0] is not None else 0


def migrate(conn: sqlite3.Connection) -> int:
    """Apply the migrations this file lacks, each in its own transaction; returns the resulting version.

    `conn` must be in autocommit mode (isolation_level=None): the transactions here are explicit.
    """
    conn.execute(_VERSION_TABLE)
    current = schema_version(conn)
    if current > SCHEMA_VERSION:
        raise SchemaTooNew(f"schema version {current} is newer than this crocbot's {SCHEMA_VERSION}")
    for version, statements in MIGRATIONS:
        if version <= current:
            continue
        conn.execute("BEGIN IMMEDIATE")
        try:
            # Re-read inside the write lock: another process may have migrated between our read and BEGIN.
            if schema_version(conn) < version:
                for statement in statements:
                    conn.execute(statement)
                # when a migration ran is operational metadata, so the wall clock (not the injected one) is right
                applied = datetime.now(UTC).isoformat(timespec="microseconds")
                conn.execute("INSERT INTO schema_version (version, applied_at) VALUES (?, ?)", (version, applied))
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        current = version
    return current
