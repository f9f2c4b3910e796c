"""The capital-safety invariants of the crash harness, judged from the files a bot leaves behind.

A `Snapshot` is one consistent read of a state directory and a log directory: the journal through a read-only
SQLite connection in one read transaction (orders, order events, fills, open positions, and the router's ledger),
then the paper account's own file (the venue's truth in paper mode; saved before the router hears of a fill, so
read after the journal it is never behind it), then the trade log (and its fallback file). The journal is read
first, so every fill it holds has had its trade-log line written unless persistence was between the two writes at
that instant. Reading never changes the files: a read-only connection
neither writes nor checkpoints the WAL, so the next start sees exactly what the killed process left.

Each invariant returns its violations as plain sentences with the evidence (ids, counts, amounts):

- (a) `fills`: the venue's fills are all journaled and in the trade log, and nothing else is. The paper account
  keeps only the last minutes of its history (see `matching.persist`), so "every fill of the venue" is judged four
  ways: its recent fills are journaled, its fill counter equals the number of journaled fills, its balances equal
  the starting balances moved by every journaled fill, and the fills of its open orders are journaled.
- (b) `orders`: no client order id was sent twice or became two venue orders, the venue holds no order the
  journal has no intent for, and no position has two live protective stops.
- (c) `stops`: every open position, and every holding on the venue, is covered by a live stop order there.
- (d) `pnl`: the ledger booked exactly the journaled fills, and its realised P&L equals a FIFO recomputation from
  the trade log (`tests.support.e2e.fifo_realized`). The ledger's state names only its recent fills: what it
  booked is every fill journaled up to the stamp it was saved with (`Journal.state_fills_seq`) but those it names
  unbooked, and its count of fills booked is the journal's (a fill booked twice, or booked and never journaled,
  makes it larger).
"""

from __future__ import annotations

import sqlite3
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from crocbot.app import JOURNAL_FILE, TRADE_LOG_FILE
from crocbot.core.desk import LEDGER_KEY
from crocbot.core.instrument import Instrument
from crocbot.core.ledger import Ledger
from crocbot.store.codec import loads_state
from crocbot.store.paper_account import PAPER_ACCOUNT_FILE, PAPER_ACCOUNT_KEY
from crocbot.store.tradelog import TradeLog
from tests.support.e2e import fifo_realized

__all__ = ["Snapshot", "read_snapshot", "INVARIANTS", "check_all", "few"]

STOP_TYPES = frozenset({"stop-loss", "stop-loss-limit"})
INVARIANTS = ("a", "b", "c", "d")
_BUSY_TIMEOUT = 5.0  # seconds; a WAL reader only waits while the writer recovers the WAL index


@dataclass
class Snapshot:
    fills: dict[str, Mapping[str, Any]] = field(default_factory=dict)  # journal fills by fill_id
    orders: dict[str, Mapping[str, Any]] = field(default_factory=dict)  # journal orders (intents) by cl_ord_id
    venue_ids: dict[str, set[str]] = field(default_factory=dict)  # cl_ord_id -> venue order ids seen anywhere
    open_positions: list[Mapping[str, Any]] = field(default_factory=list)
    paper: dict[str, Any] | None = None
    ledger: dict[str, Any] | None = None
    ledger_fills_seq: int | None = None  # the journal's newest fill when the ledger was saved
    logged: dict[str, dict[str, Any]] = field(default_factory=dict)  # trade-log fill records by fill_id
    logged_in_order: list[dict[str, Any]] = field(default_factory=list)
    logged_twice: list[str] = field(default_factory=list)
    torn_lines: tuple[int, ...] = ()

    @property
    def venue_fill_count(self) -> int | None:
        return int(self.paper["ids"]["trade_id"]) if self.paper is not None else None

    def venue_open_orders(self) -> list[dict[str, Any]]:
        """The paper account's open orders; each names its symbol as `instrument` (`crocbot.matching.persist`)."""
        if self.paper is None:
            return []
        return [{"symbol": row.get("instrument"), **row} for row in self.paper["open_orders"]]

    def venue_recent(self) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """The fills and closed orders of the last minutes that the paper account keeps (state version 2 on)."""
        recent = (self.paper or {}).get("recent") or {}
        closed = [{"symbol": row.get("instrument"), **row} for row in recent.get("closed_orders") or ()]
        return list(recent.get("fills") or ()), closed

    def venue_balances(self) -> dict[str, Decimal]:
        if self.paper is None:
            return {}
        return {asset: Decimal(amount) for asset, amount in self.paper["balances"].items()}


