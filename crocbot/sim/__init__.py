"""A Kraken-compatible exchange on 127.0.0.1: WS v2 and REST, a matching engine, market sources, fault injection."""
