"""Paper order and fill ids: Kraken's shape, never shared by two accounts or two runs, and a restored account
goes on without repeating one (issue 12: the same fill id appeared in two unrelated demo runs)."""

from __future__ import annotations

import json
import re

from crocbot.core.clock import SimClock
from crocbot.core.messages import OrderEvent, OrderType, Side
from crocbot.venues.paper import PaperVenue
from tests.matching.engine_support import D
from tests.venues.paper_support import INSTRUMENTS, book, fills, public_trade, submit

KRAKEN_ID = re.compile(r"^[A-Z2-7]{6}-[A-Z2-7]{5}-[A-Z2-7]{6}$")
ROUNDS = 20


def _trade(venue: PaperVenue, clock: SimClock, rounds: int = ROUNDS) -> tuple[set[str], set[str]]:
    """Buy and sell back `rounds` times at market; the order ids and the fill ids the venue gave."""
    orders: set[str] = set()
    fill_ids: set[str] = set()
    venue.on_book("BTC/USD", book(("59990.0", "50")), book(("60000.0", "50")))
    for n in range(rounds):
        for side in (Side.BUY, Side.SELL):
            events = venue.execute(submit(f"id{side.value[0]}{n}", side, OrderType.MARKET, "0.01", clock=clock))
            orders |= {e.order_id for e in events if isinstance(e, OrderEvent) and e.order_id is not None}
            fill_ids |= {f.fill_id for f in fills(events)}
    return orders, fill_ids


def _fresh_venue() -> tuple[PaperVenue, SimClock]:
    """A new paper account as the venue actor opens one: no seed."""
    clock = SimClock()
    return PaperVenue.new(INSTRUMENTS, {"USD": D(100_000)}, clock=clock), clock


def test_two_fresh_paper_accounts_give_disjoint_order_and_fill_ids_in_krakens_shape() -> None:
    first_orders, first_fills = _trade(*_fresh_venue())
    second_orders, second_fills = _trade(*_fresh_venue())

    assert len(first_orders) == len(second_orders) == 2 * ROUNDS
    assert len(first_fills) == len(second_fills) == 2 * ROUNDS
    assert not first_orders & second_orders
    assert not first_fills & second_fills
    assert all(KRAKEN_ID.match(value) for value in first_orders | second_orders | first_fills | second_fills)
    assert {value[0] for value in first_orders | second_orders} == {"O"}
    assert {value[0] for value in first_fills | second_fills} == {"T"}


def test_a_restored_account_goes_on_without_repeating_an_id_it_gave_before_the_restart() -> None:
    venue, clock = _fresh_venue()
    before_orders, before_fills = _trade(venue, clock)
    state = json.loads(json.dumps(venue.to_state()))  # as the paper-account file holds it
    restored = PaperVenue.from_state(state, INSTRUMENTS, clock=clock)
    restored.on_trade(public_trade("60000.0", "0.01", clock=clock))

    after_orders, after_fills = _trade(restored, clock)

    assert len(after_orders) == len(after_fills) == 2 * ROUNDS
    assert not before_orders & after_orders
    assert not before_fills & after_fills


def test_a_seed_still_gives_the_same_ids_for_reproducible_tests() -> None:
    clock_a, clock_b = SimClock(), SimClock()
    a = PaperVenue.new(INSTRUMENTS, {"USD": D(100_000)}, clock=clock_a, seed=3)
    b = PaperVenue.new(INSTRUMENTS, {"USD": D(100_000)}, clock=clock_b, seed=3)

    assert _trade(a, clock_a, rounds=2) == _trade(b, clock_b, rounds=2)
