"""Every setting can be given from every layer, and arrives with its field's type.

The environment, `.env` and `--set` deliver text. `VALUES` gives each setting a valid value that is not its
default, as a user would type it, and the value crocbot must hold after reading it; a test walks the model and
fails for a setting that `VALUES` forgets, so a new setting cannot be added without being tried from every layer.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, SecretStr

from crocbot.config import ConfigError, Settings, load_settings, parse_set
from tests.config.conftest import API_KEY, API_SECRET, REPO, WEBHOOK
from tests.support.process import crocbot_env, run_crocbot

WAIT = 30.0

# dotted setting -> (text as typed, value held). Chosen to be valid together (risk limits nest, per_symbol names a
# configured symbol, take-profit / stop clears min_reward_risk).
VALUES: dict[str, tuple[str, Any]] = {
    "mode": ("live", "live"),
    "real_trading": ("1", "1"),
    "kraken_api_key": (API_KEY, SecretStr(API_KEY)),
    "kraken_api_secret": (API_SECRET, SecretStr(API_SECRET)),
    "symbols": ("BTC/USD,AAPLx/USD", ("BTC/USD", "AAPLx/USD")),
    "state_dir": ("var/state", Path("var/state")),
    "log_dir": ("var/logs", Path("var/logs")),
    "log_level": ("DEBUG", "DEBUG"),
    "kraken.ws_url": ("ws://127.0.0.1:9001/v2", "ws://127.0.0.1:9001/v2"),
    "kraken.ws_auth_url": ("ws://127.0.0.1:9002/v2", "ws://127.0.0.1:9002/v2"),
    "kraken.rest_url": ("http://127.0.0.1:9003", "http://127.0.0.1:9003"),
    "kraken.request_timeout": ("2.5", 2.5),
    "kraken.tier": ("pro", "pro"),
    "health.host": ("localhost", "localhost"),
    "health.port": ("9999", 9999),
    "risk.risk_per_trade": ("0.004", Decimal("0.004")),
    "risk.max_loss_per_trade": ("0.008", Decimal("0.008")),
    "risk.daily_loss_limit": ("0.02", Decimal("0.02")),
    "risk.max_open_positions": ("5", 5),
    "risk.max_exposure_per_symbol": ("0.2", Decimal("0.2")),
    "risk.max_total_exposure": ("0.6", Decimal("0.6")),
    "risk.cooldown_after_loss": ("60", 60.0),
    "risk.flatten_on_kill_switch": ("true", True),
    "risk.slippage_allowance": ("0.001", Decimal("0.001")),
    "risk.min_stop_cost_multiple": ("2", Decimal("2")),
    "stops.trailing": ("percent", "percent"),
    "stops.trail_atr_multiple": ("2.5", Decimal("2.5")),
    "stops.trail_percent": ("0.03", Decimal("0.03")),
    "stops.breakeven_after_r": ("1.5", Decimal("1.5")),
    "stops.profit_lock_step_r": ("0.5", Decimal("0.5")),
    "stops.place_within": ("0.5", 0.5),
    "stops.amend_min_interval": ("2", 2.0),
    "stops.backstop_grace": ("3", 3.0),
    "stops.backstop_margin": ("0.01", Decimal("0.01")),
    "strategy.default": ("donchian_breakout", "donchian_breakout"),
    "strategy.per_symbol": ('{"BTC/USD": "ema_trend"}', {"BTC/USD": "ema_trend"}),
    "strategy.timeframe": ("15m", "15m"),
    "strategy.atr_period": ("10", 10),
    "strategy.breakout_period": ("30", 30),
    "strategy.stop_atr_multiple": ("2", Decimal("2")),
    "strategy.take_profit_atr_multiple": ("6", Decimal("6")),
    "strategy.min_reward_risk": ("2", Decimal("2")),
    "execution.entry_order": ("market", "market"),
    "execution.limit_ttl": ("10", 10.0),
    "execution.max_reposition_attempts": ("5", 5),
    "execution.chase_step": ("0.001", Decimal("0.001")),
    "execution.book_depth": ("10", 10),
    "execution.call_timeout": ("3", 3.0),
    "execution.paper_latency_ms": ("20", 20),
    "reconcile.interval": ("120", 120.0),
    "reconcile.grace": ("10", 10.0),
    "reconcile.unknown_orders": ("adopt", "adopt"),
    "paper.starting_balances": ('{"USD": 5000, "EUR": 250.5}', {"USD": Decimal("5000"), "EUR": Decimal("250.5")}),
    "notifications.discord_webhook_url": (WEBHOOK, SecretStr(WEBHOOK)),
    "notifications.min_level": ("error", "error"),
    "live.quote_currency": ("EUR", "EUR"),
    "live.max_order_notional": ("25.5", Decimal("25.5")),
    "live.max_total_exposure": ("80", Decimal("80")),
    "live.capital": ("1500", Decimal("1500")),
    "live.dead_mans_switch.enabled": ("true", True),
    "live.dead_mans_switch.timeout": ("90", 90),
    "live.dead_mans_switch.refresh_interval": ("15", 15.0),
}


def leaf_settings(model: type[BaseModel], prefix: str = "") -> list[str]:
    names = []
    for name, info in model.model_fields.items():
        annotation = info.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            names += leaf_settings(annotation, f"{prefix}{name}.")
        else:
            names.append(prefix + name)
    return names


def variable(dotted: str) -> str:
    aliases = Settings.model_fields[dotted].validation_alias if dotted in Settings.model_fields else None
    if aliases is not None:  # REAL_TRADING and the keys: unprefixed, as Kraken's own tools name them
        return dotted.upper()
    return "CROCBOT_" + dotted.replace(".", "__").upper()


def held(settings: Settings, dotted: str) -> Any:
    value: Any = settings
    for part in dotted.split("."):
        value = getattr(value, part)
    return value


def assert_all_arrived(settings: Settings) -> None:
    wrong = {}
    for dotted, (_, expected) in VALUES.items():
        value = held(settings, dotted)
        if isinstance(expected, SecretStr):
            same = isinstance(value, SecretStr) and value.get_secret_value() == expected.get_secret_value()
        elif isinstance(expected, dict):
            same = value == expected and all(type(value[k]) is type(v) for k, v in expected.items())
        else:
            same = type(value) is type(expected) and value == expected
        if not same:
            wrong[dotted] = value
    assert not wrong, f"arrived wrong or untyped: {wrong}"


def test_every_setting_of_the_model_has_a_value_to_try() -> None:
    assert sorted(leaf_settings(Settings)) == sorted(VALUES)
    defaults = Settings()
    assert [d for d, (_, value) in VALUES.items() if held(defaults, d) == value] == []  # each differs from default


def test_every_setting_arrives_typed_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for dotted, (text, _) in VALUES.items():
        monkeypatch.setenv(variable(dotted), text)

    assert_all_arrived(load_settings())


def test_every_setting_arrives_typed_from_a_dotenv_file(isolated: Path) -> None:
    lines = [f"{variable(dotted)}='{text}'" for dotted, (text, _) in VALUES.items()]
    (isolated / ".env").write_text("\n".join(lines) + "\n", encoding="utf-8")

    assert_all_arrived(load_settings())


def test_every_setting_arrives_typed_from_set_flags() -> None:
    flags = [f"{dotted}={text}" for dotted, (text, _) in VALUES.items()]

    assert_all_arrived(load_settings(overrides=parse_set(flags)))


def test_tables_and_lists_may_be_written_as_toml_values_on_the_command_line() -> None:
    settings = load_settings(
        overrides=parse_set(["paper.starting_balances={USD = 10000.50, EUR = 3}", 'symbols=["ETH/USD"]'])
    )

    assert settings.paper.starting_balances == {"USD": Decimal("10000.50"), "EUR": Decimal("3")}
    assert settings.symbols == ("ETH/USD",)


def test_text_that_reads_as_no_table_is_refused_with_its_field_not_a_traceback(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CROCBOT_RISK", "lots")
    monkeypatch.setenv("CROCBOT_PAPER__STARTING_BALANCES", "{USD: ten}")

    with pytest.raises(ConfigError) as error:
        load_settings()

    text = str(error.value)
    assert "risk: given 'lots'; allowed: a valid dictionary" in text
    assert "paper.starting_balances: given '{USD: ten}'; allowed: a valid dictionary" in text


def test_the_real_command_takes_book_depth_from_the_environment_and_from_set(tmp_path: Path) -> None:
    config = str(REPO / "config" / "crocbot.toml")
    from_env = run_crocbot(
        ["config", "check", "--config", config],
        cwd=tmp_path,
        env=crocbot_env(tmp_path, CROCBOT_EXECUTION__BOOK_DEPTH="10"),
    )
    from_flag = run_crocbot(
        ["config", "check", "--config", config, "--set", "execution.book_depth=100"],
        cwd=tmp_path,
        env=crocbot_env(tmp_path),
    )

    assert from_env.returncode == 0, from_env.stderr
    assert "\nbook_depth = 10\n" in from_env.stdout
    assert from_flag.returncode == 0, from_flag.stderr
    assert "\nbook_depth = 100\n" in from_flag.stdout
