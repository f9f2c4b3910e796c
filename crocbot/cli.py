"""The `crocbot` command. Its exit codes are defined in `crocbot.exit_codes` and printed by each command's `--help`."""

from __future__ import annotations

import argparse
import json
import signal
import sys
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path
from typing import Any

from loguru import logger

from crocbot import __version__
from crocbot.cli_market import (
    REPLAY_CLOCK_HELP,
    add_market_commands,
    parse_duration,
    parse_replay_clock,
    replay_problems,
    run_market_command,
)
from crocbot.config import (
    ConfigError,
    Settings,
    banner,
    countdown,
    default_config_file,
    fingerprint,
    key_shape_problems,
    live_gate_problems,
    load_settings,
    parse_set,
    render,
    secret_values,
)
from crocbot.config.layers import layers
from crocbot.config.load import DEFAULT_CONFIG_FILE, DEFAULT_ENV_FILE
from crocbot.config.symbols import SymbolsRefused, catalog_cache, check_symbols
from crocbot.demo import DEFAULT_DATA
from crocbot.exit_codes import ExitCode, epilog
from crocbot.kraken.instruments import Catalog
from crocbot.ops.log import bootstrap_logging
from crocbot.ops.redact import MIN_SECRET_LENGTH, REDACTOR, redact

__all__ = ["main", "EXIT_OK", "EXIT_REFUSED", "EXIT_ABORTED"]

EXIT_OK = ExitCode.OK
EXIT_REFUSED = ExitCode.REFUSED
EXIT_ABORTED = ExitCode.ABORTED


def _settings_flags(parser: argparse.ArgumentParser, *, omit: Collection[str] = ()) -> None:
    """The settings options; `omit` leaves out those that mean nothing to the command (the demo trades on paper,
    on its own symbols; `status` only reads the state directory)."""
    group = parser.add_argument_group("settings (override config file, .env and environment)")
    group.add_argument(
        "--config", type=Path, help="TOML defaults file (default: $CROCBOT_CONFIG or config/crocbot.toml)"
    )
    group.add_argument("--env-file", type=Path, help="dotenv file (default: .env in the working directory)")
    if "mode" not in omit:
        group.add_argument("--mode", choices=("paper", "live"), help="paper (default) or live")
    if "symbols" not in omit:
        group.add_argument("--symbols", help="comma-separated WS v2 symbols, e.g. BTC/USD,ETH/USD,AAPLx/USD")
    group.add_argument("--state-dir", type=Path, help="journal and state directory")
    if "log_dir" not in omit:
        group.add_argument("--log-dir", type=Path, help="log directory")
    if "log_level" not in omit:
        group.add_argument("--log-level", choices=("DEBUG", "INFO", "WARNING", "ERROR"), help="console log level")
    group.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="any setting by its dotted name, e.g. --set risk.risk_per_trade=0.004 (repeatable)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="crocbot",
        description="A trading bot for Kraken spot (crypto and xStocks). Paper trading unless told otherwise.",
    )
    parser.add_argument("--version", action="version", version=f"crocbot {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", help="what to do (crocbot COMMAND -h)")
    run = commands.add_parser("run", help="start the bot (paper mode unless live is configured and confirmed)")
    _settings_flags(run)
    run.add_argument(
        "--replay-clock", type=parse_replay_clock, metavar="SPEC", help=REPLAY_CLOCK_HELP + " (paper, simulator only)"
    )
    config = commands.add_parser("config", help="configuration tools")
    config_commands = config.add_subparsers(dest="config_command", metavar="SUBCOMMAND", help="the configuration tool")
    check = config_commands.add_parser("check", help="print the effective configuration, or what is wrong with it")
    _settings_flags(check)
    demo = commands.add_parser(
        "demo",
        help="trade against the built-in simulator, offline (paper, or live mode with --venue live), with a console "
        "view",
        epilog="Ctrl-C ends the trading early and still prints the summary (exit 130); a full run exits 0.",
    )
    _settings_flags(demo, omit=("mode", "symbols", "log_level"))
    demo.add_argument("--duration", type=parse_duration, default=100.0, help="wall time to trade (default 100s)")
    demo.add_argument("--speed", type=float, help="at most this many market seconds per second (default: flat out)")
    demo.add_argument(
        "--data",
        default=str(DEFAULT_DATA),
        help="Kraken OHLCVT candle file for BTC/USD, or 'synthetic' (default: %(default)s, synthetic if absent)",
    )
    demo.add_argument("--seed", type=int, default=7, help="seed of the synthetic markets")
    demo.add_argument(
        "--venue",
        choices=("paper", "live"),
        default="paper",
        help="paper (default): the paper venue fills the orders; live: crocbot in live mode, through its live venue, "
        "trading an account on the simulator (no real money, no REAL_TRADING, no countdown: the demo owns the venue)",
    )
    demo.add_argument("--no-view", action="store_true", help="print a status line now and then instead of a view")
    demo.add_argument("--json", action="store_true", help="also print the summary as one line of JSON, last")
    status = commands.add_parser(
        "status",
        help="whether the state directory's bot runs and is ready; its positions, orders, stops, equity, P&L, fees, "
        "kill switch and safe mode",
    )
    _settings_flags(status, omit=("mode", "symbols", "log_dir", "log_level"))
    status.add_argument("--json", action="store_true", help="print JSON instead of text")
    add_market_commands(commands, _settings_flags)
    parser.epilog = epilog()
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    for name, command in (*commands.choices.items(), ("config check", check)):
        command.epilog = epilog("config check" if name == "config" else name)
        command.formatter_class = argparse.RawDescriptionHelpFormatter
    return parser


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    overrides: dict[str, Any] = {}
    for name in ("mode", "symbols", "state_dir", "log_dir", "log_level"):
        value = getattr(args, name, None)  # a command offers only the options that mean something to it
        if value is not None:
            overrides[name] = value
    parse_set(args.set, into=overrides)
    return overrides


