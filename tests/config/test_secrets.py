"""A secret given in the configuration never reaches the console, the JSON log, an exception text or a message."""

from __future__ import annotations

import io
import json
import queue
from pathlib import Path
from typing import Any

import pytest
from loguru import logger

from crocbot.actors.base import describe_error
from crocbot.actors.runtime import Runtime
from crocbot.actors.supervisor import ChildSpec, Policy
from crocbot.cli import main
from crocbot.config import ConfigError, load_settings, secret_values
from crocbot.core.clock import SimClock
from crocbot.core.messages import ActorRestarted
from crocbot.ops.log import setup_logging
from crocbot.ops.redact import REDACTOR
from tests.config.conftest import API_KEY, API_SECRET, WEBHOOK
from tests.support.actors import WAIT, Crash, Probe, Tap, Worker

SECRETS = (API_KEY, API_SECRET, WEBHOOK)


def configure_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KRAKEN_API_KEY", API_KEY)
    monkeypatch.setenv("KRAKEN_API_SECRET", API_SECRET)
    monkeypatch.setenv("CROCBOT_NOTIFICATIONS__DISCORD_WEBHOOK_URL", WEBHOOK)


def assert_clean(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text


def test_config_check_shows_that_secrets_are_set_but_not_what_they_are(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_secrets(monkeypatch)

    assert main(["config", "check"]) == 0

    out, err = capsys.readouterr()
    assert 'kraken_api_key = "(set)"' in out
    assert_clean(out + err)


def test_an_invalid_secret_is_named_but_never_quoted(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # The API keys' shape is the live gate's to check (tests/config/test_config_check.py); the webhook is used in
    # paper mode too, so it is checked with the other settings.
    monkeypatch.setenv("CROCBOT_NOTIFICATIONS__DISCORD_WEBHOOK_URL", "http://hooks/s3cr3t-token")
    field = "notifications.discord_webhook_url"

    assert main(["config", "check"]) == 2
    err = capsys.readouterr().err
    with pytest.raises(ConfigError) as error:
        load_settings()

    assert f"{field}: given (hidden: a secret); allowed:" in err
    assert "s3cr3t" not in err
    assert "s3cr3t" not in str(error.value)
    assert error.value.__cause__ is None
    assert error.value.__suppress_context__


def test_secrets_are_masked_in_console_json_log_exception_text_and_crash_reports(
    monkeypatch: pytest.MonkeyPatch, isolated: Path
) -> None:
    configure_secrets(monkeypatch)
    for secret in secret_values(load_settings()):
        REDACTOR.add(secret)
    console = io.StringIO()
    json_log = setup_logging(log_dir=isolated / "logs", console=console)

    logger.info("connecting with key {}", API_KEY)
    try:
        raise PermissionError(f"EAPI:Invalid key; secret was {API_SECRET}")
    except PermissionError:
        logger.exception("private call failed")
    logger.bind(actor="notifier", order_id=WEBHOOK).warning("posting to {}", WEBHOOK)
    error_text = describe_error(RuntimeError(f"request to {WEBHOOK} failed"))

    restarted: queue.Queue[Any] = queue.Queue()
    runtime = Runtime(clock=SimClock())
    try:
        runtime.start(
            [ChildSpec.actor("tap", Tap, restarted, (ActorRestarted,)), ChildSpec.actor("w", Worker, Probe())],
            Policy(backoff_initial=0),
        )
        entry = runtime.directory.entry("w")
        assert entry is not None
        entry.ref.tell(Crash(f"crashed holding {API_KEY}"))
        restarted.get(timeout=WAIT)
    finally:
        runtime.shutdown(timeout=WAIT)
    logger.complete()

    console_text = console.getvalue()
    json_text = json_log.read_text(encoding="utf-8")
    assert "***" in console_text
    assert "private call failed" in console_text
    assert "PermissionError" in console_text
    assert "crashed holding ***" in json_text
    assert error_text == "RuntimeError: request to *** failed"
    for line in json_text.splitlines():
        json.loads(line)  # masking never breaks a JSON line
    assert_clean(console_text)
    assert_clean(json_text)
