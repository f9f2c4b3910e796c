"""The `crocbot` command: version, help, `python -m crocbot`, and a paper run that stops on SIGTERM."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from crocbot import __version__
from crocbot.cli import main
from tests.support.process import CONFIG, Crocbot, crocbot_env

WAIT = 20.0


def test_version_and_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as version:
        main(["--version"])
    assert version.value.code == 0
    assert capsys.readouterr().out.strip() == f"crocbot {__version__}"
    with pytest.raises(SystemExit):
        main(["--help"])
    help_text = capsys.readouterr().out
    assert "run" in help_text
    assert "config" in help_text


def test_no_command_prints_help_and_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert "usage: crocbot" in capsys.readouterr().out


def test_python_dash_m_and_the_console_script_both_work(tmp_path: Path) -> None:
    module = subprocess.run(
        [sys.executable, "-m", "crocbot", "--version"], capture_output=True, text=True, timeout=WAIT, check=False
    )
    assert module.returncode == 0
    assert module.stdout.strip() == f"crocbot {__version__}"
    script = shutil.which("crocbot", path=str(Path(sys.executable).parent))
    assert script is not None, "the crocbot console script is not installed next to this interpreter"
    installed = subprocess.run([script, "--version"], capture_output=True, text=True, timeout=WAIT, check=False)
    assert installed.stdout.strip() == f"crocbot {__version__}"


@pytest.mark.skipif(sys.platform == "win32", reason="SIGTERM is POSIX; Windows uses CTRL_BREAK")
def test_a_paper_run_starts_and_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    bot = Crocbot(["run", "--config", str(CONFIG)], cwd=tmp_path, env=crocbot_env(tmp_path))
    bot.wait_for_line("running; press Ctrl-C to stop")

    bot.process.send_signal(signal.SIGTERM)
    code, _, err = bot.finish()

    assert code == 0, err
    assert f"crocbot {__version__} starting in paper mode" in err
    assert "stopped" in err
    assert (tmp_path / "logs" / "crocbot.jsonl").is_file()
