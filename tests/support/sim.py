"""A simulator with one funded account, for tests that talk to it over loopback."""

from __future__ import annotations

import base64
import hashlib
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

from crocbot.core.clock import SimClock
from crocbot.kraken.instruments import Catalog
from crocbot.sim.catalog import DEFAULT_INSTRUMENTS
from crocbot.sim.faults import FaultPlan
from crocbot.sim.runner import SimConfig, Simulator

API_KEY = "sim-test-key-0123456789abcdef"
API_SECRET = base64.b64encode(hashlib.sha512(b"crocbot simulator test secret").digest()).decode()
BALANCES = {"USD": Decimal("100000"), "BTC": Decimal("1.5"), "ETH": Decimal("20")}


def catalog() -> Catalog:
    return Catalog(DEFAULT_INSTRUMENTS)


@contextmanager
def running_simulator(
    *, drive: bool = False, faults: FaultPlan | None = None, clock: SimClock | None = None, **config: Any
) -> Iterator[Simulator]:
    settings = SimConfig(accounts={API_KEY: (API_SECRET, dict(BALANCES))}, **config)
    simulator = Simulator(settings, faults=faults, clock=clock)
    simulator.start(drive=drive)
    try:
        yield simulator
    finally:
        simulator.stop()


def free_port() -> int:
    """A loopback port free right now (the caller binds it soon after; a clash fails loudly, never silently)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def kraken_env(simulator: Simulator) -> dict[str, str]:
    """Environment variables that point crocbot at `simulator` instead of Kraken."""
    return {
        "CROCBOT_KRAKEN__WS_URL": simulator.ws_url,
        "CROCBOT_KRAKEN__WS_AUTH_URL": simulator.ws_auth_url,
        "CROCBOT_KRAKEN__REST_URL": simulator.rest_url,
        "CROCBOT_HEALTH__PORT": str(free_port()),
    }


def kraken_settings(simulator: Simulator) -> dict[str, Any]:
    """The same, as settings overrides."""
    return {
        "kraken": {"ws_url": simulator.ws_url, "ws_auth_url": simulator.ws_auth_url, "rest_url": simulator.rest_url},
        "health": {"port": free_port()},
    }
