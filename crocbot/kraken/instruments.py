"""The instrument catalog: precisions, increments, minimums, status and asset class of every tradable symbol.

Sources: the WS v2 `instrument` channel (with `include_tokenized_assets`, the official list of v2 symbols) and
REST `AssetPairs` (also with `aclass_base=tokenized_asset` for xStocks; it adds fees and REST names). The catalog
is cached on disk so that crocbot starts fast and can start without Kraken. What an instrument is belongs to the
core (`crocbot.core.instrument`); this module only reads Kraken's descriptions of them.
"""

from __future__ import annotations

import difflib
import json
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any

from crocbot.core.instrument import DEFAULT_MAKER_FEE, DEFAULT_TAKER_FEE, AssetClass
from crocbot.core.instrument import Instrument as Instrument  # re-exported for the desk until the desk package lands
from crocbot.core.symbols import normal_asset
from crocbot.kraken.symbols import rest_pair_name, to_v2

__all__ = ["Catalog", "UnknownSymbolError", "rest_name"]

_XSTOCK = re.compile(r"^[A-Z0-9]+x$")


class UnknownSymbolError(ValueError):
    def __init__(self, unknown: list[str], suggestions: Mapping[str, list[str]]) -> None:
        parts = []
        for symbol in unknown:
            close = suggestions.get(symbol) or []
            hint = f" (did you mean {' or '.join(close)}?)" if close else ""
            parts.append(f"{symbol}{hint}")
        super().__init__(
            "unknown symbol" + ("s" if len(unknown) > 1 else "") + ": " + ", ".join(parts) + "; crocbot uses WS v2 "
            "symbols such as BTC/USD (not XBT/USD) and AAPLx/USD for xStocks"
        )
        self.unknown = unknown
        self.suggestions = dict(suggestions)


def rest_name(instrument: Instrument) -> str:
    """The name to put in a REST `pair=` parameter."""
    return instrument.altname or instrument.rest_pair or rest_pair_name(instrument.symbol)


def _dec(value: Any) -> Decimal:
    """Wire numbers arrive as Decimal (parse_float), int, or string (`"0.0001"`, `1e-08`)."""
    if isinstance(value, Decimal):
        return value
    return Decimal(str(value))


def instrument_from_ws(pair: Mapping[str, Any], tokenized: bool = False) -> Instrument:
    """One `pairs[]` entry of the WS v2 instrument channel."""
    price_increment = _dec(pair.get("price_increment", pair.get("tick_size")))
    return Instrument(
        symbol=str(pair["symbol"]),
        base=str(pair["base"]),
        quote=str(pair["quote"]),
        asset_class=AssetClass.TOKENIZED_ASSET if tokenized else AssetClass.CURRENCY,
        status=str(pair.get("status", "online")),
        price_precision=int(pair["price_precision"]),
        qty_precision=int(pair["qty_precision"]),
        cost_precision=int(pair.get("cost_precision", pair["price_precision"])),
        price_increment=price_increment,
        qty_increment=_dec(pair["qty_increment"]),
        qty_min=_dec(pair.get("qty_min", 0)),
        cost_min=_dec(pair.get("cost_min", 0)),
    )


def instrument_from_asset_pair(key: str, row: Mapping[str, Any]) -> Instrument | None:
    """One entry of REST AssetPairs; None for dark-pool (`.d`) rows, which no v2 symbol names."""
    if key.endswith(".d"):
        return None
    wsname = str(row.get("wsname") or "")
    symbol = to_v2(wsname) if wsname else to_v2(str(row.get("altname") or key))
    tick = _dec(row.get("tick_size", Decimal(1).scaleb(-int(row["pair_decimals"]))))
    lot_decimals = int(row["lot_decimals"])
    fees = row.get("fees") or []
    fees_maker = row.get("fees_maker") or []
    return Instrument(
        symbol=symbol,
        base=normal_asset(str(row["base"])),
        quote=normal_asset(str(row["quote"])),
        asset_class=AssetClass(str(row.get("aclass_base", "currency"))),
        status=str(row.get("status", "online")),
        price_precision=int(row["pair_decimals"]),
        qty_precision=lot_decimals,
        cost_precision=int(row.get("cost_decimals", row["pair_decimals"])),
        price_increment=tick,
        qty_increment=Decimal(1).scaleb(-lot_decimals),
        qty_min=_dec(row.get("ordermin", 0)),
        cost_min=_dec(row.get("costmin", 0)),
        taker_fee=_dec(fees[0][1]) / 100 if fees else DEFAULT_TAKER_FEE,
        maker_fee=_dec(fees_maker[0][1]) / 100 if fees_maker else DEFAULT_MAKER_FEE,
        rest_pair=key,
        altname=str(row.get("altname") or ""),
    )


