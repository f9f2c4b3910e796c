"""The feed's health says why market data is not fresh: while the line is down, the last attempt's error."""

from __future__ import annotations

import queue
import socket
from typing import Any

from crocbot.actors.feed import Feed, FeedOptions
from crocbot.actors.runtime import Runtime
from crocbot.actors.supervisor import ChildSpec, Policy
from crocbot.core.messages import FeedHealth
from crocbot.ops.health import HealthBoard
from tests.support.actors import Tap
from tests.support.sim import catalog

ATTEMPTS = 3


def test_while_the_feed_cannot_connect_its_health_names_the_attempt_and_its_error(runtime: Runtime) -> None:
    """A DNS failure showed as "not connected (starting)" after 8 attempts: the readiness check never said why."""
    events: queue.Queue[Any] = queue.Queue()
    # a port held by this test and never listened on: every attempt is refused, and no other test can take it
    closed = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    closed.bind(("127.0.0.1", 0))
    url = f"ws://127.0.0.1:{closed.getsockname()[1]}"
    runtime.start(
        [
            ChildSpec.actor("tap", Tap, events, (FeedHealth,)),
            ChildSpec.actor(
                "feed",
                Feed,
                url,
                ("BTC/USD",),
                catalog(),
                options=FeedOptions(backoff_initial=0.01, backoff_max=0.02),
            ),
        ],
        Policy(),
    )
    seen: list[FeedHealth] = []
    with closed:
        for _ in range(100):  # bounded: each failed attempt publishes one report
            health = events.get(timeout=10.0)
            seen.append(health)
            if f"attempt {ATTEMPTS} failed" in health.reason:
                break
    board = HealthBoard(expected=(), directory=runtime.directory)
    board.on_feed(seen[-1])
    connected = next(check for check in board.readiness() if check.name == "feed_connected")

    assert seen[0].reason == "not connected: starting"
    assert not seen[-1].fresh
    assert not connected.ok
    assert connected.detail.startswith(f"not connected: attempt {ATTEMPTS} failed: connect failed: ")
    assert "refused" in connected.detail.lower()
