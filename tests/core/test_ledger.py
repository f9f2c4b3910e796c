"""The ledger books fills FIFO with Kraken's fee rules: its cash and base match an exchange account, its realized
P&L matches an independent FIFO, replays change nothing, and its state survives a JSON round trip without growing
with the fills booked (a version-1 state, which listed them all, still loads)."""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crocbot.core.ledger import Ledger
from crocbot.core.messages import Fill, Liquidity, PositionSide, Side

D = Decimal
T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
CENT = D("0.01")
_ids = itertools.count(1)


def fill(
    side: Side,
    qty: str | Decimal,
    price: str | Decimal,
    fee: str | Decimal = "0",
    fee_currency: str = "USD",
    *,
    symbol: str = "BTC/USD",
    ts: datetime = T0,
    fill_id: str | None = None,
) -> Fill:
    return Fill(
        fill_id=fill_id or f"T{next(_ids)}",
        cl_ord_id="c1",
        order_id="O1",
        symbol=symbol,
        side=side,
        qty=D(qty),
        price=D(price),
        fee=D(fee),
        fee_currency=fee_currency,
        liquidity=Liquidity.TAKER,
        ts=ts,
    )


def cents(value: Decimal) -> Decimal:
    return value.quantize(CENT)


# -- worked example ------------------------------------------------------------------------------------------


def test_fifo_partial_closes_across_lots_with_fees_in_quote_and_in_base() -> None:
    ledger = Ledger(cash=D("10000"))
    assert ledger.apply(fill(Side.BUY, "1.0", "100", "0.40", "USD")) is None  # lot 1.0 @ 100
    assert ledger.apply(fill(Side.BUY, "2.0", "110", "0.008", "BTC")) is None  # fcib: lot 1.992 @ 110
    assert ledger.position("BTC/USD") == D("2.992")
    assert ledger.cash == D("10000") - D("100") - D("0.40") - D("220")
    assert ledger.realized() == D("-1.28")  # 0.40 + 0.008 BTC at 110

    # 1.5 closes lot 1 (+20) and half a unit of lot 2 (+5); the 0.72 USD fee is realized too.
    assert ledger.apply(fill(Side.SELL, "1.5", "120", "0.72", "USD")) is None
    assert ledger.realized("BTC/USD") == D("23.00")
    assert ledger.position("BTC/USD") == D("1.492")
    assert ledger.average_entry("BTC/USD") == D("110")

    # Kraken's default sell: the 0.004 BTC fee comes on top of the 1.488 sold, which empties the position.
    closed = ledger.apply(fill(Side.SELL, "1.488", "105", "0.004", "BTC", ts=T0 + timedelta(hours=2)))
    assert closed is not None
    assert ledger.position("BTC/USD") == 0
    assert ledger.average_entry("BTC/USD") is None
    assert ledger.realized() == D("15.12")  # 25 - 7.46 (1.492 at 105 against 110) - 2.42 fees
    assert ledger.cash == D("10015.12")  # flat again: realized is exactly the cash gained
    assert closed.side is PositionSide.LONG
    assert closed.qty == D("2.992")
    assert closed.fees == D("2.42")  # 0.40 + 0.88 + 0.72 + 0.42, base fees at their fill price
    assert closed.realized_pnl == D("15.12")
    assert closed.entry_price == D("319.12") / D("2.992")
    assert closed.exit_price == D("336.66") / D("2.992")
    assert closed.opened_at == T0
    assert closed.closed_at == T0 + timedelta(hours=2)


def test_trade_ids_name_the_symbol_and_the_first_fill_of_the_position() -> None:
    ledger = Ledger(cash=D("1000"))
    ledger.apply(fill(Side.BUY, "1", "10", fill_id="A1"))
    ledger.apply(fill(Side.BUY, "1", "11", fill_id="A2"))
    assert ledger.trade_id("BTC/USD") == "BTC/USD:A1"
    closed = ledger.apply(fill(Side.SELL, "2", "12", fill_id="A3"))
    assert closed is not None
    assert closed.trade_id == "BTC/USD:A1"


