"""Every Kraken naming form mapped to one canonical WS v2 symbol.

Kraken names one market in four ways (REST pair id `XXBTZUSD`, altname `XBTUSD`, WS v1 `XBT/USD`, WS v2
`BTC/USD`) and one asset in several (`XXBT`, `XBT`, `BTC`; balances add `.S/.M/.B/.F/.T`). crocbot speaks WS v2
symbols everywhere and converts only at the REST edge; the canonical asset names and the v2 split are the
core's (`crocbot.core.symbols`), this module adds the REST forms.
"""

from __future__ import annotations

from crocbot.core.symbols import normal_asset, split_v2

__all__ = ["rest_asset_name", "to_v2", "rest_pair_name"]

# From v2 names to REST altnames: BTC -> XBT, DOGE -> XDG (the only two whose altname differs from the v2 name).
_REST_ALTNAMES = {"BTC": "XBT", "DOGE": "XDG"}
# Quote currencies, longest first, for splitting an altname or pair id that has no separator.
_QUOTES = ("ZUSD", "ZEUR", "ZGBP", "ZCAD", "ZJPY", "ZAUD", "ZCHF", "USDT", "USDC", "USDG", "XXBT", "XETH", "PYUSD")
_QUOTES_SHORT = ("USD", "EUR", "GBP", "CAD", "JPY", "AUD", "CHF", "XBT", "BTC", "ETH", "DAI", "DOT")


def rest_asset_name(asset: str) -> str:
    """The altname REST uses for a v2 asset name: BTC -> XBT, DOGE -> XDG, others unchanged."""
    return _REST_ALTNAMES.get(asset, asset)


def rest_pair_name(symbol: str) -> str:
    """The REST altname for a v2 symbol: BTC/USD -> XBTUSD, AAPLx/USD -> AAPLxUSD."""
    base, quote = split_v2(symbol)
    return rest_asset_name(base) + rest_asset_name(quote)


def to_v2(name: str) -> str:
    """Any pair name Kraken uses -> the WS v2 symbol, without a catalog.

    Handles `BTC/USD`, `XBT/USD` (v1), `XBTUSD` (altname), `XXBTZUSD` (pair id), `AAPLxUSD` (xStock altname).
    Names it cannot split unambiguously raise ValueError; the instrument catalog knows every listed pair exactly.
    """
    if "/" in name:
        base, quote = split_v2(name)
        return f"{normal_asset(base)}/{normal_asset(quote)}"
    for quote in _QUOTES + _QUOTES_SHORT:
        if name.endswith(quote) and len(name) > len(quote):
            base = name[: -len(quote)]
            return f"{normal_asset(base)}/{normal_asset(quote)}"
    raise ValueError(f"cannot tell base from quote in {name!r}; look it up in the instrument catalog")
