"""Money is `Decimal`: conversion that refuses floats, rounding to exchange increments, formatting."""

from __future__ import annotations

from decimal import ROUND_DOWN, ROUND_HALF_EVEN, Decimal, InvalidOperation

__all__ = ["ZERO", "ONE", "to_decimal", "quantize_down", "round_to_decimals", "fmt", "quote_places", "QUOTE_PLACES"]

ZERO = Decimal(0)
ONE = Decimal(1)
# Kraken's display precision of the fiat quote currencies; any other quote (a coin) is shown to 8 places.
QUOTE_PLACES = {"USD": 2, "EUR": 2, "GBP": 2, "CAD": 2, "AUD": 2, "CHF": 2, "JPY": 0}
_COIN_PLACES = 8


def to_decimal(value: Decimal | int | str, *, field: str = "value") -> Decimal:
    """Convert exchange or config input to a finite `Decimal`.

    Floats are refused: `Decimal(0.1)` is 0.1000000000000000055511151231257827…, and a price that is off
    in the 17th digit still breaks a checksum or an increment check.
    """
    if isinstance(value, float):
        raise TypeError(f"{field}: floats are not money; pass a Decimal, int or str (got {value!r})")
    if isinstance(value, bool):
        raise TypeError(f"{field}: a bool is not a number (got {value!r})")
    if isinstance(value, Decimal):
        number = value
    elif isinstance(value, int):
        number = Decimal(value)
    elif isinstance(value, str):
        try:
            number = Decimal(value.strip())
        except InvalidOperation:
            raise ValueError(f"{field}: {value!r} is not a decimal number") from None
    else:
        raise TypeError(f"{field}: expected a Decimal, int or str, got {type(value).__name__}")
    if not number.is_finite():
        raise ValueError(f"{field}: {value!r} is not a finite number")
    return number


def quantize_down(value: Decimal, increment: Decimal) -> Decimal:
    """Round `value` toward zero to a whole multiple of `increment` (order sizes never round up)."""
    if increment <= 0:
        raise ValueError(f"increment must be positive, got {fmt(increment)}")
    steps = (value / increment).to_integral_value(rounding=ROUND_DOWN)
    return (steps * increment).quantize(increment, rounding=ROUND_DOWN)


def round_to_decimals(value: Decimal, decimals: int, *, rounding: str = ROUND_HALF_EVEN) -> Decimal:
    """Round to a number of decimal places, the way Kraken states price and volume precision."""
    if decimals < 0:
        raise ValueError(f"decimals must be >= 0, got {decimals}")
    return value.quantize(Decimal(1).scaleb(-decimals), rounding=rounding)


def fmt(value: Decimal) -> str:
    """Plain positional notation, never exponent form or a float's repr."""
    return format(value, "f")


def quote_places(symbol_or_quote: str) -> int:
    """Decimal places to show an amount of a quote currency at: `USD`, or the quote of a symbol like `BTC/USD`."""
    quote = symbol_or_quote.rpartition("/")[2]
    return QUOTE_PLACES.get(quote, _COIN_PLACES)