def test_a_replayed_fill_is_ignored() -> None:
    ledger = Ledger(cash=D("1000"))
    buy = fill(Side.BUY, "1", "100", "0.4")
    sell = fill(Side.SELL, "1", "110", "0.44")
    assert ledger.apply(buy) is None
    assert ledger.apply(buy) is None
    first = ledger.apply(sell)
    assert first is not None
    snapshot = ledger.to_state()
    assert ledger.apply(sell) is None
    assert ledger.apply(buy) is None
    assert ledger.to_state() == snapshot
    assert ledger.has_fill(buy.fill_id)
    assert ledger.fills_booked == 2


def test_closed_trade_carries_the_r_multiple_of_the_registered_initial_risk() -> None:
    ledger = Ledger(cash=D("10000"))
    ledger.apply(fill(Side.BUY, "10", "100", "4"))
    ledger.register_initial_risk("BTC/USD", D("25"))
    closed = ledger.apply(fill(Side.SELL, "10", "106", "4.24"))
    assert closed is not None
    assert closed.realized_pnl == D("51.76")
    assert closed.initial_risk == D("25")
    assert closed.r_multiple == D("51.76") / D("25")


def test_initial_risk_needs_an_open_position_and_a_positive_amount() -> None:
    ledger = Ledger(cash=D("1000"))
    with pytest.raises(ValueError, match="no open position"):
        ledger.register_initial_risk("BTC/USD", D("5"))
    ledger.apply(fill(Side.BUY, "1", "100"))
    with pytest.raises(ValueError, match="positive"):
        ledger.register_initial_risk("BTC/USD", D("0"))


def test_equity_is_cash_plus_positions_at_the_marks_and_ties_out_with_realized_and_unrealized() -> None:
    ledger = Ledger(cash=D("5000"))
    ledger.apply(fill(Side.BUY, "2", "100", "0.8"))
    ledger.apply(fill(Side.BUY, "1", "50", "0.2", symbol="ETH/USD"))
    marks = {"BTC/USD": D("103.5"), "ETH/USD": D("48")}
    assert ledger.cash == D("5000") - D("200.8") - D("50.2")
    assert ledger.unrealized(marks) == D("7") - D("2")
    assert ledger.equity(marks) == D("4749") + D("207") + D("48")
    assert ledger.equity(marks) == ledger.start_cash + ledger.realized() + ledger.unrealized(marks)
    with pytest.raises(ValueError, match="no mark for ETH/USD"):
        ledger.equity({"BTC/USD": D("100")})


def test_state_round_trips_through_json_mid_position_and_continues_identically() -> None:
    fills = [
        fill(Side.BUY, "1.0", "100", "0.40", "USD"),
        fill(Side.BUY, "2.0", "110", "0.008", "BTC"),
        fill(Side.BUY, "3", "20", "0.2", "USD", symbol="ETH/USD"),
        fill(Side.SELL, "1.5", "120", "0.72", "USD"),
    ]
    rest = [
        fill(Side.SELL, "1.488", "105", "0.004", "BTC", ts=T0 + timedelta(days=1)),
        fill(Side.SELL, "3", "21", "0.21", "USD", symbol="ETH/USD", ts=T0 + timedelta(days=1)),
    ]
    straight = Ledger(cash=D("10000"))
    for f in fills:
        straight.apply(f)
    straight.register_initial_risk("BTC/USD", D("12"))
    restored = Ledger.from_state(json.loads(json.dumps(straight.to_state())))
    assert restored.to_state() == straight.to_state()
    assert restored.average_entry("BTC/USD") == D("110")
    assert restored.apply(fills[1]) is None  # the replay after a restart is still recognised
    results = [(straight.apply(f), restored.apply(f)) for f in rest]
    for expected, got in results:
        assert got == expected
    assert restored.to_state() == straight.to_state()
    btc = next(got for _, got in results if got is not None and got.symbol == "BTC/USD")
    assert btc.initial_risk == D("12")


