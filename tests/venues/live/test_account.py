"""The live account view's conversions (Kraken's REST rows, as the spec and the simulator answer, to the core's
types) and its paging of TradesHistory, against canned answers."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from crocbot.actors.gateway import Deadline, DeadlineExceeded
from crocbot.core.clock import SimClock
from crocbot.core.messages import Liquidity, OrderStatus, Side
from crocbot.kraken.endpoints import KrakenApi
from crocbot.kraken.rest import RestClient
from crocbot.kraken.rest_types import balance_ex, trade_info
from crocbot.sim.catalog import DEFAULT_INSTRUMENTS
from crocbot.venues.live.account import (
    AccountViewTooLong,
    LiveAccountView,
    account_balances,
    epoch_time,
    pair_names,
    venue_fill,
    venue_order,
)

D = Decimal

BTC = next(i for i in DEFAULT_INSTRUMENTS if i.symbol == "BTC/USD")
NOW = datetime(2026, 1, 5, 15, 0, tzinfo=UTC)


def rows(text: str) -> Any:
    return json.loads(text, parse_float=D)  # as the REST client reads Kraken's answers


# The spec's OpenOrders example (a partly filled limit buy; `opentm` a JSON number) and the simulator's shape of a
# stop-loss-limit sell with a client id (`descr.price` its trigger, `price2` its limit; times as Decimal numbers).
SPEC_OPEN = """{"refid": null, "userref": 0, "status": "open", "opentm": 1688666559.8974, "starttm": 0,
  "expiretm": 0, "descr": {"pair": "XBTUSD", "type": "buy", "ordertype": "limit", "price": "30010.0",
  "price2": "0", "leverage": "none", "order": "buy 1.25000000 XBTUSD @ limit 30010.0", "close": ""},
  "vol": "1.25000000", "vol_exec": "0.37500000", "cost": "11253.7", "fee": "0.00000", "price": "30010.0",
  "stopprice": "0.00000", "limitprice": "0.00000", "misc": "", "oflags": "fciq", "trades": ["TCCCTY-WE2O6-P3NB37"]}"""
SIM_STOP = """{"refid": null, "userref": 0, "cl_ord_id": "cbs1a2b3c4d5e6f7", "status": "canceled",
  "opentm": 1767626400.1234, "closetm": 1767627000.5, "starttm": 0, "expiretm": 0,
  "descr": {"pair": "XBTUSD", "type": "sell", "ordertype": "stop-loss-limit", "price": "90000.0", "price2": "89900.0",
  "leverage": "none", "order": "sell 0.01000000 XBTUSD @ stop-loss-limit 90000.0", "close": ""},
  "vol": "0.01000000", "vol_exec": "0.00000000", "cost": "0.00000", "fee": "0.00000", "price": "0",
  "stopprice": "90000.0", "limitprice": "89900.0", "misc": "", "oflags": "fciq", "trades": [],
  "reason": "User requested"}"""
# The spec's TradesHistory example row (`time` a JSON number, no cl_ord_id).
SPEC_TRADE = """{"ordertxid": "OQCLML-BW3P3-BUCMWZ", "postxid": "TKH2SE-M7IF5-CFI7LT", "pair": "XXBTZUSD",
  "time": 1688667796.8802, "type": "buy", "ordertype": "limit", "price": "30010.00000", "cost": "600.20000",
  "fee": "0.00000", "vol": "0.02000000", "margin": "0.00000", "misc": "", "trade_id": 40274859, "maker": true}"""


def test_an_open_order_row_of_the_spec_is_a_partly_filled_limit_with_its_terms() -> None:
    order = venue_order("OQCLML-BW3P3-BUCMWZ", rows(SPEC_OPEN), "BTC/USD")

    assert order.cl_ord_id is None  # no client id: foreign to crocbot whatever else it says
    assert (order.order_id, order.symbol, order.status) == (
        "OQCLML-BW3P3-BUCMWZ",
        "BTC/USD",
        OrderStatus.PARTIALLY_FILLED,
    )
    assert (order.side, order.order_type, order.qty, order.filled) == (Side.BUY, "limit", D("1.25"), D("0.375"))
    assert (order.limit_price, order.trigger_price, order.avg_price) == (D("30010.0"), None, D("30010.0"))
    assert order.ts == datetime(2023, 7, 6, 18, 2, 39, 897400, tzinfo=UTC)
    assert order.is_open


def test_a_closed_stop_limit_row_has_its_trigger_and_limit_apart_and_its_close_time() -> None:
    order = venue_order("OSTOP-1", rows(SIM_STOP), "BTC/USD")

    assert (order.cl_ord_id, order.status, order.side) == ("cbs1a2b3c4d5e6f7", OrderStatus.CANCELLED, Side.SELL)
    assert (order.trigger_price, order.limit_price) == (D("90000.0"), D("89900.0"))
    assert (order.filled, order.avg_price) == (D(0), None)
    assert order.ts == epoch_time(D("1767627000.5"))
    assert not order.is_open


@pytest.mark.parametrize(
    ("status", "filled", "expected"),
    [
        ("pending", "0", OrderStatus.ACKED),
        ("open", "0", OrderStatus.ACKED),
        ("closed", "0.01", OrderStatus.FILLED),
        ("expired", "0", OrderStatus.EXPIRED),
        ("something new", "0", OrderStatus.ERROR),
    ],
)
def test_krakens_order_statuses_map_to_crocbots(status: str, filled: str, expected: OrderStatus) -> None:
    row = rows(SIM_STOP) | {"status": status, "vol_exec": filled}
    assert venue_order("O1", row, "BTC/USD").status is expected


def test_a_trade_row_of_the_spec_is_a_fill_with_a_decimal_fee_in_quote_and_its_liquidity() -> None:
    trade = trade_info("THVRQM-33VKH-UCI7BS", rows(SPEC_TRADE))
    fill = venue_fill(trade, "cbe1", BTC)
    taker = venue_fill(trade_info("T2", rows(SPEC_TRADE) | {"maker": False, "fee": "2.40080"}), "cbe1", BTC)

    assert (fill.fill_id, fill.cl_ord_id, fill.order_id) == ("THVRQM-33VKH-UCI7BS", "cbe1", "OQCLML-BW3P3-BUCMWZ")
    assert (fill.symbol, fill.side, fill.qty, fill.price) == ("BTC/USD", Side.BUY, D("0.02"), D("30010"))
    assert (fill.fee, fill.fee_currency, fill.liquidity) == (D(0), "USD", Liquidity.MAKER)
    assert (taker.fee, taker.liquidity) == (D("2.40080"), Liquidity.TAKER)
    assert isinstance(taker.fee, D)
    assert fill.ts == datetime(2023, 7, 6, 18, 23, 16, 880200, tzinfo=UTC)


def test_balances_and_holds_come_apart_and_an_asset_without_a_hold_holds_nothing() -> None:
    answer = rows(
        '{"USD": {"balance": "25435.21", "hold_trade": "8249.76"}, "BTC": {"balance": "1.2", "hold_trade": "0"}}'
    )
    balances, held = account_balances({k: balance_ex(v) for k, v in answer.items()})

    assert balances == {"USD": D("25435.21"), "BTC": D("1.2")}
    assert held == {"USD": D("8249.76")}


def test_a_pair_is_found_by_each_name_kraken_gives_it() -> None:
    names = pair_names(DEFAULT_INSTRUMENTS)
    assert names["XBTUSD"] is names["XXBTZUSD"] is names["BTC/USD"] is BTC


# -- the calls, against canned answers --------------------------------------------------------------------------


class CannedRest(RestClient):
    """Answers private calls from `handlers` and notes each call; nothing leaves the process."""

    def __init__(self, handlers: Mapping[str, Callable[[dict[str, Any]], Any]]) -> None:
        super().__init__("http://127.0.0.1:9", api_key="k", api_secret="c2VjcmV0", clock=SimClock())
        self.handlers = handlers
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def private(self, method: str, params: Mapping[str, Any] | None = None, **_: Any) -> Any:
        self.calls.append((method, dict(params or {})))
        return self.handlers[method](dict(params or {}))


def crocbot_id(txid: str) -> str:
    """A client id of crocbot's shape (`crocbot.core.ids`) for the order `txid`."""
    return f"cbe{txid:0>13}"


