"""`crocbot run --mode live` as an operator starts it, against the simulator on 127.0.0.1: past the gate (banner,
countdown) the preflight asks Kraken before the bot starts; a key Kraken refuses stops the start with exit code 2 and
the preflight's message, nothing sent; a sound account starts the bot with its live venue, ready, the live
breakers in /metrics and /readyz, Kraken's dead man's switch armed when it is turned on, and it stops cleanly on
SIGTERM, the switch disarmed (the stops stay)."""

from __future__ import annotations

import base64
import hashlib
import json
import signal
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from crocbot.app.bot import ORDERS_BREAKER, PRIVATE_BREAKER
from crocbot.exit_codes import ExitCode
from tests.support.process import CONFIG, WAIT, Crocbot, crocbot_env, run_crocbot
from tests.support.sim import API_KEY, API_SECRET, kraken_env, running_simulator

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="SIGTERM is POSIX; Windows uses CTRL_BREAK")

LIVE_RUN = ["run", "--mode", "live", "--config", str(CONFIG)]
COUNTDOWN = 10.0  # the live gate's countdown, in wall seconds
READY_WAIT = 60.0
WRONG_SECRET = base64.b64encode(hashlib.sha512(b"not the simulator's secret").digest()).decode()


def _env(tmp_path: Path, simulator: Any, secret: str) -> dict[str, str]:
    return crocbot_env(
        tmp_path,
        CROCBOT_STATE_DIR=str(tmp_path / "state"),
        REAL_TRADING="1",
        KRAKEN_API_KEY=API_KEY,
        KRAKEN_API_SECRET=secret,
        **kraken_env(simulator),
    )


def _get(url: str) -> tuple[int, Any]:
    try:
        with urllib.request.urlopen(url, timeout=WAIT) as response:
            body = response.read().decode()
            return response.status, json.loads(body) if "json" in response.headers.get("Content-Type", "") else body
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_a_key_kraken_refuses_stops_a_live_start_at_the_preflight(tmp_path: Path) -> None:
    with running_simulator() as simulator:
        bot = Crocbot(LIVE_RUN, cwd=tmp_path, env=_env(tmp_path, simulator, WRONG_SECRET))
        code, out, err = bot.finish(timeout=COUNTDOWN + WAIT)
        engine = simulator.exchange.accounts[API_KEY].engine
        orders = engine.open_orders() + engine.closed_orders()

    assert code == ExitCode.REFUSED, err
    assert "Live trading starts in" in out  # refused after the gate, not by it
    assert "preflight" in err
    assert "nothing was sent to Kraken" in err
    assert API_SECRET not in err + out
    assert orders == []


def test_a_sound_account_starts_live_gets_ready_and_stops_on_sigterm(tmp_path: Path) -> None:
    with running_simulator(drive=True, speed=1.0) as simulator:
        env = _env(tmp_path, simulator, API_SECRET) | {
            "CROCBOT_LIVE__DEAD_MANS_SWITCH__ENABLED": "true",
            "CROCBOT_LIVE__CAPITAL": "2500",  # less than the account holds: what risk is sized on
        }
        account = simulator.exchange.accounts[API_KEY]
        bot = Crocbot(LIVE_RUN, cwd=tmp_path, env=env)
        try:
            bot.wait_for_line("press Ctrl-C to stop", timeout=COUNTDOWN + READY_WAIT)
            base = f"http://127.0.0.1:{env['CROCBOT_HEALTH__PORT']}"
            deadline = time.monotonic() + READY_WAIT
            _, ready = _get(base + "/readyz")
            while not ready["checks"]["reconciled"]["ok"] and time.monotonic() < deadline:
                time.sleep(0.2)
                _, ready = _get(base + "/readyz")
            _, metrics = _get(base + "/metrics")
            armed = account.dead_man_at is not None  # armed before the tree started
        finally:
            bot.process.send_signal(signal.SIGTERM)
            code, out, err = bot.finish()
        disarmed = account.dead_man_at is None
    status = run_crocbot(["status", "--json", "--state-dir", str(tmp_path / "state")], cwd=tmp_path, env=env)

    assert code == ExitCode.OK, err
    assert "running in live mode" in err
    assert ready["checks"]["reconciled"]["ok"], ready
    assert ready["checks"]["breakers_closed"]["ok"], ready
    for name in (ORDERS_BREAKER, PRIVATE_BREAKER, "kraken-rest"):
        assert f'crocbot_breaker_state{{breaker="{name}"}} 0.0' in metrics
    assert API_SECRET not in err + out
    assert armed
    assert disarmed
    # a first live start sizes risk on live.capital, at most the account's available quote balance (not on
    # [paper] starting_balances)
    assert "live capital: 2500.00 USD (100000.00 available on the account, live.capital 2500.00)" in err
    assert json.loads(status.stdout)["cash"] == "2500"