def test_from_state_refuses_an_unknown_version_or_a_malformed_state() -> None:
    good = Ledger(cash=D("100")).to_state()
    with pytest.raises(ValueError, match="version"):
        Ledger.from_state({**good, "version": 99})
    with pytest.raises(ValueError, match="malformed"):
        Ledger.from_state({k: v for k, v in good.items() if k != "cash"})
    with pytest.raises(ValueError, match="floats are not money"):
        Ledger.from_state({**good, "cash": 100.0})


def test_fills_the_ledger_cannot_value_are_refused_without_changing_it() -> None:
    ledger = Ledger(cash=D("100"))
    before = ledger.to_state()
    with pytest.raises(ValueError, match="quoted in EUR"):
        ledger.apply(fill(Side.BUY, "1", "10", symbol="BTC/EUR", fee_currency="EUR"))
    with pytest.raises(ValueError, match="neither BTC nor USD"):
        ledger.apply(fill(Side.BUY, "1", "10", "1", "KFEE"))
    with pytest.raises(ValueError, match="leaves nothing"):
        ledger.apply(fill(Side.BUY, "1", "10", "1", "BTC"))
    assert ledger.to_state() == before


def test_legacy_asset_names_in_the_fee_currency_are_understood() -> None:
    ledger = Ledger(quote="ZUSD", cash=D("1000"))
    ledger.apply(fill(Side.BUY, "1", "100", "0.01", "XXBT"))
    assert ledger.position("BTC/USD") == D("0.99")
    assert ledger.quote == "USD"


def test_shorts_mirror_longs_and_a_fill_through_zero_flips_the_position() -> None:
    ledger = Ledger(cash=D("1000"))
    ledger.apply(fill(Side.SELL, "2", "100", "0.8", fill_id="S1"))
    assert ledger.position("BTC/USD") == D("-2")
    assert ledger.side("BTC/USD") is PositionSide.SHORT
    assert ledger.unrealized({"BTC/USD": D("90")}) == D("20")
    closed = ledger.apply(fill(Side.BUY, "3", "90", "1.08", fill_id="B1"))  # covers 2, goes long 1
    assert closed is not None
    assert closed.side is PositionSide.SHORT
    assert closed.qty == D("2")
    assert closed.fees == D("1.88")  # the whole fee of the flipping fill goes to the trade it closed
    assert closed.realized_pnl == D("20") - D("1.88")
    assert ledger.position("BTC/USD") == D("1")
    assert ledger.trade_id("BTC/USD") == "BTC/USD:B1"
    assert ledger.average_entry("BTC/USD") == D("90")
    assert ledger.cash == D("1000") + D("200") - D("0.8") - D("270") - D("1.08")


# -- property: an independent FIFO and an exchange account agree with the ledger ----------------------------


@dataclass(frozen=True)
class Spec:
    symbol: str
    side: Side
    qty: Decimal
    price: Decimal
    rate: Decimal
    fee_in_base: bool
    gap_minutes: int
    replay: bool


specs = st.builds(
    Spec,
    symbol=st.sampled_from(["BTC/USD", "ETH/USD"]),
    side=st.sampled_from([Side.BUY, Side.BUY, Side.SELL]),
    qty=st.decimals(min_value=D("0.0001"), max_value=D("5"), places=4),
    price=st.decimals(min_value=D("1"), max_value=D("1000"), places=2),
    rate=st.sampled_from([D(0), D("0.0025"), D("0.004")]),
    fee_in_base=st.booleans(),
    gap_minutes=st.integers(min_value=0, max_value=600),
    replay=st.booleans(),
)


def build_fills(rows: list[Spec]) -> list[Fill]:
    """Turn specs into fills in time order; a `replay` row re-sends the previous fill instead."""
    out: list[Fill] = []
    ts = T0
    for n, row in enumerate(rows):
        if row.replay and out:
            out.append(out[-1])
            continue
        ts += timedelta(minutes=row.gap_minutes)
        base = row.symbol.split("/")[0]
        fee = (row.qty * row.rate if row.fee_in_base else row.qty * row.price * row.rate).quantize(D("1e-8"))
        currency = base if row.fee_in_base else "USD"
        out.append(fill(row.side, row.qty, row.price, fee, currency, symbol=row.symbol, ts=ts, fill_id=f"P{n}"))
    return out


