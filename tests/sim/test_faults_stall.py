"""A stall of the simulator's WS links: every link by default, or the market data links alone, so that a test can
stall a live bot's market data while its account's link (Kraken's separate private endpoint) carries on."""

from __future__ import annotations

from crocbot.sim.faults import FaultPlan


def test_a_stall_silences_every_link_unless_it_is_of_the_market_data_alone() -> None:
    everything, market_data = FaultPlan(), FaultPlan()

    everything.stall(60.0)
    market_data.stall(60.0, private=False)

    assert (everything.link_stalled(False), everything.link_stalled(True)) == (True, True)
    assert (market_data.link_stalled(False), market_data.link_stalled(True)) == (True, False)
    assert FaultPlan().link_stalled(False) is False
