"""Pure trading logic: no threads, no I/O, fully typed, tested directly."""