def naive_fifo(fills: list[Fill]) -> tuple[Decimal, dict[str, Decimal], int]:
    """Realized P&L, per-symbol realized, and the number of round trips, from signed lots matched oldest first."""
    seen: set[str] = set()
    lots: dict[str, list[list[Decimal]]] = {}
    realized: dict[str, Decimal] = {}
    round_trips = 0
    for f in fills:
        if f.fill_id in seen:
            continue
        seen.add(f.fill_id)
        in_base = f.fee_currency == f.symbol.split("/")[0]
        fee_value = f.fee * f.price if in_base else f.fee
        base_fee = f.fee if in_base else D(0)
        delta = f.qty - base_fee if f.side is Side.BUY else -(f.qty + base_fee)
        pnl = -fee_value
        book = lots.setdefault(f.symbol, [])
        was_open = bool(book)
        while delta != 0 and book and (book[0][0] > 0) != (delta > 0):
            lot = book[0]
            sign = 1 if lot[0] > 0 else -1
            take = min(abs(delta), abs(lot[0]))
            pnl += sign * (f.price - lot[1]) * take
            lot[0] -= sign * take
            delta += sign * take
            if lot[0] == 0:
                book.pop(0)
        if was_open and not book:
            round_trips += 1
        if delta != 0:
            book.append([delta, f.price])
        realized[f.symbol] = realized.get(f.symbol, D(0)) + pnl
    return sum(realized.values(), D(0)), realized, round_trips


def exchange_balances(fills: list[Fill], cash: Decimal) -> dict[str, Decimal]:
    """What a Kraken account shows: trade legs at price, then each fee taken from the asset it is charged in."""
    seen: set[str] = set()
    balances: dict[str, Decimal] = {"USD": cash}
    for f in fills:
        if f.fill_id in seen:
            continue
        seen.add(f.fill_id)
        base = f.symbol.split("/")[0]
        sign = 1 if f.side is Side.BUY else -1
        balances[base] = balances.get(base, D(0)) + sign * f.qty
        balances["USD"] -= sign * f.qty * f.price
        balances[f.fee_currency] = balances.get(f.fee_currency, D(0)) - f.fee
    return balances


@settings(max_examples=150, deadline=None)
@given(rows=st.lists(specs, min_size=1, max_size=40), marks=st.tuples(st.integers(1, 2000), st.integers(1, 2000)))
def test_random_fills_agree_with_a_naive_fifo_and_an_exchange_account(rows: list[Spec], marks: tuple[int, int]) -> None:
    fills = build_fills(rows)
    ledger = Ledger(cash=D("100000"))
    closed = [t for f in fills if (t := ledger.apply(f)) is not None]

    total, per_symbol, round_trips = naive_fifo(fills)
    assert cents(ledger.realized()) == cents(total)
    for symbol, pnl in per_symbol.items():
        assert cents(ledger.realized(symbol)) == cents(pnl)
    assert len(closed) == round_trips

    balances = exchange_balances(fills, D("100000"))
    assert ledger.cash == balances["USD"]
    for symbol in ("BTC/USD", "ETH/USD"):
        assert ledger.position(symbol) == balances.get(symbol.split("/")[0], D(0))

    prices = {"BTC/USD": D(marks[0]), "ETH/USD": D(marks[1])}
    assert ledger.equity(prices) == ledger.start_cash + ledger.realized() + ledger.unrealized(prices)
    for symbol in ("BTC/USD", "ETH/USD"):
        if ledger.position(symbol) == 0:  # a flat symbol has realized exactly its trades' P&L
            assert ledger.realized(symbol) == sum((t.realized_pnl for t in closed if t.symbol == symbol), D(0))

    restored = Ledger.from_state(json.loads(json.dumps(ledger.to_state())))
    assert restored.to_state() == ledger.to_state()
    assert restored.equity(prices) == ledger.equity(prices)
