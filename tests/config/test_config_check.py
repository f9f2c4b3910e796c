"""`crocbot config check`, run as the real command: the layers it read, the symbols against the cached catalog, and
API keys that only live trading needs."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from crocbot.kraken.instruments import Catalog
from crocbot.sim.catalog import DEFAULT_INSTRUMENTS
from tests.config.conftest import API_SECRET
from tests.support.process import CONFIG, Crocbot, crocbot_env, run_crocbot
from tests.support.sim import free_port, kraken_env, running_simulator

WAIT = 60.0
BAD_KEY = "not a key s3cr3t"  # too short and has spaces
BAD_SECRET = "not-base64-s3cr3t!"
UNKNOWN = (
    "unknown symbol: FOO/BAR; crocbot uses WS v2 symbols such as BTC/USD (not XBT/USD) and AAPLx/USD for xStocks; "
    "fix CROCBOT_SYMBOLS (or --symbols)"
)


def crocbot(cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return run_crocbot([*args], cwd=cwd, env=crocbot_env(cwd, **env))


def with_config_dir(tmp_path: Path) -> Path:
    (tmp_path / "config").mkdir()
    shutil.copy(CONFIG, tmp_path / "config" / "crocbot.toml")
    return tmp_path


def test_config_check_names_the_config_file_the_dotenv_file_and_what_each_layer_set(tmp_path: Path) -> None:
    with_config_dir(tmp_path)
    (tmp_path / ".env").write_text("CROCBOT_RISK__MAX_OPEN_POSITIONS=4\nOTHER_PROGRAM=1\n")

    done = crocbot(tmp_path, "config", "check", "--set", "risk.cooldown_after_loss=60", CROCBOT_LOG_LEVEL="DEBUG")

    assert done.returncode == 0, done.stderr
    assert "#   2. config file  config/crocbot.toml\n" in done.stdout
    assert "#   3. .env file    .env: CROCBOT_RISK__MAX_OPEN_POSITIONS\n" in done.stdout
    assert "#   4. environment  CROCBOT_LOG_DIR, CROCBOT_LOG_LEVEL\n" in done.stdout
    assert "#   5. command line risk.cooldown_after_loss\n" in done.stdout
    assert "max_open_positions = 4\n" in done.stdout
    assert "warning" not in done.stderr


def test_config_check_warns_when_run_where_there_is_no_config_file(tmp_path: Path) -> None:
    done = crocbot(tmp_path, "config", "check")

    assert done.returncode == 0, done.stderr
    assert "warning: no config/crocbot.toml under" in done.stderr
    assert "#   2. config file  (none: built-in defaults only)\n" in done.stdout
    assert "#   3. .env file    .env (not found)\n" in done.stdout


def test_config_check_refuses_symbols_the_cached_catalog_lacks_with_the_words_run_uses(tmp_path: Path) -> None:
    with_config_dir(tmp_path)
    Catalog(DEFAULT_INSTRUMENTS).save(tmp_path / "state" / "instruments.json")
    unreachable = f"http://127.0.0.1:{free_port()}"  # nothing listens: run falls back to the cached catalog

    good = crocbot(tmp_path, "config", "check", "--symbols", "BTC/USD")
    check = crocbot(tmp_path, "config", "check", "--symbols", "FOO/BAR")
    run = crocbot(
        tmp_path,
        "run",
        "--symbols",
        "FOO/BAR",
        CROCBOT_KRAKEN__REST_URL=unreachable,
        CROCBOT_KRAKEN__WS_URL=f"ws://127.0.0.1:{free_port()}",
        CROCBOT_KRAKEN__REQUEST_TIMEOUT="1",
        CROCBOT_HEALTH__PORT=str(free_port()),
    )

    assert good.returncode == 0, good.stderr
    assert "# symbols checked against Kraken's instrument list cached at state/instruments.json" in good.stdout
    assert check.returncode == 2
    assert UNKNOWN in check.stderr
    assert run.returncode == 2
    assert UNKNOWN in run.stderr


def test_a_malformed_api_key_does_not_stop_a_paper_configuration(tmp_path: Path) -> None:
    done = crocbot(tmp_path, "config", "check", KRAKEN_API_KEY=BAD_KEY, KRAKEN_API_SECRET=BAD_SECRET)

    assert done.returncode == 0, done.stderr
    assert "warning: KRAKEN_API_KEY is not a Kraken API key" in done.stderr
    assert "warning: KRAKEN_API_SECRET is not a Kraken API secret" in done.stderr
    assert "# configuration OK" in done.stdout
    assert "s3cr3t" not in done.stdout + done.stderr


@pytest.mark.parametrize("command", [("config", "check"), ("status",)])
def test_a_key_too_short_to_mask_does_not_stop_paper_commands(tmp_path: Path, command: tuple[str, ...]) -> None:
    """`xx` is too short to mask in logs (it would mask ordinary words); it crashed every command with a traceback
    and exit 1. It is no Kraken key: paper never sends it, and the live gate refuses it."""
    done = crocbot(tmp_path, *command, KRAKEN_API_KEY="xx", KRAKEN_API_SECRET="abc")

    assert "Traceback" not in done.stderr, done.stderr
    assert done.returncode in (0, 6), done.stderr  # config check: OK; status: no journal here
    live = crocbot(tmp_path, "config", "check", "--mode", "live", KRAKEN_API_KEY="xx", REAL_TRADING="1")
    assert live.returncode == 2, live.stderr
    assert "KRAKEN_API_KEY is not a Kraken API key" in live.stderr


def test_a_malformed_api_key_refuses_live_trading_without_showing_it(tmp_path: Path) -> None:
    live = {"KRAKEN_API_KEY": BAD_KEY, "KRAKEN_API_SECRET": API_SECRET, "REAL_TRADING": "1"}

    check = crocbot(tmp_path, "config", "check", "--mode", "live", **live)
    run = crocbot(tmp_path, "run", "--mode", "live", **live)

    for done in (check, run):
        assert done.returncode == 2
        assert "live trading" in done.stderr
        assert "KRAKEN_API_KEY is not a Kraken API key: at least 16 characters, no spaces" in done.stderr
        assert "KRAKEN_API_SECRET" not in done.stderr  # the secret is well formed
        assert "s3cr3t" not in done.stdout + done.stderr
    assert "Live trading starts in" not in run.stdout  # refused before the countdown


@pytest.mark.skipif(sys.platform == "win32", reason="SIGTERM is POSIX; Windows uses CTRL_BREAK")
def test_a_paper_run_starts_with_a_malformed_api_key_in_the_environment(tmp_path: Path) -> None:
    with running_simulator(drive=True, speed=1.0) as simulator:
        env = crocbot_env(
            tmp_path,
            CROCBOT_STATE_DIR=str(tmp_path / "state"),
            KRAKEN_API_KEY=BAD_KEY,
            KRAKEN_API_SECRET=BAD_SECRET,
            **kraken_env(simulator),
        )
        bot = Crocbot(["run", "--config", str(CONFIG)], cwd=tmp_path, env=env)
        try:
            bot.wait_for_line("press Ctrl-C to stop", timeout=WAIT)
        finally:
            bot.process.send_signal(signal.SIGTERM)
            code, out, err = bot.finish(timeout=WAIT)

    assert code == 0, err
    assert "s3cr3t" not in out + err
