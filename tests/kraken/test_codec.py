"""The codec: every documented message decodes; numbers stay Decimal; bad frames never raise."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crocbot.core.messages import BookUpdate, Candle, Ticker, Timeframe, Trade
from crocbot.kraken.codec import Codec, parse_time
from crocbot.kraken.jsontext import dumps
from crocbot.kraken.wire import Ack, Executions, InstrumentUpdate, Malformed, Pong, SystemStatus
from tests.kraken.conftest import needs_vectors, vectors, ws_frame


@needs_vectors
def test_every_documented_server_message_decodes_without_a_malformed_frame() -> None:
    codec = Codec()
    for message in vectors()["ws_v2_messages"]:
        if isinstance(message["message"], list) or message["name"].startswith("ws_v1"):
            continue
        decoded = codec.decode(ws_frame(message["name"]))
        assert decoded, message["name"]
        assert not any(isinstance(m, Malformed) for m in decoded), (message["name"], decoded)
    assert codec.malformed == 0


@needs_vectors
def test_market_messages_become_core_messages_with_exact_decimals() -> None:
    codec = Codec()
    [ticker] = codec.decode(ws_frame("ws_v2.ticker.snapshot"))
    [book] = codec.decode(ws_frame("ws_v2.book.guide_snapshot_BTCUSD"))
    decoded_trades = codec.decode(ws_frame("ws_v2.trade.snapshot"))
    candles = codec.decode(ws_frame("ws_v2.ohlc.snapshot"))

    assert isinstance(ticker, Ticker)
    assert ticker.bid == Decimal("0.10025")
    assert ticker.symbol == "ALGO/USD"
    assert isinstance(book, BookUpdate)
    assert book.snapshot
    assert book.checksum == 3310070434
    assert format(book.asks[0].qty, "f") == "0.00100000"  # the wire lexeme survives, trailing zeros and all
    trades = [t for t in decoded_trades if isinstance(t, Trade)]
    assert trades == decoded_trades  # every message a Trade
    assert trades[0].trade_id == 4665846
    assert isinstance(candles[0], Candle)
    assert candles[0].timeframe is Timeframe.M5
    assert candles[0].open_time == datetime(2023, 10, 4, 15, 25, tzinfo=UTC)
    assert not candles[0].closed


@needs_vectors
def test_responses_status_and_private_reports_decode() -> None:
    codec = Codec()
    [status] = codec.decode(ws_frame("ws_v2.status.update"))
    [pong] = codec.decode(ws_frame("ws_v2.ping.response_pong"))
    [rejected] = codec.decode(ws_frame("unofficial.ws_v2.subscribe_error_legacy_symbol"))
    [no_session] = codec.decode(ws_frame("unofficial.ws_v2.executions_without_valid_token"))
    [fills] = codec.decode(ws_frame("ws_v2.executions.update_trade"))
    [instruments] = codec.decode(ws_frame("ws_v2.instrument.snapshot"))

    assert isinstance(status, SystemStatus)
    assert status.connection_id == 13834774380200032777
    assert isinstance(pong, Pong)
    assert pong.req_id == 101
    assert isinstance(rejected, Ack)
    assert not rejected.success
    assert (rejected.error, rejected.symbol) == ("Currency pair not supported XBT/USD", "XBT/USD")
    assert isinstance(no_session, Ack)
    assert no_session.error == "ESession:Invalid session"
    assert isinstance(fills, Executions)
    report = fills.reports[0]
    assert (report.exec_type, report.last_qty, report.fees) == (
        "trade",
        Decimal("0.005"),
        (("USD", Decimal("0.3458")),),
    )
    assert isinstance(instruments, InstrumentUpdate)
    assert instruments.pairs[0]["symbol"] == "BTC/USD"


def test_numbers_given_as_strings_are_accepted() -> None:
    frame = (
        '{"channel":"trade","type":"update","data":[{"symbol":"BTC/USD","side":"buy","price":"65000.1",'
        '"qty":"0.00100000","ord_type":"market","trade_id":7,"timestamp":"2026-01-02T03:04:05.123456789Z"}]}'
    )
    [trade] = Codec().decode(frame)
    assert isinstance(trade, Trade)
    assert format(trade.qty, "f") == "0.00100000"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2023-10-04T16:26:01.806315597Z", datetime(2023, 10, 4, 16, 26, 1, 806315, tzinfo=UTC)),
        ("2022-06-13T08:09:10.7890123", datetime(2022, 6, 13, 8, 9, 10, 789012, tzinfo=UTC)),
        ("2023-09-21T15:49:29Z", datetime(2023, 9, 21, 15, 49, 29, tzinfo=UTC)),
        ("2023-09-21T17:49:29+02:00", datetime(2023, 9, 21, 15, 49, 29, tzinfo=UTC)),
    ],
)
def test_timestamps_parse_leniently(text: str, expected: datetime) -> None:
    assert parse_time(text) == expected


@pytest.mark.parametrize(
    "frame",
    [
        "",
        "not json",
        "[1,2,3]",
        '{"channel":"nope"}',
        '{"channel":"book","type":"update","data":[{"symbol":"BTC/USD","bids":[{"price":-1,"qty":1}]}]}',
        '{"channel":"book","type":"update","data":[{"symbol":"BTC/USD","bids":[{"price":1.5e999,"qty":1}]}]}',
        '{"channel":"trade","data":[{"symbol":"BTC/USD","side":"up","price":1,"qty":1,"timestamp":"x"}]}',
        '{"channel":"ticker","data":[{"symbol":"BTC/USD","bid":"NaN","bid_qty":1,"ask":1,"ask_qty":1}]}',
        '{"channel":"ohlc","data":[{"symbol":"BTC/USD","interval":5,"open":2,"high":1,"low":1,"close":1,'
        '"volume":1,"interval_begin":"2023-10-04T15:25:00Z"}]}',
    ],
)
def test_bad_frames_become_malformed_and_are_counted(frame: str) -> None:
    codec = Codec()
    [result] = codec.decode(frame)
    assert isinstance(result, Malformed)
    assert codec.malformed == 1


_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.text(max_size=8)
    | st.decimals(allow_nan=False, allow_infinity=False),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)


@needs_vectors
@settings(max_examples=300, deadline=None)
@given(
    name=st.sampled_from([m["name"] for m in vectors()["ws_v2_messages"] if not isinstance(m["message"], list)]),
    cut=st.integers(min_value=0, max_value=400),
    noise=st.binary(max_size=8),
    key=st.text(max_size=8),
    junk=_json,
)
def test_mutated_frames_never_raise(name: str, cut: int, noise: bytes, key: str, junk: object) -> None:
    """Truncated frames, inserted bytes and replaced fields all come back as messages, never as exceptions."""
    codec = Codec()
    text = ws_frame(name)
    variants: list[str | bytes] = [text[:cut], text[:cut] + noise.decode("latin-1") + text[cut:], noise]
    message = json.loads(text, parse_float=Decimal)
    if isinstance(message, dict):
        target = message["data"][0] if isinstance(message.get("data"), list) and message["data"] else message
        if isinstance(target, dict):
            target[key or "price"] = junk
        variants.append(dumps(message))
    for variant in variants:
        for result in codec.decode(variant):
            assert result is not None