def read_snapshot(state_dir: Path, log_dir: Path) -> Snapshot | None:
    """One consistent read of the bot's records; None before the first start made a journal."""
    path = state_dir / JOURNAL_FILE
    if not path.is_file():
        return None
    snap = Snapshot()
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=_BUSY_TIMEOUT, isolation_level=None)
    try:
        conn.row_factory = sqlite3.Row
        conn.execute("BEGIN")  # one read transaction: every table as of the same commit
        snap.fills = {row["fill_id"]: dict(row) for row in conn.execute("SELECT * FROM fills ORDER BY ts, seq")}
        intents = conn.execute("SELECT * FROM orders ORDER BY intent_ts, seq")
        snap.orders = {row["cl_ord_id"]: dict(row) for row in intents}
        ids: dict[str, set[str]] = defaultdict(set)
        for sql in (
            "SELECT cl_ord_id, order_id FROM orders",
            "SELECT cl_ord_id, order_id FROM order_events",
            "SELECT cl_ord_id, order_id FROM fills",
        ):
            for cl_ord_id, order_id in conn.execute(sql):
                if order_id:
                    ids[cl_ord_id].add(order_id)
        snap.venue_ids = dict(ids)
        snap.open_positions = [dict(row) for row in conn.execute("SELECT * FROM positions WHERE closed_at IS NULL")]
        rows = conn.execute("SELECT key, value, fills_seq FROM state").fetchall()
        conn.execute("COMMIT")
    finally:
        conn.close()
    snap.paper = _read_paper_account(state_dir / PAPER_ACCOUNT_FILE)  # after the journal: never behind it
    for key, value, stamp in rows:
        if key == LEDGER_KEY:
            snap.ledger, snap.ledger_fills_seq = loads_state(value), stamp
    _read_trade_log(snap, log_dir / TRADE_LOG_FILE)
    return snap


def _read_paper_account(path: Path) -> dict[str, Any] | None:
    if not path.is_file():
        return None
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=_BUSY_TIMEOUT, isolation_level=None)
    try:
        row = conn.execute("SELECT value FROM state WHERE key = ?", (PAPER_ACCOUNT_KEY,)).fetchone()
    finally:
        conn.close()
    return loads_state(row[0]) if row is not None else None


def _read_trade_log(snap: Snapshot, path: Path) -> None:
    fallback = path.with_name(path.stem + ".fallback.jsonl")
    torn: list[int] = []
    for file in (path, fallback):
        if not file.is_file():
            continue
        records = TradeLog.read(file)
        torn += records.torn_lines
        for record in records:
            if record.get("type") != "fill":
                continue
            if record["fill_id"] in snap.logged:
                snap.logged_twice.append(record["fill_id"])
                continue
            snap.logged[record["fill_id"]] = record
            snap.logged_in_order.append(record)
    snap.torn_lines = tuple(torn)


# -- the invariants ---------------------------------------------------------------------------------------------


