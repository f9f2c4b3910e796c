"""A paper account opened with coins crocbot did not buy is reconciled as a shared account: the books must be
covered by what is free there, not equal to the balance (which would be a gap on every run, for ever)."""

from __future__ import annotations

from crocbot.core.messages import OrderType, Side
from crocbot.core.reconcile import BooksView, reconcile
from crocbot.venues.paper_view import paper_view
from tests.matching.engine_support import D
from tests.venues.paper_support import make_venue, submit


def _books(btc: str) -> BooksView:
    return BooksView((), frozenset(), frozenset(), {"BTC": D(btc)})


def test_a_seeded_account_covers_the_books_with_its_free_coins_and_no_gap_is_reported() -> None:
    venue, clock = make_venue({"USD": D(100_000), "BTC": D(10)})
    view = paper_view(venue.engine, (), None, clock.now(), shared=True)

    assert view.shared
    assert reconcile(_books("0.5"), view).balance_gaps == ()  # 10 BTC at the venue, 0.5 of them crocbot's
    assert reconcile(_books("0.5"), paper_view(venue.engine, (), None, clock.now())).balance_gaps == (
        ("BTC", D("0.5"), D(10)),
    )  # the equality a paper account crocbot alone funded is held to


def test_a_seeded_account_whose_free_coins_are_below_the_books_is_a_gap() -> None:
    venue, clock = make_venue({"USD": D(100_000), "BTC": D(1)})
    venue.execute(submit("cbs1", Side.SELL, OrderType.LIMIT, "0.8", clock=clock, limit="90000"))  # holds 0.8 BTC
    view = paper_view(venue.engine, (), None, clock.now(), shared=True)

    assert view.held["BTC"] == D("0.8")
    assert reconcile(_books("0.5"), view).balance_gaps == (("BTC", D("0.5"), D("0.2")),)  # free 0.2, foreign hold
