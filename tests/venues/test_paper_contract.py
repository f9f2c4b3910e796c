"""The paper venue's contract, through the router's protocol only: commands in, venue events out.

Everything here goes through `PaperVenue.execute(Submit|Amend|Cancel)`, `on_book`, `on_trade` and
`to_state`/`from_state`, and asserts exact Decimal values computed by hand. Kraken facts used (FACTS.md):

- Fees (§9): lowest spot tier 0.40 % taker / 0.25 % maker, the paper default. crocbot always asks for fees in
  quote (fciq), so buys and sells both pay in USD here. Kraken does not document fee rounding; the engine rounds
  each fill's fee *down* to 8 decimals (crocbot.matching.account.fee_of), which these tests pin.
- Error strings (§5): `EOrder:Order minimum not met`, `EOrder:Cost minimum not met`, `EOrder:Insufficient funds`,
  `EGeneral:Invalid arguments:volume` (the engine's choice for a qty off the qty increment), and
  `EOrder:Invalid order` for a cancel or amend of an unknown or already closed order (§4, Kraken's SDK).
- Stops (§4 add_order `triggers.reference`, default `last`): they trigger on the last trade price.

Status reporting: the venue turns each engine `trade` into a `Fill` and reports `new`/`filled`/`canceled` as
`OrderEvent`s (ACKED/FILLED/CANCELLED). It sends no PARTIALLY_FILLED `OrderEvent`: a partial fill shows as a
`Fill` alone, and the router derives PARTIALLY_FILLED from the fills (core.order_state.apply_fill).
"""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from crocbot.core.instrument import DEFAULT_MAKER_FEE, DEFAULT_TAKER_FEE
from crocbot.core.messages import CommandRejected, OrderEvent, OrderStatus, OrderType, Side
from crocbot.matching import RECENT
from crocbot.venues.paper import PaperVenue
from crocbot.venues.protocol import Amend, Cancel, VenueEvent
from tests.matching.engine_support import BTC_USD, D
from tests.venues.paper_support import INSTRUMENTS, book, fills, make_venue, public_trade, submit, summary

BUY, SELL = Side.BUY, Side.SELL
MARKET, LIMIT, STOP_LOSS = OrderType.MARKET, OrderType.LIMIT, OrderType.STOP_LOSS
TAKER, MAKER = D("0.0040"), D("0.0025")  # FACTS §9: the lowest (default) spot tier


def test_the_paper_instruments_use_krakens_default_fee_tier() -> None:
    assert (BTC_USD.taker_fee, BTC_USD.maker_fee) == (TAKER, MAKER)
    assert (DEFAULT_TAKER_FEE, DEFAULT_MAKER_FEE) == (TAKER, MAKER)


# -- 1. market orders walk the book at an exact VWAP, with the taker fee ----------------------------------------


def test_market_buy_walks_the_asks_at_the_exact_vwap_with_the_taker_fee_in_quote() -> None:
    venue, clock = make_venue({"USD": D(100_000), "BTC": D(1)})
    asks = book(("60000.0", "0.01234567"), ("60000.5", "0.02"), ("60010.2", "1"))
    venue.on_book("BTC/USD", book(("59990.0", "1")), asks)

    events = venue.execute(submit("mb1", BUY, MARKET, "0.05", clock=clock))

    # By hand: 0.01234567 @ 60000.0, 0.02 @ 60000.5, and the rest, 0.05 - 0.03234567 = 0.01765433, @ 60010.2.
    walk = [(D("60000.0"), D("0.01234567")), (D("60000.5"), D("0.02")), (D("60010.2"), D("0.01765433"))]
    costs = [D("740.7402"), D("1200.01"), D("1059.439874166")]
    assert [p * q for p, q in walk] == costs
    notional = sum(costs, Decimal(0))
    assert notional == D("3000.190074166")
    vwap = notional / D("0.05")
    assert vwap == D("60003.80148332")
    # Taker fee per fill, in USD, rounded down to 8 dp: 2.9629608, 4.80004, and 4.237759496664 -> 4.23775949
    # (half-up or half-even rounding would give 4.23775950).
    fees = [D("2.96296080"), D("4.80004000"), D("4.23775949")]
    assert summary(events) == [
        ("order", "mb1", "acked", D(0), None, ""),
        ("fill", "mb1", "buy", walk[0][1], walk[0][0], fees[0], "USD", "taker"),
        ("fill", "mb1", "buy", walk[1][1], walk[1][0], fees[1], "USD", "taker"),
        ("fill", "mb1", "buy", walk[2][1], walk[2][0], fees[2], "USD", "taker"),
        ("order", "mb1", "filled", D("0.05"), vwap, ""),
    ]
    assert venue.balances() == {
        "USD": D(100_000) - notional - sum(fees, Decimal(0)),  # 96987.809165544
        "BTC": D("1.05"),
    }
    assert venue.balances()["USD"] == D("96987.809165544")
    order_ids = {e.order_id for e in events if isinstance(e, OrderEvent)} | {f.order_id for f in fills(events)}
    assert len(order_ids) == 1
    assert None not in order_ids
    assert len({f.fill_id for f in fills(events)}) == 3
    assert all(e.ts == clock.now() for e in events if isinstance(e, OrderEvent))


