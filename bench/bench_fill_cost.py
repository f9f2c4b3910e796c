"""What booking one fill costs the journal after 100 past fills and after 100,000, measured side by side in one run.

crocbot is meant to run for months, so the journal work the router pays per fill must not grow with the history
behind it. The path timed here is the router's for one fill, through the real `Journal` on disk (a temp dir, WAL,
`synchronous=FULL`): the fill journaled (`record_fill`), booked in the ledger, the position record (opened by an
entry fill, closed with its round trip by an exit fill), and the ledger and risk state documents saved.

Each history is a journal and a ledger that have booked that many fills (round trips of BTC/USD, so half as many
positions and closed trades). The ledger books every past fill through `Ledger.apply`; the journal's tables are
filled in one SQL transaction with the journal's own row encoders (through its API each fill would cost a durable
commit, and the point is the cost at that history size, not the cost of getting there). Rounds alternate between
the two histories, so machine noise hits both alike; the verdict is the ratio of the median per-fill times.

Aim: at most 1.5x as much per fill at 100,000 past fills as at 100.
Run: `make bench` or `python bench/bench_fill_cost.py [--rounds 10 --fills 10 --large 100000]`.
"""

from __future__ import annotations

import argparse
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from crocbot.core.ledger import Ledger
from crocbot.core.messages import ClosedTrade, Fill, Liquidity, Position, PositionSide, Side
from crocbot.core.risk import RiskState
from crocbot.store.codec import dec_text, ts_text
from crocbot.store.journal import Journal
from crocbot.store.journal.rows import fill_params, trade_params

AIM = 1.5
SYMBOL = "BTC/USD"
T0 = datetime(2026, 1, 5, tzinfo=UTC)
QTY, BUY_AT, SELL_AT, FEE = Decimal("0.01"), Decimal("40000"), Decimal("40100"), Decimal("1.6")


def _fill(n: int) -> Fill:
    """Fill number `n` of an endless run of round trips: even numbers buy, odd ones sell what was bought."""
    side = Side.BUY if n % 2 == 0 else Side.SELL
    price = BUY_AT if side is Side.BUY else SELL_AT
    # 19 characters, like Kraken's trade ids (TCCCTY-WE2O6-P3NB37)
    return Fill(
        f"T{n:06d}-BENCH-{n % 997:06d}",
        f"cb{'e' if side is Side.BUY else 'x'}{n:013d}",
        f"O{n:06d}-BENCH-000000",
        SYMBOL,
        side,
        QTY,
        price,
        FEE,
        "USD",
        Liquidity.TAKER,
        T0 + timedelta(seconds=30 * n),
    )


def _position(fill: Fill) -> Position:
    return Position(f"p{fill.cl_ord_id[3:]}", SYMBOL, PositionSide.LONG, fill.qty, fill.price, BUY_AT - 400, fill.ts)


