"""Kraken's order `deadline` (WS v2 add_order/amend_order, REST AddOrder/AmendOrder): after it the engine rejects the
request rather than carry it out late. Judged on the wall clock, as Kraken judges it on its own: a replay's simulated
time is not the time a request travels in."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from crocbot.kraken.codec import FrameError, parse_time

__all__ = ["deadline_refusal"]

_MAX_AHEAD = timedelta(seconds=60)  # WS: 500 ms to 60 s ahead; REST: 2 s to 60 s


def deadline_refusal(value: Any) -> str | None:
    """Kraken's answer to a request's `deadline` (None: go ahead). The lower bound is the sender's to keep: a
    deadline sent 2 s ahead arrives a little less ahead, and Kraken does not refuse it for that."""
    if value is None:
        return None
    try:
        deadline = parse_time(value)
    except FrameError:
        return "EGeneral:Invalid arguments:deadline"
    now = datetime.now(UTC)
    if deadline <= now:
        return "EService:Deadline elapsed"
    if deadline - now > _MAX_AHEAD:
        return "EGeneral:Invalid arguments:deadline"
    return None