def fills_invariant(
    snap: Snapshot, starting: Mapping[str, Decimal], instruments: Mapping[str, Instrument]
) -> list[str]:
    """(a) The venue's fills = the journal's fills = the trade log's fills."""
    out: list[str] = []
    journal, logged = set(snap.fills), set(snap.logged)
    if journal - logged:
        out.append(f"(a) {len(journal - logged)} journaled fills are not in the trade log: {few(journal - logged)}")
    if logged - journal:
        out.append(f"(a) {len(logged - journal)} trade-log fills are not journaled: {few(logged - journal)}")
    if snap.logged_twice:
        out.append(f"(a) fills logged twice in the trade log: {few(snap.logged_twice)}")
    if snap.torn_lines:
        out.append(f"(a) torn trade-log lines {list(snap.torn_lines)}")
    if snap.paper is None:
        return out
    recent, _ = snap.venue_recent()  # the fills of the last minutes, named outright
    venue = {str(item["exec_id"]) for item in recent}
    if venue - journal:
        out.append(f"(a) the venue has {len(venue - journal)} recent fills the journal lacks: {few(venue - journal)}")
    count = snap.venue_fill_count
    if count is not None and count != len(journal):
        gap = count - len(journal)
        what = f"has {gap} fills the journal lacks" if gap > 0 else f"has {-gap} fewer fills than the journal"
        out.append(f"(a) the venue booked {count} fills and the journal holds {len(journal)}: the venue {what}")
    expected = _balances_after(starting, snap.fills.values(), instruments)
    actual = snap.venue_balances()
    wrong = {
        asset: (expected.get(asset, Decimal(0)), actual.get(asset, Decimal(0)))
        for asset in set(expected) | set(actual)
        if expected.get(asset, Decimal(0)) != actual.get(asset, Decimal(0))
    }
    if wrong:
        text = ", ".join(f"{a} venue {v:f} vs journal {e:f}" for a, (e, v) in sorted(wrong.items()))
        out.append(f"(a) the venue's balances are not the starting balances moved by the journaled fills: {text}")
    unjournaled = [
        tid for order in snap.venue_open_orders() for tid in order.get("trade_ids") or () if tid not in journal
    ]
    if unjournaled:
        out.append(f"(a) fills of open venue orders that the journal lacks: {few(unjournaled)}")
    return out


def _balances_after(
    starting: Mapping[str, Decimal], fills: Iterable[Mapping[str, Any]], instruments: Mapping[str, Instrument]
) -> dict[str, Decimal]:
    balances = dict(starting)
    for fill in fills:
        instrument = instruments[fill["symbol"]]
        qty, cost, fee = Decimal(fill["qty"]), Decimal(fill["qty"]) * Decimal(fill["price"]), Decimal(fill["fee"])
        sign = 1 if fill["side"] == "buy" else -1
        balances[instrument.base] = balances.get(instrument.base, Decimal(0)) + sign * qty
        balances[instrument.quote] = balances.get(instrument.quote, Decimal(0)) - sign * cost
        balances[fill["fee_currency"]] = balances.get(fill["fee_currency"], Decimal(0)) - fee
    return balances


def orders_invariant(snap: Snapshot) -> list[str]:
    """(b) No order sent twice, no client order id on two venue orders, no venue order without an intent."""
    out: list[str] = []
    doubled = {cl: sorted(ids) for cl, ids in snap.venue_ids.items() if len(ids) > 1}
    if doubled:
        out.append(
            f"(b) client order ids on more than one venue order: {few(f'{k} -> {v}' for k, v in doubled.items())}"
        )
    venue = snap.venue_open_orders()
    known = venue + snap.venue_recent()[1]  # open, and closed in the last minutes
    repeated = [cl for cl, n in Counter(o.get("cl_ord_id") for o in known).items() if n > 1]
    if repeated:
        out.append(f"(b) client order ids on two venue orders (open or recently closed): {few(map(str, repeated))}")
    for order in known:
        cl = order.get("cl_ord_id")
        row = snap.orders.get(cl) if cl is not None else None
        if row is None:
            out.append(f"(b) venue order {order['order_id']} ({cl}, {order['symbol']}) has no journaled intent")
        elif row["order_id"] and row["order_id"] != order["order_id"]:
            out.append(f"(b) {cl} is venue order {order['order_id']}, the journal says {row['order_id']}")
    if snap.paper is not None and int(snap.paper["seq"]) > len(snap.orders):
        out.append(
            f"(b) the venue accepted {snap.paper['seq']} orders but only {len(snap.orders)} intents are journaled"
        )
    stops: dict[str, list[str]] = defaultdict(list)
    for order in venue:
        if order["order_type"] in STOP_TYPES and order["side"] == "sell":
            stops[order["symbol"]].append(str(order.get("cl_ord_id")))
    for symbol, ids in sorted(stops.items()):
        if len(ids) > 1:
            out.append(f"(b) {len(ids)} live stops on {symbol} (one position per symbol): {', '.join(ids)}")
    return out


