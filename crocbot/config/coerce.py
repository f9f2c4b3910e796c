"""Text from the environment, `.env` and `--set`, turned into what each setting's type expects.

Those layers deliver strings. pydantic's lax mode turns most of them into the field's type ('0.004' into a
Decimal, 'true' into a bool, '8788' into an int), but not all: a `Literal[10, 25, 100]` refuses '10', an enum of
numbers refuses '2', and a table or a list given as text is refused as "not a dictionary". This walks the settings
model alongside a layer's values and converts a string only where its field's type needs it, so that every setting
can be given from every layer. A string it cannot convert is left as it is, for pydantic to refuse with its field.
"""

from __future__ import annotations

import json
import tomllib
import types
from collections.abc import Mapping
from decimal import Decimal
from enum import Enum
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import AliasChoices, BaseModel
from pydantic.fields import FieldInfo

__all__ = ["coerce_layer", "parse_structured"]


def coerce_layer(model: type[BaseModel], values: Mapping[str, Any]) -> dict[str, Any]:
    """`values` (one layer, by field name or alias) with each string converted for its field where needed."""
    fields = _fields_by_key(model)
    out: dict[str, Any] = {}
    for key, value in values.items():
        info = fields.get(key.lower()) if isinstance(key, str) else None
        out[key] = value if info is None else _coerce(info.annotation, value)
    return out


def parse_structured(text: str) -> Any:
    """A table or list written as JSON (`{"USD": 10000}`) or as a TOML value (`{USD = 10000}`); numbers exact.

    Returns `text` itself when it is neither, so that the field's own error names what was given.
    """
    try:
        return json.loads(text, parse_float=Decimal)
    except ValueError:
        pass
    try:
        return tomllib.loads(f"value = {text}", parse_float=Decimal)["value"]
    except tomllib.TOMLDecodeError:
        return text


def _fields_by_key(model: type[BaseModel]) -> dict[str, FieldInfo]:
    # Layers spell a field by its name or by an alias (REAL_TRADING), in any case (environment variables).
    fields: dict[str, FieldInfo] = {}
    for name, info in model.model_fields.items():
        fields[name.lower()] = info
        aliases = info.validation_alias
        if isinstance(aliases, AliasChoices):
            fields.update({choice.lower(): info for choice in aliases.choices if isinstance(choice, str)})
        elif isinstance(aliases, str):
            fields[aliases.lower()] = info
    return fields


def _coerce(annotation: Any, value: Any) -> Any:
    annotation = _unwrap(annotation)
    if isinstance(value, str):
        value = _from_text(annotation, value)
    origin = get_origin(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel) and isinstance(value, Mapping):
        return coerce_layer(annotation, value)
    if origin is not None and _is_subclass(origin, Mapping) and isinstance(value, Mapping):
        item = get_args(annotation)[-1] if get_args(annotation) else Any
        return {key: _coerce(item, each) for key, each in value.items()}
    if origin in (list, tuple, set, frozenset) and isinstance(value, list | tuple):
        items = [arg for arg in get_args(annotation) if arg is not Ellipsis]
        if origin is tuple and len(items) == len(value) and Ellipsis not in get_args(annotation):
            return [_coerce(item, each) for item, each in zip(items, value, strict=True)]
        return [_coerce(items[0] if items else Any, each) for each in value]
    return value


def _from_text(annotation: Any, text: str) -> Any:
    if get_origin(annotation) is Literal:
        return _choice(get_args(annotation), text)
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        by_name = {member.name: member.value for member in annotation}
        return by_name.get(text.strip(), _choice(tuple(m.value for m in annotation), text))
    if _is_structured(annotation) and text.lstrip().startswith(("{", "[")):
        return parse_structured(text)
    return text


def _choice(choices: tuple[Any, ...], text: str) -> Any:
    """The choice that `text` spells (10 for '10', True for 'true'); text itself for string choices or none."""
    wanted = text.strip()
    for choice in choices:
        if isinstance(choice, bool):
            if wanted.lower() == str(choice).lower():
                return choice
        elif not isinstance(choice, str) and wanted == str(choice):
            return choice
    return text


def _is_structured(annotation: Any) -> bool:
    origin = get_origin(annotation)
    if origin is not None:
        return _is_subclass(origin, Mapping) or origin in (list, tuple, set, frozenset)
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def _unwrap(annotation: Any) -> Any:
    """The type under `Annotated[...]` and `X | None`; a union of several types is left alone."""
    while True:
        origin = get_origin(annotation)
        if origin is Annotated:
            annotation = get_args(annotation)[0]
        elif origin in (Union, types.UnionType):
            present = [arg for arg in get_args(annotation) if arg is not type(None)]
            if len(present) != 1:
                return annotation
            annotation = present[0]
        else:
            return annotation


def _is_subclass(candidate: Any, parent: type) -> bool:
    return isinstance(candidate, type) and issubclass(candidate, parent)
