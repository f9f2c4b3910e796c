"""Money stays Decimal: floats are refused, sizes round down to the exchange's increment."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crocbot.core.money import fmt, quantize_down, round_to_decimals, to_decimal


def test_floats_are_refused_as_money() -> None:
    with pytest.raises(TypeError, match="floats are not money"):
        to_decimal(0.1)  # type: ignore[arg-type]  # a float on purpose: its refusal is the behaviour tested


@pytest.mark.parametrize(("raw", "expected"), [("0.1", Decimal("0.1")), (" 42 ", Decimal(42)), (7, Decimal(7))])
def test_strings_and_ints_convert_exactly(raw: str | int, expected: Decimal) -> None:
    assert to_decimal(raw) == expected


@pytest.mark.parametrize("raw", ["abc", "NaN", "Infinity", ""])
def test_non_numbers_are_refused_with_the_field_name(raw: str) -> None:
    with pytest.raises(ValueError, match="price"):
        to_decimal(raw, field="price")


def test_quantize_down_never_rounds_up() -> None:
    assert quantize_down(Decimal("0.123456789"), Decimal("0.0001")) == Decimal("0.1234")
    assert quantize_down(Decimal("5"), Decimal("0.5")) == Decimal("5.0")
    assert quantize_down(Decimal("1.99"), Decimal("1")) == Decimal("1")


@given(
    value=st.decimals(min_value=Decimal("0"), max_value=Decimal("1e6"), places=10, allow_nan=False),
    exponent=st.integers(min_value=-8, max_value=2),
)
def test_quantize_down_gives_a_multiple_of_the_increment_at_most_the_value(value: Decimal, exponent: int) -> None:
    increment = Decimal(1).scaleb(exponent)
    result = quantize_down(value, increment)
    assert result <= value
    assert value - result < increment
    assert result % increment == 0


def test_formatting_never_uses_exponent_notation() -> None:
    assert str(Decimal("0.00000050")) == "5.0E-7"  # the trap
    assert fmt(Decimal("0.00000050")) == "0.00000050"
    assert round_to_decimals(Decimal("1.23456"), 2) == Decimal("1.23")
