"""The configured symbols' instruments, from Kraken's AssetPairs or, when Kraken does not answer, the cached catalog."""

from __future__ import annotations

import time
from collections.abc import Callable

from loguru import logger

from crocbot.config import Settings
from crocbot.config.symbols import SymbolsRefused, check_symbols
from crocbot.core.instrument import Instrument
from crocbot.kraken.errors import KrakenError
from crocbot.kraken.instruments import Catalog
from crocbot.startup import CATALOG_PAUSES, KrakenUnreachable, StartupError, fetch_catalog

__all__ = ["load_instruments", "CATALOG_FILE"]

CATALOG_FILE = "instruments.json"


def load_instruments(settings: Settings, *, pause: Callable[[float], None] = time.sleep) -> dict[str, Instrument]:
    """The configured symbols' instruments: Kraken's AssetPairs, else the cached catalog; StartupError if unknown,
    KrakenUnreachable when Kraken does not answer (a few tries, each logged) and there is no cache."""
    cache = settings.state_dir / CATALOG_FILE
    catalog = Catalog()
    try:
        catalog = fetch_catalog(settings, retry=not cache.is_file(), pause=pause)
    except (KrakenError, OSError, ValueError) as error:
        if not cache.is_file():
            raise KrakenUnreachable(
                f"could not load Kraken's instrument list from {settings.kraken.rest_url} after "
                f"{len(CATALOG_PAUSES) + 1} tries ({error}) and there is no cached copy at {cache}; check the "
                "network or CROCBOT_KRAKEN__REST_URL"
            ) from None
        logger.warning("Kraken's instrument list is unavailable ({}); using the cache {}", error, cache)
        catalog = Catalog.load(cache)
    else:
        try:
            catalog.save(cache)
        except OSError as error:  # not Kraken's fault: a state directory that cannot be written is refused by start
            logger.warning("could not cache Kraken's instrument list at {} ({})", cache, error)
    try:
        instruments = check_symbols(settings, catalog)
    except SymbolsRefused as error:
        raise StartupError(str(error)) from None
    closed = [s for s, i in instruments.items() if not i.accepts_orders]
    if closed:
        logger.warning("{} not accepting orders right now (Kraken status); no entries there", ", ".join(closed))
    return instruments
