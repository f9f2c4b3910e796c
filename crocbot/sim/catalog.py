"""The simulator's listed pairs: crypto and xStocks with Kraken's precisions, minimums and names.

Values follow Kraken's live AssetPairs where the captures in `../shared/data` show them (BTC/USD: 1 price
decimal, 8 qty decimals, cost minimum 0.5 USD; xStocks: 2 price decimals and a qty minimum of 1e-8). Fees are
Kraken's lowest spot tier, 0.40 % taker and 0.25 % maker, unless a caller configures others.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from crocbot.core.instrument import AssetClass, Instrument
from crocbot.core.symbols import split_v2
from crocbot.kraken.symbols import rest_asset_name

__all__ = [
    "DEFAULT_INSTRUMENTS",
    "START_PRICES",
    "instrument",
    "asset_pair_row",
    "asset_id",
    "asset_row",
    "pair_id",
    "by_any_name",
]

# Kraken's legacy pair ids, for the pairs that have them; newer listings use the altname.
_PAIR_IDS = {"BTC/USD": "XXBTZUSD", "ETH/USD": "XETHZUSD", "DOGE/USD": "XDGUSD", "ETH/BTC": "XETHXXBT"}
_LEGACY_ASSET_IDS = {"BTC": "XXBT", "ETH": "XETH", "DOGE": "XXDG", "USD": "ZUSD", "EUR": "ZEUR"}
# Assets' (decimals, display_decimals): Kraken's Assets example gives XXBT 10/5 and ZUSD, ZEUR 4/2; fiat follows
# USD, crypto BTC. xStocks keep 8 decimals, the qty precision of their pairs (Kraken does not document theirs).
_FIAT = {"USD", "EUR", "GBP", "CAD", "JPY", "AUD", "CHF"}
_FIAT_DECIMALS, _CRYPTO_DECIMALS, _XSTOCK_DECIMALS = (4, 2), (10, 5), (8, 8)


def instrument(
    symbol: str,
    *,
    price_decimals: int,
    qty_decimals: int = 8,
    qty_min: str,
    cost_min: str = "0.5",
    status: str = "online",
) -> Instrument:
    base, quote = split_v2(symbol)
    xstock = base.endswith("x") and base[:-1].isupper()
    return Instrument(
        symbol=symbol,
        base=base,
        quote=quote,
        asset_class=AssetClass.TOKENIZED_ASSET if xstock else AssetClass.CURRENCY,
        status=status,
        price_precision=price_decimals,
        qty_precision=qty_decimals,
        cost_precision=5,
        price_increment=Decimal(1).scaleb(-price_decimals),
        qty_increment=Decimal(1).scaleb(-qty_decimals),
        qty_min=Decimal(qty_min),
        cost_min=Decimal(cost_min),
        rest_pair=pair_id(symbol),
        altname=rest_asset_name(base) + rest_asset_name(quote),
    )


def pair_id(symbol: str) -> str:
    base, quote = split_v2(symbol)
    return _PAIR_IDS.get(symbol, rest_asset_name(base) + rest_asset_name(quote))


DEFAULT_INSTRUMENTS: tuple[Instrument, ...] = (
    instrument("BTC/USD", price_decimals=1, qty_min="0.00005"),
    instrument("ETH/USD", price_decimals=2, qty_min="0.001"),
    instrument("SOL/USD", price_decimals=2, qty_min="0.02"),
    instrument("DOGE/USD", price_decimals=7, qty_min="20"),
    instrument("AAPLx/USD", price_decimals=2, qty_min="0.00000001"),
    instrument("TSLAx/USD", price_decimals=2, qty_min="0.00000001"),
    instrument("SPYx/USD", price_decimals=2, qty_min="0.00000001"),
    instrument("QQQx/USD", price_decimals=2, qty_min="0.00000001"),
    instrument("NVDAx/USD", price_decimals=2, qty_min="0.00000001"),
)

START_PRICES: dict[str, Decimal] = {
    "BTC/USD": Decimal("65000.0"),
    "ETH/USD": Decimal("3200.00"),
    "SOL/USD": Decimal("150.00"),
    "DOGE/USD": Decimal("0.1500000"),
    "AAPLx/USD": Decimal("230.00"),
    "TSLAx/USD": Decimal("250.00"),
    "SPYx/USD": Decimal("560.00"),
    "QQQx/USD": Decimal("480.00"),
    "NVDAx/USD": Decimal("130.00"),
}


def asset_id(asset: str) -> str:
    """The REST id of a v2 asset name: BTC -> XXBT, USD -> ZUSD; newer listings keep their name (SOL, AAPLx)."""
    return _LEGACY_ASSET_IDS.get(asset, asset)


def asset_row(asset: str, *, tokenized: bool) -> dict[str, Any]:
    """One REST Assets entry, with the fields Kraken's Assets example shows."""
    decimals, display = _XSTOCK_DECIMALS if tokenized else _FIAT_DECIMALS if asset in _FIAT else _CRYPTO_DECIMALS
    return {
        "aclass": "tokenized_asset" if tokenized else "currency",
        "altname": rest_asset_name(asset),
        "decimals": decimals,
        "display_decimals": display,
        "collateral_value": 1,
        "status": "enabled",
    }


def asset_pair_row(item: Instrument) -> dict[str, Any]:
    """The instrument as one REST AssetPairs entry, with every field of Kraken's live rows (captures in
    `../shared/data/nautilus-kraken-rest`). The simulator offers no margin: no leverage, position limits 0."""
    row: dict[str, Any] = {
        "altname": item.altname,
        "wsname": f"{rest_asset_name(item.base)}/{rest_asset_name(item.quote)}",
        "aclass_base": str(item.asset_class),
        "base": asset_id(item.base),
        "aclass_quote": "currency",
        "quote": asset_id(item.quote),
        "lot": "unit",
        "cost_decimals": item.cost_precision,
        "pair_decimals": item.price_precision,
        "lot_decimals": item.qty_precision,
        "lot_multiplier": 1,
        "leverage_buy": [],
        "leverage_sell": [],
        "fees": [[0, item.taker_fee * 100]],
        "fees_maker": [[0, item.maker_fee * 100]],
        "fee_volume_currency": "ZUSD",
        "margin_call": 80,
        "margin_stop": 40,
        "ordermin": format(item.qty_min, "f"),
        "costmin": format(item.cost_min, "f"),
        "tick_size": format(item.price_increment, "f"),
        "status": item.status,
    }
    if item.is_xstock:  # Kraken's tokenized rows name their venue; its crypto rows do not (yet)
        row["execution_venue"] = "international"
    row["long_position_limit"] = 0
    row["short_position_limit"] = 0
    return row


def by_any_name(instruments: Iterable[Instrument]) -> dict[str, Instrument]:
    """Every name a client may use in a REST `pair=`: pair id, altname, and the v2 symbol."""
    names: dict[str, Instrument] = {}
    for item in instruments:
        for name in (item.rest_pair, item.altname, item.symbol):
            if name:
                names[name] = item
    return names
