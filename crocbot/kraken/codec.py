"""The WS v2 wire codec: text frames in, core and Kraken-level messages out, never an exception.

Numbers are parsed as `Decimal` (`parse_float=Decimal`) so that a price keeps its wire lexeme (`0.10000000`),
which the book checksum needs; numbers given as strings are accepted too. Timestamps are RFC3339 with up to
nanoseconds, sometimes without the `Z`; they are parsed leniently. Unknown fields are ignored. A frame that
cannot be used becomes a `Malformed` message: counted, logged at a limited rate, and handed on, so the feed
can count it, never raised.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from crocbot.core.checks import symbol as check_symbol
from crocbot.core.messages import BookLevel, BookUpdate, Candle, Side, Ticker, Timeframe, Trade
from crocbot.kraken.wire import (
    CHANNEL_HEARTBEAT,
    Ack,
    BalanceEntry,
    Balances,
    ExecutionReport,
    Executions,
    InstrumentUpdate,
    Malformed,
    Pong,
    SystemStatus,
)
from crocbot.ops.ratelog import RateLimitedLog

__all__ = ["Codec", "parse_time", "decimal_of", "FrameError"]

_INTERVALS = {1: Timeframe.M1, 5: Timeframe.M5, 15: Timeframe.M15, 60: Timeframe.H1}
_SIDES = {"buy": Side.BUY, "sell": Side.SELL}
_MAX_FRAME_ECHO = 200
_DECODER = json.JSONDecoder(parse_float=Decimal)  # json.loads(parse_float=...) would build one per frame
_MAX_EXPONENT = 18
_SMALLEST = Decimal(1).scaleb(-_MAX_EXPONENT)
_LARGEST = Decimal(1).scaleb(_MAX_EXPONENT)


class FrameError(ValueError):
    """A frame's content is unusable; the message says why."""


def _parse(text: str) -> Any:
    """`json.loads(text, parse_float=Decimal)` without its per-call decoder and whitespace regexes."""
    if text[:1].isspace() or text[-1:].isspace():
        text = text.strip()
    value, end = _DECODER.raw_decode(text)
    if end != len(text):
        raise FrameError(f"trailing data after the JSON value at character {end}")
    return value


def decimal_of(value: Any, field: str = "number") -> Decimal:
    """A wire number: Decimal (from parse_float), int, or a decimal string. Never float, never bool."""
    if type(value) is Decimal:
        number = value
    elif isinstance(value, int) and not isinstance(value, bool):
        number = Decimal(value)
    elif isinstance(value, str):
        try:
            number = Decimal(value)
        except InvalidOperation:
            raise FrameError(f"{field}: {value!r} is not a number") from None
    else:
        raise FrameError(f"{field}: {value!r} is not a number")
    # Finite and of a magnitude an exchange can mean: 1.5e999 is valid JSON, not a price.
    if not number.is_finite() or (number and not -_MAX_EXPONENT <= number.adjusted() <= _MAX_EXPONENT):
        raise FrameError(f"{field}: {value!r} is out of range")
    return number


def parse_time(text: Any) -> datetime:
    """RFC3339, leniently: 9-digit fractions, a missing `Z` (taken as UTC), `+00:00`."""
    if not isinstance(text, str):
        raise FrameError(f"timestamp: {text!r} is not text")
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        value = _parse_time_slow(text)
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value if value.tzinfo is UTC else value.astimezone(UTC)


def _parse_time_slow(text: str) -> datetime:
    head, dot, rest = text.partition(".")
    if dot:
        digits = ""
        for ch in rest:
            if not ch.isdigit():
                break
            digits += ch
        text = f"{head}.{digits[:6]}{rest[len(digits) :]}"
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise FrameError(f"timestamp: {text!r} is not RFC3339") from None


def _opt_dec(row: Mapping[str, Any], key: str) -> Decimal | None:
    value = row.get(key)
    return None if value is None else decimal_of(value, key)


def _levels(rows: Any, side: str) -> tuple[BookLevel, ...]:
    """Book levels, checked here since BookLevel itself does not: the hottest path of the feed."""
    if not isinstance(rows, list):
        raise FrameError(f"{side}: expected a list of levels")
    levels = []
    for row in rows:
        price, qty = row["price"], row["qty"]
        if type(price) is not Decimal:
            price = decimal_of(price, "price")
        if type(qty) is not Decimal:
            qty = decimal_of(qty, "qty")
        # Comparisons double as the finiteness check: a NaN raises, an infinity falls outside the bounds.
        if not _SMALLEST <= price < _LARGEST or not (qty == 0 or _SMALLEST <= qty < _LARGEST):
            raise FrameError(f"{side}: level {price} x {qty} is out of range")
        levels.append(BookLevel(price, qty))
    return tuple(levels)


