"""The journal's reads: what it hands back is rebuilt through the message constructors (see `rows`)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from typing import Any

from crocbot.core.journaled import JournaledOrder, JournaledPosition
from crocbot.core.messages import ClosedTrade, Fill, OrderEvent, OrderStatus, Position, StopKind
from crocbot.store.codec import loads_state, text_dec, text_ts, ts_text
from crocbot.store.journal.connection import Connection
from crocbot.store.journal.rows import (
    event_from_row,
    fill_from_row,
    order_from_row,
    position_from_row,
    trade_from_row,
)

__all__ = ["Reads"]

_TERMINAL = tuple(status.value for status in OrderStatus if status.is_terminal)
_NOT_TERMINAL_SQL = f"status NOT IN ({', '.join('?' * len(_TERMINAL))})"


class Reads(Connection):
    """The read methods of `Journal`; none of them writes."""

    def load_state(self, key: str) -> dict[str, Any] | None:
        row = self._conn.execute("SELECT value FROM state WHERE key = ?", (key,)).fetchone()
        return None if row is None else loads_state(row["value"])

    def state_fills_seq(self, key: str) -> int | None:
        """The seq of the newest fill journaled when the document under `key` was saved (0: none yet); None when
        there is no document, or it was saved before the journal stamped them (schema version 4)."""
        row = self._conn.execute("SELECT fills_seq FROM state WHERE key = ?", (key,)).fetchone()
        return None if row is None or row[0] is None else int(row[0])

    def order(self, cl_ord_id: str) -> JournaledOrder | None:
        row = self._conn.execute("SELECT * FROM orders WHERE cl_ord_id = ?", (cl_ord_id,)).fetchone()
        return None if row is None else order_from_row(row)

    def open_orders(self) -> list[JournaledOrder]:
        """Orders whose status is not terminal (UNKNOWN included: its outcome is still to be looked up)."""
        rows = self._conn.execute(
            f"SELECT * FROM orders WHERE {_NOT_TERMINAL_SQL} ORDER BY intent_ts, seq", _TERMINAL
        ).fetchall()
        return [order_from_row(row) for row in rows]

    def orders(self, *, since: datetime | None = None) -> list[JournaledOrder]:
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
        stop has moved to breakeven or a profit lock; see `rows.position_with_stop`)."""
        rows = self._conn.execute("SELECT * FROM positions WHERE closed_at IS NULL ORDER BY opened_at, seq")
        return [position_from_row(row).as_position() for row in rows.fetchall()]

    def positions(self) -> list[JournaledPosition]:
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


def _since(since: datetime | None) -> str:
    # every stored time is later than the empty string, so '' selects everything
    return "" if since is None else ts_text(since)
