"""crocbot: a supervised-actor trading bot for Kraken spot (crypto and xStocks), paper trading by default."""

__version__ = "0.1.0"
