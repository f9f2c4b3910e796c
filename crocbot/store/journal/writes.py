"""The journal's writes. Each is one durable transaction, or a part of the open batch's (`Connection.batch`).

Every write is keyed (cl_ord_id, fill_id, position_id, …): replaying a write after a restart or a retried message
is a no-op. A key that comes back with different content (an intent reusing a cl_ord_id) is refused with
`JournalConflict`, because acting on it could duplicate an order.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
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
from crocbot.store.codec import dec_text, dumps_state, opt_dec_text, text_dec, ts_text
from crocbot.store.journal.connection import Connection
from crocbot.store.journal.integrity import JournalConflict, UnknownOrder, UnknownPosition
from crocbot.store.journal.rows import brackets_text, fill_params, intent_params, trade_params

__all__ = ["Writes"]


class Writes(Connection):
    """The write methods of `Journal`."""

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
