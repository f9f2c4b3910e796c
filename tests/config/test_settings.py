"""Settings: four layers in order, every value bounded, one clear line per bad field, exit code 2."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from crocbot.cli import main
from crocbot.config import ConfigError, Settings, load_settings, parse_set
from tests.config.conftest import REPO


def test_the_commented_defaults_file_equals_the_built_in_defaults() -> None:
    from_file = load_settings(config_file=REPO / "config" / "crocbot.toml")
    assert from_file.model_dump() == Settings().model_dump()


def test_layers_override_in_order_file_then_dotenv_then_environment_then_cli(
    monkeypatch: pytest.MonkeyPatch, isolated: Path
) -> None:
    config = isolated / "crocbot.toml"
    config.write_text("[risk]\nrisk_per_trade = 0.001\nmax_open_positions = 5\ncooldown_after_loss = 60\n")
    env_file = isolated / ".env"
    env_file.write_text("CROCBOT_RISK__MAX_OPEN_POSITIONS=6\nCROCBOT_RISK__COOLDOWN_AFTER_LOSS=120\nOTHER_APP=1\n")
    monkeypatch.setenv("CROCBOT_RISK__COOLDOWN_AFTER_LOSS", "180")

    only_file = load_settings(config_file=config, env_file=None)
    assert only_file.risk.cooldown_after_loss == 180.0  # the environment beats the file...
    assert only_file.risk.max_open_positions == 6  # ...and .env (found in the working directory) too
    assert only_file.risk.risk_per_trade == Decimal("0.001")  # exact: TOML floats are read as Decimal
    with_cli = load_settings(config_file=config, overrides={"risk": {"cooldown_after_loss": "240"}})
    assert with_cli.risk.cooldown_after_loss == 240.0
    assert with_cli.risk.max_open_positions == 6  # a nested CLI override replaces only its own key


def test_symbols_come_as_a_comma_list_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CROCBOT_SYMBOLS", "BTC/USD, ETH/USD,AAPLx/USD")
    assert load_settings().symbols == ("BTC/USD", "ETH/USD", "AAPLx/USD")


@pytest.mark.parametrize(
    ("variable", "value", "line"),
    [
        ("CROCBOT_MODE", "yolo", "mode: given 'yolo'; allowed: 'paper' or 'live'"),
        (
            "CROCBOT_RISK__RISK_PER_TRADE",
            "1.5",
            "risk.risk_per_trade: given '1.5'; allowed: a fraction strictly between 0 and 1",
        ),
        ("CROCBOT_RISK__RISK_PER_TRADE", "lots", "risk.risk_per_trade: given 'lots'; allowed: a valid decimal"),
        ("CROCBOT_RISK__MAX_OPEN_POSITIONS", "0", "risk.max_open_positions: given '0'; allowed: greater than or equal"),
        (
            "CROCBOT_PAPER__STARTING_BALANCES",
            '{"USD": "-5"}',
            "paper.starting_balances.USD: given '-5'; allowed: a positive number",
        ),
        (
            "CROCBOT_STRATEGY__MIN_REWARD_RISK",
            "5",
            "strategy: take_profit_atr_multiple / stop_atr_multiple = 4 is below min_reward_risk (5)",
        ),
        (
            "CROCBOT_RISK__MAX_EXPOSURE_PER_SYMBOL",
            "0.9",
            "risk: max_exposure_per_symbol (0.9) must not exceed max_total_exposure (0.75)",
        ),
        ("CROCBOT_SYMBOLS", "BTCUSD", "symbols: given 'BTCUSD'; allowed: WS v2 symbols like BTC/USD"),
        ("CROCBOT_SYMBOLS", "BTC/USD,BTC/USD", "each symbol once; BTC/USD repeated"),
        ("CROCBOT_KRAKEN__WS_URL", "http://localhost", "kraken.ws_url: given 'http://localhost'; allowed: a WebSocket"),
        ("CROCBOT_HEALTH__PORT", "70000", "health.port: given '70000'; allowed: less than or equal to 65535"),
        ("CROCBOT_RISK__TYPO", "1", "risk.typo: unknown setting"),
    ],
)
def test_each_kind_of_bad_value_exits_2_with_a_line_naming_the_field(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], variable: str, value: str, line: str
) -> None:
    monkeypatch.setenv(variable, value)

    code = main(["config", "check"])

    err = capsys.readouterr().err
    assert code == 2
    assert line in err, err


def test_every_bad_field_gets_its_own_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CROCBOT_RISK__RISK_PER_TRADE", "2")
    monkeypatch.setenv("CROCBOT_HEALTH__PORT", "0")
    monkeypatch.setenv("CROCBOT_LOG_LEVEL", "LOUD")

    with pytest.raises(ConfigError) as error:
        load_settings()

    fields = sorted(problem.split(":")[0] for problem in error.value.problems)
    assert fields == ["health.port", "log_level", "risk.risk_per_trade"]


def test_the_config_file_may_not_enable_live_trading_or_hold_keys(isolated: Path) -> None:
    config = isolated / "crocbot.toml"
    config.write_text('real_trading = "1"\nkraken_api_key = "abc"\nunknwon = 1\n')

    with pytest.raises(ConfigError) as error:
        load_settings(config_file=config)

    text = "\n".join(error.value.problems)
    assert "real_trading cannot be set in a config file; use the environment variable REAL_TRADING" in text
    assert "kraken_api_key cannot be set in a config file" in text
    assert "unknown setting 'unknwon'" in text


def test_a_broken_config_file_is_named(isolated: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = isolated / "broken.toml"
    config.write_text("[risk\n")

    assert main(["config", "check", "--config", str(config)]) == 2
    assert f"config file {config}: not valid TOML" in capsys.readouterr().err


def test_config_check_prints_the_effective_configuration_and_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["config", "check", "--symbols", "BTC/USD,TSLAx/USD", "--set", "risk.max_open_positions=4"])

    out = capsys.readouterr().out
    assert code == 0
    assert 'symbols = ["BTC/USD", "TSLAx/USD"]' in out
    assert "max_open_positions = 4" in out
    assert "# configuration OK (fingerprint" in out


def test_a_malformed_set_flag_is_explained(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["config", "check", "--set", "risk.max_open_positions"]) == 2
    assert "expected KEY=VALUE" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("toml", "line"),
    [
        ("[risk]\nrisk_per_trade = -0.01\n", "risk.risk_per_trade: given -0.01; allowed: a fraction strictly between"),
        ("[risk]\nflatten_on_kill_switch = 2\n", "risk.flatten_on_kill_switch: given 2; allowed: a valid boolean"),
        ("[execution]\nbook_depth = 11\n", "execution.book_depth: given 11; allowed: 10, 25 or 100"),
        ("[paper]\nstarting_balances = {USD = -5.50}\n", "paper.starting_balances.USD: given -5.50; allowed: a"),
        ("[paper]\nstarting_balances = []\n", "paper.starting_balances: given []; allowed: a valid dictionary"),
    ],
)
def test_values_are_shown_as_the_user_wrote_them(isolated: Path, toml: str, line: str) -> None:
    config = isolated / "crocbot.toml"
    config.write_text(toml)

    with pytest.raises(ConfigError) as error:
        load_settings(config_file=config)

    assert line in "\n".join(error.value.problems), error.value.problems
    assert "Decimal(" not in str(error.value)


def test_an_unknown_section_and_a_bad_key_in_a_known_section_are_reported_in_one_run(
    monkeypatch: pytest.MonkeyPatch, isolated: Path
) -> None:
    config = isolated / "crocbot.toml"
    config.write_text("[riskk]\nrisk_per_trade = 0.01\n\n[risk]\nrisk_per_trade = 0.004\nmax_open_postions = 2\n")
    monkeypatch.setenv("CROCBOT_STOPZ__TRAILING", "none")
    monkeypatch.setenv("CROCBOT_STOPS__TRAILNG", "none")

    with pytest.raises(ConfigError) as error:
        load_settings(config_file=config, overrides=parse_set(["executon.book_depth=10", "execution.book_dept=10"]))

    text = "\n".join(error.value.problems)
    assert f"config file {config}: unknown setting 'riskk'" in text
    assert "risk.max_open_postions: unknown setting" in text
    assert "environment variable CROCBOT_STOPZ__TRAILING: unknown setting 'stopz'" in text
    assert "stops.trailng: unknown setting" in text
    assert "command line: unknown setting 'executon'" in text
    assert "execution.book_dept: unknown setting" in text
    assert len(error.value.problems) == 6, error.value.problems


def test_the_process_variables_are_not_taken_for_misspelt_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CROCBOT_FAILPOINTS", "")
    monkeypatch.setenv("CROCBOT_CONFIG", str(REPO / "config" / "crocbot.toml"))

    assert load_settings().mode == "paper"
