"""The venue every end-to-end scenario that takes `venue` runs against: the paper venue, and the live one talking to
the simulator's private WS and REST (issue 14: the same scenario, the same assertions, both venues)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from loguru import logger

from tests.support.e2e import VENUES


@pytest.fixture(params=VENUES)
def venue(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def lines() -> Iterator[list[tuple[str, str]]]:
    """(level, message) of every line logged at INFO and above while the test runs."""
    seen: list[tuple[str, str]] = []
    sink = logger.add(lambda m: seen.append((m.record["level"].name, m.record["message"])), level="INFO")
    yield seen
    logger.remove(sink)