def trade_rows(count: int) -> list[tuple[str, dict[str, Any]]]:
    """`count` trades of as many orders, newest first, a second apart, ending at NOW."""
    out = []
    for n in range(count):
        when = NOW - timedelta(seconds=n)
        row = rows(SPEC_TRADE) | {"ordertxid": f"O{n}", "time": D(str(when.timestamp())), "pair": "XXBTZUSD"}
        out.append((f"T{n}", row))
    return out


def paged(trades: list[tuple[str, dict[str, Any]]], total: int | None = None) -> Callable[[dict[str, Any]], Any]:
    def answer(params: dict[str, Any]) -> Any:
        offset = int(params.get("ofs", 0))
        return {"trades": dict(trades[offset : offset + 50]), "count": total if total is not None else len(trades)}

    return answer


def account(trades: Callable[[dict[str, Any]], Any], **views: Any) -> tuple[LiveAccountView, CannedRest]:
    def query(params: dict[str, Any]) -> Any:
        txids = params["txid"].split(",")
        assert len(txids) <= 50
        return {t: rows(SIM_STOP) | {"cl_ord_id": crocbot_id(t)} for t in txids}

    rest = CannedRest(
        {
            "OpenOrders": lambda p: {"open": {}},
            "ClosedOrders": lambda p: {"closed": {}, "count": 0},
            "TradesHistory": trades,
            "QueryOrders": query,
            "BalanceEx": lambda p: {"ZUSD": {"balance": "100", "hold_trade": "0"}},
        }
    )
    clock = SimClock(NOW)
    return LiveAccountView(KrakenApi(rest), DEFAULT_INSTRUMENTS, clock, **views), rest


