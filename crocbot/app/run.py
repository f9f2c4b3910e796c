"""`crocbot run` from start to exit code: refuse what cannot run, start the bot, wait for a signal, stop in order.

Live (the CLI's gate passed: REAL_TRADING=1, the keys, the banner and the countdown), the preflight asks Kraken
before anything starts: a problem (a bad key, a missing permission, too little money, a pair Kraken will not trade)
refuses the run with what to do, nothing sent; a warning is logged and the bot starts."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from decimal import Decimal
from types import FrameType
from typing import Any

from loguru import logger

from crocbot import __version__
from crocbot.app.bot import WATCHDOG_TIMEOUT, Bot, BotWiring
from crocbot.app.instruments import load_instruments
from crocbot.config import Settings, fingerprint
from crocbot.config.policies import live_limits
from crocbot.core.clock import Clock, wall_rate
from crocbot.core.risk_sizing import money_text
from crocbot.exit_codes import ExitCode
from crocbot.ops.log import setup_logging
from crocbot.ops.state_lock import StateDirLocked, lock_state_dir, unlock_state_dir
from crocbot.startup import KrakenUnreachable, StartupError, check_directories, check_no_other_bot
from crocbot.venues.live.preflight import PreflightResult, run_preflight

__all__ = ["run_bot", "preflight"]

_WAIT_SLICE = 0.2  # seconds; the main thread polls the signal flag this often
# what `signal.signal` takes and returns: a function, SIG_DFL / SIG_IGN, or None for a handler not set from Python
_SignalHandler = Callable[[int, FrameType | None], Any] | int | signal.Handlers | None


def run_bot(settings: Settings, *, clock: Clock | None = None, stop: threading.Event | None = None) -> int:
    """Run until SIGINT/SIGTERM (CTRL_BREAK on Windows) or `stop`; returns the process exit code."""
    try:
        check_directories(settings)  # before the log file is opened and before any network call
        check_no_other_bot(settings)
        lock_state_dir(settings.state_dir)  # held from here, so that a second bot is refused before the network
    except StateDirLocked as error:
        logger.error("crocbot cannot start: {}; stop it first, or give this one its own --state-dir", error)
        return ExitCode.REFUSED
    except StartupError as error:
        logger.error("crocbot cannot start: {}", error)
        return ExitCode.REFUSED
    try:
        return _run_bot(settings, clock, stop)
    finally:
        unlock_state_dir(settings.state_dir)


def _run_bot(settings: Settings, clock: Clock | None, stop: threading.Event | None) -> int:
    setup_logging(log_dir=settings.log_dir, level=settings.log_level)
    logger.bind(version=__version__, mode=settings.mode, config=fingerprint(settings)).info(
        "crocbot {} starting in {} mode (config {}) for {}",
        __version__,
        settings.mode,
        fingerprint(settings),
        ", ".join(settings.symbols),
    )
    try:
        instruments = load_instruments(settings)
        # The watchdog's margins are wall time (a supervisor blocks for seconds while a child starts): at 20x they
        # are 20 times as many event seconds.
        rate = wall_rate(clock) if clock is not None else 1.0
        wiring = BotWiring(
            clock=clock,
            watchdog_interval=1.0 * rate,
            watchdog_timeout=WATCHDOG_TIMEOUT * rate,
            machinery_scale=rate,
        )
        bot = Bot(settings, instruments, wiring)
        if not _preflight_passed(bot):
            return ExitCode.REFUSED
        signalled: list[int] = []
        previous = _install_stop_signals(signalled)
        try:
            bot.start()
        except BaseException:
            _restore_signals(previous)
            raise
    except KrakenUnreachable as error:
        logger.error("crocbot cannot start: {}", error)
        return ExitCode.UNREACHABLE
    except StartupError as error:
        logger.error("crocbot cannot start: {}", error)
        return ExitCode.REFUSED
    stop = stop or threading.Event()
    try:
        logger.info(
            "running in {} mode; health on http://{}:{}/readyz; press Ctrl-C to stop",
            settings.mode,
            settings.health.host,
            bot.server.port if bot.server is not None else settings.health.port,
        )
        while not signalled and not stop.is_set() and not bot.stop_requested.is_set():
            time.sleep(_WAIT_SLICE)
        if signalled:
            logger.info("signal {} received", signalled[0])
    finally:
        logger.info("stopping (stops stay on the venue)")
        bot.stop()
        _restore_signals(previous)
        logger.info("stopped")
    return ExitCode.FAILED if bot.escalated.is_set() else ExitCode.OK


def _preflight_passed(bot: Bot) -> bool:
    """Live: Kraken asked before the bot starts (the preflight logs what it found, problems and warnings). Paper:
    nothing to ask."""
    result = preflight(bot)
    if result is None:
        return True
    if not result.ok:
        logger.error(
            "crocbot cannot start live: the preflight found {} problem(s), each above; nothing was sent to Kraken",
            len(result.problems),
        )
        return False
    return True


def preflight(bot: Bot) -> PreflightResult | None:
    """The live preflight for `bot`, before it starts (None on paper, which has nothing to ask). Passed, it sets the
    capital a first live start sizes risk on: what is available, or `[live] capital` when smaller."""
    if bot.live is None:
        return None
    settings = bot.settings
    result = run_preflight(
        bot.live.api,
        settings.symbols,
        live_limits(settings.live),
        dead_mans_switch=settings.live.dead_mans_switch.enabled,
    )
    if result.ok:
        quote = next(iter(bot.instruments.values())).quote
        available = result.balances.get(quote, Decimal(0))
        chosen = settings.live.capital
        capital = available if chosen is None else min(chosen, available)
        bot.live = replace(bot.live, capital=capital)
        logger.info(
            "live capital: {} {} ({} available on the account{}); a first live start sizes risk on it (later starts "
            "on the journal's ledger); the live limits cap what is at stake",
            money_text(capital),
            quote,
            money_text(available),
            "" if chosen is None else f", live.capital {money_text(chosen)}",
        )
    return result


def _install_stop_signals(signalled: list[int]) -> dict[int, _SignalHandler]:
    if threading.current_thread() is not threading.main_thread():
        return {}

    def handler(signum: int, frame: FrameType | None) -> None:
        # Only a list append: a handler that took a lock (Event.set) could deadlock against the main thread,
        # which may hold that very lock when the signal arrives.
        signalled.append(signum)

    previous: dict[int, _SignalHandler] = {}
    for name in ("SIGINT", "SIGTERM", "SIGBREAK"):  # SIGBREAK exists on Windows only
        signum = getattr(signal, name, None)
        if signum is not None:
            previous[signum] = signal.signal(signum, handler)
    return previous


def _restore_signals(previous: dict[int, _SignalHandler]) -> None:
    for signum, handler in previous.items():
        signal.signal(signum, handler)
