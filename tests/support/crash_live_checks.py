"""The live crash harness's invariants, judged on the simulator's own records (`crocbot sim --records`).

The bot writes its journal and trade log; the simulator writes what it received and did (`crocbot.sim.records`).
`SimBook` folds those records, read incrementally as they grow, into the exchange's side: every order it accepted
(and the last state of each, from its executions), every fill, every nonce, every rate-limit error, every fault
served. A `LiveSnapshot` is the journal read first (`crash_checks.read_snapshot`), then the records: the simulator
writes a record before the bot can hear of what it says, so read after the journal they are never behind it.

The invariants, each as plain sentences with the evidence, by the letters of the paper harness
(`tests.support.crash_checks`, whose journal-side checks are reused as they are):
- (a) every fill on the simulator is journaled and in the trade log, and nothing else is;
- (b) no client order id was accepted twice, no position got two entries, every order the simulator accepted has
  a journaled intent with the same order id, and no symbol has two live stops;
- (c) every open position, and every holding on the simulator (from its fills), has a live stop there;
- (d) the ledger booked the journaled fills, its realised P&L is the trade log's FIFO P&L and the simulator's
  fills' FIFO P&L;
- (e) no rate-limit error was earned, no nonce was refused, and each start's first nonce is above the last one
  of the start before.
"""

from __future__ import annotations

import itertools
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from crocbot.core.instrument import Instrument
from crocbot.core.ledger import Ledger
from crocbot.kraken.jsontext import loads
from tests.support.crash_checks import (
    Snapshot,
    few,
    fills_invariant,
    orders_invariant,
    pnl_invariant,
    read_snapshot,
    stops_invariant,
)
from tests.support.e2e import fifo_realized

__all__ = ["SimBook", "LiveSnapshot", "read_live_snapshot", "check_live", "live_stops", "LIVE_INVARIANTS"]

LIVE_INVARIANTS = ("a", "b", "c", "d", "e")
_OPEN = frozenset({"pending_new", "new", "partially_filled"})
RATE_LIMITED = "Rate limit exceeded"


@dataclass
class SimBook:
    """The simulator's records, folded; `update()` reads what was appended since the last call."""

    path: Path
    starting: Mapping[str, Decimal]
    orders: dict[str, dict[str, Any]] = field(default_factory=dict)  # order id -> its last state (exec rows)
    fills: dict[str, dict[str, Any]] = field(default_factory=dict)  # exec id -> the trade row, in order
    accepted: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))  # cl_ord_id -> order ids
    nonces: list[tuple[int, int, bool]] = field(default_factory=list)  # (record seq, nonce, accepted)
    rate_limited: list[str] = field(default_factory=list)
    faults: Counter[str] = field(default_factory=Counter)
    requests: Counter[str] = field(default_factory=Counter)  # "add ws accepted", ...
    seq: int = 0  # the last record read
    _offset: int = 0

    def update(self) -> None:
        if not self.path.is_file():
            return
        with self.path.open("rb") as file:
            file.seek(self._offset)
            chunk = file.read()
        end = chunk.rfind(b"\n") + 1  # a line still being written waits for the next read
        self._offset += end
        for line in chunk[:end].splitlines():
            self._fold(loads(line))

    def _fold(self, record: dict[str, Any]) -> None:
        self.seq = int(record["seq"])
        kind = record["kind"]
        if kind == "exec":
            order_id = str(record["order_id"])
            row = self.orders.setdefault(order_id, {"order_id": order_id})
            row.update(
                symbol=record["symbol"],
                cl_ord_id=record.get("cl_ord_id"),
                side=record["side"],
                order_type=record["order_type"],
                qty=record["order_qty"],
                cum_qty=record["cum_qty"],
                status=record["order_status"],
            )
            if record["exec_type"] == "trade":
                self.fills[str(record["exec_id"])] = record
        elif kind == "order":
            outcome = "accepted" if record["accepted"] else "refused"
            self.requests[f"{record['method']} {record['via'] or '-'} {outcome}"] += 1
            if not record["accepted"] and RATE_LIMITED in str(record.get("error")):
                self.rate_limited.append(f"{record['method']} {record.get('cl_ord_id')}: {record['error']}")
            if record["method"] == "add" and record["accepted"] and not record.get("validate"):
                self.accepted[str(record.get("cl_ord_id"))].append(str(record.get("order_id")))
        elif kind == "nonce":
            self.nonces.append((self.seq, int(record["nonce"]), bool(record["accepted"])))
        elif kind == "refusal" and RATE_LIMITED in str(record.get("error")):
            self.rate_limited.append(f"{record['method']}: {record['error']}")
        elif kind == "fault":
            self.faults[str(record["fault"])] += int(record.get("n", 1))

    def open_orders(self) -> list[dict[str, Any]]:
        return [dict(row) for row in self.orders.values() if row["status"] in _OPEN]

    def balances(self, instruments: Mapping[str, Instrument]) -> dict[str, Decimal]:
        """The starting balances moved by every fill on the simulator."""
        out = dict(self.starting)
        for fill in self.fills.values():
            instrument = instruments[fill["symbol"]]
            sign = 1 if fill["side"] == "buy" else -1
            out[instrument.base] = out.get(instrument.base, Decimal(0)) + sign * fill["last_qty"]
            out[instrument.quote] = out.get(instrument.quote, Decimal(0)) - sign * fill["cost"]
            out[fill["fee_asset"]] = out.get(fill["fee_asset"], Decimal(0)) - fill["fee"]
        return out

    def fill_records(self) -> list[dict[str, Any]]:
        """The simulator's fills in the trade log's shape, for `fifo_realized`."""
        return [
            {
                "symbol": f["symbol"],
                "side": f["side"],
                "qty": f["last_qty"],
                "price": f["last_price"],
                "fee": f["fee"],
                "fee_currency": f["fee_asset"],
            }
            for f in self.fills.values()
        ]


