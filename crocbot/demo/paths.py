"""Where the demo finds its market data: cheap to import, so `crocbot --help` needs none of the runtime."""

from pathlib import Path

__all__ = ["DEFAULT_DATA"]

# Kraken's own 5-minute OHLCVT for BTC/USD, 2023 Q1; the shared folder sits next to the repository.
DEFAULT_DATA = Path("../shared/data/kraken-ohlcvt-2023q1/XBTUSD_5.csv.gz")