def test_market_sell_walks_the_bids_at_the_exact_vwap_with_the_taker_fee_in_quote() -> None:
    venue, clock = make_venue({"USD": D(1000), "BTC": D(1)})
    venue.on_book("BTC/USD", book(("59990.0", "0.03"), ("59979.7", "0.5")), book(("60000.0", "1")))

    events = venue.execute(submit("ms1", SELL, MARKET, "0.04321987", clock=clock))

    # 0.03 @ 59990.0 = 1799.7 and 0.01321987 @ 59979.7 = 792.923836639.
    notional = D("1799.7") + D("792.923836639")
    # 1799.7 * 0.004 = 7.1988 exactly; 792.923836639 * 0.004 = 3.171695346556 -> 3.17169534 (down).
    fees = [D("7.1988"), D("3.17169534")]
    assert summary(events) == [
        ("order", "ms1", "acked", D(0), None, ""),
        ("fill", "ms1", "sell", D("0.03"), D("59990.0"), fees[0], "USD", "taker"),
        ("fill", "ms1", "sell", D("0.01321987"), D("59979.7"), fees[1], "USD", "taker"),
        ("order", "ms1", "filled", D("0.04321987"), notional / D("0.04321987"), ""),
    ]
    assert venue.balances() == {"USD": D("3582.253341299"), "BTC": D("0.95678013")}
    assert venue.balances()["USD"] == D(1000) + notional - sum(fees, Decimal(0))


# -- 2. liquidity our takers consumed stays consumed until the next book ---------------------------------------


def test_back_to_back_market_orders_do_not_reuse_consumed_depth_until_a_new_snapshot() -> None:
    venue, clock = make_venue()
    asks = book(("100.0", "1"), ("101.0", "1"), ("102.0", "5"))
    venue.on_book("BTC/USD", book(("99.0", "1")), asks)

    first = venue.execute(submit("m1", BUY, MARKET, "0.4", clock=clock))
    second = venue.execute(submit("m2", BUY, MARKET, "1", clock=clock))
    third = venue.execute(submit("m3", BUY, MARKET, "1", clock=clock))
    venue.on_book("BTC/USD", book(("99.0", "1")), asks)  # a fresh picture: the level at 100 is back
    fourth = venue.execute(submit("m4", BUY, MARKET, "1", clock=clock))

    def walked(events: list[VenueEvent]) -> list[tuple[Decimal, Decimal]]:
        return [(f.price, f.qty) for f in fills(events)]

    assert walked(first) == [(D(100), D("0.4"))]
    assert walked(second) == [(D(100), D("0.6")), (D(101), D("0.4"))]  # only 0.6 was left at 100
    assert walked(third) == [(D(101), D("0.6")), (D(102), D("0.4"))]
    assert walked(fourth) == [(D(100), D(1))]
    assert [e.avg_price for e in second if isinstance(e, OrderEvent) and e.status is OrderStatus.FILLED] == [
        D("100.4")  # (0.6 * 100 + 0.4 * 101) / 1
    ]


# -- 3. resting limits fill from prints that trade through them, as makers --------------------------------------


