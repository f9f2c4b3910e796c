"""The executions merger: Kraken's sparse reports become one fill per execution and one event per status change."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from crocbot.core.messages import Fill, Liquidity, OrderEvent, OrderStatus, Side, VenueAnomaly
from crocbot.kraken.codec import Codec
from crocbot.kraken.jsontext import dumps
from crocbot.kraken.rest_types import TradeInfo
from crocbot.kraken.wire import ExecutionReport, Executions
from crocbot.venues.live.executions import ExecutionsMerger, ForeignFill, MergerEvent
from tests.kraken.conftest import needs_vectors, vectors

D = Decimal
ORDER = "OK4GJX-KSTLS-7DZZO5"  # the order of Kraken's documented executions frames
EXEC = "TGBB7L-HT5LX-J3BZ4A"
CALL_TS = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)


def documented(name: str, **extra: Any) -> dict[str, Any]:
    """A documented `executions` frame, its report given `extra` fields (Kraken's examples use order_userref)."""
    for message in vectors()["ws_v2_messages"]:
        if message["name"] == f"ws_v2.executions.{name}":
            frame: dict[str, Any] = json.loads(dumps(message["message"]), parse_float=Decimal)
            frame["data"][0].update(extra)
            return frame
    raise KeyError(name)


def reports(frame: dict[str, Any]) -> tuple[ExecutionReport, ...]:
    (executions,) = Codec().decode(dumps(frame))
    assert isinstance(executions, Executions)
    return executions.reports


def row(**fields: Any) -> dict[str, Any]:
    base = {"order_id": "O1", "timestamp": "2026-12-07T10:00:00.000001Z"}
    return {**base, **fields}


def frame(*rows: dict[str, Any], snapshot: bool = False) -> dict[str, Any]:
    return {"channel": "executions", "type": "snapshot" if snapshot else "update", "data": list(rows), "sequence": 1}


def new_order(qty: str = "1", cl_ord_id: str = "cb-1") -> dict[str, Any]:
    return row(
        exec_type="new",
        order_status="new",
        cl_ord_id=cl_ord_id,
        symbol="BTC/USD",
        side="buy",
        order_type="limit",
        order_qty=D(qty),
        limit_price=D(100),
        cum_qty=D(0),
    )


def trade(exec_id: str, qty: str, cum: str, status: str = "partially_filled", **extra: Any) -> dict[str, Any]:
    return row(
        exec_type="trade",
        exec_id=exec_id,
        trade_id=int(exec_id.strip("T-")) if exec_id.strip("T-").isdigit() else 1,
        last_qty=D(qty),
        last_price=D(100),
        liquidity_ind="m",
        order_status=status,
        cum_qty=D(cum),
        fees=[{"asset": "USD", "qty": D("0.25")}],
        **extra,
    )


def no_symbol(_pair: str) -> str | None:
    return None  # every row's order is known to the merger already


def merged(*frames: dict[str, Any], merger: ExecutionsMerger | None = None) -> list[MergerEvent]:
    merger = merger or ExecutionsMerger(known=lambda cl: cl.startswith("cb-"))
    return [event for f in frames for event in merger.on_reports(reports(f))]


@needs_vectors
def test_krakens_documented_sparse_reports_merge_by_order_id_into_an_ack_and_a_fill() -> None:
    events = merged(
        documented("update_pending_new", cl_ord_id="cb-doc-1"),
        documented("update_new"),  # only the order id, its status and a time
        documented("update_trade"),  # no client id: known from the first report
    )

    ack, fill = events
    assert isinstance(ack, OrderEvent)
    assert (ack.cl_ord_id, ack.status, ack.order_id) == (
        "cb-doc-1",
        OrderStatus.ACKED,
        ORDER,
    )
    assert isinstance(fill, Fill)
    assert fill == Fill(
        EXEC, "cb-doc-1", ORDER, "BTC/USD", Side.SELL, D("0.005"), D("26599.9"), D("0.3458"), "USD",
        Liquidity.TAKER, fill.ts,
    )  # fmt: skip
    # Kraken's trade report says partially_filled with cum_qty == order_qty: the fill has completed the order, and
    # a PARTIALLY_FILLED after it would move it back (the desk refuses that); completion waits for `filled`


def test_a_partial_fill_below_the_orders_quantity_is_passed_on() -> None:
    events = merged(frame(new_order("1")), frame(trade("T-1", "0.4", "0.4")))

    assert [(type(e).__name__, getattr(e, "status", None)) for e in events] == [
        ("OrderEvent", OrderStatus.ACKED),
        ("Fill", None),
        ("OrderEvent", OrderStatus.PARTIALLY_FILLED),
    ]


@needs_vectors
def test_a_fill_for_an_order_without_a_client_id_of_crocbots_is_the_accounts_own_never_booked() -> None:
    """A live account may be the trader's too: their own trades are told, not booked, and halt nothing."""
    events = merged(documented("update_pending_new"), documented("update_new"), documented("update_trade"))

    assert not [e for e in events if isinstance(e, Fill | VenueAnomaly)]
    (foreign,) = [e for e in events if isinstance(e, ForeignFill)]
    assert (foreign.exec_id, foreign.order_id, foreign.qty) == (EXEC, ORDER, D("0.005"))


def test_a_reconnect_snapshot_with_the_last_fills_books_no_fill_twice() -> None:
    merger = ExecutionsMerger(known=lambda cl: cl == "cb-1")
    first = merged(frame(new_order()), frame(trade("T-1", "0.4", "0.4")), merger=merger)
    replay = merged(
        frame(trade("T-1", "0.4", "0.4", symbol="BTC/USD", side="buy", cl_ord_id="cb-1"), new_order(), snapshot=True),
        merger=merger,
    )
    later = merged(frame(trade("T-2", "0.6", "1", status="filled")), merger=merger)

    assert [e.fill_id for e in first if isinstance(e, Fill)] == ["T-1"]
    assert not [e for e in replay if isinstance(e, Fill)]
    assert [type(e).__name__ for e in later] == ["Fill", "OrderEvent"]  # the fill before the status that ends it
    assert isinstance(later[1], OrderEvent)
    assert (later[1].status, later[1].filled_qty) == (OrderStatus.FILLED, D(1))


def test_rest_trades_history_rows_add_only_the_fills_the_channel_missed() -> None:
    merger = ExecutionsMerger(known=lambda cl: cl == "cb-1")
    merged(frame(new_order()), frame(trade("T-1", "0.4", "0.4")), merger=merger)

    def rest_row(txid: str, qty: str, time: str) -> TradeInfo:
        return TradeInfo(
            txid, "O1", "XXBTZUSD", "buy", "limit", D(100), D(qty), D(qty) * 100, D("0.1"), D(time), True, 1
        )

    events = merger.on_trades([rest_row("T-2", "0.6", "1765100002"), rest_row("T-1", "0.4", "1765100001")], no_symbol)

    assert [(e.fill_id, e.cl_ord_id, e.symbol, e.qty, e.fee_currency) for e in events if isinstance(e, Fill)] == [
        ("T-2", "cb-1", "BTC/USD", D("0.6"), "USD")
    ]
    assert merger.on_trades([rest_row("T-2", "0.6", "1765100002")], no_symbol) == []


def test_a_fill_beyond_the_orders_quantity_is_flagged_critical_and_still_booked() -> None:
    events = merged(frame(new_order("1")), frame(trade("T-1", "0.8", "0.8")), frame(trade("T-2", "0.4", "1.2")))

    assert [e.fill_id for e in events if isinstance(e, Fill)] == ["T-1", "T-2"]
    anomalies = [e for e in events if isinstance(e, VenueAnomaly)]
    assert [(a.kind, a.cl_ord_id, a.fill_id) for a in anomalies] == [(VenueAnomaly.OVERFILL, "cb-1", "T-2")]


def test_an_amend_that_lowers_the_quantity_makes_a_later_fill_beyond_it_an_overfill() -> None:
    amended = row(exec_type="amended", order_qty=D("0.5"), amended=True)
    events = merged(frame(new_order("1")), frame(amended), frame(trade("T-1", "0.6", "0.6")))

    assert [a.kind for a in events if isinstance(a, VenueAnomaly)] == [VenueAnomaly.OVERFILL]


def test_a_cancel_after_a_partial_fill_reports_how_much_filled_so_an_exit_can_be_sized() -> None:
    cancelled = row(exec_type="canceled", order_status="canceled", cum_qty=D("0.3"), reason="User requested")
    events = merged(frame(new_order("1")), frame(trade("T-1", "0.3", "0.3")), frame(cancelled))

    last = events[-1]
    assert isinstance(last, OrderEvent)
    assert (last.status, last.filled_qty, last.reason) == (OrderStatus.CANCELLED, D("0.3"), "User requested")


def test_each_status_is_reported_once_and_pending_new_not_at_all() -> None:
    pending = {**new_order(), "exec_type": "pending_new", "order_status": "pending_new"}
    again = row(exec_type="restated", order_status="new")
    events = merged(frame(pending), frame(row(exec_type="new", order_status="new")), frame(again))

    assert [(e.status, e.cl_ord_id) for e in events if isinstance(e, OrderEvent)] == [(OrderStatus.ACKED, "cb-1")]


def test_fees_are_summed_per_execution_in_decimal() -> None:
    fees = [{"asset": "USD", "qty": D("0.10000001")}, {"asset": "USD", "qty": D("0.2")}]
    events = merged(frame(new_order()), frame({**trade("T-1", "1", "1", status="filled"), "fees": fees}))

    (fill,) = [e for e in events if isinstance(e, Fill)]
    assert (fill.fee, fill.fee_currency, fill.liquidity) == (D("0.30000001"), "USD", Liquidity.MAKER)


def test_an_order_crocbot_announced_before_sending_is_its_own_without_a_journal() -> None:
    merger = ExecutionsMerger()
    merger.expect("x-9")
    events = merged(frame(new_order(cl_ord_id="x-9")), frame(trade("T-1", "1", "1", status="filled")), merger=merger)

    assert not [e for e in events if isinstance(e, VenueAnomaly)]
    assert merger.order(cl_ord_id="x-9") is not None


def test_the_calls_answer_acks_an_order_once_and_never_after_its_reports_went_further() -> None:
    merger = ExecutionsMerger(known=lambda cl: cl.startswith("cb-"))
    first = merger.acked("cb-2", "O2", CALL_TS)  # the answer came before any report
    later_new = merged(frame({**new_order(cl_ord_id="cb-2"), "order_id": "O2"}), merger=merger)
    reports_first = merged(frame(new_order()), frame(trade("T-1", "1", "1", status="filled")), merger=merger)
    late_answer = merger.acked("cb-1", "O1", CALL_TS)  # Kraken sent the reports before the answer

    assert first == [OrderEvent("cb-2", OrderStatus.ACKED, CALL_TS, "O2")]
    assert later_new == []
    assert [type(e).__name__ for e in reports_first] == ["OrderEvent", "Fill", "OrderEvent"]
    assert late_answer == []  # an ACKED after the FILLED would move the order back


def test_a_rest_fill_of_an_order_the_channel_never_showed_takes_its_client_id_from_the_reconciler() -> None:
    merger = ExecutionsMerger(known=lambda cl: cl == "cb-7")
    row = TradeInfo(
        "T-9", "O9", "XXBTZUSD", "sell", "market", D(100), D("0.5"), D(50), D("0.2"), D(1765100000), False, 9
    )

    events = merger.on_trades([row], {"XXBTZUSD": "BTC/USD"}.get, {"O9": "cb-7"}.get)

    (fill,) = events
    assert isinstance(fill, Fill)
    assert (fill.cl_ord_id, fill.symbol, fill.side, fill.liquidity) == ("cb-7", "BTC/USD", Side.SELL, Liquidity.TAKER)
    assert merger.on_trades([row], no_symbol) == []


def test_a_late_or_replayed_report_never_moves_an_order_back() -> None:
    merger = ExecutionsMerger(known=lambda cl: cl == "cb-1")
    merged(frame(new_order("1")), frame(trade("T-1", "0.4", "0.4")), merger=merger)
    stale_new = merged(frame(row(exec_type="restated", order_status="new")), merger=merger)
    done = merged(frame(trade("T-2", "0.6", "1", status="filled")), merger=merger)
    replay = merged(frame(trade("T-1", "0.4", "0.4", cl_ord_id="cb-1"), snapshot=True), merger=merger)

    assert stale_new == []
    assert [e.status for e in done if isinstance(e, OrderEvent)] == [OrderStatus.FILLED]
    assert replay == []
    order = merger.order(cl_ord_id="cb-1")
    assert order is not None
    assert order.order_status == "filled"
