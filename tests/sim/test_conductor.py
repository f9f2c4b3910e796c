"""The conductor waits for a live bot's private connection too: time moves on only once every frame the simulator
sent there (an order's answer, an execution) has been handled, or a fill would reach the bot after time passed it."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from crocbot.kraken.ws import WsClient
from crocbot.sim.conductor import Conductor
from crocbot.sim.runner import SimConfig, Simulator


@dataclass
class _Session:
    """What the conductor reads of a simulator's WS session."""

    sent: int
    private: bool = True
    idle: bool = True


class _Timers:
    def __init__(self, simulator: Simulator) -> None:
        self.clock = simulator.clock

    def next_deadline(self) -> float | None:
        return None


class _Quiet:
    def quiet(self) -> bool:
        return True


def test_time_waits_until_the_private_connection_has_handled_every_frame_sent(monkeypatch: pytest.MonkeyPatch) -> None:
    simulator = Simulator(SimConfig(symbols=("BTC/USD",)))  # not started: its sessions are the test's
    session = _Session(sent=3)
    monkeypatch.setattr(simulator.ws, "sessions", lambda: [session])
    conductor = Conductor(simulator, _Timers(simulator), activity=_Quiet())
    conductor.require_feed = False  # only the private connection is looked at here
    client = WsClient("ws://127.0.0.1:9/auth/v2", [], lambda message: None, name="private")
    client.connected.set()
    client.stats.session_frames = 2

    assert conductor.quiet()  # no private client handed over: nothing to wait for
    conductor.on_private_client(client)
    assert not conductor.quiet()  # one frame on its way
    client.stats.session_frames = 3
    assert conductor.quiet()
    session.idle = False  # a frame queued, not yet on the wire
    assert not conductor.quiet()
