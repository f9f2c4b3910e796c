"""Construction-time checks shared by the message types: aware UTC time, positive money, known symbols."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from crocbot.core.money import fmt

__all__ = [
    "InvalidMessage",
    "utc",
    "positive",
    "non_negative",
    "symbol",
    "SYMBOL_PATTERN",
]

# Kraken WS v2 symbols: BASE/QUOTE, e.g. BTC/USD, 1INCH/EUR, AAPLx/USD (xStocks end in a lowercase x).
SYMBOL_PATTERN = re.compile(r"^[A-Za-z0-9.]{1,24}/[A-Z0-9]{2,10}$")


class InvalidMessage(ValueError):
    """A message that would be dangerous to act on was refused at construction."""


def utc(value: datetime, field: str) -> datetime:
    """Return `value` in UTC; a naive datetime is refused, since its zone is a guess."""
    if type(value) is datetime and value.tzinfo is UTC:
        return value  # the common case, checked first: every market message passes here
    if not isinstance(value, datetime):
        raise InvalidMessage(f"{field}: expected a datetime, got {type(value).__name__}")
    offset = value.utcoffset()
    if offset is None:
        raise InvalidMessage(f"{field}: naive datetime {value.isoformat()}; pass an aware UTC datetime")
    if offset == timedelta(0) and value.tzinfo is UTC:
        return value
    return value.astimezone(UTC)


def positive(value: Decimal, field: str) -> Decimal:
    if not isinstance(value, Decimal):
        raise InvalidMessage(f"{field}: money must be a Decimal, got {type(value).__name__}")
    if not value.is_finite() or value <= 0:
        raise InvalidMessage(f"{field}: must be a positive number, got {fmt(value)}")
    return value


def non_negative(value: Decimal, field: str) -> Decimal:
    if not isinstance(value, Decimal):
        raise InvalidMessage(f"{field}: money must be a Decimal, got {type(value).__name__}")
    if not value.is_finite() or value < 0:
        raise InvalidMessage(f"{field}: must be zero or positive, got {fmt(value)}")
    return value


_SEEN_SYMBOLS: set[str] = set()  # a bot trades a handful of symbols; each is checked by pattern once


def symbol(value: str, field: str = "symbol") -> str:
    if value in _SEEN_SYMBOLS:
        return value
    if not isinstance(value, str) or not SYMBOL_PATTERN.match(value):
        raise InvalidMessage(f"{field}: {value!r} is not a Kraken WS v2 symbol like 'BTC/USD' or 'AAPLx/USD'")
    if len(_SEEN_SYMBOLS) < 10_000:
        _SEEN_SYMBOLS.add(value)
    return value
