"""The venue every end-to-end scenario that takes `venue` runs against: the paper venue, and the live one talking to
the simulator's private WS and REST (issue 14: the same scenario, the same assertions, both venues)."""

from __future__ import annotations

import pytest

from tests.support.e2e import VENUES


@pytest.fixture(params=VENUES)
def venue(request: pytest.FixtureRequest) -> str:
    return str(request.param)
