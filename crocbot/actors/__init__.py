"""The supervised actor runtime on pykka, and (in later modules) the actors: thin shells over `crocbot.core`."""