class Catalog:
    """Instruments by WS v2 symbol. Not thread-safe for writers; one actor owns it and shares frozen copies."""

    def __init__(self, instruments: Iterable[Instrument] = ()) -> None:
        self._by_symbol: dict[str, Instrument] = {i.symbol: i for i in instruments}

    def __len__(self) -> int:
        return len(self._by_symbol)

    def __contains__(self, symbol: object) -> bool:
        return symbol in self._by_symbol

    def __iter__(self) -> Any:
        return iter(self._by_symbol.values())

    def get(self, symbol: str) -> Instrument | None:
        return self._by_symbol.get(symbol)

    def __getitem__(self, symbol: str) -> Instrument:
        found = self._by_symbol.get(symbol)
        if found is None:
            raise self._unknown([symbol])
        return found

    def symbols(self) -> list[str]:
        return sorted(self._by_symbol)

    def require(self, symbols: Iterable[str]) -> list[Instrument]:
        """The instruments for `symbols`, or UnknownSymbolError naming every unknown one with close matches."""
        wanted = list(symbols)
        unknown = [s for s in wanted if s not in self._by_symbol]
        if unknown:
            raise self._unknown(unknown)
        return [self._by_symbol[s] for s in wanted]

    def _unknown(self, unknown: list[str]) -> UnknownSymbolError:
        known = list(self._by_symbol)
        suggestions: dict[str, list[str]] = {}
        for symbol in unknown:
            try:
                normal = to_v2(symbol)
            except ValueError:
                normal = symbol
            if normal != symbol and normal in self._by_symbol:
                close = [normal]  # a legacy name of a listed pair: no need to guess further
            else:
                close = difflib.get_close_matches(symbol, known, n=3, cutoff=0.6)
            suggestions[symbol] = close
        return UnknownSymbolError(unknown, suggestions)

    def merge(self, other: Iterable[Instrument]) -> None:
        """Add or update instruments; REST-only facts (fees, REST names) survive a WS update without them."""
        for incoming in other:
            old = self._by_symbol.get(incoming.symbol)
            if old is not None and not incoming.rest_pair:
                incoming = replace(  # noqa: PLW2901 - the merged value replaces the incoming one on purpose
                    incoming,
                    taker_fee=old.taker_fee,
                    maker_fee=old.maker_fee,
                    rest_pair=old.rest_pair,
                    altname=old.altname,
                )
            self._by_symbol[incoming.symbol] = incoming

    def update_from_ws(self, data: Mapping[str, Any], *, tokenized_symbols: Iterable[str] = ()) -> None:
        """Apply an instrument-channel snapshot or update (`{"assets": [...], "pairs": [...]}`)."""
        tokenized = set(tokenized_symbols)
        # Tokenized assets carry a `multiplier` (their fixed token conversion rate); xStock names end in a small x.
        tokenized_assets = {
            str(a["id"]) for a in data.get("assets", ()) if "multiplier" in a or _XSTOCK.match(str(a.get("id", "")))
        }
        pairs = []
        for pair in data.get("pairs", ()):
            base = str(pair.get("base", ""))
            is_token = pair.get("symbol") in tokenized or base in tokenized_assets or bool(_XSTOCK.match(base))
            pairs.append(instrument_from_ws(pair, tokenized=is_token))
        self.merge(pairs)

    def update_from_asset_pairs(self, result: Mapping[str, Any]) -> None:
        self.merge(i for key, row in result.items() if (i := instrument_from_asset_pair(key, row)) is not None)

    # -- disk cache -----------------------------------------------------------------------------------

    def save(self, path: Path) -> None:
        """Write atomically (temp file + replace) so a crash never leaves half a cache."""
        path.parent.mkdir(parents=True, exist_ok=True)
        temp = path.with_suffix(path.suffix + ".tmp")
        payload = {"instruments": [i.to_json() for i in self._by_symbol.values()]}
        temp.write_text(json.dumps(payload, indent=1, sort_keys=True), encoding="utf-8")
        os.replace(temp, path)

    @classmethod
    def load(cls, path: Path) -> Catalog:
        data = json.loads(path.read_text(encoding="utf-8"), parse_float=Decimal)
        return cls(Instrument.from_json(row) for row in data["instruments"])
