"""A first live run's limits on entries (`[live]`): a risk-sized entry is cut down to the room they leave, one that
cannot fit Kraken's minimum is refused, and a chase that would lift an entry above them cancels it instead."""

from __future__ import annotations

import random

from crocbot.core.desk import Desk, DeskConfig, EntryTTL, FillSeen, Submitted
from crocbot.core.ids import ClientIds
from crocbot.core.ledger import Ledger
from crocbot.core.live_limits import LiveLimits
from crocbot.core.messages import OrderPurpose, OrderStatus
from crocbot.core.messages.commands import Amend, Cancel, Submit
from crocbot.core.risk import RiskGate
from tests.core.desk_support import ETH, SOL, SYMBOL, D, at, event, fill, limits, sent, signal


def live_desk(max_order: str, max_total: str) -> Desk:
    return Desk(
        instruments={i.symbol: i for i in (SOL, ETH)},
        risk=RiskGate(limits()),
        ledger=Ledger(quote="USD", cash=D("10000")),
        ids=ClientIds(random.Random(1)),
        config=DeskConfig(chase_step=D("0.0005"), live_limits=LiveLimits("USD", D(max_order), D(max_total))),
    )


def test_a_risk_sized_entry_is_cut_down_to_the_largest_order_a_first_live_run_allows() -> None:
    desk = live_desk("100", "300")

    entry = sent(desk.on(signal(), at(0)), OrderPurpose.ENTRY)  # risk-sized at 15.68 SOL, 1,568 USD

    assert entry.qty * (entry.limit_price or 0) <= D("100")
    assert entry.qty == D("1")  # 100 USD at the 100 limit: the stop (98) is the same, the risk smaller
    assert desk.take_refused() == {}


def test_an_entry_takes_only_the_room_the_total_leaves_and_none_below_krakens_minimum() -> None:
    desk = live_desk("100", "150")
    first = sent(desk.on(signal(), at(0)), OrderPurpose.ENTRY)
    desk.on(Submitted(first.cl_ord_id), at(0))
    desk.on(event(first.cl_ord_id, OrderStatus.ACKED, at(1)), at(1))
    desk.on(FillSeen(fill("F1", first.cl_ord_id, first.qty, "100", "0.4", ts=at(2)), journaled=False), at(2))
    desk.on_mark(SYMBOL, D("100"))

    second = sent(desk.on(signal("2000", "1960", "2120", symbol=ETH.symbol, ts=at(3)), at(3)), OrderPurpose.ENTRY)

    assert second.qty * (second.limit_price or 0) <= D("50")  # 150 in all, 100 held in SOL
    assert second.qty == D("0.025")

    full = live_desk("100", "130")
    held = sent(full.on(signal(), at(0)), OrderPurpose.ENTRY)  # resting: it counts at its limit, 100
    full.on(Submitted(held.cl_ord_id), at(0))
    refused = full.on(signal("2000", "1960", "2120", symbol=ETH.symbol, ts=at(1)), at(1))
    assert not [a for a in refused if isinstance(a, Submit)]  # room for 0.015 ETH: below Kraken's 0.02
    assert full.take_refused() == {"live_total_exposure": 1}


def test_a_chase_that_would_lift_an_entry_above_the_limits_cancels_it() -> None:
    desk = live_desk("100", "300")
    entry = sent(desk.on(signal(), at(0)), OrderPurpose.ENTRY)  # 1 SOL at 100: 100 USD, the largest allowed
    desk.on(Submitted(entry.cl_ord_id), at(0))
    desk.on(event(entry.cl_ord_id, OrderStatus.ACKED, at(1)), at(1))

    actions = desk.on(EntryTTL(entry.cl_ord_id, 1), at(31))

    assert [type(a) for a in actions if isinstance(a, Amend | Cancel)] == [Cancel]
