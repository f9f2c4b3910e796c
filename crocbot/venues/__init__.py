"""Execution venues behind one protocol (paper and live); the paper venue matches on `crocbot.matching`."""