def deadline() -> Deadline:
    clock = SimClock(NOW)
    return Deadline(clock.monotonic() + 10, clock)


def test_trades_are_read_page_by_page_until_the_count_and_each_gets_its_orders_client_id() -> None:
    view, rest = account(paged(trade_rows(120)))
    seen = view((), NOW - timedelta(hours=1), deadline())

    pages = [p for m, p in rest.calls if m == "TradesHistory"]
    assert [p["ofs"] for p in pages] == [0, 50, 100]
    assert len(seen.fills) == 120
    assert seen.fills[0].ts < seen.fills[-1].ts  # oldest first, as the core wants them
    assert {f.cl_ord_id for f in seen.fills} == {crocbot_id(f"O{n}") for n in range(120)}
    assert [len(p["txid"].split(",")) for m, p in rest.calls if m == "QueryOrders"] == [50, 50, 20]
    assert seen.shared
    assert seen.balances == {"USD": D("100")}  # Kraken's asset ids in crocbot's names


def test_paging_stops_at_its_bound_and_says_the_view_would_miss_trades() -> None:
    endless = trade_rows(50)
    view, rest = account(lambda p: {"trades": dict(endless), "count": 10_000}, max_trade_pages=3)  # always a full page

    with pytest.raises(AccountViewTooLong, match="more than 150 trades"):
        view((), NOW - timedelta(hours=1), deadline())
    assert sum(1 for m, _ in rest.calls if m == "TradesHistory") == 3


def test_a_trade_that_shifts_the_pages_is_counted_once_and_older_ones_than_asked_are_left_out() -> None:
    trades = trade_rows(60)
    shifted = trades[:50] + trades[49:]  # a new trade arrived between the pages: the 50th shows up twice
    view, _ = account(paged(shifted))
    seen = view((), NOW - timedelta(seconds=30), deadline())

    assert sorted(f.fill_id for f in seen.fills) == sorted(f"T{n}" for n in range(31))


