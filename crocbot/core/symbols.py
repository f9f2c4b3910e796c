"""Symbols and asset names as crocbot speaks them: WS v2 symbols (`BTC/USD`) and their canonical asset names.

The ledger books a fill in the fill's base and quote and its fee in whatever asset the venue names, which may be
a legacy or balance form (`XXBT`, `XBT.M`); these helpers bring both to one name. The REST naming forms (pair ids,
altnames) are the adapter's business and stay in `crocbot.kraken.symbols`.
"""

from __future__ import annotations

import re

__all__ = ["normal_asset", "split_v2", "BALANCE_SUFFIXES"]

# Legacy X/Z asset ids (REST) -> the names WS v2 uses. Kraken's own list; do not strip X or Z blindly:
# XRP, XTZ, ZEC, XMR, XLM are modern codes too.
_LEGACY_ASSETS = {
    "XXBT": "BTC",
    "XBT": "BTC",
    "XXDG": "DOGE",
    "XDG": "DOGE",
    "XETH": "ETH",
    "XLTC": "LTC",
    "XXRP": "XRP",
    "XXLM": "XLM",
    "XXMR": "XMR",
    "XETC": "ETC",
    "XZEC": "ZEC",
    "XMLN": "MLN",
    "XREP": "REP",
    "ZUSD": "USD",
    "ZEUR": "EUR",
    "ZGBP": "GBP",
    "ZCAD": "CAD",
    "ZJPY": "JPY",
    "ZAUD": "AUD",
    "ZCHF": "CHF",
}
BALANCE_SUFFIXES = (".S", ".M", ".B", ".F", ".T")
_V2 = re.compile(r"^([A-Za-z0-9.]+)/([A-Za-z0-9]+)$")


def normal_asset(asset: str) -> str:
    """`XXBT`, `XBT`, `BTC`, `XBT.M` -> `BTC`; `ETH2.S` -> `ETH2`; `AAPLx` stays `AAPLx`."""
    for suffix in BALANCE_SUFFIXES:
        if asset.endswith(suffix):
            asset = asset[: -len(suffix)]
            break
    return _LEGACY_ASSETS.get(asset, asset)


def split_v2(symbol: str) -> tuple[str, str]:
    match = _V2.match(symbol)
    if not match:
        raise ValueError(f"{symbol!r} is not a WS v2 symbol like 'BTC/USD'")
    return match.group(1), match.group(2)
