"""Kraken's OpenAPI spec (spot REST) as JSON Schema validators, one per endpoint's success-response schema.

The spec lives beside the repository (`../shared/kraken/openapi/spot-rest/`), split into YAML files joined by
relative `$ref`s; a `referencing` registry loads each file on first use. The spec is OpenAPI 3.0, whose schema
objects are JSON Schema draft 4 plus `nullable`: `nullable: true` becomes `"null"` in the type list.

Three schemas in the spec cannot describe the answers Kraken documents beside them; they are corrected here,
each the narrowest way that still validates Kraken's own examples (`CORRECTIONS` says why, one by one). Nothing
else is loosened.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import yaml
from jsonschema import Draft4Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

__all__ = ["SPEC_DIR", "SPEC", "ResponseSchemas"]

SPEC_DIR = Path(__file__).resolve().parents[3] / "shared" / "kraken" / "openapi" / "spot-rest"
SPEC = SPEC_DIR / "openapi_v3.yaml"

_ERRORS = {"$ref": "../../../../schemas/objects/errors/error.yaml"}


def _error_is_an_array_of_strings(schema: dict[str, Any]) -> None:
    # The spec has `error: {type: array, items: {$ref: error.yaml}}`, and error.yaml is itself the array of
    # strings: an array of arrays. Kraken's own example for the same endpoint is `"error": []` of strings, as on
    # every other endpoint (FACTS §5).
    schema["properties"]["error"] = dict(_ERRORS)


def _query_orders_is_a_map_of_orders(schema: dict[str, Any]) -> None:
    # The spec applies `oneOf: [open order, closed order]` to the whole result, which is a map txid -> order; as
    # neither schema requires anything, every row matches both and `oneOf` (exactly one) rejects every answer.
    # Kraken's example is such a map: each row must be an open or a closed order.
    orders = "../../../../schemas/objects/user/orders/"
    schema["properties"]["result"] = {
        "type": "object",
        "additionalProperties": {"anyOf": [{"$ref": orders + "open.yaml"}, {"$ref": orders + "closed.yaml"}]},
    }


def _balance_ex_is_a_map_of_assets(schema: dict[str, Any]) -> None:
    # The spec declares one property literally named `asset`; Kraken's answer is a map asset -> balance row.
    result = schema["properties"]["result"]
    result["additionalProperties"] = result["properties"].pop("asset")
    result["additionalProperties"].pop("type", None)  # beside $ref it said nothing more


CORRECTIONS: dict[str, Callable[[dict[str, Any]], None]] = {
    "schemas/responses/trading/orders/add.yaml": _error_is_an_array_of_strings,
    "schemas/responses/trading/orders/amend.yaml": _error_is_an_array_of_strings,
    "schemas/responses/trading/orders/cancel.yaml": _error_is_an_array_of_strings,
    "schemas/responses/user/orders/query.yaml": _query_orders_is_a_map_of_orders,
    "schemas/responses/user/account/balanceex.yaml": _balance_ex_is_a_map_of_assets,
}


def _nullable(node: Any) -> Any:
    """OpenAPI 3.0's `nullable: true` in draft-4 terms, throughout a loaded document."""
    if isinstance(node, list):
        return [_nullable(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: _nullable(value) for key, value in node.items()}
    if out.pop("nullable", False) is True and isinstance(out.get("type"), str):
        out["type"] = [out["type"], "null"]
    return out


@functools.cache
def _document(path: Path) -> Any:
    relative = path.relative_to(SPEC_DIR).as_posix()  # raises for a $ref that leaves the spec's folder
    loaded = _nullable(yaml.safe_load(path.read_text(encoding="utf-8")))
    correct = CORRECTIONS.get(relative)
    if correct is not None:
        loaded = copy.deepcopy(loaded)
        correct(loaded)
    return loaded


def _retrieve(uri: str) -> Resource[Any]:
    parts = urlsplit(uri)
    if parts.scheme != "file":
        raise ValueError(f"the spec refers outside its folder: {uri}")
    return DRAFT4.create_resource(_document(Path(unquote(parts.path))))


def _escape(segment: str) -> str:
    return segment.replace("~", "~0").replace("/", "~1")


class ResponseSchemas:
    """Validators for the HTTP 200 JSON body of each endpoint, public (GET) or private (POST)."""

    def __init__(self) -> None:
        registry: Registry[Any] = Registry(retrieve=_retrieve)  # type: ignore[call-arg]  # attrs alias mypy misses
        self.registry = registry
        self.paths: dict[str, Any] = _document(SPEC)["paths"]

    def has(self, method: str, *, private: bool) -> bool:
        return self._path(method, private) in self.paths

    @staticmethod
    def _path(method: str, private: bool) -> str:
        return f"/{'private' if private else 'public'}/{method}"

    def validator(self, method: str, *, private: bool) -> Draft4Validator:
        path, verb = self._path(method, private), "post" if private else "get"
        if verb not in self.paths.get(path, {}):
            raise KeyError(f"the spec has no {verb.upper()} {path}")
        pointer = "/".join(
            ["#", "paths", _escape(path), verb, "responses", "200", "content", _escape("application/json"), "schema"]
        )
        return Draft4Validator({"$ref": SPEC.as_uri() + pointer}, registry=self.registry)

    def errors(self, method: str, payload: Any, *, private: bool) -> list[str]:
        """Every way `payload` breaks the endpoint's schema, each with the JSON path where it does."""
        found = self.validator(method, private=private).iter_errors(payload)
        return [f"{'/'.join(str(p) for p in error.absolute_path) or '<root>'}: {error.message}" for error in found]
