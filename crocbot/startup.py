"""What `crocbot run` checks before it builds anything: the state and log directories take crocbot's files (before any
network call, so a directory problem is named at once), and Kraken's instrument list, tried a few times when
there is no cached copy to fall back on.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from loguru import logger

from crocbot.config import Settings
from crocbot.kraken.endpoints import KrakenApi
from crocbot.kraken.errors import KrakenError
from crocbot.kraken.instruments import Catalog
from crocbot.kraken.rest import RestClient
from crocbot.ops.identity import check_bot
from crocbot.ops.log import JSON_LOG_NAME
from crocbot.store.paper_account import PAPER_ACCOUNT_FILE

__all__ = [
    "CATALOG_PAUSES",
    "JOURNAL_FILE",
    "TRADE_LOG_FILE",
    "KrakenUnreachable",
    "StartupError",
    "check_directories",
    "check_no_other_bot",
    "fetch_catalog",
]

JOURNAL_FILE = "journal.sqlite3"
TRADE_LOG_FILE = "trades.jsonl"
CATALOG_PAUSES = (1.0, 2.0)  # seconds between the tries for Kraken's instrument list when there is no cache


class StartupError(Exception):
    """The bot cannot start as configured; the text says what is wrong and what to do."""


class KrakenUnreachable(StartupError):
    """Kraken's REST API did not answer at start and no cached instrument catalog can stand in (exit code 3)."""


def check_directories(settings: Settings) -> None:
    """StartupError unless the state and log directories take crocbot's files: checked before any network call,
    so a directory problem is named at once instead of after Kraken's answer (or its timeout)."""
    state_files = (JOURNAL_FILE, PAPER_ACCOUNT_FILE)
    for directory, files in ((settings.state_dir, state_files), (settings.log_dir, (TRADE_LOG_FILE, JSON_LOG_NAME))):
        _check_writable(directory, files)


def check_no_other_bot(settings: Settings) -> None:
    """StartupError if another crocbot runs on this state directory (its bot.json names a bot that answers with
    its instance id, or whose process lives but does not answer): two bots writing one journal and one paper
    account would each trade on half the story."""
    found = check_bot(settings.state_dir)
    identity = found.identity
    # a bot that does not answer in time (paused, swapping, busy) runs all the same; the state dir's OS lock
    # (crocbot.ops.state_lock, taken next) is the final word, this is the earlier and clearer one
    if found.state in ("running", "unresponsive") and identity is not None and identity.pid != os.getpid():
        silent = ", not answering its health checks" if found.state == "unresponsive" else ""
        raise StartupError(
            f"another crocbot runs on {settings.state_dir} (pid {identity.pid}, started "
            f"{identity.started_at.isoformat(timespec='seconds')}, health on {identity.health_url}{silent}); stop "
            "it first, or give this one its own CROCBOT_STATE_DIR (--state-dir)"
        )


def _check_writable(directory: Path, files: Sequence[str]) -> None:
    """StartupError unless `directory` (made if missing) takes a new file and each of `files` that exists can be
    opened for writing: a read-only state or log directory refuses the start instead of losing records later."""
    probe = directory / f".crocbot-write-check-{os.getpid()}"
    if directory.exists() and not directory.is_dir():
        raise StartupError(
            f"{directory} is a file, not a directory; crocbot keeps its journal, paper account and logs in "
            "directories: move the file away, or point CROCBOT_STATE_DIR / CROCBOT_LOG_DIR (--state-dir / --log-dir) "
            "elsewhere"
        )
    try:
        directory.mkdir(parents=True, exist_ok=True)
        with probe.open("wb") as handle:
            handle.write(b"ok")
            handle.flush()
            os.fsync(handle.fileno())
        probe.unlink()
        for name in files:
            path = directory / name
            if path.exists():
                with path.open("ab"):  # opened for appending, nothing written: the file is unchanged
                    pass
    except OSError as error:
        raise StartupError(
            f"{directory} is not writable ({error.strerror or error}: {error.filename or directory}); crocbot keeps "
            "its journal, paper account and trade log there and would lose records: make it writable for this user "
            "(and check that the disk is not full or mounted read-only), or point CROCBOT_STATE_DIR / "
            "CROCBOT_LOG_DIR elsewhere"
        ) from None


def fetch_catalog(settings: Settings, *, retry: bool, pause: Callable[[float], None]) -> Catalog:
    """Kraken's AssetPairs; without a cache to fall back on, a few tries with a pause between (a network that comes
    up a moment after the bot, a resolver's hiccup), each failure logged with its cause."""
    api = KrakenApi(RestClient(settings.kraken.rest_url, timeout=settings.kraken.request_timeout))
    pauses = CATALOG_PAUSES if retry else ()
    tries = len(pauses) + 1
    for attempt in range(1, tries + 1):
        try:
            return api.load_catalog(deadline=time.monotonic() + 2 * settings.kraken.request_timeout)
        except (KrakenError, OSError, ValueError) as error:
            if attempt == tries:
                raise
            wait = pauses[attempt - 1]
            logger.warning(
                "Kraken's instrument list from {}: try {} of {} failed ({}); trying again in {:g} s",
                settings.kraken.rest_url,
                attempt,
                tries,
                error,
                wait,
            )
            pause(wait)
    raise AssertionError("unreachable: the last try returns or raises")