def _merge(base: dict[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in extra.items():
        old = merged.get(key)
        merged[key] = _merge(old, value) if isinstance(old, dict) and isinstance(value, Mapping) else value
    return merged


def _load(args: argparse.Namespace, extra: Mapping[str, Any] | None = None) -> Settings:
    config_file = args.config if args.config is not None else default_config_file()
    overrides = _merge(_overrides(args), extra or {})
    settings = load_settings(config_file=config_file, env_file=args.env_file, overrides=overrides)
    for secret in secret_values(settings):
        # too short to mask without masking ordinary words: such a value is no Kraken key, the live gate refuses it
        # (key_shape_problems) and paper never sends it anywhere, so it must not stop a paper run or `status`
        if len(secret) >= MIN_SECRET_LENGTH:
            REDACTOR.add(secret)
    return settings


def _refuse(title: str, problems: Sequence[str]) -> int:
    lines = "\n".join(f"  {redact(line)}" for line in problems)
    print(f"crocbot: {title}:\n{lines}", file=sys.stderr)
    return EXIT_REFUSED


def _config_check(args: argparse.Namespace) -> int:
    """The effective configuration, the layers it came from, and the symbols against the cached Kraken list."""
    config_file = args.config if args.config is not None else default_config_file()
    if config_file is None:
        print(
            f"crocbot: warning: no {DEFAULT_CONFIG_FILE} under {Path.cwd()}; using the built-in defaults. Run from the "
            "directory that holds config/, or pass --config FILE (or set CROCBOT_CONFIG)",
            file=sys.stderr,
        )
    try:
        settings = _load(args)
    except ConfigError as error:
        return _refuse("invalid configuration", error.problems)
    used = layers(config_file, args.env_file or DEFAULT_ENV_FILE, _overrides(args))
    print("\n".join(f"# {line}" for line in used.describe()) + "\n")
    print(render(settings), end="")
    problems = live_gate_problems(settings)
    if problems:
        return _refuse("configuration is valid, but live trading would be refused", problems)
    for problem in key_shape_problems(settings):  # only the live gate refuses them: paper never uses the keys
        print(f"crocbot: warning: {problem}; paper mode ignores it, live trading would refuse it", file=sys.stderr)
    cache = catalog_cache(settings)
    try:
        catalog = Catalog.load(cache) if cache.is_file() else None
    except (OSError, ValueError, KeyError, TypeError) as error:  # a damaged cache: run fetches a new one anyway
        print(f"crocbot: warning: cannot read the cached instrument list {cache} ({error})", file=sys.stderr)
        catalog = None
    if catalog is None:
        print(f"# symbols not checked against Kraken's list: no readable cached copy at {cache} (run saves one)")
    else:
        try:
            check_symbols(settings, catalog)
        except SymbolsRefused as error:
            return _refuse(f"the symbols do not match Kraken's instrument list (cached at {cache})", [str(error)])
        print(f"# symbols checked against Kraken's instrument list cached at {cache}")
    print(f"# configuration OK (fingerprint {fingerprint(settings)}, mode {settings.mode})")
    return EXIT_OK


def _run(args: argparse.Namespace) -> int:
    from crocbot.app import run_bot  # deferred: `--help` and `config check` need none of the runtime

    try:
        settings = _load(args)
    except ConfigError as error:
        return _refuse("invalid configuration", error.problems)
    if args.replay_clock is not None and (problems := replay_problems(settings)):
        return _refuse("a replay clock only makes sense against the simulator", problems)
    problems = live_gate_problems(settings)
    if problems:
        return _refuse("live trading refused", problems)
    if settings.mode == "live":
        print(banner(settings), flush=True)
        if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
            # Started as a background job (SIGINT ignored, so Python raises no KeyboardInterrupt): aborting a live
            # start must still be possible, so the countdown listens for it.
            signal.signal(signal.SIGINT, signal.default_int_handler)
        try:
            countdown(out=sys.stdout)
        except KeyboardInterrupt:
            print("\nAborted before trading started. Nothing was sent to Kraken.", flush=True)
            return EXIT_ABORTED
    return run_bot(settings, clock=args.replay_clock)


def _refuse_demo_mode() -> int:
    return _refuse(
        "the demo chooses its mode with --venue paper|live, not --mode",
        [
            "it runs against its own simulator, never Kraken: crocbot demo --venue live shows live mode there; for "
            "live trading on Kraken use: crocbot run --mode live"
        ],
    )


def _demo(args: argparse.Namespace) -> int:
    from crocbot.app import StartupError
    from crocbot.demo import DemoOptions, run_demo, summary_text

    try:
        if _overrides(args).get("mode", "paper") != "paper":  # --set mode=live
            return _refuse_demo_mode()
    except ConfigError as error:
        return _refuse("invalid configuration", error.problems)

    options = DemoOptions(
        duration=args.duration,
        speed=args.speed,
        data=None if args.data == "synthetic" else Path(args.data),
        seed=args.seed,
        view=not args.no_view and sys.stdout.isatty(),
        venue=args.venue,
    )
    if args.state_dir is not None:
        options.state_dir = args.state_dir
    if args.log_dir is not None:
        options.log_dir = args.log_dir
    try:
        result = run_demo(options, lambda extra: _load(args, extra))
    except ConfigError as error:
        return _refuse("invalid configuration", error.problems)
    except StartupError as error:
        return _refuse("the demo could not start", [str(error)])
    print(summary_text(result, options.state_dir), end="")
    if args.json:
        print(json.dumps(result.as_json()))
    return EXIT_ABORTED if result.interrupted else EXIT_OK


def _status(args: argparse.Namespace) -> int:
    from crocbot.status import collect_status, render_status, status_exit_code, status_json

    try:
        settings = _load(args)
    except ConfigError as error:
        return _refuse("invalid configuration", error.problems)
    status = collect_status(settings)
    print(status_json(status) if args.json else render_status(status), end="\n" if args.json else "")
    return status_exit_code(status)


def main(argv: Sequence[str] | None = None) -> int:
    bootstrap_logging()
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    if unknown:
        if args.command == "demo" and any(arg.split("=")[0] == "--mode" for arg in unknown):
            return _refuse_demo_mode()
        parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    try:
        if args.command == "run":
            return _run(args)
        if args.command == "config" and args.config_command == "check":
            return _config_check(args)
        if args.command == "demo":
            return _demo(args)
        if args.command == "status":
            return _status(args)
        if args.command in ("record", "replay", "sim"):
            return run_market_command(args, _load)
    except KeyboardInterrupt:
        print("\nInterrupted.", file=sys.stderr)
        return EXIT_ABORTED
    except Exception as error:  # noqa: BLE001 - the last resort: one masked line, not a traceback
        # Last resort: say what failed in one masked line and keep the traceback in the log, not on screen.
        logger.opt(exception=True).critical("crocbot failed")
        print(f"crocbot: {redact(f'{type(error).__name__}: {error}')}", file=sys.stderr)
        return ExitCode.FAILED
    parser.print_help()
    return EXIT_REFUSED
