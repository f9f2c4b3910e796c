"""The crash harness's invariant checks catch each kind of damage a kill can leave, and pass consistent records:
a checker that never fails would make every crash trial pass."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from crocbot.core.ledger import Ledger
from crocbot.core.messages import Fill, Liquidity, Side
from crocbot.sim.catalog import DEFAULT_INSTRUMENTS
from tests.support.crash_checks import Snapshot, check_all

INSTRUMENTS = {i.symbol: i for i in DEFAULT_INSTRUMENTS if i.symbol in ("BTC/USD", "ETH/USD")}
STARTING = {"USD": Decimal(10_000)}
TS = datetime(2026, 1, 5, 15, 0, tzinfo=UTC)


def _fill(fill_id: str, cl_ord_id: str, side: Side, qty: str, price: str, fee: str) -> Fill:
    order_id, money = "O-" + cl_ord_id, (Decimal(qty), Decimal(price), Decimal(fee))
    return Fill(fill_id, cl_ord_id, order_id, "ETH/USD", side, *money, "USD", Liquidity.TAKER, TS)


def _row(fill: Fill, seq: int) -> dict[str, Any]:
    return {
        "seq": seq,
        "fill_id": fill.fill_id,
        "cl_ord_id": fill.cl_ord_id,
        "order_id": fill.order_id,
        "symbol": fill.symbol,
        "side": fill.side.value,
        "qty": format(fill.qty, "f"),
        "price": format(fill.price, "f"),
        "fee": format(fill.fee, "f"),
        "fee_currency": fill.fee_currency,
        "ts": fill.ts.isoformat(),
    }


def _logged(fill: Fill) -> dict[str, Any]:
    return {"type": "fill", **_row(fill, 0), "qty": fill.qty, "price": fill.price, "fee": fill.fee, "ts": fill.ts}


def _order(cl_ord_id: str, order_type: str, side: str, qty: str, *, closed: bool = False) -> dict[str, Any]:
    return {
        "order_id": "O-" + cl_ord_id,
        "cl_ord_id": cl_ord_id,
        "instrument": "ETH/USD",
        "order_type": order_type,
        "side": side,
        "qty": qty,
        "cum_qty": qty if closed else "0",
        "trade_ids": [],
    }


def consistent() -> Snapshot:
    """A round trip in ETH (bought 2, sold 1) and one ETH still held under a live stop, in agreement everywhere."""
    buy = _fill("T1", "entry1", Side.BUY, "2", "3000", "24")
    sell = _fill("T2", "exit1", Side.SELL, "1", "3100", "12.4")
    ledger = Ledger(quote="USD", cash=Decimal(10_000))
    ledger.apply(buy)
    ledger.apply(sell)
    return Snapshot(
        fills={f.fill_id: _row(f, seq) for seq, f in enumerate((buy, sell), start=1)},
        orders={
            cl: {"cl_ord_id": cl, "order_id": "O-" + cl} for cl in ("entry1", "exit1", "stop1")
        },  # the intents (only the columns the checks read)
        venue_ids={cl: {"O-" + cl} for cl in ("entry1", "exit1", "stop1")},
        open_positions=[{"position_id": "p1", "symbol": "ETH/USD", "qty": "1", "stop_cl_ord_id": "stop1"}],
        paper={
            "balances": {"ETH": "1", "USD": format(Decimal(10_000) - 6000 - 24 + 3100 - Decimal("12.4"), "f")},
            "ids": {"trade_id": 2},
            "seq": 3,
            "open_orders": [_order("stop1", "stop-loss", "sell", "1")],
            "recent": {
                "fills": [{"exec_id": "T1"}, {"exec_id": "T2"}],
                "closed_orders": [_order("entry1", "market", "buy", "2", closed=True)],
            },
        },
        ledger=ledger.to_state(),
        ledger_fills_seq=2,  # saved after both fills were journaled
        logged={f.fill_id: _logged(f) for f in (buy, sell)},
        logged_in_order=[_logged(buy), _logged(sell)],
    )


def _broken(snap: Snapshot) -> dict[str, list[str]]:
    return {k: v for k, v in check_all(snap, STARTING, INSTRUMENTS).items() if v}


def test_consistent_records_pass_every_invariant() -> None:
    assert _broken(consistent()) == {}


def test_a_fill_the_venue_saved_but_the_journal_never_heard_of_is_caught_three_ways() -> None:
    snap = consistent()
    assert snap.paper is not None
    snap.paper["ids"]["trade_id"] = 3
    snap.paper["balances"]["ETH"] = "1.5"
    snap.paper["recent"]["fills"].append({"exec_id": "T3"})

    found = " ".join(_broken(snap)["a"])

    assert "recent fills the journal lacks: T3" in found
    assert "the venue booked 3 fills and the journal holds 2" in found
    assert "ETH venue 1.5 vs journal 1" in found


def test_a_journaled_fill_missing_from_the_trade_log_breaks_a() -> None:
    snap = consistent()
    del snap.logged["T2"]

    assert any("not in the trade log: T2" in v for v in _broken(snap)["a"])


def test_one_client_order_id_on_two_venue_orders_and_an_order_without_intent_break_b() -> None:
    snap = consistent()
    assert snap.paper is not None
    snap.venue_ids["entry1"].add("O-other")
    again = _order("entry1", "market", "buy", "2", closed=True) | {"order_id": "X"}
    snap.paper["recent"]["closed_orders"].append(again)
    snap.paper["open_orders"].append(_order("ghost", "limit", "buy", "1"))

    found = " ".join(_broken(snap)["b"])

    assert "entry1 -> ['O-entry1', 'O-other']" in found
    assert "on two venue orders (open or recently closed): entry1" in found
    assert "O-ghost (ghost, ETH/USD) has no journaled intent" in found


def test_a_live_stop_sent_for_the_position_covers_it_even_if_the_position_row_does_not_name_it() -> None:
    snap = consistent()
    snap.open_positions[0] = {**snap.open_positions[0], "stop_cl_ord_id": None}
    snap.orders["stop1"] = {**snap.orders["stop1"], "position_id": "p1"}

    assert _broken(snap) == {}


def test_two_live_stops_for_one_position_break_b() -> None:
    snap = consistent()
    assert snap.paper is not None
    snap.orders["stop2"] = {"cl_ord_id": "stop2", "order_id": "O-stop2"}
    snap.paper["open_orders"].append(_order("stop2", "stop-loss", "sell", "1"))

    assert any("2 live stops on ETH/USD" in v for v in _broken(snap)["b"])


@pytest.mark.parametrize("damage", ["no stop order", "holding without a position"])
def test_an_unprotected_position_or_holding_breaks_c(damage: str) -> None:
    snap = consistent()
    assert snap.paper is not None
    if damage == "no stop order":
        snap.paper["open_orders"] = []
    else:
        snap.open_positions = []
        snap.paper["open_orders"] = []

    found = " ".join(_broken(snap)["c"])

    if damage == "no stop order":
        assert "open position p1 (ETH/USD 1) has no live stop covering it" in found
    assert "the venue holds 1 ETH, of which 1 is not covered by a live stop" in found


def test_a_fill_the_ledger_never_booked_breaks_d_with_the_pnl_difference() -> None:
    snap = consistent()
    ledger = Ledger(quote="USD", cash=Decimal(10_000))
    ledger.apply(_fill("T1", "entry1", Side.BUY, "2", "3000", "24"))
    snap.ledger, snap.ledger_fills_seq = copy.deepcopy(ledger.to_state()), 1  # saved before T2 was journaled

    found = " ".join(_broken(snap)["d"])

    assert "1 journaled fills the ledger never booked: T2" in found
    assert "the ledger booked 1 fills and the journal holds 2" in found
    assert "ledger realised -24 != FIFO from the trade log 63.6" in found


def test_a_journaled_fill_the_ledger_names_unbooked_breaks_d() -> None:
    snap = consistent()
    assert snap.ledger is not None
    snap.ledger["unbooked_fills"] = ["T2"]  # as the restore left it, before reconciliation booked it

    assert any("journaled fills the ledger never booked: T2" in v for v in _broken(snap)["d"])


def test_a_fill_booked_twice_or_booked_and_never_journaled_breaks_d() -> None:
    snap = consistent()
    assert snap.ledger is not None
    snap.ledger["fills_booked"] = 3
    snap.ledger["recent_fills"].append("T9")

    found = " ".join(_broken(snap)["d"])

    assert "the ledger booked 3 fills and the journal holds 2" in found
    assert "1 fills booked by the ledger are not journaled: T9" in found
