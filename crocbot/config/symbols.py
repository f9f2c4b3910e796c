"""The configured symbols against Kraken's instrument list: what `run` checks at start, and `config check` too.

`run` loads the list from Kraken (falling back to the copy it caches in the state directory); `config check` never
calls Kraken and uses the cached copy when there is one. Both refuse with the same words, from here.
"""

from __future__ import annotations

from pathlib import Path

from crocbot.config.model import Settings
from crocbot.core.instrument import Instrument
from crocbot.kraken.instruments import Catalog, UnknownSymbolError

__all__ = ["CATALOG_FILE", "SymbolsRefused", "catalog_cache", "check_symbols"]

CATALOG_FILE = "instruments.json"  # app.CATALOG_FILE, where run writes it (tests/config/test_config_check.py)


class SymbolsRefused(ValueError):
    """The symbols cannot be traded as configured; the text says which and what to change."""


def catalog_cache(settings: Settings) -> Path:
    """Where `run` keeps its copy of Kraken's instrument list."""
    return settings.state_dir / CATALOG_FILE


def check_symbols(settings: Settings, catalog: Catalog) -> dict[str, Instrument]:
    """The configured symbols' instruments, or `SymbolsRefused` naming every unknown symbol or mismatch."""
    try:
        instruments = {i.symbol: i for i in catalog.require(settings.symbols)}
    except UnknownSymbolError as error:
        raise SymbolsRefused(f"{error}; fix CROCBOT_SYMBOLS (or --symbols)") from None
    quotes = sorted({i.quote for i in instruments.values()})
    if len(quotes) != 1:
        raise SymbolsRefused(
            f"the symbols are quoted in {', '.join(quotes)}; crocbot keeps one ledger currency, so trade pairs of "
            "one quote currency (e.g. all .../USD)"
        )
    if quotes[0] not in settings.paper.starting_balances and settings.mode == "paper":
        raise SymbolsRefused(
            f"paper.starting_balances has no {quotes[0]}, the quote currency of {', '.join(settings.symbols)}; "
            f"add e.g. --set paper.starting_balances='{{{quotes[0]} = 10000}}'"
        )
    return instruments
