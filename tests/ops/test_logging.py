"""Logs: concise console lines, JSON lines with context, and a first line that identifies the run."""

from __future__ import annotations

import io
import json
import threading
from pathlib import Path

import pytest
from loguru import logger

from crocbot import __version__
from crocbot.app import run_bot
from crocbot.config import Settings, fingerprint
from crocbot.core.clock import SimClock
from crocbot.ops.log import JSON_LOG_NAME, setup_logging
from tests.support.sim import kraken_settings, running_simulator


def read_json(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_json_lines_carry_the_context_fields_and_the_console_stays_concise(tmp_path: Path) -> None:
    console = io.StringIO()
    path = setup_logging(log_dir=tmp_path, console=console)

    logger.debug("per-tick detail nobody needs on screen")
    logger.bind(actor="router", symbol="BTC/USD", order_id="cb-7").warning("order {} rejected", "cb-7")
    logger.complete()

    entries = read_json(path)
    assert path.name == JSON_LOG_NAME
    assert len(entries) == 1  # DEBUG stays out of both sinks at the default INFO level
    entry = entries[0]
    assert (entry["level"], entry["msg"], entry["actor"], entry["symbol"], entry["order_id"]) == (
        "WARNING",
        "order cb-7 rejected",
        "router",
        "BTC/USD",
        "cb-7",
    )
    assert str(entry["ts"]).endswith("+00:00")
    lines = console.getvalue().splitlines()
    assert len(lines) == 1
    assert lines[0].endswith("WARNING  order cb-7 rejected  [actor=router symbol=BTC/USD order_id=cb-7]")


def test_a_context_field_bound_empty_is_left_off_the_console_line(tmp_path: Path) -> None:
    console = io.StringIO()
    setup_logging(log_dir=tmp_path, console=console)

    logger.bind(actor="router", symbol="").warning("safe mode on: journal failing")
    logger.complete()

    assert console.getvalue().rstrip().endswith("safe mode on: journal failing  [actor=router]")


def test_standard_logging_from_libraries_reaches_the_same_sinks(tmp_path: Path) -> None:
    import logging

    path = setup_logging(log_dir=tmp_path, console=io.StringIO())
    logging.getLogger("websocket").error("connection to the feed dropped")
    logger.complete()

    assert read_json(path)[-1]["msg"] == "connection to the feed dropped"


def test_the_first_line_of_every_run_names_version_mode_and_config_fingerprint(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    stop = threading.Event()
    stop.set()  # start, then stop at once
    with running_simulator() as simulator:
        settings = Settings(log_dir=tmp_path / "logs", state_dir=tmp_path / "state", **kraken_settings(simulator))

        assert run_bot(settings, clock=SimClock(), stop=stop) == 0

    first = read_json(tmp_path / "logs" / JSON_LOG_NAME)[0]
    assert first["version"] == __version__
    assert first["mode"] == "paper"
    assert first["config"] == fingerprint(settings)
    assert f"crocbot {__version__} starting in paper mode" in str(first["msg"])