def test_fills_of_orders_that_are_not_crocbots_and_trades_on_other_pairs_are_left_out() -> None:
    mine, theirs, other_program, asked, elsewhere = trade_rows(5)
    elsewhere = ("T9", elsewhere[1] | {"pair": "XDOTZUSD"})
    view, rest = account(paged([mine, theirs, other_program, asked, elsewhere]))
    rest.handlers = dict(rest.handlers) | {
        "QueryOrders": lambda p: {
            "O0": rows(SIM_STOP) | {"cl_ord_id": crocbot_id("O0")},
            "O1": rows(SIM_STOP) | {"cl_ord_id": None},
            "O2": rows(SIM_STOP) | {"cl_ord_id": "gridbot-7"},
            "O3": rows(SIM_STOP) | {"cl_ord_id": "legacy-id-3"},  # not crocbot's shape, but the books hold it
        }
    }
    seen = view(("legacy-id-3",), NOW - timedelta(hours=1), deadline())

    assert sorted((f.fill_id, f.cl_ord_id) for f in seen.fills) == [("T0", crocbot_id("O0")), ("T3", "legacy-id-3")]
    asked_about = [p["txid"] for m, p in rest.calls if m == "QueryOrders"]
    assert asked_about == ["O0,O1,O2,O3"]  # the trade on another pair was never looked up


def test_the_closed_orders_asked_for_are_read_by_client_id_and_open_ones_on_other_pairs_left_out() -> None:
    view, rest = account(paged([]))
    other_pair = rows(SIM_STOP) | {
        "status": "open",
        "cl_ord_id": None,
        "descr": rows(SIM_STOP)["descr"] | {"pair": "DOTUSD"},
    }
    mine_open = rows(SIM_STOP) | {"status": "open", "cl_ord_id": "cbs-open"}
    rest.handlers = dict(rest.handlers) | {
        "OpenOrders": lambda p: {"open": {"OA": mine_open, "OB": other_pair}},
        "ClosedOrders": lambda p: {"closed": {"OC": rows(SIM_STOP) | {"cl_ord_id": p["cl_ord_id"]}}, "count": 1},
    }
    seen = view(("cbs-open", "cbe-gone"), None, deadline())

    assert [(o.order_id, o.cl_ord_id, o.status) for o in seen.orders] == [
        ("OA", "cbs-open", OrderStatus.ACKED),
        ("OC", "cbe-gone", OrderStatus.CANCELLED),
    ]
    assert [p for m, p in rest.calls if m == "ClosedOrders"] == [{"cl_ord_id": "cbe-gone"}]  # never QueryOrders
    assert not any(m == "QueryOrders" for m, _ in rest.calls)


def test_no_call_is_made_past_the_deadline() -> None:
    view, rest = account(paged([]))
    clock = SimClock(NOW)
    gone = Deadline(clock.monotonic(), clock)

    with pytest.raises(DeadlineExceeded):
        view((), None, gone)
    assert rest.calls == []


def test_several_closed_orders_are_found_in_one_page_of_the_newest_and_only_the_rest_asked_for_one_by_one() -> None:
    # Found by the live crash harness: one ClosedOrders (4 of Kraken's 15 REST points) per order looked up made a
    # restart with four or more journaled orders wait past the view's deadline on every retry.
    view, rest = account(paged([]))
    gone = [f"cbe-gone-{n}" for n in range(6)]
    newest = {f"OC{n}": rows(SIM_STOP) | {"cl_ord_id": cl} for n, cl in enumerate(gone[:5])}
    newest["OX"] = rows(SIM_STOP) | {"cl_ord_id": "someone-elses"}

    def closed(params: dict[str, Any]) -> Any:
        if "cl_ord_id" in params:
            return {"closed": {"OC5": rows(SIM_STOP) | {"cl_ord_id": params["cl_ord_id"]}}, "count": 1}
        return {"closed": newest, "count": 50}

    rest.handlers = dict(rest.handlers) | {"ClosedOrders": closed}
    seen = view(tuple(gone), None, deadline())

    assert sorted(o.cl_ord_id or "" for o in seen.orders) == gone  # not the order nobody asked about
    assert [p for m, p in rest.calls if m == "ClosedOrders"] == [{}, {"cl_ord_id": "cbe-gone-5"}]


def test_the_orders_on_their_way_as_the_view_begins_are_pending_neither_at_the_venue_nor_never_sent() -> None:
    on_their_way = [frozenset({"cbxA", "cbeB"}), frozenset()]  # the first ask, as the view begins; a later one
    view, _ = account(paged([]), pending=lambda: on_their_way.pop(0))

    seen = view(("cbxA",), NOW - timedelta(hours=1), deadline())

    assert seen.pending == {"cbxA", "cbeB"}
