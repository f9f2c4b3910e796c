"""`crocbot demo --venue live` through the real entry point: the bot in live mode trades an account on the demo's
own simulator without REAL_TRADING or a countdown, the summary says so and is true to the simulator's books, and
nothing on the way is an error or shows the made-up key."""

from __future__ import annotations

import dataclasses
import json
import re
import subprocess
import sys
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from crocbot.config import load_settings
from crocbot.core.messages import Fill, Liquidity, Side
from crocbot.demo.live import DemoAccount, check_loopback, check_venue, open_account
from crocbot.matching import OrderRequest
from crocbot.sim.runner import SimConfig, Simulator
from crocbot.startup import StartupError
from tests.support.e2e import BTC_CANDLES, MACHINERY
from tests.support.process import CONFIG, crocbot_env

RUN_LIMIT = 150.0  # wall seconds: the pre-roll, the start, 20 s of trading and the stop, on a busy 2-core machine
DEMO_KEY = re.compile(r"demo[0-9a-f]{32}")  # the shape of the key `crocbot.demo.live` makes up


def _machinery_flags() -> list[str]:
    """The end-to-end tests' settings (5-minute candles, stops inside the round trip allowed), so that 20 s trade."""
    flags = []
    for section, values in MACHINERY.items():
        for key, value in values.items():
            flags += ["--set", f"{section}.{key}={value}"]
    return flags


@pytest.mark.timeout(RUN_LIMIT + 30)
def test_the_live_demo_trades_the_simulators_account_and_its_summary_agrees_with_the_simulator(
    tmp_path: Path,
) -> None:
    data = str(BTC_CANDLES) if BTC_CANDLES.is_file() else "synthetic"
    logs, state = tmp_path / "logs", tmp_path / "state"
    args = ["demo", "--venue", "live", "--config", str(CONFIG), "--data", data, "--duration", "20", "--no-view"]
    args += ["--json", "--state-dir", str(state), "--log-dir", str(logs), *_machinery_flags()]
    env = crocbot_env(tmp_path)  # no REAL_TRADING, no keys: the demo needs neither
    done = subprocess.run(
        [sys.executable, "-m", "crocbot", *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=RUN_LIMIT,
        check=False,
    )

    assert done.returncode == 0, done.stdout + done.stderr
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert summary["venue"] == "live"
    assert "LIVE mode against the simulator" in done.stdout  # the banner, before it trades
    assert "venue       LIVE mode" in done.stdout  # the summary
    assert "countdown" in done.stdout
    assert "Live trading starts in" not in done.stdout
    assert summary["fills"] > 0, done.stdout
    check = summary["venue_check"]
    assert check == {**check, "ok": True, "venue_fills": summary["fills"], "journal_fills": summary["fills"]}
    assert check["problems"] == []
    assert summary["settle_timeouts"] == 0
    log_lines = [json.loads(line) for line in (logs / "crocbot.jsonl").read_text().splitlines()]
    assert [r for r in log_lines if r["level"] in ("ERROR", "CRITICAL")] == []
    assert any(r["msg"].startswith("preflight passed") for r in log_lines)  # the live preflight ran, and passed
    trade_log = (logs / "trades.jsonl").read_text()
    everything = done.stdout + done.stderr + (logs / "crocbot.jsonl").read_text() + trade_log
    assert DEMO_KEY.search(everything) is None


@pytest.fixture
def traded() -> Iterator[tuple[Simulator, DemoAccount, list[Fill]]]:
    """A demo account on a simulator that bought and sold some BTC, and its fills as the journal would hold them."""
    simulator = Simulator(SimConfig(symbols=("BTC/USD",)))
    simulator.start(drive=False)
    try:
        account = open_account(simulator, {"USD": Decimal("10000")})
        simulator.step(20)  # the account's engine sees the books from the first trade on
        on_sim = simulator.exchange.accounts[account.api_key]
        for side, cl_ord_id in ((Side.BUY, "cbe1"), (Side.SELL, "cbx1")):
            order = OrderRequest("BTC/USD", side, "market", Decimal("0.01"), cl_ord_id=cl_ord_id, fee_in_quote=True)
            simulator.exchange.add_order(on_sim, order)
        engine = on_sim.engine
        fills = [
            Fill(f.exec_id, f.cl_ord_id or "", f.order_id, f.symbol, f.side, f.qty, f.price, f.fee, f.fee_asset,
                 Liquidity.TAKER, f.ts)
            for f in engine.fills()
        ]  # fmt: skip
        yield simulator, account, fills
    finally:
        simulator.stop()


def test_the_venue_check_agrees_with_a_journal_that_holds_the_simulators_fills(
    traded: tuple[Simulator, DemoAccount, list[Fill]],
) -> None:
    simulator, account, fills = traded
    check = check_venue(simulator, account, fills)

    assert check.ok, check.problems
    assert (check.venue_fills, check.journal_fills) == (len(fills), len(fills))
    assert check.moved["USD"] < 0  # bought high, sold low, and paid both fees
    assert "BTC" not in check.moved  # all of it sold again


def test_the_venue_check_names_a_fill_the_journal_lacks_or_holds_otherwise(
    traded: tuple[Simulator, DemoAccount, list[Fill]],
) -> None:
    simulator, account, fills = traded
    missing = check_venue(simulator, account, fills[:-1])
    dearer = check_venue(simulator, account, [fills[0], dataclasses.replace(fills[1], price=fills[1].price + 1)])

    assert not missing.ok
    assert any("not in the journal" in p for p in missing.problems)
    assert any("balance moved" in p for p in missing.problems)  # the sell the journal lacks moved BTC and USD
    assert not dearer.ok
    assert any(p.startswith(f"fill {fills[1].fill_id}:") for p in dearer.problems)


def test_the_live_demo_refuses_any_endpoint_that_is_not_its_simulators_on_loopback() -> None:
    simulator = Simulator(SimConfig(symbols=("BTC/USD",)))
    simulator.start(drive=False)
    try:
        own = {"ws_url": simulator.ws_url, "ws_auth_url": simulator.ws_auth_url, "rest_url": simulator.rest_url}
        check_loopback(load_settings(config_file=CONFIG, overrides={"kraken": own}), simulator)
        for name, url in (("rest_url", "https://api.kraken.com"), ("ws_auth_url", "wss://ws-auth.kraken.com/v2")):
            settings = load_settings(config_file=CONFIG, overrides={"kraken": {**own, name: url}})
            with pytest.raises(StartupError, match=f"kraken.{name} is {url}"):
                check_loopback(settings, simulator)
    finally:
        simulator.stop()