def test_resting_buy_ignores_prints_above_and_at_its_price_while_the_queue_ahead_trades() -> None:
    """The queue model at equal price: our order joins behind the market qty the book shows at its price
    (here 2 BTC of bids at 100.0). A print exactly at our price first trades that queue; only the print qty
    beyond it reaches us. A print above a buy's limit never fills it."""
    venue, clock = make_venue({"USD": D(1000)})
    venue.on_book("BTC/USD", book(("100.0", "2"), ("99.0", "1")), book(("101.0", "1")))
    placed = venue.execute(submit("l1", BUY, LIMIT, "1", limit="100.0", clock=clock))

    assert summary(placed) == [("order", "l1", "acked", D(0), None, "")]
    assert venue.on_trade(public_trade("100.5", "10", clock=clock)) == []  # above: no fill
    assert venue.on_trade(public_trade("100.0", "1.5", clock=clock)) == []  # at: queue ahead 2 -> 0.5
    assert venue.on_trade(public_trade("100.0", "0.5", clock=clock)) == []  # at: queue ahead 0.5 -> 0
    events = venue.on_trade(public_trade("100.0", "0.25", clock=clock))  # at, queue gone: it reaches us

    assert summary(events) == [("fill", "l1", "buy", D("0.25"), D(100), D("0.0625"), "USD", "maker")]


def test_resting_buy_at_a_new_price_level_has_no_queue_so_a_print_at_its_price_fills_it() -> None:
    venue, clock = make_venue({"USD": D(1000)})
    venue.on_book("BTC/USD", book(("99.0", "1")), book(("101.0", "1")))
    venue.execute(submit("l1", BUY, LIMIT, "1", limit="100.0", clock=clock))

    events = venue.on_trade(public_trade("100.0", "0.4", clock=clock))

    assert summary(events) == [("fill", "l1", "buy", D("0.4"), D(100), D("0.1"), "USD", "maker")]


def test_print_through_a_resting_buy_fills_it_at_its_limit_with_the_maker_fee() -> None:
    venue, clock = make_venue({"USD": D(1000)})
    venue.on_book("BTC/USD", book(("100.0", "5"), ("99.0", "1")), book(("101.0", "1")))
    venue.execute(submit("l1", BUY, LIMIT, "1", limit="100.0", clock=clock))
    clock.advance(1)

    events = venue.on_trade(public_trade("99.9", "5", clock=clock))  # through, despite 5 BTC queued at 100

    assert summary(events) == [
        ("fill", "l1", "buy", D(1), D(100), D("0.25"), "USD", "maker"),  # 100 * 0.25 %
        ("order", "l1", "filled", D(1), D(100), ""),
    ]
    assert all(e.ts == clock.now() for e in events)
    assert venue.balances() == {"USD": D("899.75"), "BTC": D(1)}


def test_a_limit_larger_than_the_prints_fills_partially_then_completes_with_exact_cumulative_figures() -> None:
    venue, clock = make_venue({"USD": D(1000)})
    venue.on_book("BTC/USD", book(("99.0", "1")), book(("99.5", "0.5"), ("101.0", "1")))

    placed = venue.execute(submit("p1", BUY, LIMIT, "2", limit="100.0", clock=clock))
    first = venue.on_trade(public_trade("99.9", "0.4", clock=clock))
    second = venue.on_trade(public_trade("99.8", "0.6", clock=clock))
    last = venue.on_trade(public_trade("99.0", "3", clock=clock))

    # The marketable 0.5 takes the ask at 99.5 (taker, 49.75 * 0.4 % = 0.199), the rest rests at 100.0.
    assert summary(placed) == [
        ("order", "p1", "acked", D(0), None, ""),
        ("fill", "p1", "buy", D("0.5"), D("99.5"), D("0.199"), "USD", "taker"),
    ]
    # Partial fills are Fills alone (no PARTIALLY_FILLED OrderEvent); each is capped by the print's qty.
    assert summary(first) == [("fill", "p1", "buy", D("0.4"), D(100), D("0.1"), "USD", "maker")]
    assert summary(second) == [("fill", "p1", "buy", D("0.6"), D(100), D("0.15"), "USD", "maker")]
    # The last print is bigger than what is left (2 - 0.5 - 0.4 - 0.6 = 0.5): the order completes.
    avg = (D("0.5") * D("99.5") + D("1.5") * D(100)) / D(2)
    assert avg == D("99.875")
    assert summary(last) == [
        ("fill", "p1", "buy", D("0.5"), D(100), D("0.125"), "USD", "maker"),
        ("order", "p1", "filled", D(2), avg, ""),
    ]
    assert venue.balances() == {"USD": D(1000) - D("199.75") - D("0.574"), "BTC": D(2)}
    assert venue.engine.held("USD") == D(0)


