"""Exit codes are defined once: the README's table and every command's `--help` say what `crocbot.exit_codes`
says."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from crocbot.cli import main
from crocbot.exit_codes import EXIT_CODES, ExitCode
from tests.support.process import REPO, WAIT

COMMANDS = ("run", "demo", "status", "config check", "record", "replay", "sim")


def _readme_rows() -> list[tuple[str, str, str]]:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    table = re.search(r"<!-- exit-codes:[^>]*-->\n(.*?)<!-- /exit-codes -->", text, re.DOTALL)
    assert table is not None, "README.md has no exit-code table between its markers"
    rows = [line for line in table.group(1).splitlines() if line.startswith("| ") and not line.startswith("| code")]
    cells = [[cell.strip() for cell in row.strip("|").split("|")] for row in rows]
    return [(code, commands, meaning) for code, commands, meaning in cells]


def test_the_readme_table_is_the_code_table() -> None:
    expected = [
        (str(int(doc.code)), "all" if doc.commands == COMMANDS else ", ".join(doc.commands), doc.meaning)
        for doc in EXIT_CODES
    ]
    assert _readme_rows() == expected


def test_every_exit_code_is_documented_once() -> None:
    assert sorted(doc.code for doc in EXIT_CODES) == sorted(ExitCode)


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_lists_its_exit_codes_in_its_help(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main([*command.split(), "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    for doc in EXIT_CODES:
        listed = f" {int(doc.code)} {' '.join(doc.meaning.split())}" in help_text
        assert listed == (command in doc.commands), (command, doc.code)


def test_the_real_command_prints_the_status_codes_in_its_help() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "crocbot", "status", "--help"], capture_output=True, text=True, timeout=WAIT, check=True
    )
    assert "exit codes:" in done.stdout
    for code in (ExitCode.OK, ExitCode.NOT_RUNNING, ExitCode.NOT_READY, ExitCode.NO_STATE):
        assert re.search(rf"^\s+{int(code)}\s", done.stdout, re.MULTILINE), code
