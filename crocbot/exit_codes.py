"""Every exit code of the `crocbot` command, defined once: the commands return these, `--help` prints them (an
epilog per command) and a test checks the README's table against `EXIT_CODES`.

A script that runs crocbot can tell "fix your configuration" (2) from "Kraken could not be reached" (3), and
`crocbot status` answers like `systemctl status`: 0 only when the bot runs and is ready.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from enum import IntEnum

__all__ = ["ExitCode", "ExitCodeDoc", "EXIT_CODES", "epilog"]


class ExitCode(IntEnum):
    OK = 0
    FAILED = 1
    REFUSED = 2
    UNREACHABLE = 3
    NOT_RUNNING = 4
    NOT_READY = 5
    NO_STATE = 6
    ABORTED = 130


@dataclass(frozen=True, slots=True)
class ExitCodeDoc:
    code: ExitCode
    commands: tuple[str, ...]  # the commands that can end with it
    meaning: str


_ALL = ("run", "demo", "status", "config check", "record", "replay", "sim")

EXIT_CODES: tuple[ExitCodeDoc, ...] = (
    ExitCodeDoc(ExitCode.OK, _ALL, "done; `status`: the bot of this state directory runs and is ready"),
    ExitCodeDoc(
        ExitCode.FAILED,
        _ALL,
        "an unexpected error (one line here, the traceback in the log); `run`: the bot stopped because its core "
        "could not be kept alive; `replay --verify`: the recording does not verify (a book checksum mismatched, "
        "or a line is damaged, cut off or malformed)",
    ),
    ExitCodeDoc(
        ExitCode.REFUSED,
        _ALL,
        "refused before anything ran: the configuration, the command line, the live gate, or a state or log "
        "directory that cannot be written; fix what the message names and start again",
    ),
    ExitCodeDoc(
        ExitCode.UNREACHABLE,
        ("run",),
        "Kraken's REST API (kraken.rest_url) did not answer at start, after a few tries each logged with its "
        "cause, and there is no cached instrument catalog in the state directory; check the network",
    ),
    ExitCodeDoc(
        ExitCode.NOT_RUNNING,
        ("status",),
        "no bot runs on this state directory (never started, stopped, or killed: a stale identity file is named "
        "as such); the last known state is shown",
    ),
    ExitCodeDoc(ExitCode.NOT_READY, ("status",), "the bot runs but is not ready; the failing checks are shown"),
    ExitCodeDoc(ExitCode.NO_STATE, ("status",), "no journal: no bot has run with this state directory"),
    ExitCodeDoc(
        ExitCode.ABORTED,
        _ALL,
        "interrupted with Ctrl-C (`run` in live mode: before trading started; `demo`: after printing its summary)",
    ),
)


def epilog(command: str | None = None) -> str:
    """The exit codes `command` can end with (all of them for None), for argparse's epilog."""
    rows = [doc for doc in EXIT_CODES if command is None or command in doc.commands]
    lines = [
        textwrap.fill(doc.meaning, width=100, initial_indent=f"  {int(doc.code):>3}  ", subsequent_indent=" " * 7)
        for doc in rows
    ]
    return "exit codes:\n" + "\n".join(lines)
