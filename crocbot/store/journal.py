"""The SQLite journal: intents, order events, fills, positions, stops, closed trades and state documents.

Written by one actor (Persistence) only. Each write method is one transaction (`BEGIN IMMEDIATE` … `COMMIT`) and
the file runs in WAL mode with `synchronous=FULL`, so when a method returns its record is on disk, and a crash
half-way through a write leaves the state from before it. Every write is keyed (cl_ord_id, fill_id,
position_id, …): replaying a write after a restart or a retried message is a no-op. A key that comes back with
different content (an intent reusing a cl_ord_id) is refused with `JournalConflict`, because acting on it
could duplicate an order.

The connection is made with `check_same_thread=False` because pykka may run an actor's `on_start` on another
thread than the one that built it; only one thread uses a `Journal` at a time (the actor's), and nothing here
takes a lock for more.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from types import TracebackType
from typing import Any

from loguru import logger

from crocbot.core.messages import (
    ClosedTrade,
    Fill,
    OrderAmended,
    OrderEvent,
    OrderIntent,
    OrderStatus,
    Position,
    StopKind,
)
from crocbot.core.messages.journal import EntryBrackets
from crocbot.store.codec import dec_text, dumps_state, loads_state, opt_dec_text, text_dec, text_ts, ts_text
from crocbot.store.journal_integrity import (
    JournalConflict,
    JournalCorrupt,
    JournalError,
    JournalUnwritable,
    UnknownOrder,
    UnknownPosition,
    backup_verified,
    corrupt_error,
    is_corruption,
    quick_check,
    unwritable_error,
)
from crocbot.store.journal_rows import (
    JournalOrder,
    JournalPosition,
    brackets_text,
    event_from_row,
    fill_from_row,
    fill_params,
    intent_params,
    order_from_row,
    position_from_row,
    trade_from_row,
    trade_params,
)
from crocbot.store.journal_schema import SchemaTooNew, migrate, schema_version

__all__ = [
    "Journal",
    "JournalOrder",
    "JournalPosition",
    "JournalError",
    "JournalCorrupt",
    "JournalUnwritable",
    "JournalConflict",
    "UnknownOrder",
    "UnknownPosition",
]

_TERMINAL = tuple(status.value for status in OrderStatus if status.is_terminal)
_NOT_TERMINAL_SQL = f"status NOT IN ({', '.join('?' * len(_TERMINAL))})"
_BUSY_TIMEOUT_S = 5.0  # an outside reader (a backup script, sqlite3 CLI) may hold the lock briefly


class Journal:
    """The write-ahead journal; see the module docstring for the durability and idempotency rules."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=_BUSY_TIMEOUT_S)
        except sqlite3.Error as exc:
            raise JournalError(f"journal {path}: cannot open ({exc})") from exc
        try:
            self._setup(conn)
        except BaseException:
            conn.close()
            raise
        self._conn = conn

    def _setup(self, conn: sqlite3.Connection) -> None:
        conn.row_factory = sqlite3.Row
        try:
            mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                # e.g. a network share without shared memory: without WAL the durability argument above fails
                raise JournalError(f"journal {self.path}: cannot use WAL mode (SQLite kept {mode!r})")
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute("PRAGMA foreign_keys=ON")
            problems = quick_check(conn)
            if problems:
                raise corrupt_error(self.path, problems)
            migrate(conn)
        except SchemaTooNew as exc:
            raise JournalError(
                f"journal {self.path}: {exc}; run a crocbot at least as new as the one that wrote it"
            ) from exc
        except sqlite3.Error as exc:
            if is_corruption(exc):
                raise corrupt_error(self.path, str(exc)) from exc
            unwritable = unwritable_error(self.path, "opening it", exc)  # a read-only or full disk says how to fix it
            if unwritable is not None:
                raise unwritable from exc
            raise JournalError(f"journal {self.path}: cannot open ({exc})") from exc

    def close(self) -> None:
        """Close the connection (SQLite checkpoints the WAL into the main file); closing twice is harmless."""
        self._conn.close()

    def __enter__(self) -> Journal:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    @contextlib.contextmanager
    def _write(self, what: str) -> Iterator[sqlite3.Connection]:
        """One durable transaction; on any error it is rolled back and reported as a `JournalError` (a full disk,
        a read-only file or an I/O error as `JournalUnwritable`)."""
        conn = self._conn
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise self._wrap(what, exc) from exc
        try:
            yield conn
            conn.execute("COMMIT")
        except BaseException as exc:
            if conn.in_transaction:
                try:
                    conn.execute("ROLLBACK")
                except sqlite3.Error:
                    logger.exception("journal {}: rollback after a failed {} failed", self.path.name, what)
            if isinstance(exc, sqlite3.Error):
                raise self._wrap(what, exc) from exc
            raise

    def _wrap(self, what: str, exc: sqlite3.Error) -> JournalError:
        if is_corruption(exc):
            return corrupt_error(self.path, str(exc))
        unwritable = unwritable_error(self.path, what, exc)
        if unwritable is not None:
            return unwritable
        return JournalError(f"journal {self.path.name}: {what} failed ({exc})")

    # ---- writes --------------------------------------------------------------------------------------------

    def record_intent(
        self,
        intent: OrderIntent,
        *,
        position_id: str | None,
        reason: str = "",
        brackets: EntryBrackets | None = None,
    ) -> None:
        params = intent_params(intent, position_id, reason)
        with self._write(f"record_intent {intent.cl_ord_id}") as conn:
            row = conn.execute("SELECT * FROM orders WHERE cl_ord_id = ?", (intent.cl_ord_id,)).fetchone()
            if row is not None:
                # the reason is free text for people; everything else must match or the id is being reused
                changed = sorted(key for key in params if key != "reason" and row[key] != params[key])
                if changed:
                    raise JournalConflict(
                        f"cl_ord_id {intent.cl_ord_id} is already journaled with other {', '.join(changed)}; "
                        "a reused client order id could duplicate an order"
                    )
                return
            conn.execute(
                "INSERT INTO orders (cl_ord_id, symbol, side, order_type, qty, purpose, limit_price, trigger_price,"
                " post_only, intent_ts, position_id, reason, status, order_id, filled_qty, avg_price, updated_at,"
                " brackets) VALUES (:cl_ord_id, :symbol, :side, :order_type, :qty, :purpose, :limit_price,"
                " :trigger_price, :post_only, :intent_ts, :position_id, :reason, :status, NULL, '0', NULL,"
                " :intent_ts, :brackets)",
                {**params, "status": OrderStatus.CREATED.value, "brackets": brackets_text(brackets)},
            )

    def record_order_event(self, event: OrderEvent) -> None:
        """Append the event to the order's history and fold it into the order's current state.

        Events can arrive out of order (the private feed and a REST lookup race), so a terminal status is never
        replaced by a non-terminal one, the filled quantity never shrinks, and an event without a venue order id
        or an average price keeps the ones already known.
        """
        ts = ts_text(event.ts)
        filled = dec_text(event.filled_qty)
        avg = opt_dec_text(event.avg_price)
        with self._write(f"record_order_event {event.cl_ord_id}") as conn:
            row = conn.execute("SELECT * FROM orders WHERE cl_ord_id = ?", (event.cl_ord_id,)).fetchone()
            if row is None:
                raise UnknownOrder(
                    f"order event {event.status} for unknown cl_ord_id {event.cl_ord_id}; journal (or adopt) its "
                    "intent first"
                )
            inserted = conn.execute(
                "INSERT OR IGNORE INTO order_events (cl_ord_id, status, ts, order_id, filled_qty, avg_price, reason)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (event.cl_ord_id, event.status.value, ts, event.order_id, filled, avg, event.reason),
            ).rowcount
            if not inserted:
                return  # a replay: the event was folded in when it was first recorded
            status = event.status
            if OrderStatus(row["status"]).is_terminal and not status.is_terminal:
                status = OrderStatus(row["status"])
            conn.execute(
                "UPDATE orders SET status = ?, order_id = ?, filled_qty = ?, avg_price = ?, updated_at = ?"
                " WHERE cl_ord_id = ?",
                (
                    status.value,
                    event.order_id if event.order_id is not None else row["order_id"],
                    dec_text(max(text_dec(row["filled_qty"]), event.filled_qty)),
                    avg if avg is not None else row["avg_price"],
                    max(ts, row["updated_at"]),
                    event.cl_ord_id,
                ),
            )

    def record_amend(self, amended: OrderAmended) -> None:
        """Fold a confirmed amend into the order's current terms (the intent's columns keep what was sent)."""
        with self._write(f"record_amend {amended.cl_ord_id}") as conn:
            changed = conn.execute(
                "UPDATE orders SET amended_qty = COALESCE(?, amended_qty), amended_limit = COALESCE(?, amended_limit),"
                " amended_trigger = COALESCE(?, amended_trigger), updated_at = MAX(updated_at, ?) WHERE cl_ord_id = ?",
                (
                    opt_dec_text(amended.qty),
                    opt_dec_text(amended.limit_price),
                    opt_dec_text(amended.trigger_price),
                    ts_text(amended.ts),
                    amended.cl_ord_id,
                ),
            ).rowcount
            if not changed:
                raise UnknownOrder(
                    f"amend of unknown cl_ord_id {amended.cl_ord_id}; journal (or adopt) its intent first"
                )

    def record_fill(self, fill: Fill, *, backfilled: bool = False) -> bool:
        """Journal a fill; False when its fill_id is already journaled (the stored fill is kept).

        `backfilled`: the bot learnt of it from the venue's history (reconciliation), not from its live feed."""
        params = fill_params(fill)
        with self._write(f"record_fill {fill.fill_id}") as conn:
            inserted = conn.execute(
                "INSERT OR IGNORE INTO fills (fill_id, cl_ord_id, order_id, symbol, side, qty, price, fee,"
                " fee_currency, liquidity, ts, backfilled) VALUES (:fill_id, :cl_ord_id, :order_id, :symbol, :side,"
                " :qty, :price, :fee, :fee_currency, :liquidity, :ts, :backfilled)",
                {**params, "backfilled": int(backfilled)},
            ).rowcount
            if not inserted:
                row = conn.execute("SELECT * FROM fills WHERE fill_id = ?", (fill.fill_id,)).fetchone()
                if row is not None and {key: row[key] for key in params} != params:
                    logger.warning(
                        "journal: fill {} is already journaled with different content; keeping the first",
                        fill.fill_id,
                    )
        return bool(inserted)

    def open_position(self, position: Position) -> None:
        """Journal a new position with its initial stop (also the first entry of its stop history)."""
        params = {
            "position_id": position.position_id,
            "symbol": position.symbol,
            "side": position.side.value,
            "qty": dec_text(position.qty),
            "entry_price": dec_text(position.entry_price),
            "initial_stop": dec_text(position.initial_stop or position.stop_price),
            "take_profit": opt_dec_text(position.take_profit),
            "opened_at": ts_text(position.opened_at),
        }
        with self._write(f"open_position {position.position_id}") as conn:
            row = conn.execute("SELECT * FROM positions WHERE position_id = ?", (position.position_id,)).fetchone()
            if row is not None:
                changed = sorted(key for key in params if row[key] != params[key])
                if changed:
                    raise JournalConflict(
                        f"position {position.position_id} is already journaled with other {', '.join(changed)}"
                    )
                return
            conn.execute(
                "INSERT INTO positions (position_id, symbol, side, qty, entry_price, initial_stop, take_profit,"
                " opened_at, stop_price, stop_kind, stop_ts, stop_cl_ord_id) VALUES (:position_id, :symbol, :side,"
                " :qty, :entry_price, :initial_stop, :take_profit, :opened_at, :initial_stop, :kind, :opened_at,"
                " NULL)",
                {**params, "kind": StopKind.INITIAL.value},
            )
            conn.execute(
                "INSERT OR IGNORE INTO stops (position_id, ts, stop, kind, stop_cl_ord_id) VALUES (?, ?, ?, ?, NULL)",
                (position.position_id, params["opened_at"], params["initial_stop"], StopKind.INITIAL.value),
            )

    def update_stop(
        self, position_id: str, stop: Decimal, kind: StopKind, ts: datetime, stop_cl_ord_id: str | None
    ) -> None:
        """Add to the position's stop history; the newest entry by time is its current stop. The journal records
        stops, it does not judge them: the stop manager enforces that stops only tighten."""
        stop_text = dec_text(stop)  # refuses a float before anything is compared or written
        if stop <= 0:
            raise ValueError(f"stop {position_id}: must be positive, got {stop_text}")
        stamp = ts_text(ts)
        with self._write(f"update_stop {position_id}") as conn:
            if conn.execute("SELECT 1 FROM positions WHERE position_id = ?", (position_id,)).fetchone() is None:
                raise UnknownPosition(f"stop for unknown position {position_id}; open the position first")
            inserted = conn.execute(
                "INSERT OR IGNORE INTO stops (position_id, ts, stop, kind, stop_cl_ord_id) VALUES (?, ?, ?, ?, ?)",
                (position_id, stamp, stop_text, kind.value, stop_cl_ord_id),
            ).rowcount
            if inserted:
                # `stop_ts <= ?`: a late, older update goes into the history without replacing a newer stop
                conn.execute(
                    "UPDATE positions SET stop_price = ?, stop_kind = ?, stop_ts = ?, stop_cl_ord_id = ?"
                    " WHERE position_id = ? AND stop_ts <= ?",
                    (stop_text, kind.value, stamp, stop_cl_ord_id, position_id, stamp),
                )

    def update_position(self, position_id: str, qty: Decimal, entry_price: Decimal) -> None:
        """A scale-in or a partial exit: the open position's size and average entry."""
        params = (dec_text(qty), dec_text(entry_price), position_id)
        with self._write(f"update_position {position_id}") as conn:
            if conn.execute("SELECT 1 FROM positions WHERE position_id = ?", (position_id,)).fetchone() is None:
                raise UnknownPosition(f"update of unknown position {position_id}")
            conn.execute(
                "UPDATE positions SET qty = ?, entry_price = ? WHERE position_id = ? AND closed_at IS NULL", params
            )

    def close_position(self, position_id: str, ts: datetime, trade: ClosedTrade | None) -> bool:
        """Mark the position closed (the first close wins) and journal its round trip when there is one; a trade
        that arrives with a replayed close is still recorded. True if the trade was new (it belongs in the trade
        log then), False for a replay."""
        stamp = ts_text(ts)
        with self._write(f"close_position {position_id}") as conn:
            if conn.execute("SELECT 1 FROM positions WHERE position_id = ?", (position_id,)).fetchone() is None:
                raise UnknownPosition(f"close of unknown position {position_id}")
            conn.execute(
                "UPDATE positions SET closed_at = ? WHERE position_id = ? AND closed_at IS NULL", (stamp, position_id)
            )
            if trade is None:
                return False
            params = trade_params(trade, position_id)
            inserted = conn.execute(
                "INSERT OR IGNORE INTO closed_trades (trade_id, position_id, symbol, side, qty, entry_price,"
                " exit_price, fees, realized_pnl, opened_at, closed_at, initial_risk) VALUES (:trade_id,"
                " :position_id, :symbol, :side, :qty, :entry_price, :exit_price, :fees, :realized_pnl, :opened_at,"
                " :closed_at, :initial_risk)",
                params,
            ).rowcount
            conn.execute(
                "UPDATE positions SET trade_id = ?, realized_pnl = ? WHERE position_id = ? AND trade_id IS NULL",
                (trade.trade_id, params["realized_pnl"], position_id),
            )
            return bool(inserted)

    def save_state(self, key: str, value: Mapping[str, Any]) -> None:
        """Replace the state document under `key` (see `crocbot.store.codec.dumps_state` for what it may hold),
        stamped in the same transaction with the newest journaled fill (`state_fills_seq`): a document that follows
        the fills, like the ledger, then says which fills it has seen."""
        text = dumps_state(value)  # encoded before the transaction: a bad document leaves the old one in place
        with self._write(f"save_state {key}") as conn:
            conn.execute(
                "INSERT INTO state (key, value, fills_seq) VALUES (?, ?, (SELECT COALESCE(MAX(seq), 0) FROM fills))"
                " ON CONFLICT (key) DO UPDATE SET value = excluded.value, fills_seq = excluded.fills_seq",
                (key, text),
            )

    # ---- reads ---------------------------------------------------------------------------------------------

    def load_state(self, key: str) -> dict[str, Any] | None:
        row = self._conn.execute("SELECT value FROM state WHERE key = ?", (key,)).fetchone()
        return None if row is None else loads_state(row["value"])

    def state_fills_seq(self, key: str) -> int | None:
        """The seq of the newest fill journaled when the document under `key` was saved (0: none yet); None when
        there is no document, or it was saved before the journal stamped them (schema version 4)."""
        row = self._conn.execute("SELECT fills_seq FROM state WHERE key = ?", (key,)).fetchone()
        return None if row is None or row[0] is None else int(row[0])

    def order(self, cl_ord_id: str) -> JournalOrder | None:
        row = self._conn.execute("SELECT * FROM orders WHERE cl_ord_id = ?", (cl_ord_id,)).fetchone()
        return None if row is None else order_from_row(row)

    def open_orders(self) -> list[JournalOrder]:
        """Orders whose status is not terminal (UNKNOWN included: its outcome is still to be looked up)."""
        rows = self._conn.execute(
            f"SELECT * FROM orders WHERE {_NOT_TERMINAL_SQL} ORDER BY intent_ts, seq", _TERMINAL
        ).fetchall()
        return [order_from_row(row) for row in rows]

    def orders(self, *, since: datetime | None = None) -> list[JournalOrder]:
        """Orders whose intent was journaled at or after `since` (all when None), in intent order."""
        rows = self._conn.execute(
            "SELECT * FROM orders WHERE intent_ts >= ? ORDER BY intent_ts, seq", (_since(since),)
        ).fetchall()
        return [order_from_row(row) for row in rows]

    def order_events(self, cl_ord_id: str) -> list[OrderEvent]:
        """One order's event history in arrival order."""
        rows = self._conn.execute("SELECT * FROM order_events WHERE cl_ord_id = ? ORDER BY seq", (cl_ord_id,))
        return [event_from_row(row) for row in rows.fetchall()]

    def fills(self, *, since: datetime | None = None, symbol: str | None = None) -> list[Fill]:
        """Fills at or after `since`, for `symbol` when given, in fill time order, then in journal order."""
        sql = "SELECT * FROM fills WHERE ts >= ?"
        args: list[str] = [_since(since)]
        if symbol is not None:
            sql += " AND symbol = ?"
            args.append(symbol)
        rows = self._conn.execute(sql + " ORDER BY ts, seq", args).fetchall()
        return [fill_from_row(row) for row in rows]

    def last_fill_time(self) -> datetime | None:
        """The time of the latest fill journaled (None: none yet)."""
        row = self._conn.execute("SELECT MAX(ts) FROM fills").fetchone()
        return text_ts(row[0]) if row is not None and row[0] is not None else None

    def fill_ids(self) -> set[str]:
        return {row[0] for row in self._conn.execute("SELECT fill_id FROM fills").fetchall()}

    def has_fill(self, fill_id: str) -> bool:
        return self._conn.execute("SELECT 1 FROM fills WHERE fill_id = ?", (fill_id,)).fetchone() is not None

    def fill_ids_after(self, seq: int | None) -> list[str]:
        """Ids of the fills journaled after `seq` (all of them when None), in journal order."""
        rows = self._conn.execute("SELECT fill_id FROM fills WHERE seq > ? ORDER BY seq", (seq or 0,)).fetchall()
        return [row[0] for row in rows]

    def fills_named(self, fill_ids: Iterable[str]) -> list[Fill]:
        """The journaled fills among `fill_ids`, in fill time order, then in journal order."""
        wanted = json.dumps(sorted(set(fill_ids)))  # one parameter however many: SQLite caps their number
        rows = self._conn.execute(
            "SELECT * FROM fills WHERE fill_id IN (SELECT value FROM json_each(?)) ORDER BY ts, seq", (wanted,)
        ).fetchall()
        return [fill_from_row(row) for row in rows]

    def backfilled_fill_ids(self) -> set[str]:
        """Fills the bot learnt of from the venue's history (reconciliation) rather than its live feed."""
        rows = self._conn.execute("SELECT fill_id FROM fills WHERE backfilled = 1").fetchall()
        return {row[0] for row in rows}

    def open_positions(self) -> list[Position]:
        """Open positions with their current stop as `stop_price` (which may sit at or past the entry once the
        stop has moved to breakeven or a profit lock; see `journal_rows.position_with_stop`)."""
        rows = self._conn.execute("SELECT * FROM positions WHERE closed_at IS NULL ORDER BY opened_at, seq")
        return [position_from_row(row).as_position() for row in rows.fetchall()]

    def positions(self) -> list[JournalPosition]:
        rows = self._conn.execute("SELECT * FROM positions ORDER BY opened_at, seq").fetchall()
        return [position_from_row(row) for row in rows]

    def stops(self, position_id: str) -> list[tuple[datetime, Decimal, StopKind, str | None]]:
        """The position's stop history in time order (the initial stop first)."""
        rows = self._conn.execute(
            "SELECT ts, stop, kind, stop_cl_ord_id FROM stops WHERE position_id = ? ORDER BY ts, seq", (position_id,)
        ).fetchall()
        return [(text_ts(row[0]), text_dec(row[1]), StopKind(row[2]), row[3]) for row in rows]

    def closed_trades(self) -> list[ClosedTrade]:
        rows = self._conn.execute("SELECT * FROM closed_trades ORDER BY closed_at, seq").fetchall()
        return [trade_from_row(row) for row in rows]

    # ---- health --------------------------------------------------------------------------------------------

    def settings(self) -> dict[str, str | int]:
        """What this connection actually runs with, for health reports and tests (SQLite can silently keep a
        different journal mode)."""
        conn = self._conn
        return {
            "journal_mode": str(conn.execute("PRAGMA journal_mode").fetchone()[0]),
            "synchronous": int(conn.execute("PRAGMA synchronous").fetchone()[0]),  # 2 is FULL
            "foreign_keys": int(conn.execute("PRAGMA foreign_keys").fetchone()[0]),
            "schema_version": schema_version(conn),
        }

    def integrity_ok(self) -> bool:
        """SQLite's quick_check over the whole file (O(size); meant for start-up and occasional checks)."""
        try:
            return not quick_check(self._conn)
        except sqlite3.DatabaseError:
            return False

    def backup(self, target: Path) -> None:
        """Copy the journal to `target` with SQLite's online backup API and verify the copy; a copy that fails
        verification never replaces `target` (see `journal_integrity.backup_verified`)."""
        backup_verified(self._conn, self.path, target)


def _since(since: datetime | None) -> str:
    # every stored time is later than the empty string, so '' selects everything
    return "" if since is None else ts_text(since)
