"""Kraken's own documented examples: the REST signature and the book checksums."""

from __future__ import annotations

from decimal import Decimal

from crocbot.core.messages import BookUpdate
from crocbot.kraken.auth import sign
from crocbot.kraken.book import Apply, L2Book, checksum_of, level_token
from crocbot.kraken.codec import Codec
from tests.kraken.conftest import needs_vectors, vectors, ws_frame

pytestmark = needs_vectors


def test_the_documented_rest_signature_is_reproduced() -> None:
    vector = vectors()["rest_api_sign"][0]
    assert (
        sign(vector["uri_path"], vector["postdata"], vector["nonce"], vector["private_key_b64"])
        == (vector["expected_api_sign"])
    )


def book_update(name: str) -> BookUpdate:
    [update] = Codec().decode(ws_frame(name))
    assert isinstance(update, BookUpdate)
    return update


def test_the_guide_snapshot_checksum_verifies_from_the_wire_lexemes() -> None:
    book = L2Book("BTC/USD")
    update = book_update("ws_v2.book.guide_snapshot_BTCUSD")
    assert book.apply(update) is Apply.OK
    assert book.checksum() == 3310070434


def test_the_matic_snapshot_and_update_verify_only_with_instrument_precisions() -> None:
    padded = L2Book("MATIC/USD", price_precision=4, qty_precision=8)
    assert padded.apply(book_update("ws_v2.book.snapshot")) is Apply.OK
    assert padded.apply(book_update("ws_v2.book.update")) is Apply.OK
    assert padded.checksum() == 2114181697

    literal = L2Book("MATIC/USD")  # the printed lexemes (0.566, 18097.1547) give Kraken's other number
    assert literal.apply(book_update("ws_v2.book.snapshot")) is Apply.MISMATCH
    assert literal.checksum() == 3830085102


def test_every_documented_book_vector_matches_the_naive_checksum() -> None:
    for vector in vectors()["book_checksum"]:
        if "asks_low_to_high" not in vector:
            continue
        asks = [(Decimal(p), Decimal(q)) for p, q in vector["asks_low_to_high"]]
        bids = [(Decimal(p), Decimal(q)) for p, q in vector["bids_high_to_low"]]
        assert checksum_of(asks, bids) == int(vector["expected_checksum"]), vector["name"]


def test_the_checksum_text_is_the_documented_concatenation() -> None:
    for vector in vectors()["book_checksum"]:
        if "expected_concatenated_string" not in vector:
            continue
        levels = [*vector["asks_low_to_high"][:10], *vector["bids_high_to_low"][:10]]
        text = "".join(level_token(Decimal(p), Decimal(q), None, None) for p, q in levels)
        assert text == vector["expected_concatenated_string"], vector["name"]


def test_the_v1_guide_example_uses_the_same_algorithm() -> None:
    [vector] = [v for v in vectors()["book_checksum"] if v["name"] == "ws_v1_guide_example"]
    asks = [(Decimal(p), Decimal(q)) for p, q in vector["asks_low_to_high"]]
    bids = [(Decimal(p), Decimal(q)) for p, q in vector["bids_high_to_low"]]
    assert checksum_of(asks, bids) == 974947235
