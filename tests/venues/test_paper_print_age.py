"""A resting order is judged only against prints made after it became live (issue 11, part 2).

The kill -9 harness found a stop filled at 17:06:37 for a position bought at 17:07:01: after a restart the paper
venue caught up with the prints since the last one it had seen (17:06:06), and those before the stop existed went
through it. A print older than an order, however late the venue learns of it, does not touch the order.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from crocbot.core.messages import OrderType, Side, Trade
from crocbot.venues.paper import PaperVenue
from tests.venues.paper_support import INSTRUMENTS, book, make_venue, submit, summary

D = Decimal
SELL = Side.SELL


def test_a_catch_up_print_older_than_the_stop_does_not_fill_it_and_a_later_one_does() -> None:
    venue, clock = make_venue({"USD": D(1000), "BTC": D(1)})
    seen = clock.now()
    venue.on_trade(Trade("BTC/USD", SELL, D("100.0"), D("0.1"), seen))  # the last print the venue saw
    clock.advance(60)
    venue.on_book("BTC/USD", book(("99.0", "10")), book(("99.5", "10")))
    placed = venue.execute(submit("stop1", SELL, OrderType.STOP_LOSS, "1", trigger="95.0", clock=clock))
    assert [s[:3] for s in summary(placed)] == [("order", "stop1", "acked")]
    restored = PaperVenue.from_state(venue.to_state(), INSTRUMENTS, clock=clock)  # a restart
    clock.advance(600)

    # The catch-up fetches everything since the last print seen: 30 s after it (before the stop), then 2 min after.
    before = Trade("BTC/USD", SELL, D("94.0"), D("0.5"), seen + timedelta(seconds=30))
    after = Trade("BTC/USD", SELL, D("94.5"), D("0.5"), seen + timedelta(seconds=120))
    assert restored.catch_up([before]) == []
    events = restored.catch_up([after])

    fills = [s for s in summary(events) if s[0] == "fill"]
    assert [(f[1], f[4]) for f in fills] == [("stop1", D("94.5"))]


def test_a_resting_limit_is_not_filled_by_a_catch_up_print_made_before_it() -> None:
    venue, clock = make_venue({"USD": D(1000), "BTC": D(0)})
    seen = clock.now()
    venue.on_trade(Trade("BTC/USD", SELL, D("100.0"), D("0.1"), seen))
    clock.advance(60)
    venue.on_book("BTC/USD", book(("99.0", "10")), book(("99.5", "10")))
    venue.execute(submit("buy1", Side.BUY, OrderType.LIMIT, "1", limit="98.0", clock=clock))
    clock.advance(600)

    older = Trade("BTC/USD", SELL, D("97.0"), D("5"), seen + timedelta(seconds=30))
    assert venue.catch_up([older]) == []
    assert venue.balances()["BTC"] == 0


def test_a_live_print_is_judged_as_it_arrives_whatever_its_exchange_timestamp_says() -> None:
    """Kraken stamps prints with its clock, the venue opens orders on the local one: a host clock a second ahead of
    Kraken's must not make the paper venue ignore every print for a second after each order (stops firing late)."""
    venue, clock = make_venue({"USD": D(1000), "BTC": D(1)})
    venue.on_book("BTC/USD", book(("99.0", "10")), book(("99.5", "10")))
    venue.execute(submit("stop1", SELL, OrderType.STOP_LOSS, "1", trigger="95.0", clock=clock))
    skewed = Trade("BTC/USD", SELL, D("94.5"), D("0.5"), clock.now() - timedelta(seconds=1))
    venue.on_book("BTC/USD", book(("94.0", "10")), book(("94.5", "10")))

    events = venue.on_trade(skewed)

    assert [s[:3] for s in summary(events)][-1] == ("order", "stop1", "filled")