def stops_invariant(snap: Snapshot, instruments: Mapping[str, Instrument]) -> list[str]:
    """(c) Every open position, and every venue holding above the minimum order size, has a live stop."""
    out: list[str] = []
    venue = snap.venue_open_orders()
    live = {o.get("cl_ord_id"): o for o in venue if o["order_type"] in STOP_TYPES and o["side"] == "sell"}
    covered: dict[str, Decimal] = defaultdict(Decimal)
    for order in live.values():
        covered[order["symbol"]] += Decimal(order["qty"]) - Decimal(order["cum_qty"])
    for position in snap.open_positions:
        # Its stop: the one the position names, or a live stop whose journaled intent was sent for it (the position
        # row names its stop only once one is recorded for it; a restart adopts a live stop by its intent).
        mine = [
            order
            for cl, order in live.items()
            if cl == position["stop_cl_ord_id"]
            or (cl in snap.orders and snap.orders[cl].get("position_id") == position["position_id"])
        ]
        remaining = sum((Decimal(o["qty"]) - Decimal(o["cum_qty"]) for o in mine), Decimal(0))
        if remaining < Decimal(position["qty"]):
            on_symbol = [str(o.get("cl_ord_id")) for o in live.values() if o["symbol"] == position["symbol"]]
            out.append(
                f"(c) open position {position['position_id']} ({position['symbol']} {position['qty']}) has no live "
                f"stop covering it: the journal names {position['stop_cl_ord_id']}, its live stops cover "
                f"{remaining:f}, live stops on the symbol: {on_symbol or 'none'}"
            )
    held = {i.base: i for i in instruments.values()}
    for asset, amount in sorted(snap.venue_balances().items()):
        instrument = held.get(asset)
        if instrument is None or amount <= 0:
            continue
        bare = amount - covered[instrument.symbol]
        if bare >= instrument.qty_min:
            out.append(
                f"(c) the venue holds {amount:f} {asset}, of which {bare:f} is not covered by a live stop "
                f"(journal positions on {instrument.symbol}: "
                f"{[p['position_id'] for p in snap.open_positions if p['symbol'] == instrument.symbol] or 'none'})"
            )
    return out


def pnl_invariant(snap: Snapshot) -> list[str]:
    """(d) The ledger booked the journaled fills, and its realised P&L is the trade log's FIFO P&L."""
    if snap.ledger is None:
        return [] if not snap.logged else [f"(d) {len(snap.logged)} fills logged but no ledger saved"]
    out: list[str] = []
    ledger = Ledger.from_state(snap.ledger)
    stamp = snap.ledger_fills_seq if snap.ledger_fills_seq is not None else -1
    seen = {fill_id for fill_id, row in snap.fills.items() if row["seq"] <= stamp}
    never = set(snap.fills) - (seen - ledger.unbooked())
    if never:
        out.append(f"(d) {len(never)} journaled fills the ledger never booked: {few(never)}")
    if ledger.fills_booked != len(snap.fills):
        out.append(
            f"(d) the ledger booked {ledger.fills_booked} fills and the journal holds {len(snap.fills)}: a fill booked "
            "twice, or booked and not journaled"
        )
    stray = set(snap.ledger["recent_fills"]) - set(snap.fills)
    if stray:
        out.append(f"(d) {len(stray)} fills booked by the ledger are not journaled: {few(stray)}")
    records = sorted(snap.logged_in_order, key=lambda r: r["ts"])
    try:
        fifo = fifo_realized(records)
    except AssertionError as error:
        return [*out, f"(d) the trade log cannot be recomputed FIFO: {error}"]
    if fifo != ledger.realized():
        out.append(f"(d) ledger realised {ledger.realized():f} != FIFO from the trade log {fifo:f}")
    return out


def check_all(
    snap: Snapshot, starting: Mapping[str, Decimal], instruments: Mapping[str, Instrument]
) -> dict[str, list[str]]:
    return {
        "a": fills_invariant(snap, starting, instruments),
        "b": orders_invariant(snap),
        "c": stops_invariant(snap, instruments),
        "d": pnl_invariant(snap),
    }


def few(items: Iterable[str], shown: int = 5) -> str:
    listed = sorted(items)
    more = f" and {len(listed) - shown} more" if len(listed) > shown else ""
    return ", ".join(listed[:shown]) + more
