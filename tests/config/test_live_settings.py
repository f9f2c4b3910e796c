"""The `[live]` settings: small defaults for a first run, amounts that must make sense together, and a dead man's
switch that is off unless asked for and refreshed well within its timeout."""

from __future__ import annotations

from decimal import Decimal

import pytest

from crocbot.config import ConfigError, load_settings
from crocbot.config.live import DeadMansSwitchSettings, LiveSettings
from crocbot.config.policies import live_limits
from crocbot.core.live_limits import LiveLimits
from tests.config.conftest import REPO


def problems(monkeypatch: pytest.MonkeyPatch, **variables: str) -> list[str]:
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as refused:
        load_settings()
    return refused.value.problems


def test_the_defaults_are_small_and_the_switch_is_off() -> None:
    live = load_settings(config_file=REPO / "config" / "crocbot.toml").live

    assert (live.quote_currency, live.max_order_notional, live.max_total_exposure) == (
        "USD",
        Decimal("100"),
        Decimal("300"),
    )
    assert live.dead_mans_switch == DeadMansSwitchSettings(enabled=False, timeout=60, refresh_interval=20.0)


@pytest.mark.parametrize(
    ("value", "expected"),
    [("0", "a positive amount of the quote currency"), ("-5", "a positive amount"), ("NaN", "a finite number")],
)
def test_a_limit_must_be_a_positive_amount(monkeypatch: pytest.MonkeyPatch, value: str, expected: str) -> None:
    lines = problems(monkeypatch, CROCBOT_LIVE__MAX_ORDER_NOTIONAL=value)

    assert any("live.max_order_notional" in line and expected in line for line in lines), lines


def test_an_order_limit_above_the_total_is_refused_with_both_values(monkeypatch: pytest.MonkeyPatch) -> None:
    lines = problems(monkeypatch, CROCBOT_LIVE__MAX_ORDER_NOTIONAL="500", CROCBOT_LIVE__MAX_TOTAL_EXPOSURE="200")

    assert any("max_order_notional (500) must not exceed max_total_exposure (200)" in line for line in lines)


@pytest.mark.parametrize(
    ("variables", "expected"),
    [
        ({"CROCBOT_LIVE__DEAD_MANS_SWITCH__REFRESH_INTERVAL": "10"}, "greater than or equal to 15"),
        ({"CROCBOT_LIVE__DEAD_MANS_SWITCH__REFRESH_INTERVAL": "45"}, "less than or equal to 30"),
        ({"CROCBOT_LIVE__DEAD_MANS_SWITCH__TIMEOUT": "0"}, "greater than or equal to 30"),
        (
            {"CROCBOT_LIVE__DEAD_MANS_SWITCH__TIMEOUT": "40", "CROCBOT_LIVE__DEAD_MANS_SWITCH__REFRESH_INTERVAL": "25"},
            "refresh_interval (25 s) must be at most half of timeout (40 s)",
        ),
    ],
)
def test_the_switch_is_refreshed_within_15_to_30_s_and_twice_per_timeout(
    monkeypatch: pytest.MonkeyPatch, variables: dict[str, str], expected: str
) -> None:
    lines = problems(monkeypatch, **variables)

    assert any("live.dead_mans_switch" in line and expected in line for line in lines), lines


@pytest.mark.parametrize("code", ["usd", "U", "US D", "DOLLARS-US"])
def test_the_quote_currency_is_a_currency_code(code: str) -> None:
    with pytest.raises(ValueError, match="a currency code"):
        LiveSettings(quote_currency=code)


def test_the_policy_carries_the_settings_field_for_field() -> None:
    settings = LiveSettings(quote_currency="EUR", max_order_notional=Decimal("20"), max_total_exposure=Decimal("50"))

    assert live_limits(settings) == LiveLimits("EUR", Decimal("20"), Decimal("50"))
