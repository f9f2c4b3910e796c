"""Kraken adapter: symbols and instruments, the WS v2 wire codec, L2 books with checksums, REST and WS clients."""
