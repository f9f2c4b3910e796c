"""One tradable symbol's trading rules: precisions, increments, minimums, fees, status and asset class.

Pure data, so that the desk, the risk gate and the venues can reason about an instrument without importing the
Kraken catalog (`crocbot.kraken.instruments`), which parses the wire and caches the catalog on disk.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from decimal import Decimal
from enum import StrEnum
from typing import Any

from crocbot.core.money import fmt

__all__ = ["AssetClass", "Instrument", "DEFAULT_TAKER_FEE", "DEFAULT_MAKER_FEE"]

# Kraken's lowest spot tier as seen in live AssetPairs responses (the docs still show 0.26/0.16).
DEFAULT_TAKER_FEE = Decimal("0.0040")
DEFAULT_MAKER_FEE = Decimal("0.0025")
_TRADING = frozenset({"online", "post_only", "limit_only", "reduce_only"})


class AssetClass(StrEnum):
    CURRENCY = "currency"
    TOKENIZED_ASSET = "tokenized_asset"  # xStocks


@dataclass(frozen=True, slots=True)
class Instrument:
    symbol: str  # WS v2, e.g. BTC/USD, AAPLx/USD
    base: str
    quote: str
    asset_class: AssetClass
    status: str  # online | cancel_only | post_only | limit_only | reduce_only | maintenance | delisted | ...
    price_precision: int
    qty_precision: int
    cost_precision: int
    price_increment: Decimal
    qty_increment: Decimal
    qty_min: Decimal
    cost_min: Decimal
    taker_fee: Decimal = DEFAULT_TAKER_FEE  # fractions: 0.004 = 0.40 %
    maker_fee: Decimal = DEFAULT_MAKER_FEE
    rest_pair: str = ""  # REST pair id (XXBTZUSD) when known, else the altname
    altname: str = ""

    @property
    def is_xstock(self) -> bool:
        return self.asset_class is AssetClass.TOKENIZED_ASSET

    @property
    def accepts_orders(self) -> bool:
        return self.status in _TRADING

    def price_text(self, price: Decimal) -> str:
        return f"{price:.{self.price_precision}f}"

    def qty_text(self, qty: Decimal) -> str:
        return f"{qty:.{self.qty_precision}f}"

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for field in fields(self):
            value = getattr(self, field.name)
            if isinstance(value, Decimal):
                value = fmt(value)
            elif isinstance(value, AssetClass):
                value = str(value)
            out[field.name] = value
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Instrument:
        kwargs: dict[str, Any] = {}
        for field in fields(cls):
            if field.name not in data:
                continue
            value = data[field.name]
            if field.name == "asset_class":
                value = AssetClass(value)
            elif field.type in ("Decimal", Decimal):
                value = Decimal(str(value))
            kwargs[field.name] = value
        return cls(**kwargs)
