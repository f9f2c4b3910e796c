"""Every Kraken naming form maps to one WS v2 symbol; the catalog knows precisions and names close matches."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from crocbot.core.instrument import AssetClass
from crocbot.core.symbols import normal_asset
from crocbot.kraken.instruments import Catalog, UnknownSymbolError, rest_name
from crocbot.kraken.symbols import rest_pair_name, to_v2
from tests.kraken.conftest import DATA, needs_data, needs_vectors, vectors


@pytest.mark.parametrize(
    ("name", "v2"),
    [
        ("BTC/USD", "BTC/USD"),
        ("XBT/USD", "BTC/USD"),
        ("XBTUSD", "BTC/USD"),
        ("XXBTZUSD", "BTC/USD"),
        ("XDGUSD", "DOGE/USD"),
        ("XETHZUSD", "ETH/USD"),
        ("XBTUSDT", "BTC/USDT"),
        ("SOLUSD", "SOL/USD"),
        ("AAPLxUSD", "AAPLx/USD"),
        ("AAPLx/USD", "AAPLx/USD"),
        ("XETHXXBT", "ETH/BTC"),
    ],
)
def test_every_naming_form_maps_to_the_v2_symbol(name: str, v2: str) -> None:
    assert to_v2(name) == v2


@pytest.mark.parametrize(
    ("asset", "normal"),
    [
        ("XXBT", "BTC"),
        ("XBT", "BTC"),
        ("ZUSD", "USD"),
        ("XXDG", "DOGE"),
        ("XBT.M", "BTC"),
        ("ETH2.S", "ETH2"),
        ("XRP", "XRP"),
        ("XTZ", "XTZ"),
        ("USDT", "USDT"),
        ("AAPLx.T", "AAPLx"),
    ],
)
def test_asset_ids_and_balance_suffixes_normalise(asset: str, normal: str) -> None:
    assert normal_asset(asset) == normal


def test_rest_names_use_krakens_altnames() -> None:
    assert rest_pair_name("BTC/USD") == "XBTUSD"
    assert rest_pair_name("DOGE/USD") == "XDGUSD"
    assert rest_pair_name("TSLAx/USD") == "TSLAxUSD"


@needs_vectors
def test_the_ws_instrument_snapshot_fills_the_catalog() -> None:
    [snapshot] = [m for m in vectors()["ws_v2_messages"] if m["name"] == "ws_v2.instrument.snapshot"]
    catalog = Catalog()
    catalog.update_from_ws(snapshot["message"]["data"])

    btc = catalog["BTC/USD"]
    assert (btc.price_precision, btc.qty_precision, btc.qty_increment) == (1, 8, Decimal("1e-08"))
    assert (btc.qty_min, btc.cost_min, btc.asset_class) == (Decimal("0.0001"), Decimal("0.5"), AssetClass.CURRENCY)


@needs_data
def test_rest_asset_pairs_give_xstocks_with_fees_and_rest_names() -> None:
    path = DATA / "nautilus-kraken-rest" / "http_asset_pairs_tokenized.json"
    catalog = Catalog()
    catalog.update_from_asset_pairs(json.loads(path.read_text(), parse_float=Decimal)["result"])

    aapl = catalog["AAPLx/USD"]
    assert aapl.is_xstock
    assert (rest_name(aapl), aapl.price_increment, aapl.qty_min) == ("AAPLxUSD", Decimal("0.01"), Decimal("1E-8"))
    assert aapl.taker_fee == Decimal("0.001")


def test_an_unknown_symbol_names_close_matches(tmp_path: Path) -> None:
    catalog = Catalog()
    catalog.update_from_ws(
        {"pairs": [_pair("BTC/USD"), _pair("ETH/USD"), _pair("AAPLx/USD", base="AAPLx")], "assets": []}
    )
    with pytest.raises(UnknownSymbolError) as error:
        catalog.require(["XBT/USD", "ETH/USD", "AAPL/USD"])

    text = str(error.value)
    assert "XBT/USD (did you mean BTC/USD?)" in text
    assert "AAPL/USD (did you mean AAPLx/USD?)" in text
    assert error.value.unknown == ["XBT/USD", "AAPL/USD"]
    assert catalog["AAPLx/USD"].is_xstock


def test_the_catalog_survives_a_round_trip_through_its_disk_cache(tmp_path: Path) -> None:
    catalog = Catalog()
    catalog.update_from_ws({"pairs": [_pair("BTC/USD"), _pair("TSLAx/USD", base="TSLAx")], "assets": []})
    path = tmp_path / "state" / "instruments.json"

    catalog.save(path)
    loaded = Catalog.load(path)

    assert list(loaded) == list(catalog)
    assert not path.with_suffix(".json.tmp").exists()


def _pair(symbol: str, base: str = "BTC") -> dict[str, object]:
    return {
        "symbol": symbol,
        "base": base,
        "quote": "USD",
        "status": "online",
        "qty_precision": 8,
        "qty_increment": Decimal("1e-08"),
        "price_precision": 2,
        "cost_precision": 5,
        "price_increment": Decimal("0.01"),
        "qty_min": Decimal("0.0001"),
        "cost_min": Decimal("0.5"),
    }
