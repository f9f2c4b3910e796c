"""What each `crocbot` command offers: every argument explained, no option that means nothing to the command,
and `demo` refusing a live mode by --mode (it takes --venue) instead of quietly trading on paper."""

from __future__ import annotations

import argparse
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from crocbot.cli import build_parser
from tests.support.process import CONFIG, crocbot_env, run_crocbot


def _parsers(parser: argparse.ArgumentParser, name: str = "crocbot") -> Iterator[tuple[str, argparse.ArgumentParser]]:
    """Every parser of the tree, by command line; through argparse's private `_actions`: it has no public walk."""
    yield name, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub_name, sub in action.choices.items():
                yield from _parsers(sub, f"{name} {sub_name}")


def _options(parser: argparse.ArgumentParser) -> set[str]:
    return {flag for action in parser._actions for flag in action.option_strings}


def _command(name: str) -> argparse.ArgumentParser:
    return dict(_parsers(build_parser()))[name]


def test_every_argument_of_every_command_has_help_text() -> None:
    missing = [
        f"{name}: {action.dest}"
        for name, parser in _parsers(build_parser())
        for action in parser._actions
        if not action.help or action.help == argparse.SUPPRESS
    ]

    assert not missing, missing


@pytest.mark.parametrize(
    ("command", "absent"),
    [
        ("crocbot demo", {"--mode", "--symbols", "--log-level"}),
        ("crocbot status", {"--mode", "--symbols", "--log-dir", "--log-level"}),
        ("crocbot replay", {"--mode", "--symbols", "--log-dir", "--log-level"}),
        ("crocbot record", {"--mode", "--log-dir", "--log-level"}),
    ],
)
def test_a_command_does_not_offer_options_that_mean_nothing_to_it(command: str, absent: set[str]) -> None:
    assert not _options(_command(command)) & absent


def test_run_and_config_check_offer_every_setting_option() -> None:
    every = {"--config", "--env-file", "--mode", "--symbols", "--state-dir", "--log-dir", "--log-level", "--set"}

    assert every <= _options(_command("crocbot run"))
    assert every <= _options(_command("crocbot config check"))


def _crocbot(args: list[str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    return run_crocbot([*args], cwd=tmp_path, env=crocbot_env(tmp_path))


@pytest.mark.parametrize("flags", [["--mode", "live"], ["--mode=live"], ["--set", "mode=live"]])
def test_demo_refuses_a_live_mode_with_one_clear_line_and_exit_2(tmp_path: Path, flags: list[str]) -> None:
    result = _crocbot(["demo", "--config", str(CONFIG), "--state-dir", str(tmp_path / "state"), *flags], tmp_path)

    assert result.returncode == 2
    assert "the demo chooses its mode with --venue paper|live" in result.stderr
    assert "crocbot demo --venue live" in result.stderr
    assert "crocbot run --mode live" in result.stderr
    assert result.stdout == ""  # refused before anything started
    assert not (tmp_path / "state").exists()


def test_an_option_a_command_does_not_offer_is_a_usage_error(tmp_path: Path) -> None:
    result = _crocbot(["status", "--mode", "paper"], tmp_path)

    assert result.returncode == 2
    assert "unrecognized arguments: --mode paper" in result.stderr
