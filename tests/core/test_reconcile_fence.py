"""The inventory fence in reconciliation: a shared (live) account is held to covering the books with what is free
plus crocbot's own holds, not to equality; a paper account keeps equality."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from crocbot.core.messages import Fill, Liquidity, OrderPurpose, OrderStatus, Side
from crocbot.core.reconcile import BookOrder, BooksView, VenueOrder, VenueView, own_holds, reconcile

D = Decimal

T0 = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
NOW = T0 + timedelta(minutes=10)
HOLDINGS = {"USD": D("900"), "BTC": D("0.02")}  # crocbot's cash and its position


def stop(cl_ord_id: str | None = "cbs1", qty: str = "0.02", filled: str = "0") -> VenueOrder:
    return VenueOrder(
        cl_ord_id, "O-stop", "BTC/USD", OrderStatus.ACKED, D(filled), None, T0, side=Side.SELL, order_type="stop-loss",
        qty=D(qty), trigger_price=D("48000"),
    )  # fmt: skip


def entry(price: str = "49000", qty: str = "0.01") -> VenueOrder:
    return VenueOrder(
        "cbe2", "O-entry", "BTC/USD", OrderStatus.ACKED, D(0), None, T0, side=Side.BUY, order_type="limit",
        qty=D(qty), limit_price=D(price),
    )  # fmt: skip


MINE = (
    BookOrder("cbs1", "BTC/USD", OrderPurpose.STOP, OrderStatus.ACKED, T0),
    BookOrder("cbe2", "BTC/USD", OrderPurpose.ENTRY, OrderStatus.ACKED, T0),
)


def books(holdings: dict[str, D] | None = None, orders: tuple[BookOrder, ...] = MINE) -> BooksView:
    return BooksView(orders, frozenset(), frozenset(), HOLDINGS if holdings is None else holdings)


def live(balances: dict[str, D], held: dict[str, D], orders: tuple[VenueOrder, ...] = ()) -> VenueView:
    return VenueView(orders, (), balances, NOW, shared=True, held=held)


def test_extra_coins_of_the_trader_are_no_gap_on_a_shared_account() -> None:
    plan = reconcile(books(orders=()), live({"USD": D("5000"), "BTC": D("3.02")}, {}))
    assert plan.balance_gaps == ()
    assert plan.summary() == "books agree with the venue"


def test_crocbots_own_stop_holding_its_position_is_no_gap() -> None:
    # The account holds exactly crocbot's coins, all of them held by crocbot's stop: nothing is free, nothing is short.
    plan = reconcile(books(), live({"USD": D("900"), "BTC": D("0.02")}, {"BTC": D("0.02")}, (stop(),)))
    assert plan.balance_gaps == ()


def test_crocbots_own_buy_holding_its_cash_with_the_fee_is_no_gap() -> None:
    held = {"USD": D("490") * D("1.004")}  # Kraken holds the taker fee too
    plan = reconcile(books(), live({"USD": D("900"), "BTC": D("0.02")}, held, (entry(),)))
    assert plan.balance_gaps == ()


def test_the_traders_own_orders_holding_the_coins_crocbot_needs_are_a_gap() -> None:
    # 1 BTC in the account; crocbot's stop covers 0.01 of its 0.02, a sell of the trader's holds 0.98: 0.01 free plus
    # the stop's 0.01 covers the books. A trader's sell of 0.985 leaves 0.005 free: 0.005 short.
    mine = stop(qty="0.01")
    covered = live({"USD": D("900"), "BTC": D("1")}, {"BTC": D("0.99")}, (mine, stop(None, "0.98")))
    assert reconcile(books(), covered).balance_gaps == ()
    short = live({"USD": D("900"), "BTC": D("1")}, {"BTC": D("0.995")}, (mine, stop(None, "0.985")))
    plan = reconcile(books(), short)
    assert plan.balance_gaps == (("BTC", D("0.02"), D("0.015")),)
    assert "BTC: books 0.02, only 0.015 free for crocbot at the venue" in plan.summary()


def test_fewer_coins_than_the_books_hold_is_a_gap_whatever_else_the_account_holds() -> None:
    plan = reconcile(books(), live({"USD": D("899.99"), "BTC": D("0.019"), "ETH": D("4")}, {}))
    assert plan.balance_gaps == (("BTC", D("0.02"), D("0.019")), ("USD", D("900"), D("899.99")))


def test_a_foreign_order_on_the_books_client_id_list_is_not_counted_as_crocbots_hold() -> None:
    # The stop is not one the books hold open (cl_ord_id unknown to them): its hold is not crocbot's.
    plan = reconcile(books(orders=()), live({"USD": D("900"), "BTC": D("0.02")}, {"BTC": D("0.02")}, (stop(),)))
    assert plan.balance_gaps == (("BTC", D("0.02"), D("0")),)


def test_own_holds_count_the_unfilled_part_of_open_orders_only() -> None:
    closed = VenueOrder(
        "cbe3", "O3", "BTC/USD", OrderStatus.FILLED, D("1"), D("1"), T0, side=Side.BUY, qty=D("1"), limit_price=D(1)
    )
    market = VenueOrder("cbe4", "O4", "BTC/USD", OrderStatus.ACKED, D(0), None, T0, side=Side.BUY, qty=D("1"))
    held = own_holds((stop(filled="0.005"), entry(), closed, market), frozenset({"cbs1", "cbe2", "cbe3", "cbe4"}))
    assert held == {"BTC": D("0.015"), "USD": D("490") * D("1.005")}


def test_a_paper_account_keeps_equality_and_a_pending_fill_still_defers_the_check() -> None:
    paper = VenueView((), (), {"USD": D("900"), "BTC": D("3.02")}, NOW)
    assert reconcile(books(), paper).balance_gaps == (("BTC", D("0.02"), D("3.02")),)
    fill = Fill("F1", "cbe2", "O-entry", "BTC/USD", Side.BUY, D("0.01"), D("49000"), D("2"), "USD", Liquidity.TAKER, T0)
    pending = VenueView((), (fill,), {"USD": D("1"), "BTC": D("0")}, NOW, shared=True)
    assert reconcile(books(), pending).balance_gaps == ()  # the books will change once the fill is booked


def test_kraken_rounding_each_orders_cost_is_no_gap_and_anything_beyond_it_is() -> None:
    """The books keep a buy's cost exact, Kraken rounds it to the pair's decimals: the account may be short of the
    books by that rounding (half a unit an order), which is no gap; a shortfall beyond it still is one."""
    exact = {"USD": D("8636.6301108242"), "BTC": D("0.02")}  # 10,000 less a buy's exact cost
    rounded = {"USD": D("8636.63011"), "BTC": D("0.02")}  # less the cost at 5 decimals
    allowance = {"USD": D("0.000005")}  # one fill booked, at 5 decimals
    ours = BooksView((), frozenset(), frozenset(), exact, allowance)

    assert reconcile(ours, live(rounded, {})).balance_gaps == ()
    short = {**rounded, "USD": D("8636.63010")}
    assert reconcile(ours, live(short, {})).balance_gaps == (("USD", exact["USD"], D("8636.63010")),)
    no_allowance = BooksView((), frozenset(), frozenset(), exact)
    assert reconcile(no_allowance, live(rounded, {})).balance_gaps != ()