class Codec:
    """Decodes text frames. One per connection; not shared across threads (its counters are plain ints)."""

    def __init__(self, *, now: Callable[[], datetime] | None = None, log: RateLimitedLog | None = None) -> None:
        self._now = now or (lambda: datetime.now(UTC))
        self._log = log or RateLimitedLog("malformed Kraken frame")
        self.frames = 0
        self.malformed = 0
        self.per_channel: Counter[str] = Counter()
        self._channels: dict[str, Callable[[Mapping[str, Any]], list[object]]] = {
            "book": self._book,
            "ticker": self._ticker,
            "trade": self._trade,
            "ohlc": self._ohlc,
            "instrument": self._instrument,
            "executions": self._executions,
            "balances": self._balances,
            "status": self._status,
            "heartbeat": lambda msg: [CHANNEL_HEARTBEAT],
        }

    def decode(self, text: str | bytes) -> list[object]:
        """Everything in one frame, in wire order. Never raises."""
        self.frames += 1
        try:
            msg = _parse(text if isinstance(text, str) else text.decode("utf-8"))
            if not isinstance(msg, dict):
                raise FrameError("a frame must be a JSON object")
            channel = msg.get("channel")
            if type(channel) is str and "success" not in msg:
                handler = self._channels.get(channel)
                if handler is not None:
                    self.per_channel[channel] += 1
                    return handler(msg)
            if "method" in msg:
                self.per_channel[str(msg["method"])] += 1
                return [self._response(msg)]
            raise FrameError(f"unknown channel {channel!r}")
        except (ValueError, KeyError, TypeError, IndexError, AttributeError, ArithmeticError) as error:
            # json.JSONDecodeError, FrameError and InvalidMessage are ValueErrors; decimal signals are arithmetic.
            return [self._malformed(text, f"{type(error).__name__}: {error}")]

    def _malformed(self, text: str | bytes, reason: str) -> Malformed:
        self.malformed += 1
        frame = text if isinstance(text, str) else text.decode("utf-8", "replace")
        echo = frame[:_MAX_FRAME_ECHO]
        self._log(f"{reason}; frame starts {echo!r}")
        return Malformed(reason, echo)

    # -- public channels ------------------------------------------------------------------------------

    def _book(self, msg: Mapping[str, Any]) -> list[object]:
        snapshot = msg.get("type") == "snapshot"
        out: list[object] = []
        for row in msg["data"]:
            stamp = row.get("timestamp")
            checksum = row.get("checksum")
            if checksum is not None and (type(checksum) is not int or not 0 <= checksum <= 0xFFFFFFFF):
                raise FrameError(f"checksum: {checksum!r} is not a CRC32 value")
            out.append(
                BookUpdate(  # a NamedTuple: every field is checked here instead
                    check_symbol(row["symbol"]),
                    _levels(row.get("bids", []), "bids"),
                    _levels(row.get("asks", []), "asks"),
                    snapshot,
                    checksum,
                    parse_time(stamp) if stamp is not None else self._now(),
                )
            )
        return out

    def _ticker(self, msg: Mapping[str, Any]) -> list[object]:
        out: list[object] = []
        for row in msg["data"]:
            stamp = row.get("timestamp")
            out.append(
                Ticker(
                    row["symbol"],
                    decimal_of(row["bid"], "bid"),
                    decimal_of(row["bid_qty"], "bid_qty"),
                    decimal_of(row["ask"], "ask"),
                    decimal_of(row["ask_qty"], "ask_qty"),
                    _opt_dec(row, "last"),
                    parse_time(stamp) if stamp is not None else self._now(),
                )
            )
        return out

    def _trade(self, msg: Mapping[str, Any]) -> list[object]:
        return [
            Trade(
                row["symbol"],
                _SIDES[row["side"]],
                decimal_of(row["price"], "price"),
                decimal_of(row["qty"], "qty"),
                parse_time(row["timestamp"]),
                int(row["trade_id"]) if row.get("trade_id") is not None else None,
            )
            for row in msg["data"]
        ]

    def _ohlc(self, msg: Mapping[str, Any]) -> list[object]:
        out: list[object] = []
        for row in msg["data"]:
            frame = _INTERVALS.get(int(row["interval"]))
            if frame is None:
                continue  # an interval crocbot does not build candles for
            out.append(
                Candle(
                    row["symbol"],
                    frame,
                    parse_time(row["interval_begin"]),
                    decimal_of(row["open"], "open"),
                    decimal_of(row["high"], "high"),
                    decimal_of(row["low"], "low"),
                    decimal_of(row["close"], "close"),
                    decimal_of(row["volume"], "volume"),
                    int(row.get("trades", 0)),
                    closed=False,  # Kraken's ohlc channel has no closed flag; candles are closed on event time
                )
            )
        return out

    def _instrument(self, msg: Mapping[str, Any]) -> list[object]:
        data = msg["data"]
        return [
            InstrumentUpdate(msg.get("type") == "snapshot", tuple(data.get("assets", ())), tuple(data.get("pairs", ())))
        ]

    def _status(self, msg: Mapping[str, Any]) -> list[object]:
        row = msg["data"][0]
        connection = row.get("connection_id")
        return [
            SystemStatus(
                str(row.get("system", "")),
                str(row.get("api_version", "")),
                int(connection) if connection is not None else None,
                str(row.get("version", "")),
            )
        ]

    # -- private channels -----------------------------------------------------------------------------

    def _executions(self, msg: Mapping[str, Any]) -> list[object]:
        reports = tuple(self._report(row) for row in msg["data"])
        return [Executions(msg.get("type") == "snapshot", reports, _opt_int(msg, "sequence"))]

    def _report(self, row: Mapping[str, Any]) -> ExecutionReport:
        triggers = row.get("triggers") or {}
        fees = tuple((str(f["asset"]), decimal_of(f["qty"], "fee")) for f in row.get("fees") or ())
        return ExecutionReport(
            exec_type=str(row["exec_type"]),
            order_id=str(row["order_id"]),
            ts=parse_time(row["timestamp"]),
            cl_ord_id=row.get("cl_ord_id"),
            order_userref=_opt_int(row, "order_userref"),
            exec_id=row.get("exec_id"),
            trade_id=_opt_int(row, "trade_id"),
            order_status=row.get("order_status"),
            symbol=row.get("symbol"),
            side=row.get("side"),
            order_type=row.get("order_type"),
            order_qty=_opt_dec(row, "order_qty"),
            limit_price=_opt_dec(row, "limit_price"),
            trigger_price=_opt_dec(triggers, "price") if isinstance(triggers, Mapping) else None,
            last_qty=_opt_dec(row, "last_qty"),
            last_price=_opt_dec(row, "last_price"),
            liquidity_ind=row.get("liquidity_ind"),
            cost=_opt_dec(row, "cost"),
            cum_qty=_opt_dec(row, "cum_qty"),
            cum_cost=_opt_dec(row, "cum_cost"),
            avg_price=_opt_dec(row, "avg_price"),
            fees=fees,
            reason=row.get("reason"),
            amended=row.get("amended"),
            ratecount=_opt_int(row, "ratecount"),
        )

    def _balances(self, msg: Mapping[str, Any]) -> list[object]:
        entries = tuple(
            BalanceEntry(
                str(row["asset"]),
                decimal_of(row["balance"], "balance"),
                str(row.get("asset_class", "currency")),
                _opt_dec(row, "amount"),
                _opt_dec(row, "fee"),
                row.get("type"),
                row.get("ref_id"),
            )
            for row in msg["data"]
        )
        return [Balances(msg.get("type") == "snapshot", entries, _opt_int(msg, "sequence"))]

    # -- responses ------------------------------------------------------------------------------------

    def _response(self, msg: Mapping[str, Any]) -> object:
        method = str(msg["method"])
        req_id = _opt_int(msg, "req_id")
        if method == "pong":
            time_in, time_out = msg.get("time_in"), msg.get("time_out")
            return Pong(
                req_id,
                parse_time(time_in) if time_in else None,
                parse_time(time_out) if time_out else None,
            )
        raw = msg.get("result")
        result = raw if isinstance(raw, Mapping) else None
        results = tuple(r for r in raw if isinstance(r, Mapping)) if isinstance(raw, list) else ()
        channel = (result or {}).get("channel", msg.get("channel"))
        symbol = (result or {}).get("symbol", msg.get("symbol"))
        error = msg.get("error")
        return Ack(
            method=method,
            success=msg.get("success") is True,  # a missing or non-boolean success is a failure
            req_id=req_id,
            channel=channel if isinstance(channel, str) else None,
            symbol=symbol if isinstance(symbol, str) else None,
            error=error if isinstance(error, str) else (", ".join(map(str, error)) if error else None),
            result=result,
            results=results,
            warnings=tuple(str(w) for w in (result or {}).get("warnings", ())),
        )


def _opt_int(row: Mapping[str, Any], key: str) -> int | None:
    value = row.get(key)
    if value is None or isinstance(value, bool):
        return None
    return int(value)