# -- 4. stop-loss triggers on the last trade, not on the book ---------------------------------------------------


@pytest.mark.parametrize("print_price", ["95.0", "94.0"])
def test_stop_loss_sell_triggers_on_a_trade_at_or_below_its_trigger_and_fills_as_a_market_order(
    print_price: str,
) -> None:
    venue, clock = make_venue({"USD": D(0), "BTC": D(2)})
    venue.on_book("BTC/USD", book(("100.0", "1"), ("99.0", "5")), book(("101.0", "1")))
    placed = venue.execute(submit("s1", SELL, STOP_LOSS, "1.5", trigger="95.0", clock=clock))

    # The book alone falling through the trigger does not fire it (Kraken's trigger reference is `last`).
    moved = venue.on_book("BTC/USD", book(("94.0", "1"), ("93.0", "5")), book(("94.5", "1")))
    above = venue.on_trade(public_trade("95.1", "1", clock=clock))
    fired = venue.on_trade(public_trade(print_price, "1", clock=clock))

    assert summary(placed) == [("order", "s1", "acked", D(0), None, "")]
    assert (moved, above) == ([], [])
    # It walks the bids of the current book as a taker: 1 @ 94 (fee 0.376) and 0.5 @ 93 (fee 0.186).
    assert summary(fired) == [
        ("fill", "s1", "sell", D(1), D(94), D("0.376"), "USD", "taker"),
        ("fill", "s1", "sell", D("0.5"), D(93), D("0.186"), "USD", "taker"),
        ("order", "s1", "filled", D("1.5"), D("140.5") / D("1.5"), ""),
    ]
    assert venue.balances() == {"USD": D("139.938"), "BTC": D("0.5")}


def test_stop_loss_sell_placed_below_the_last_trade_price_already_past_its_trigger_fires_at_once() -> None:
    venue, clock = make_venue({"USD": D(0), "BTC": D(1)})
    venue.on_book("BTC/USD", book(("94.0", "5")), book(("94.5", "1")))
    venue.on_trade(public_trade("94.2", "1", clock=clock))

    events = venue.execute(submit("s2", SELL, STOP_LOSS, "1", trigger="95.0", clock=clock))

    assert summary(events) == [
        ("order", "s2", "acked", D(0), None, ""),
        ("fill", "s2", "sell", D(1), D(94), D("0.376"), "USD", "taker"),
        ("order", "s2", "filled", D(1), D(94), ""),
    ]


# -- 5. rejections carry Kraken's strings word for word ----------------------------------------------------------

REJECTIONS = [
    # qty 0.00009 < ordermin 0.0001 (its cost, 5.4 USD, is above costmin)
    ("below ordermin, limit", {"USD": D(1000)}, BUY, LIMIT, "0.00009", "60000.0", "EOrder:Order minimum not met"),
    ("below ordermin, market", {"USD": D(1000)}, BUY, MARKET, "0.00009", None, "EOrder:Order minimum not met"),
    # 0.0001 * 4000.0 = 0.4 USD < costmin 0.5
    ("below costmin", {"USD": D(1000)}, BUY, LIMIT, "0.0001", "4000.0", "EOrder:Cost minimum not met"),
    # 9 decimals; the qty increment is 1e-8
    ("qty off increment", {"USD": D(1000)}, BUY, LIMIT, "0.000100001", "60000.0", "EGeneral:Invalid arguments:volume"),
    # 0.001 * 99900.0 = 99.9 fits 100 USD, but not with the 0.4 % fee reserved: 100.2996
    ("buy above balance", {"USD": D(100)}, BUY, LIMIT, "0.001", "99900.0", "EOrder:Insufficient funds"),
    # the walk: 1 @ 100 + 0.5 @ 101 = 150.5, plus 0.602 fee = 151.102 > 151
    ("market buy above balance", {"USD": D(151)}, BUY, MARKET, "1.5", None, "EOrder:Insufficient funds"),
    (
        "sell above base held",
        {"USD": D(0), "BTC": D("0.5")},
        SELL,
        MARKET,
        "0.50000001",
        None,
        "EOrder:Insufficient funds",
    ),
]


