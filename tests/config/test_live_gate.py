"""Live trading needs REAL_TRADING=1 and both keys; then a banner and a countdown that Ctrl-C aborts."""

from __future__ import annotations

import io
import signal
import sys
from pathlib import Path

import pytest

from crocbot.cli import main
from crocbot.config import banner, countdown, key_fingerprint, live_gate_problems, load_settings
from tests.config.conftest import API_KEY, API_SECRET
from tests.support.process import CONFIG, Crocbot, crocbot_env


def live_env(monkeypatch: pytest.MonkeyPatch, *, real: str | None = "1", key: bool = True, secret: bool = True) -> None:
    monkeypatch.setenv("CROCBOT_MODE", "live")
    if real is not None:
        monkeypatch.setenv("REAL_TRADING", real)
    if key:
        monkeypatch.setenv("KRAKEN_API_KEY", API_KEY)
    if secret:
        monkeypatch.setenv("KRAKEN_API_SECRET", API_SECRET)


def test_live_without_real_trading_is_refused(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    live_env(monkeypatch, real=None)

    code = main(["run"])

    out, err = capsys.readouterr()
    assert code == 2
    assert "live trading refused" in err
    assert "REAL_TRADING=1 is not set" in err
    assert "KRAKEN_API_KEY" not in err  # the keys are there; only what is missing is named
    assert "LIVE TRADING" not in out


def test_real_trading_must_be_exactly_1(monkeypatch: pytest.MonkeyPatch) -> None:
    live_env(monkeypatch, real="true")
    assert (
        live_gate_problems(load_settings())[0]
        == "REAL_TRADING=1 is not set (it is 'true'; only 1 enables live trading)"
    )


def test_live_without_keys_is_refused_naming_each_missing_key(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    live_env(monkeypatch, key=False, secret=False)

    code = main(["run"])

    err = capsys.readouterr().err
    assert code == 2
    assert "KRAKEN_API_KEY is not set" in err
    assert "KRAKEN_API_SECRET is not set" in err
    assert "REAL_TRADING" not in err


def test_paper_mode_needs_nothing() -> None:
    assert live_gate_problems(load_settings()) == []


def test_the_banner_shows_a_key_fingerprint_symbols_and_limits_but_never_the_key(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    live_env(monkeypatch)
    settings = load_settings()

    text = banner(settings)

    assert live_gate_problems(settings) == []
    assert settings.kraken_api_key is not None
    assert key_fingerprint(settings.kraken_api_key) in text
    assert "BTC/USD, ETH/USD" in text
    assert "0.5 % of equity" in text
    assert "3 % of equity" in text
    assert API_KEY not in text
    assert API_SECRET not in text


def test_the_countdown_counts_ten_seconds_and_ctrl_c_propagates() -> None:
    out = io.StringIO()
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        if len(slept) == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        countdown(out=out, sleep=sleep)

    assert slept == [1.0, 1.0, 1.0]
    assert "starts in 10 seconds" in out.getvalue()
    assert "8..." in out.getvalue()
    assert "go." not in out.getvalue()
    full = io.StringIO()
    countdown(out=full, sleep=lambda s: None)
    assert full.getvalue().count("...") == 10
    assert full.getvalue().endswith("go.\n")


@pytest.mark.skipif(sys.platform == "win32", reason="sends SIGINT to a child process the POSIX way")
@pytest.mark.parametrize("sigint_ignored", [False, True], ids=["foreground", "started-as-a-background-job"])
def test_ctrl_c_during_the_real_countdown_exits_cleanly_before_trading(tmp_path: Path, sigint_ignored: bool) -> None:
    """Also when crocbot was started with SIGINT ignored, as a shell starts a background job (Python then raises no
    KeyboardInterrupt): seen when `make test` ran in the background, where the countdown ran to its end."""
    env = crocbot_env(
        tmp_path, CROCBOT_MODE="live", REAL_TRADING="1", KRAKEN_API_KEY=API_KEY, KRAKEN_API_SECRET=API_SECRET
    )
    bot = Crocbot(["run", "--config", str(CONFIG)], cwd=tmp_path, env=env, sigint_ignored=sigint_ignored)
    bot.wait_for_line("10...")

    bot.process.send_signal(signal.SIGINT)
    code, out, err = bot.finish()

    assert code == 130, err
    assert "CROCBOT LIVE TRADING" in out
    assert "Aborted before trading started. Nothing was sent to Kraken." in out
    assert "Traceback" not in err
    assert API_KEY not in out + err
    assert API_SECRET not in out + err
    assert not (tmp_path / "logs").exists()  # it stopped before the bot (and its logging) started


def test_the_banner_shows_the_live_limits_and_the_dead_mans_switch(monkeypatch: pytest.MonkeyPatch) -> None:
    live_env(monkeypatch)
    monkeypatch.setenv("CROCBOT_LIVE__MAX_ORDER_NOTIONAL", "40")
    off = banner(load_settings())
    monkeypatch.setenv("CROCBOT_LIVE__DEAD_MANS_SWITCH__ENABLED", "true")
    on = banner(load_settings())

    assert "40 USD per entry, 300 USD in positions and entries" in off
    assert "off (orders stay on Kraken if crocbot dies)" in off
    assert "ON: Kraken cancels every order, stops included, 60 s after" in on
    assert "every 20 s" in on


def test_live_refuses_a_symbol_quoted_outside_the_limits_currency(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    live_env(monkeypatch)
    monkeypatch.setenv("CROCBOT_SYMBOLS", "BTC/USD,ETH/EUR")

    code = main(["run"])

    err = capsys.readouterr().err
    assert code == 2
    assert "ETH/EUR is not quoted in live.quote_currency (USD)" in err
    assert "REAL_TRADING" not in err
    monkeypatch.setenv("CROCBOT_LIVE__QUOTE_CURRENCY", "EUR")
    assert "BTC/USD is not quoted" in live_gate_problems(load_settings())[0]
    monkeypatch.setenv("CROCBOT_MODE", "paper")
    assert live_gate_problems(load_settings()) == []
