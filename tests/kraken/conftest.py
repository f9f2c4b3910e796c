"""Kraken's documented vectors, loaded with Decimal so that wire lexemes such as 0.10000000 survive."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from crocbot.kraken.jsontext import dumps

SHARED = Path(__file__).resolve().parents[3] / "shared"
SHARED_VECTORS = SHARED / "kraken" / "vectors.json"
# The full set when the shared folder sits next to the repository, else the subset kept in the repository.
VECTORS = SHARED_VECTORS if SHARED_VECTORS.exists() else Path(__file__).with_name("kraken_vectors.json")
DATA = SHARED / "data"
needs_vectors = pytest.mark.skipif(not VECTORS.exists(), reason=f"Kraken vectors not found at {VECTORS}")
needs_data = pytest.mark.skipif(not DATA.exists(), reason=f"recorded market data not found at {DATA}")


def vectors() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(VECTORS.read_text(encoding="utf-8"), parse_float=Decimal)
    return data


def ws_frame(name: str) -> str:
    """A documented WS v2 message as the exact text Kraken would send."""
    for message in vectors()["ws_v2_messages"]:
        if message["name"] == name:
            return dumps(message["message"])
    raise KeyError(name)