@pytest.mark.parametrize(
    ("balances", "side", "order_type", "qty", "limit", "reason"),
    [case[1:] for case in REJECTIONS],
    ids=[case[0] for case in REJECTIONS],
)
def test_submit_rejections_are_order_events_with_krakens_error_string(
    balances: dict[str, Decimal], side: Side, order_type: OrderType, qty: str, limit: str | None, reason: str
) -> None:
    venue, clock = make_venue(balances)
    venue.on_book("BTC/USD", book(("99.0", "1")), book(("100.0", "1"), ("101.0", "1")))

    events = venue.execute(submit("r1", side, order_type, qty, limit=limit, clock=clock))

    assert events == [OrderEvent("r1", OrderStatus.REJECTED, clock.now(), reason=reason)]
    assert venue.balances() == balances
    assert venue.engine.open_orders() == []


def test_the_boundary_cases_of_those_rejections_are_accepted() -> None:
    venue, clock = make_venue({"USD": D("151.102"), "BTC": D("0.5")})
    venue.on_book("BTC/USD", book(("99.0", "1")), book(("100.0", "1"), ("101.0", "1")))

    at_min = venue.execute(submit("ok1", BUY, LIMIT, "0.01", limit="50.0", clock=clock))  # 0.5 USD = costmin
    venue.execute(Cancel("ok1", "BTC/USD", clock.now()))
    exact_funds = venue.execute(submit("ok2", BUY, MARKET, "1.5", clock=clock))  # 151.102 needed, 151.102 held
    all_base = venue.execute(submit("ok3", SELL, LIMIT, "0.5", limit="200.0", clock=clock))

    assert summary(at_min) == [("order", "ok1", "acked", D(0), None, "")]
    assert summary(exact_funds)[-1] == ("order", "ok2", "filled", D("1.5"), D("150.5") / D("1.5"), "")
    assert summary(all_base) == [("order", "ok3", "acked", D(0), None, "")]
    assert venue.balances() == {"USD": D(0), "BTC": D(2)}


def test_cancel_and_amend_of_an_unknown_or_closed_order_are_refused_with_invalid_order() -> None:
    venue, clock = make_venue()
    venue.on_book("BTC/USD", book(("99.0", "1")), book(("100.0", "1")))
    venue.execute(submit("done", BUY, MARKET, "0.5", clock=clock))  # filled: no longer open
    now = clock.now()

    assert venue.execute(Cancel("nope", "BTC/USD", now)) == [
        CommandRejected("nope", "cancel", "EOrder:Invalid order", now)
    ]
    assert venue.execute(Cancel("done", "BTC/USD", now)) == [
        CommandRejected("done", "cancel", "EOrder:Invalid order", now)
    ]
    assert venue.execute(Amend("nope", "BTC/USD", now, limit_price=D("99.0"))) == [
        CommandRejected("nope", "amend", "EOrder:Invalid order", now)
    ]


# -- 6. holds of open orders ------------------------------------------------------------------------------------


def test_an_open_limit_buy_holds_quote_so_a_second_order_is_refused_until_the_first_is_cancelled() -> None:
    venue, clock = make_venue({"USD": D(1004)})
    venue.on_book("BTC/USD", book(("99.0", "1")), book(("101.0", "1")))

    first = venue.execute(submit("h1", BUY, LIMIT, "5", limit="100.0", clock=clock))  # holds 500 * 1.004 = 502
    # 5 * 100.1 * 1.004 = 502.502: more than the 502 left free, though well within the 1004 balance.
    refused = venue.execute(submit("h2", BUY, LIMIT, "5", limit="100.1", clock=clock))
    cancelled = venue.execute(Cancel("h1", "BTC/USD", clock.now()))
    accepted = venue.execute(submit("h2", BUY, LIMIT, "5", limit="100.1", clock=clock))

    assert summary(first) == [("order", "h1", "acked", D(0), None, "")]
    assert summary(refused) == [("order", "h2", "rejected", D(0), None, "EOrder:Insufficient funds")]
    assert summary(cancelled) == [("order", "h1", "cancelled", D(0), None, "User requested")]
    assert summary(accepted) == [("order", "h2", "acked", D(0), None, "")]
    assert venue.balances() == {"USD": D(1004)}  # holds are reservations, not debits
    assert venue.engine.available("USD") == D("501.498")


