"""Money is `Decimal`: conversion that refuses floats, rounding to exchange increments, formatting."""

from __future__ import annotations

from decimal import ROUND_DOWN, ROUND_HALF_EVEN, Decimal, InvalidOperation

__all__ = ["ZERO", "ONE", "to_decimal", "quantize_down", "round_to_decimals", "fmt"]

ZERO = Decimal(0)
ONE = Decimal(1)


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
