"""Kraken WS v2 frames, built the way Kraken builds them: the simulator's side of the codec.

Numbers are `Decimal`s quantized to the instrument's precisions and written positionally, so their lexemes (and
so the book checksums) are exactly what a client must reproduce. Timestamps are RFC3339 with microseconds and Z.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from crocbot.core.instrument import Instrument
from crocbot.kraken.jsontext import dumps
from crocbot.matching import Execution
from crocbot.sim.bookmaker import BookData

__all__ = [
    "rfc3339",
    "HEARTBEAT_FRAME",
    "status_frame",
    "pong_frame",
    "ack_frame",
    "book_frame",
    "ticker_frame",
    "trade_frame",
    "ohlc_frame",
    "instrument_frame",
    "executions_frame",
    "balances_frame",
    "execution_row",
]

HEARTBEAT_FRAME = '{"channel":"heartbeat"}'


def rfc3339(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def status_frame(connection_id: int, system: str = "online") -> str:
    row = {"api_version": "v2", "connection_id": connection_id, "system": system, "version": "2.0.10"}
    return dumps({"channel": "status", "type": "update", "data": [row]})


def pong_frame(req_id: int | None, received: datetime, sent: datetime) -> str:
    body: dict[str, Any] = {"method": "pong"}
    if req_id is not None:
        body["req_id"] = req_id
    body["time_in"] = rfc3339(received)
    body["time_out"] = rfc3339(sent)
    return dumps(body)


def ack_frame(
    method: str,
    *,
    req_id: int | None,
    received: datetime,
    sent: datetime,
    result: Any = None,
    error: str | None = None,
    extra: dict[str, Any] | None = None,
) -> str:
    """A response: `success` with `result`, or `error` as one string (never a list, unlike REST)."""
    body: dict[str, Any] = {"method": method}
    if req_id is not None:
        body["req_id"] = req_id
    if error is None:
        body["result"] = result if result is not None else {}
        body["success"] = True
    else:
        body["error"] = error
        body["success"] = False
    body.update(extra or {})
    body["time_in"] = rfc3339(received)
    body["time_out"] = rfc3339(sent)
    return dumps(body)


def _level_text(levels: Sequence[tuple[Decimal, Decimal]]) -> str:
    return ",".join(f'{{"price":{price:f},"qty":{qty:f}}}' for price, qty in levels)


def book_frame(symbol: str, data: BookData, *, snapshot: bool, ts: datetime, checksum: int | None = None) -> str:
    # Written directly: the hottest frame of the simulator, and symbols need no JSON escaping.
    kind = "snapshot" if snapshot else "update"
    crc = data.checksum if checksum is None else checksum
    return (
        f'{{"channel":"book","type":"{kind}","data":[{{"symbol":"{symbol}","bids":[{_level_text(data.bids)}],'
        f'"asks":[{_level_text(data.asks)}],"checksum":{crc},"timestamp":"{rfc3339(ts)}"}}]}}'
    )


def ticker_frame(row: dict[str, Any], *, snapshot: bool) -> str:
    return dumps({"channel": "ticker", "type": "snapshot" if snapshot else "update", "data": [row]})


def trade_frame(rows: Sequence[dict[str, Any]], *, snapshot: bool) -> str:
    return dumps({"channel": "trade", "type": "snapshot" if snapshot else "update", "data": list(rows)})


def ohlc_frame(rows: Sequence[dict[str, Any]], *, snapshot: bool, ts: datetime) -> str:
    kind = "snapshot" if snapshot else "update"
    return dumps({"channel": "ohlc", "type": kind, "timestamp": rfc3339(ts), "data": list(rows)})


def instrument_frame(instruments: Iterable[Instrument], *, include_tokenized: bool, kind: str = "snapshot") -> str:
    """The `instrument` channel's frame: the snapshot at subscription, or an update (`kind="update"`) of the pairs
    whose status changed."""
    pairs = []
    assets: dict[str, dict[str, Any]] = {}
    for instrument in instruments:
        if instrument.is_xstock and not include_tokenized:
            continue
        pairs.append(
            {
                "symbol": instrument.symbol,
                "base": instrument.base,
                "quote": instrument.quote,
                "status": instrument.status,
                "qty_precision": instrument.qty_precision,
                "qty_increment": instrument.qty_increment,
                "price_precision": instrument.price_precision,
                "cost_precision": instrument.cost_precision,
                "marginable": False,
                "has_index": True,
                "cost_min": instrument.cost_min,
                "tick_size": instrument.price_increment,
                "price_increment": instrument.price_increment,
                "qty_min": instrument.qty_min,
            }
        )
        for asset in (instrument.base, instrument.quote):
            row: dict[str, Any] = {"id": asset, "status": "enabled", "precision": 10, "precision_display": 5}
            if asset == instrument.base and instrument.is_xstock:
                row["multiplier"] = Decimal("1.0")
            assets.setdefault(asset, row)
    return dumps({"channel": "instrument", "type": kind, "data": {"assets": list(assets.values()), "pairs": pairs}})


def execution_row(execution: Execution) -> dict[str, Any]:
    row: dict[str, Any] = {
        "exec_type": execution.exec_type,
        "order_id": execution.order_id,
        "symbol": execution.symbol,
        "side": str(execution.side),
        "order_type": execution.order_type,
        "order_status": execution.order_status,
        "order_qty": execution.order_qty,
        "cum_qty": execution.cum_qty,
        "cum_cost": execution.cum_cost,
        "timestamp": rfc3339(execution.ts),
    }
    if execution.cl_ord_id is not None:
        row["cl_ord_id"] = execution.cl_ord_id
    if execution.avg_price is not None:
        row["avg_price"] = execution.avg_price
    if execution.limit_price is not None:
        row["limit_price"] = execution.limit_price
    if execution.trigger_price is not None:
        row["triggers"] = {
            "reference": "last",
            "price": execution.trigger_price,
            "price_type": "static",
            "status": execution.trigger_status or "untriggered",
        }
    if execution.exec_type == "trade":
        row.update(
            exec_id=execution.exec_id,
            trade_id=execution.trade_id,
            last_qty=execution.last_qty,
            last_price=execution.last_price,
            liquidity_ind=execution.liquidity,
            cost=execution.cost,
            fees=[{"asset": execution.fee_asset, "qty": execution.fee}],
        )
    if execution.reason is not None:
        row["reason"] = execution.reason
    return row


def executions_frame(executions: Sequence[Execution], *, snapshot: bool, sequence: int) -> str:
    rows = [execution_row(e) for e in executions]
    return dumps(
        {"channel": "executions", "type": "snapshot" if snapshot else "update", "data": rows, "sequence": sequence}
    )


def balances_frame(balances: dict[str, Decimal], *, snapshot: bool, sequence: int) -> str:
    rows = [
        {
            "asset": asset,
            "asset_class": "currency",
            "balance": amount,
            "wallets": [{"type": "spot", "id": "main", "balance": amount}],
        }
        for asset, amount in sorted(balances.items())
    ]
    return dumps(
        {"channel": "balances", "type": "snapshot" if snapshot else "update", "data": rows, "sequence": sequence}
    )
