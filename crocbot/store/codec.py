"""Text forms of money and time for the store, and the JSON codec for state documents.

Money is written `format(d, "f")`: positional, every digit and trailing zero kept, so `Decimal("65432.10000000")`
is stored as exactly those characters and never passes through a float. Times are aware UTC, ISO-8601 with
microseconds and a `+00:00` offset; one fixed width means text order is time order, which the journal's range
queries rely on.

State documents (the paper account, risk and ledger state) are JSON with `Decimal` and `datetime` values
wrapped as `{"$decimal": "0.00000001"}` and `{"$datetime": "2024-05-01T12:00:00.000000+00:00"}`: a bare
string could not say whether it was a number, and the wrapper keeps the digits as text.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from enum import Enum
from typing import Any

__all__ = [
    "dec_text",
    "text_dec",
    "opt_dec_text",
    "opt_text_dec",
    "ts_text",
    "text_ts",
    "opt_ts_text",
    "opt_text_ts",
    "dumps_state",
    "loads_state",
    "DECIMAL_TAG",
    "DATETIME_TAG",
]

DECIMAL_TAG = "$decimal"
DATETIME_TAG = "$datetime"
_TAGS = frozenset({DECIMAL_TAG, DATETIME_TAG})


def dec_text(value: Decimal) -> str:
    """Money as exact positional text; a float or a non-finite number is a bug upstream and is refused."""
    if not isinstance(value, Decimal):
        raise TypeError(f"money must be a Decimal, got {type(value).__name__} {value!r}")
    if not value.is_finite():
        raise ValueError(f"{value} is not a finite amount")
    return format(value, "f")


def text_dec(text: str) -> Decimal:
    try:
        value = Decimal(text)
    except (InvalidOperation, TypeError):
        raise ValueError(f"{text!r} is not a decimal number") from None
    if not value.is_finite():
        raise ValueError(f"{text!r} is not a finite amount")
    return value


def opt_dec_text(value: Decimal | None) -> str | None:
    return None if value is None else dec_text(value)


def opt_text_dec(text: str | None) -> Decimal | None:
    return None if text is None else text_dec(text)


def ts_text(value: datetime) -> str:
    """Aware UTC ISO-8601 with microseconds; a naive time is refused, since its zone would be a guess."""
    if not isinstance(value, datetime):
        raise TypeError(f"expected a datetime, got {type(value).__name__}")
    if value.utcoffset() is None:
        raise ValueError(f"naive datetime {value.isoformat()}: pass an aware UTC datetime")
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def text_ts(text: str) -> datetime:
    value = datetime.fromisoformat(text)
    if value.utcoffset() is None:
        raise ValueError(f"{text!r} has no UTC offset")
    return value.astimezone(UTC)


def opt_ts_text(value: datetime | None) -> str | None:
    return None if value is None else ts_text(value)


def opt_text_ts(text: str | None) -> datetime | None:
    return None if text is None else text_ts(text)


def dumps_state(value: Mapping[str, Any]) -> str:
    """A state document as JSON text; `loads_state(dumps_state(d)) == d` for str/int/bool/None/Decimal/datetime
    leaves in dicts and lists (tuples come back as lists, enums as their values)."""
    return json.dumps(_encode(value, "$"), ensure_ascii=False, allow_nan=False, sort_keys=True, separators=(",", ":"))


def loads_state(text: str) -> dict[str, Any]:
    value = json.loads(text, object_hook=_decode_object, parse_float=_no_float)
    if not isinstance(value, dict):
        raise ValueError(f"a state document is a JSON object, got {type(value).__name__}")
    return value


def _encode(value: Any, where: str) -> Any:
    # bool and int before Enum: an IntEnum is an int, a StrEnum a str, and both are written as their values
    if value is None or isinstance(value, bool | int | str):
        return value.value if isinstance(value, Enum) else value
    if isinstance(value, Decimal):
        return {DECIMAL_TAG: dec_text(value)}
    if isinstance(value, datetime):
        return {DATETIME_TAG: ts_text(value)}
    if isinstance(value, float):
        # a float would come back as a Decimal (or lose digits); money and quantities are Decimal
        raise TypeError(f"{where}: floats are not stored; use Decimal (got {value!r})")
    if isinstance(value, Enum):
        return _encode(value.value, where)
    if isinstance(value, Mapping):
        keys = set(value)
        if len(keys) == 1 and keys <= _TAGS:
            raise ValueError(f"{where}: a dict whose only key is {next(iter(keys))!r} would read back as a value")
        out: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"{where}: keys must be strings, got {type(key).__name__} {key!r}")
            out[key] = _encode(item, f"{where}.{key}")
        return out
    if isinstance(value, list | tuple):
        return [_encode(item, f"{where}[{index}]") for index, item in enumerate(value)]
    raise TypeError(f"{where}: cannot store {type(value).__name__} in a state document")


def _decode_object(obj: dict[str, Any]) -> Any:
    if len(obj) == 1:
        ((key, text),) = obj.items()
        if key == DECIMAL_TAG and isinstance(text, str):
            return text_dec(text)
        if key == DATETIME_TAG and isinstance(text, str):
            return text_ts(text)
    return obj


def _no_float(text: str) -> Any:
    # dumps_state never writes a float; one in the file was written by something else, and is kept exact
    return Decimal(text)