def test_an_open_limit_sell_holds_base_so_a_market_sell_of_the_rest_is_refused() -> None:
    venue, clock = make_venue({"USD": D(0), "BTC": D(1)})
    venue.on_book("BTC/USD", book(("99.0", "5")), book(("101.0", "1")))
    venue.execute(submit("h1", SELL, LIMIT, "0.6", limit="200.0", clock=clock))

    refused = venue.execute(submit("h2", SELL, MARKET, "0.5", clock=clock))  # 0.4 free
    fits = venue.execute(submit("h3", SELL, MARKET, "0.4", clock=clock))

    assert summary(refused) == [("order", "h2", "rejected", D(0), None, "EOrder:Insufficient funds")]
    assert summary(fits)[-1] == ("order", "h3", "filled", D("0.4"), D(99), "")
    assert venue.balances() == {"USD": D("39.6") - D("0.1584"), "BTC": D("0.6")}


# -- 7. persistence ---------------------------------------------------------------------------------------------


def test_state_round_trip_keeps_balances_holds_and_a_resting_order_that_later_fills() -> None:
    venue, clock = make_venue({"USD": D(10_000), "BTC": D(0)})
    venue.on_book("BTC/USD", book(("99.0", "2")), book(("100.0", "1"), ("100.5", "2")))
    venue.execute(submit("e1", BUY, MARKET, "1.5", clock=clock))  # 1 @ 100 + 0.5 @ 100.5 = 150.25, fee 0.601
    venue.execute(submit("e2", BUY, LIMIT, "2", limit="99.0", clock=clock))  # 2 BTC of bids queued ahead
    venue.on_trade(public_trade("98.5", "0.5", clock=clock))  # through: 0.5 @ 99, fee 0.12375
    venue.execute(submit("x1", SELL, LIMIT, "0.5", limit="105.0", clock=clock))

    state = json.loads(json.dumps(venue.to_state()))  # what the persistence actor stores: plain JSON
    restored = PaperVenue.from_state(state, INSTRUMENTS, clock=clock)

    expected_balances = {"USD": D(10_000) - D("150.25") - D("0.601") - D("49.5") - D("0.12375"), "BTC": D(2)}
    assert expected_balances["USD"] == D("9799.52525")
    assert venue.balances() == expected_balances
    assert restored.balances() == expected_balances
    assert restored.engine.held("USD") == venue.engine.held("USD") == D("1.5") * D(99) * D("1.004")
    assert restored.engine.held("BTC") == venue.engine.held("BTC") == D("0.5")
    assert restored.engine.open_orders() == venue.engine.open_orders()

    clock.advance(60)
    buy_print = public_trade("98.0", "5", clock=clock)
    sell_print = public_trade("105.5", "1", clock=clock)
    after = restored.on_trade(buy_print) + restored.on_trade(sell_print)

    assert summary(after) == [
        ("fill", "e2", "buy", D("1.5"), D(99), D("0.37125"), "USD", "maker"),  # 148.5 * 0.25 %
        ("order", "e2", "filled", D(2), D(99), ""),
        ("fill", "x1", "sell", D("0.5"), D(105), D("0.13125"), "USD", "maker"),  # 52.5 * 0.25 %
        ("order", "x1", "filled", D("0.5"), D(105), ""),
    ]
    # The restored account is the same account: ids continue the same sequence and match the original's.
    assert after == venue.on_trade(buy_print) + venue.on_trade(sell_print)
    assert restored.balances() == {
        "USD": D("9799.52525") - D("148.5") - D("0.37125") + D("52.5") - D("0.13125"),
        "BTC": D("3"),
    }
    assert restored.engine.open_orders() == []


def test_time_priority_among_our_resting_orders_survives_a_restart() -> None:
    venue, clock = make_venue({"USD": D(1000)})
    venue.on_book("BTC/USD", book(("98.0", "1")), book(("101.0", "1")))
    for cl_ord_id in ("old1", "old2", "old3"):
        venue.execute(submit(cl_ord_id, BUY, LIMIT, "1", limit="99.0", clock=clock))
    venue.execute(Cancel("old1", "BTC/USD", clock.now()))
    venue.execute(Cancel("old2", "BTC/USD", clock.now()))

    restored = PaperVenue.from_state(json.loads(json.dumps(venue.to_state())), INSTRUMENTS, clock=clock)
    restored.execute(submit("new", BUY, LIMIT, "1", limit="99.0", clock=clock))
    events = restored.on_trade(public_trade("98.5", "1.5", clock=clock))

    # Same price: the order placed before the restart is ahead of the one placed after it.
    assert [(f.cl_ord_id, f.qty) for f in fills(events)] == [("old3", D(1)), ("new", D("0.5"))]


