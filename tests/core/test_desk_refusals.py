"""Refused entries are tallied by the rule that refused them, for `crocbot_entries_refused_total{reason}`."""

from __future__ import annotations

import re
from pathlib import Path

from crocbot.core.messages import PositionSide
from crocbot.core.risk_sizing import REFUSAL_LABELS
from tests.core.desk_support import T0, at, make_desk, signal

CORE = Path(__file__).resolve().parents[2] / "crocbot" / "core"


def test_each_refusal_is_tallied_by_its_rule_and_the_tally_is_taken_once() -> None:
    desk = make_desk(max_open_positions=1)
    desk.on(signal("100", "102", "94", side=PositionSide.SHORT), T0)
    desk.on(signal(symbol="ETH/USD"), T0)  # accepted: not a refusal
    desk.on(signal(), at(1))  # one position working already
    desk.set_safe("market data not fresh", True, at(2))
    desk.on(signal(), at(3))

    assert desk.take_refused() == {"short": 1, "max_positions": 1, "safe_mode": 1}
    assert desk.take_refused() == {}


def test_a_signal_the_costs_do_not_pay_for_is_tallied_under_the_cost_checks_label() -> None:
    desk = make_desk()
    desk.on(signal("100", "99.9", "100.1"), T0)  # a stop and a target inside the round trip's costs

    refused = desk.take_refused()
    assert set(refused) <= {"stop_within_costs", "reward_risk", "take_profit_loses"}
    assert sum(refused.values()) == 1


def test_every_label_the_risk_rules_use_is_a_known_label_value() -> None:
    """The known values are what `/metrics` creates at 0 before the first refusal."""
    used: set[str] = set()
    for name in ("risk.py", "risk_sizing.py", "costs.py"):
        text = (CORE / name).read_text(encoding="utf-8")
        used |= set(re.findall(r'^\s*"([a-z_]+)",\n\s*(?:f"|\))', text, re.MULTILINE))  # a label on its own line
        used |= set(re.findall(r'", "([a-z_]+)"\)?$', text, re.MULTILINE))  # a label after the message
    assert {"kill_switch", "safe_mode", "reward_risk", "fail_safe"} <= used, used

    assert used <= set(REFUSAL_LABELS)
