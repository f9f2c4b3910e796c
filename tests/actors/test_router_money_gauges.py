"""The gauges the router sets from its desk: equity and unrealised P&L at the marks, the kill switch as 0/1."""

from __future__ import annotations

from decimal import Decimal

import pytest

from crocbot.actors.router import money_gauges
from crocbot.core.messages import ClosedTrade, PositionSide
from tests.core.desk_support import SYMBOL, T0, Opened, make_desk


def test_equity_and_unrealised_pnl_follow_the_mark_of_an_open_position() -> None:
    desk = Opened.make().desk  # long, filled at 100
    qty = desk.ledger.position(SYMBOL)
    desk.on_mark(SYMBOL, Decimal("100"))
    at_entry = money_gauges(desk)
    desk.on_mark(SYMBOL, Decimal("110"))
    up = money_gauges(desk)

    assert qty > 0
    assert at_entry["crocbot_unrealized_pnl"] == 0
    assert up["crocbot_unrealized_pnl"] == float(qty * 10)
    assert up["crocbot_equity"] - at_entry["crocbot_equity"] == pytest.approx(float(qty * 10))  # float gauges
    assert up["crocbot_kill_switch"] == 0


def test_the_kill_switch_gauge_is_1_once_the_daily_loss_limit_trips_it() -> None:
    desk = make_desk()
    desk.risk.roll_day(T0, Decimal("10000"))
    loss = ClosedTrade(
        "ETH/USD:x",
        "ETH/USD",
        PositionSide.LONG,
        Decimal("1"),
        Decimal("1000"),
        Decimal("690"),
        Decimal("0"),
        Decimal("-310"),
        T0,
        T0,
    )
    before = money_gauges(desk)
    desk.risk.on_trade_closed(loss, now=T0, equity=Decimal("9690"))

    assert before["crocbot_kill_switch"] == 0
    assert money_gauges(desk)["crocbot_kill_switch"] == 1
