"""The ledger's saved state does not grow with the fills booked, and still books each fill exactly once: a recent
replay by itself, an older one on the journal's word, the fills a crash kept from its last save once the restore
names them (`settle`); a version-1 state, which listed every fill id and closed trade, loads and migrates."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from crocbot.core.ledger import RECENT_FILLS, Ledger
from crocbot.core.messages import Fill, Liquidity, Side

D = Decimal
T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def fill(n: int, side: Side | None = None, price: str = "100") -> Fill:
    """Fill `n` of a run of round trips in BTC/USD: even ones buy 1, odd ones sell it."""
    side = side or (Side.BUY if n % 2 == 0 else Side.SELL)
    return Fill(f"F{n}", f"c{n}", f"O{n}", "BTC/USD", side, D(1), D(price), D("0.4"), "USD", Liquidity.TAKER, T0)


def booked(fills: int) -> Ledger:
    ledger = Ledger(cash=D(10_000))
    for n in range(fills):
        ledger.apply(fill(n, price="100" if n % 2 == 0 else "101"))
    return ledger


def state_size(ledger: Ledger) -> int:
    return len(json.dumps(ledger.to_state()))


def test_the_state_stays_the_same_size_however_many_fills_are_booked() -> None:
    # ids of the same length on both sides: F1000..F1199 and F100000..F100199 would differ by two characters each
    short, long = booked(2 * RECENT_FILLS), booked(20 * RECENT_FILLS)

    assert state_size(long) <= state_size(short) + 2 * RECENT_FILLS  # the ids grow by a digit, the state does not
    assert long.fills_booked == 20 * RECENT_FILLS
    assert long.realized() == 10 * RECENT_FILLS * (D(1) - D("0.8"))  # each round trip: +1, fees 0.8
    assert long.cash == long.start_cash + long.realized()


def test_a_recent_replay_is_ignored_and_an_older_one_is_recognised_by_the_journals_word() -> None:
    ledger = booked(RECENT_FILLS + 2)
    recent, old = fill(RECENT_FILLS + 1), fill(0)
    before = ledger.to_state()

    assert ledger.apply(recent) is None
    assert ledger.to_state() == before
    assert ledger.booked(recent.fill_id, journaled=False)
    assert not ledger.has_fill(old.fill_id)  # out of the recent window: the journal says it held it
    assert ledger.booked(old.fill_id, journaled=True)
    assert not ledger.booked(fill(RECENT_FILLS + 2).fill_id, journaled=False)  # news


def test_fills_journaled_after_the_last_save_are_named_unbooked_until_booked_even_across_a_restart() -> None:
    ledger = booked(2)
    saved = json.loads(json.dumps(ledger.to_state()))  # a crash: F2 and F3 journaled, never booked or saved
    restored = Ledger.from_state(saved)

    assert restored.settle(["F2", "F3"]) == ("F2", "F3")
    assert restored.unbooked() == {"F2", "F3"}
    assert not restored.booked("F2", journaled=True)  # the journal held it, yet the books lack it
    again = Ledger.from_state(json.loads(json.dumps(restored.to_state())))  # restarted before booking them
    assert again.settle([]) == ()
    assert again.unbooked() == {"F2", "F3"}
    again.apply(fill(2))
    assert again.unbooked() == {"F3"}
    assert again.booked("F2", journaled=True)
    assert again.to_state()["unbooked_fills"] == ["F3"]


def test_a_fill_booked_before_the_journal_took_it_is_not_named_unbooked() -> None:
    ledger = booked(3)  # F2 was booked while the journal refused writes; it took F2 after the ledger's save

    assert ledger.settle(["F2", "F3"]) == ("F3",)
    assert ledger.unbooked() == {"F3"}


def version_1(ledger: Ledger, fill_ids: list[str]) -> dict[str, Any]:
    """What the ledger saved before version 2: every fill id, and every closed trade."""
    state = {k: v for k, v in ledger.to_state().items() if k not in ("fills_booked", "recent_fills", "unbooked_fills")}
    trade = {
        "trade_id": "BTC/USD:F0",
        "symbol": "BTC/USD",
        "side": "long",
        "qty": "1",
        "entry_price": "100",
        "exit_price": "101",
        "fees": "0.8",
        "realized_pnl": "0.2",
        "opened_at": T0.isoformat(),
        "closed_at": T0.isoformat(),
        "initial_risk": None,
    }
    return state | {"version": 1, "fill_ids": sorted(fill_ids), "closed_trades": [trade]}


def test_a_version_1_state_loads_and_settles_its_fill_ids_against_the_journal() -> None:
    books = booked(3)  # F0, F1 round trip; F2 open
    old = version_1(books, ["F0", "F1", "F2", "X9"])  # X9: booked while the journal refused writes, never journaled
    ledger = Ledger.from_state(json.loads(json.dumps(old)))

    assert (ledger.cash, ledger.realized(), ledger.position("BTC/USD")) == (books.cash, books.realized(), D(1))
    assert ledger.fills_booked == 4
    assert ledger.has_fill("F0")
    with pytest.raises(ValueError, match="settled with the journal"):
        ledger.to_state()  # saved now, it would lose the fills the journal holds and the ledger lacks

    assert ledger.settle(["F0", "F1", "F2", "F3"]) == ("F3",)  # all the journal holds: the state has no stamp

    state = ledger.to_state()
    assert state["version"] == 2
    assert "fill_ids" not in state
    assert "closed_trades" not in state
    assert set(state["recent_fills"]) == {"F0", "F1", "F2", "X9"}
    assert state["unbooked_fills"] == ["F3"]
    assert ledger.apply(fill(1)) is None  # a replay of a fill the version-1 state booked
    assert ledger.booked("X9", journaled=False)  # reconciliation brings it back from the trade log: not again
    ledger.apply(fill(3))
    assert ledger.position("BTC/USD") == 0
    assert ledger.fills_booked == 5


def test_a_version_1_state_keeps_only_the_newest_journaled_fills_as_recent() -> None:
    ids = [f"F{n}" for n in range(3 * RECENT_FILLS)]
    ledger = Ledger.from_state(version_1(Ledger(cash=D(10_000)), ids))

    assert ledger.settle(ids) == ()
    assert ledger.to_state()["recent_fills"] == ids[-RECENT_FILLS:]
    assert ledger.booked("F0", journaled=True)


@pytest.mark.parametrize(
    "change",
    [
        {"fills_booked": -1},
        {"fills_booked": True},
        {"recent_fills": "F1"},
        {"unbooked_fills": [1]},
    ],
)
def test_from_state_refuses_malformed_fill_records(change: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="malformed"):
        Ledger.from_state(Ledger(cash=D(100)).to_state() | change)