class History:
    """A journal on disk and the ledger that booked its fills; `book()` books the next fill the way the router
    does and returns the seconds it took."""

    def __init__(self, root: Path, past: int) -> None:
        self.past = past
        self.ledger = Ledger(cash=Decimal(10_000_000))
        self.risk = RiskState().to_state()
        self.position_id = ""
        path = root / f"journal-{past}.sqlite3"
        Journal(path).close()  # the schema, as crocbot creates it
        self._seed(path)
        self.journal = Journal(path)
        self.journal.save_state("ledger", self.ledger.to_state())
        self.next = past

    def _seed(self, path: Path) -> None:
        fills, positions, trades = [], [], []
        for n in range(self.past):
            fill = _fill(n)
            trade = self.ledger.apply(fill)
            fills.append({**fill_params(fill), "backfilled": 0})
            if fill.side is Side.BUY:
                positions.append(self._position_row(fill))
            elif trade is not None:
                positions[-1] |= {"closed_at": ts_text(fill.ts), "trade_id": trade.trade_id}
                positions[-1]["realized_pnl"] = dec_text(trade.realized_pnl)
                trades.append(trade_params(trade, positions[-1]["position_id"]))
        conn = sqlite3.connect(path, isolation_level=None)
        try:
            conn.execute("BEGIN")
            conn.executemany(
                "INSERT INTO fills (fill_id, cl_ord_id, order_id, symbol, side, qty, price, fee, fee_currency,"
                " liquidity, ts, backfilled) VALUES (:fill_id, :cl_ord_id, :order_id, :symbol, :side, :qty, :price,"
                " :fee, :fee_currency, :liquidity, :ts, :backfilled)",
                fills,
            )
            conn.executemany(
                "INSERT INTO positions (position_id, symbol, side, qty, entry_price, initial_stop, take_profit,"
                " opened_at, stop_price, stop_kind, stop_ts, stop_cl_ord_id, closed_at, trade_id, realized_pnl)"
                " VALUES (:position_id, :symbol, :side, :qty, :entry_price, :initial_stop, NULL, :opened_at,"
                " :initial_stop, 'initial', :opened_at, NULL, :closed_at, :trade_id, :realized_pnl)",
                positions,
            )
            conn.executemany(
                "INSERT INTO stops (position_id, ts, stop, kind, stop_cl_ord_id) VALUES (:position_id, :opened_at,"
                " :initial_stop, 'initial', NULL)",
                positions,
            )
            conn.executemany(
                "INSERT INTO closed_trades (trade_id, position_id, symbol, side, qty, entry_price, exit_price, fees,"
                " realized_pnl, opened_at, closed_at, initial_risk) VALUES (:trade_id, :position_id, :symbol, :side,"
                " :qty, :entry_price, :exit_price, :fees, :realized_pnl, :opened_at, :closed_at, :initial_risk)",
                trades,
            )
            conn.execute("COMMIT")
        finally:
            conn.close()

    @staticmethod
    def _position_row(fill: Fill) -> dict[str, str | None]:
        position = _position(fill)
        return {
            "position_id": position.position_id,
            "symbol": SYMBOL,
            "side": position.side.value,
            "qty": dec_text(position.qty),
            "entry_price": dec_text(position.entry_price),
            "initial_stop": dec_text(position.stop_price),
            "opened_at": ts_text(position.opened_at),
            "closed_at": None,
            "trade_id": None,
            "realized_pnl": None,
        }

    def book(self) -> float:
        fill = _fill(self.next)
        self.next += 1
        journal = self.journal
        started = time.perf_counter()
        journal.record_fill(fill)  # RecordFill, before the desk hears of it
        trade: ClosedTrade | None = self.ledger.apply(fill)
        if fill.side is Side.BUY:
            position = _position(fill)
            self.position_id = position.position_id
            journal.open_position(position)  # RecordPositionOpened
        else:
            journal.close_position(self.position_id, fill.ts, trade)  # RecordPositionClosed with the round trip
        journal.save_state("ledger", self.ledger.to_state())  # the desk's saves after every fill
        journal.save_state("risk", self.risk)
        return time.perf_counter() - started

    def close(self) -> None:
        self.journal.close()


def _rounds(small: History, large: History, rounds: int, fills: int) -> Iterator[tuple[list[float], list[float]]]:
    for _ in range(rounds):
        yield [small.book() for _ in range(fills)], [large.book() for _ in range(fills)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--small", type=int, default=100, help="past fills of the baseline history")
    parser.add_argument("--large", type=int, default=100_000, help="past fills of the long history")
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--fills", type=int, default=10, help="fills booked per history and round (even: whole trades)")
    parser.add_argument("--dir", type=Path, default=None, help="where the temp dir goes (default: the system's)")
    parser.add_argument("--check", action="store_true", help=f"exit 1 if the ratio exceeds {AIM}")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="crocbot-bench-", dir=args.dir) as tmp:
        started = time.perf_counter()
        small, large = History(Path(tmp), args.small), History(Path(tmp), args.large)
        seeded = time.perf_counter() - started
        try:
            small.book(), large.book()  # warm-up: the first write after opening pays for the page cache
            per_small: list[float] = []
            per_large: list[float] = []
            for a, b in _rounds(small, large, args.rounds, args.fills):
                per_small += a
                per_large += b
            ledger_bytes = {h.past: len(str(h.ledger.to_state())) for h in (small, large)}
        finally:
            small.close()
            large.close()

    med = statistics.median
    ratio = med(per_large) / med(per_small)
    n = args.rounds * args.fills
    print(f"journal cost of booking one fill: {n} fills per history in {args.rounds} alternating rounds")
    print(f"(histories seeded in {seeded:.1f} s; journal on disk, WAL, synchronous=FULL)")
    print(f"{'past fills':>12}{'median ms':>12}{'p90 ms':>10}{'ledger doc, chars':>20}")
    for past, samples in ((args.small, per_small), (args.large, per_large)):
        p90 = sorted(samples)[int(0.9 * (len(samples) - 1))]
        print(f"{past:>12,}{med(samples) * 1e3:>12.2f}{p90 * 1e3:>10.2f}{ledger_bytes[past]:>20,}")
    verdict = "within" if ratio <= AIM else "ABOVE"
    print(f"ratio {args.large:,} / {args.small:,} past fills: {ratio:.2f}x; aim at most {AIM}x: {verdict} aim")
    return 1 if args.check and ratio > AIM else 0


if __name__ == "__main__":
    sys.exit(main())