@dataclass
class LiveSnapshot(Snapshot):
    sim: SimBook | None = None
    instruments: Mapping[str, Instrument] = field(default_factory=dict)

    def venue_open_orders(self) -> list[dict[str, Any]]:
        return self.sim.open_orders() if self.sim is not None else []

    def venue_balances(self) -> dict[str, Decimal]:
        return self.sim.balances(self.instruments) if self.sim is not None else {}


def read_live_snapshot(
    state_dir: Path, log_dir: Path, sim: SimBook, instruments: Mapping[str, Instrument]
) -> LiveSnapshot | None:
    """The journal and trade log, then the records (never behind the journal); None before the first journal."""
    journal = read_snapshot(state_dir, log_dir)
    if journal is None:
        return None
    sim.update()
    fields = {name: getattr(journal, name) for name in Snapshot.__dataclass_fields__}
    return LiveSnapshot(**fields, sim=sim, instruments=instruments)


# -- the invariants ---------------------------------------------------------------------------------------------


def sim_fills_invariant(snap: LiveSnapshot) -> list[str]:
    """(a) The simulator's fills = the journal's fills (the journal = the trade log: `fills_invariant`)."""
    assert snap.sim is not None
    out = fills_invariant(snap, {}, snap.instruments)  # no paper account: the journal against the trade log
    venue, journal = set(snap.sim.fills), set(snap.fills)
    if venue - journal:
        out.append(f"(a) {len(venue - journal)} fills on the simulator are not journaled: {few(venue - journal)}")
    if journal - venue:
        out.append(f"(a) {len(journal - venue)} journaled fills the simulator never made: {few(journal - venue)}")
    return out


def sim_orders_invariant(snap: LiveSnapshot) -> list[str]:
    """(b) Nothing sent twice, nothing on the simulator without a journaled intent, one live stop per symbol."""
    assert snap.sim is not None
    out = orders_invariant(snap)  # journal ids, the open orders' intents, stops per symbol
    twice = {cl: ids for cl, ids in snap.sim.accepted.items() if len(ids) > 1}
    if twice:
        out.append(
            f"(b) client order ids the simulator accepted more than once: {few(f'{k} {v}' for k, v in twice.items())}"
        )
    entries: dict[str, list[str]] = defaultdict(list)
    for cl_ord_id, ids in snap.sim.accepted.items():
        row = snap.orders.get(cl_ord_id)
        if row is None:
            out.append(f"(b) the simulator accepted {cl_ord_id} ({ids}), which has no journaled intent")
            continue
        if row["order_id"] and row["order_id"] not in ids:
            out.append(f"(b) {cl_ord_id} is simulator order {ids}, the journal says {row['order_id']}")
        if row["purpose"] == "entry" and row["position_id"]:
            entries[row["position_id"]].append(cl_ord_id)
    doubled = {p: ids for p, ids in entries.items() if len(ids) > 1}
    if doubled:
        out.append(f"(b) positions entered by more than one order: {few(f'{k} {v}' for k, v in doubled.items())}")
    return out


def sim_pnl_invariant(snap: LiveSnapshot) -> list[str]:
    """(d) `pnl_invariant`, and the ledger's realised P&L against a FIFO recomputation from the simulator's fills."""
    assert snap.sim is not None
    out = pnl_invariant(snap)
    if snap.ledger is None:
        return out if not snap.sim.fills else [*out, f"(d) {len(snap.sim.fills)} fills on the simulator, no ledger"]
    try:
        fifo = fifo_realized(snap.sim.fill_records())
    except AssertionError as error:
        return [*out, f"(d) the simulator's fills cannot be recomputed FIFO: {error}"]
    realized = Ledger.from_state(snap.ledger).realized()
    if fifo != realized:
        out.append(f"(d) ledger realised {realized:f} != FIFO from the simulator's fills {fifo:f}")
    return out


def venue_rules_invariant(snap: LiveSnapshot, starts: Sequence[int]) -> list[str]:
    """(e) No rate-limit error earned, no nonce refused, and each start's nonces above those of the start before
    (`starts`: the records' seq when each start began)."""
    assert snap.sim is not None
    out: list[str] = []
    if snap.sim.rate_limited:
        out.append(f"(e) {len(snap.sim.rate_limited)} rate-limit errors earned: {few(snap.sim.rate_limited, 3)}")
    refused = [n for _, n, ok in snap.sim.nonces if not ok]
    if refused:
        out.append(f"(e) {len(refused)} nonces refused by the simulator: {few(map(str, refused), 3)}")
    bounds = [*starts, snap.sim.seq + 1]
    last_before: int | None = None
    for index, (begin, end) in enumerate(itertools.pairwise(bounds)):
        mine = [n for seq, n, ok in snap.sim.nonces if begin <= seq < end and ok]
        if mine and last_before is not None and mine[0] <= last_before:
            out.append(f"(e) start {index}'s first nonce {mine[0]} is not above the last before it, {last_before}")
        if mine:
            last_before = max(mine)
    return out


def check_live(snap: LiveSnapshot, starts: Sequence[int]) -> dict[str, list[str]]:
    return {
        "a": sim_fills_invariant(snap),
        "b": sim_orders_invariant(snap),
        "c": stops_invariant(snap, snap.instruments),
        "d": sim_pnl_invariant(snap),
        "e": venue_rules_invariant(snap, starts),
    }


def live_stops(snap: LiveSnapshot) -> list[str]:
    return stops_invariant(snap, snap.instruments)
