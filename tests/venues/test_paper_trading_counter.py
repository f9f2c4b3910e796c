"""The paper venue models Kraken's per-pair trading counter (so that crocbot pacing its commands wrongly shows in
paper too) and answers lookups of an order's terms (after an unknown outcome)."""

from __future__ import annotations

from crocbot.core.messages import (
    RATE_LIMITED,
    CommandRejected,
    OrderAmended,
    OrderLookedUp,
    OrderStatus,
    OrderType,
    Side,
)
from crocbot.venues.protocol import Amend, Cancel, Query
from tests.matching.engine_support import D
from tests.venues.paper_support import make_venue, submit


def test_an_amend_beyond_the_pairs_trading_counter_is_refused_with_krakens_error_and_changes_nothing() -> None:
    venue, clock = make_venue()
    venue.execute(submit("cbs1", Side.SELL, OrderType.STOP_LOSS, "1", clock=clock, trigger="50000"))  # +1
    answers = []
    for n in range(15):  # each amend of an order amended < 5 s ago costs 1 + 3: 1 + 14 * 4 = 57, then 61 > 60
        trigger = D(50001 + n)
        answers += venue.execute(Amend("cbs1", "BTC/USD", clock.now(), trigger_price=trigger))
    assert [type(a) for a in answers] == [OrderAmended] * 14 + [CommandRejected]
    assert answers[-1] == CommandRejected("cbs1", "amend", RATE_LIMITED, clock.now())
    terms = venue.execute(Query("cbs1", "BTC/USD", clock.now()))
    assert terms == [OrderLookedUp("cbs1", clock.now(), OrderStatus.ACKED, D(1), D(0), None, D(50014))]
    clock.advance(4.0)  # decays 4 units: room for one more
    assert [type(a) for a in venue.execute(Amend("cbs1", "BTC/USD", clock.now(), trigger_price=D(49000)))] == [
        OrderAmended
    ]


def test_a_lookup_of_an_order_the_venue_does_not_know_says_so() -> None:
    venue, clock = make_venue()
    assert venue.execute(Query("cbsnone", "BTC/USD", clock.now())) == [OrderLookedUp("cbsnone", clock.now(), None)]


def test_a_lookup_of_an_ended_order_reports_how_it_ended() -> None:
    venue, clock = make_venue()
    venue.execute(submit("cbs1", Side.SELL, OrderType.STOP_LOSS, "1", clock=clock, trigger="50000"))
    venue.execute(Cancel("cbs1", "BTC/USD", clock.now()))
    [terms] = venue.execute(Query("cbs1", "BTC/USD", clock.now()))
    assert isinstance(terms, OrderLookedUp)
    assert terms.status is OrderStatus.CANCELLED
