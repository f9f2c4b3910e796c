"""The dead man's switch is re-armed every refresh interval, retried soon after a failure, and disarmed at a
graceful stop; against the simulator, a switch left to run out cancels every order."""

from __future__ import annotations

from decimal import Decimal

import pytest

from crocbot.core.clock import SimClock
from crocbot.core.messages import OrderType, Side
from crocbot.kraken.endpoints import KrakenApi
from crocbot.kraken.errors import KrakenError, RetryableError
from crocbot.kraken.rest import RestClient
from crocbot.kraken.rest_types import AddOrderRequest
from crocbot.venues.live.dead_mans_switch import DeadMansSwitch
from tests.support.sim import API_KEY, API_SECRET, catalog, running_simulator


class Kraken:
    """Records each call's timeout; fails while `down` is set."""

    def __init__(self) -> None:
        self.calls: list[tuple[float, int]] = []
        self.down = False
        self.clock = SimClock()

    def send(self, timeout: int) -> object:
        self.calls.append((self.clock.monotonic(), timeout))
        if self.down:
            raise RetryableError(["EService:Unavailable"], method="CancelAllOrdersAfter")
        return ("now", "later")


def run(kraken: Kraken, switch: DeadMansSwitch, seconds: int) -> None:
    """Advance one second at a time for `seconds`, ticking the switch after each."""
    for _ in range(seconds):
        kraken.clock.advance(1)
        switch.tick()


def started() -> tuple[Kraken, DeadMansSwitch]:
    kraken = Kraken()
    switch = DeadMansSwitch(kraken.send, kraken.clock, timeout=60, refresh_interval=20)
    return kraken, switch


def test_it_arms_at_once_with_the_timeout_and_refreshes_every_interval() -> None:
    kraken, switch = started()
    t0 = kraken.clock.monotonic()

    assert switch.tick()
    run(kraken, switch, 65)

    assert kraken.calls == [(t0, 60), (t0 + 20, 60), (t0 + 40, 60), (t0 + 60, 60)]
    assert switch.seconds_left(kraken.clock.monotonic()) == pytest.approx(55)


def test_a_failed_refresh_is_retried_after_a_few_seconds_not_a_whole_interval() -> None:
    kraken, switch = started()
    t0 = kraken.clock.monotonic()
    switch.tick()
    run(kraken, switch, 19)
    kraken.down = True
    run(kraken, switch, 11)  # t0+20 fails, t0+25 fails, t0+30 fails
    kraken.down = False
    run(kraken, switch, 5)  # t0+35 goes through

    assert [at - t0 for at, _ in kraken.calls] == [0, 20, 25, 30, 35]
    assert switch.failures == 0
    assert switch.fires_at == t0 + 35 + 60


def test_failures_never_push_the_deadline_kraken_keeps() -> None:
    kraken, switch = started()
    t0 = kraken.clock.monotonic()
    switch.tick()
    kraken.down = True

    run(kraken, switch, 70)

    assert switch.fires_at == t0 + 60
    assert switch.seconds_left(kraken.clock.monotonic()) == 0
    assert switch.failures == 11  # every 5 s from t0+20 to t0+70


def test_a_graceful_stop_disarms_it_and_nothing_is_sent_after() -> None:
    kraken, switch = started()
    switch.tick()
    run(kraken, switch, 10)

    assert switch.disarm()
    run(kraken, switch, 100)

    assert [timeout for _, timeout in kraken.calls] == [60, 0]
    assert switch.fires_at is None
    assert switch.seconds_left(kraken.clock.monotonic()) is None


def test_a_failed_disarm_is_reported_and_not_retried_by_the_schedule() -> None:
    kraken, switch = started()
    switch.tick()
    kraken.down = True

    assert not switch.disarm()
    run(kraken, switch, 100)

    assert [timeout for _, timeout in kraken.calls] == [60, 0]
    assert switch.fires_at is not None  # Kraken still has it armed, as far as crocbot knows


@pytest.mark.parametrize(("timeout", "refresh", "retry"), [(60, 60, 5), (60, 20, 0), (60, 20, 30), (0, 20, 5)])
def test_a_schedule_that_cannot_keep_it_armed_is_refused(timeout: int, refresh: float, retry: float) -> None:
    with pytest.raises(ValueError, match="0 < retry_after <= refresh_interval < timeout"):
        DeadMansSwitch(Kraken().send, SimClock(), timeout=timeout, refresh_interval=refresh, retry_after=retry)


def test_against_the_simulator_an_unrefreshed_switch_cancels_every_order_and_a_disarmed_one_none() -> None:
    clock = SimClock()
    with running_simulator(clock=clock) as sim:
        api = KrakenApi(RestClient(sim.rest_url, api_key=API_KEY, api_secret=API_SECRET), catalog())
        for n in (1, 2):
            price = Decimal(30000 + n)
            api.add_order(AddOrderRequest("BTC/USD", Side.BUY, OrderType.LIMIT, Decimal("0.001"), f"dms-{n}", price))
        switch = DeadMansSwitch(api.cancel_all_orders_after, clock, timeout=60, refresh_interval=20)
        assert switch.tick()
        clock.advance(59)
        sim.exchange.tick()
        before = len(api.open_orders())
        clock.advance(2)
        sim.exchange.tick()  # the switch ran out: the simulator cancels everything, as Kraken would
        after = len(api.open_orders())

        api.add_order(AddOrderRequest("BTC/USD", Side.BUY, OrderType.LIMIT, Decimal("0.001"), "dms-3", Decimal(30003)))
        again = DeadMansSwitch(api.cancel_all_orders_after, clock, timeout=60, refresh_interval=20)
        assert again.tick()
        assert again.disarm()
        clock.advance(120)
        sim.exchange.tick()
        kept = len(api.open_orders())

    assert (before, after, kept) == (2, 0, 1)


def test_a_kraken_error_is_what_counts_as_a_failure() -> None:
    def broken(timeout: int) -> object:
        raise KrakenError(["EGeneral:Permission denied"], method="CancelAllOrdersAfter")

    switch = DeadMansSwitch(broken, SimClock())

    assert not switch.tick()
    assert switch.failures == 1
    assert switch.fires_at is None