def test_state_keeps_the_recent_fills_and_closed_orders_a_crash_may_have_kept_from_the_router() -> None:
    # The account is saved before the router hears of its events: after a kill -9 the reconciler asks it what
    # happened, as it would ask Kraken. Recent history survives the round trip; history older than RECENT does not.
    venue, clock = make_venue({"USD": D(10_000), "BTC": D(0)})
    venue.on_book("BTC/USD", book(("99.0", "2")), book(("100.0", "3")))
    venue.execute(submit("old", BUY, MARKET, "1", clock=clock))
    clock.advance(RECENT.total_seconds() + 1)
    venue.execute(submit("e1", BUY, MARKET, "1", clock=clock))
    venue.execute(submit("c1", BUY, LIMIT, "1", limit="90.0", clock=clock))
    venue.execute(Cancel("c1", "BTC/USD", clock.now()))

    restored = PaperVenue.from_state(json.loads(json.dumps(venue.to_state())), INSTRUMENTS, clock=clock)

    recent = [f for f in venue.engine.fills() if f.cl_ord_id == "e1"]
    assert restored.engine.fills() == recent
    assert [(o.cl_ord_id, o.order_status) for o in restored.engine.closed_orders()] == [
        ("e1", "filled"),
        ("c1", "canceled"),
    ]
    assert restored.engine.open_orders() == []


def test_a_version_1_state_without_history_is_still_read() -> None:
    venue, clock = make_venue({"USD": D(1000)})
    state = {k: v for k, v in venue.to_state().items() if k != "recent"} | {"version": 1}
    assert PaperVenue.from_state(state, INSTRUMENTS, clock=clock).balances() == {"USD": D(1000)}


def test_from_state_refuses_a_state_of_another_version() -> None:
    venue, clock = make_venue()
    state = venue.to_state() | {"version": 99}

    with pytest.raises(ValueError, match="version 99"):
        PaperVenue.from_state(state, INSTRUMENTS, clock=clock)


# -- 8. amend ---------------------------------------------------------------------------------------------------


def test_amending_a_resting_limits_price_reports_it_and_the_order_fills_at_the_new_price() -> None:
    venue, clock = make_venue({"USD": D(1000)})
    venue.on_book("BTC/USD", book(("99.0", "1")), book(("101.0", "1")))
    venue.execute(submit("a1", BUY, LIMIT, "1", limit="100.0", clock=clock))
    clock.advance(1)

    amended = venue.execute(Amend("a1", "BTC/USD", clock.now(), limit_price=D("99.5")))

    assert summary(amended) == [("amended", "a1", D(1), D("99.5"), None)]
    assert amended[0].ts == clock.now()
    assert venue.engine.held("USD") == D("99.5") * D("1.004")  # the hold follows the new price

    through_old_only = venue.on_trade(public_trade("99.8", "5", clock=clock))
    through_new = venue.on_trade(public_trade("99.4", "5", clock=clock))

    assert through_old_only == []
    assert summary(through_new) == [
        ("fill", "a1", "buy", D(1), D("99.5"), D("0.24875"), "USD", "maker"),
        ("order", "a1", "filled", D(1), D("99.5"), ""),
    ]
    assert venue.balances() == {"USD": D("900.25125"), "BTC": D(1)}


def test_an_amend_the_free_balance_cannot_cover_is_refused_and_the_order_keeps_its_price() -> None:
    venue, clock = make_venue({"USD": D("100.4")})
    venue.on_book("BTC/USD", book(("99.0", "1")), book(("101.0", "1")))
    venue.execute(submit("a1", BUY, LIMIT, "1", limit="100.0", clock=clock))  # holds all 100.4

    refused = venue.execute(Amend("a1", "BTC/USD", clock.now(), limit_price=D("100.1")))
    events = venue.on_trade(public_trade("99.9", "1", clock=clock))

    assert summary(refused) == [("refused", "a1", "amend", "EOrder:Insufficient funds")]
    assert summary(events)[-1] == ("order", "a1", "filled", D(1), D(100), "")
