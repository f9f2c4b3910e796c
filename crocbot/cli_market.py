"""Market-data and simulator commands: `crocbot record`, `crocbot replay`, `crocbot sim`."""

from __future__ import annotations

import argparse
import base64
import ipaddress
import json
import re
import secrets
import signal
import sys
import time
from collections.abc import Callable, Collection, Iterable, Mapping
from decimal import Decimal
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Protocol
from urllib.parse import urlsplit

from crocbot.config import Settings
from crocbot.core.instrument import Instrument
from crocbot.exit_codes import ExitCode
from crocbot.kraken.instruments import Catalog

if TYPE_CHECKING:
    from crocbot.core.clock import ReplayClock
    from crocbot.sim.market import MarketTrade

__all__ = [
    "add_market_commands",
    "run_market_command",
    "parse_duration",
    "parse_replay_clock",
    "replay_problems",
    "REPLAY_CLOCK_HELP",
]

REPLAY_CLOCK_HELP = (
    "share accelerated market time with another process: ANCHOR_ISO@WALL_EPOCHxSPEED, e.g. "
    "2026-01-05T14:30:00+00:00@1763700000x20 (market time is ANCHOR at wall time WALL_EPOCH, then runs SPEED "
    "times faster); give the simulator and the bot the same spec"
)

_PROGRESS_EVERY = 10.0  # wall seconds between two progress lines of `crocbot record`
_DURATION = re.compile(r"^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+(?:\.\d+)?)s?)?$")


def parse_duration(text: str) -> float:
    """`90`, `90s`, `30m`, `1h`, `2h30m` -> seconds."""
    match = _DURATION.match(text.strip())
    if not text.strip() or match is None or not any(match.groups()):
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration like 90s, 30m, 1h or 2h30m")
    hours, minutes, seconds = match.groups()
    return int(hours or 0) * 3600 + int(minutes or 0) * 60 + float(seconds or 0)


def parse_replay_clock(text: str) -> ReplayClock:
    """argparse type for `--replay-clock`: a bad spec is a usage error (exit 2) that says what is wrong."""
    from crocbot.core.clock import ReplayClock

    try:
        return ReplayClock.parse(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def replay_problems(settings: Settings) -> list[str]:
    """Why `crocbot run --replay-clock` must not start with these settings (empty: it may).

    Accelerated time is a fiction only the simulator shares: against Kraken, candles, TTLs and cooldowns would run
    20 times too fast against a real market, so the bot refuses anything but paper mode on a loopback host.
    """
    problems = [] if settings.mode == "paper" else [f"mode is {settings.mode}; a replay clock runs in paper mode only"]
    for name in ("rest_url", "ws_url"):
        url = str(getattr(settings.kraken, name))
        if not _is_loopback(urlsplit(url).hostname):
            problems.append(
                f"kraken.{name} is {url}, not on this machine; a replay clock only makes sense against the simulator "
                "(crocbot sim --replay-clock, on 127.0.0.1)"
            )
    return problems


def _is_loopback(host: str | None) -> bool:
    if host is None:
        return False
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class SettingsFlags(Protocol):
    """`crocbot.cli`'s settings options, less those a command has no use for."""

    def __call__(self, parser: argparse.ArgumentParser, *, omit: Collection[str] = ()) -> None: ...


def add_market_commands(
    commands: argparse._SubParsersAction[argparse.ArgumentParser], settings_flags: SettingsFlags
) -> None:
    record = commands.add_parser("record", help="record every WS frame (in and out) to a JSON-lines file")
    settings_flags(record, omit=("mode", "log_dir", "log_level"))  # it records; it neither trades nor logs
    record.add_argument("--out", type=Path, required=True, help="file to append to")
    record.add_argument("--duration", type=parse_duration, help="stop after this long (default: until Ctrl-C)")
    record.add_argument("--depth", type=int, default=10, help="book depth to subscribe (10, 25, 100, 500, 1000)")

    replay = commands.add_parser("replay", help="run a recording through the codec and the books")
    settings_flags(replay, omit=("mode", "symbols", "log_dir", "log_level"))  # the file says which symbols
    replay.add_argument("file", type=Path, help="a recording written by crocbot record (JSON lines)")
    replay.add_argument(
        "--verify",
        action="store_true",
        help="exit 1 unless every line parses and every book checksum matches (a truncated or damaged line, a "
        "malformed frame or a mismatch fails it)",
    )

    sim = commands.add_parser("sim", help="run the Kraken-compatible simulator on 127.0.0.1")
    sim.add_argument(
        "--port", type=int, default=8765, help="WebSocket port, REST on the next one; 0: two free ports (printed)"
    )
    sim.add_argument(
        "--source",
        action="append",
        default=[],
        metavar="KIND:PATH[@SYMBOL]",
        help="market data: candles:FILE.csv[.gz] (Kraken OHLCVT), trades:FILE.csv[.gz], record:FILE.jsonl; "
        "symbols without a source trade synthetically",
    )
    sim.add_argument("--symbols", default="BTC/USD,ETH/USD,AAPLx/USD", help="comma-separated symbols to list")
    sim.add_argument("--speed", type=float, help="simulated seconds per second (default 1; inf: flat out)")
    sim.add_argument(
        "--replay-clock",
        type=parse_replay_clock,
        metavar="SPEC",
        help=REPLAY_CLOCK_HELP + "; the synthetic market starts at ANCHOR, recorded trades already due are applied "
        "at once; not with --speed",
    )
    sim.add_argument("--seed", type=int, default=7, help="seed of the synthetic markets (default %(default)s)")
    sim.add_argument(
        "--tier",
        choices=("starter", "intermediate", "pro"),
        default="starter",
        help="the account's Kraken tier: its REST and trading rate limits (default %(default)s; give crocbot the same "
        "as kraken.tier)",
    )
    sim.add_argument("--duration", type=parse_duration, help="stop after this long (default: until Ctrl-C)")
    sim.add_argument(
        "--records",
        type=Path,
        metavar="FILE",
        help="append the simulator's own records (order requests, executions, nonces, faults) as JSON lines",
    )
    faults = sim.add_argument_group("faults (for crash tests; all off by default)")
    faults.add_argument(
        "--fault-lose-add-order",
        type=_rate,
        default=0.0,
        metavar="P",
        help="carry out, but never answer, this share of add_orders",
    )
    faults.add_argument(
        "--fault-private-rest",
        type=_rate,
        default=0.0,
        metavar="P",
        help="answer this share of private REST calls with HTTP 502, a hang (then 502) or EService:Unavailable",
    )
    faults.add_argument(
        "--fault-rest-hang", type=float, default=30.0, metavar="SECONDS", help="how long a REST hang lasts (default 30)"
    )
    faults.add_argument(
        "--fault-private-ws-drop-every",
        type=float,
        metavar="SECONDS",
        help="drop the private WS connections this often",
    )


def _rate(text: str) -> float:
    try:
        value = float(text)  # a probability, not money
    except ValueError:
        value = -1.0
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a probability between 0 and 1")
    return value


def run_market_command(args: argparse.Namespace, load: Callable[[argparse.Namespace], Settings]) -> int:
    if args.command == "record":
        return _record(args, load(args))
    if args.command == "replay":
        return _replay(args, load(args))
    return _sim(args)


def _catalog_cache(settings: Settings) -> Catalog:
    path = settings.state_dir / "instruments.json"
    return Catalog.load(path) if path.is_file() else Catalog()


def _wait(duration: float | None, every: Callable[[], None] | None = None, every_wall: float = 10.0) -> None:
    """Until `duration` passes or SIGINT/SIGTERM, calling `every` each `every_wall` seconds; the handler only flips
    a flag (no locks in a signal handler)."""
    signalled: list[int] = []

    def handler(signum: int, frame: FrameType | None) -> None:
        signalled.append(signum)

    previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        deadline = time.monotonic() + duration if duration is not None else None
        next_every = time.monotonic() + every_wall
        while not signalled and (deadline is None or time.monotonic() < deadline):
            time.sleep(0.2)
            if every is not None and time.monotonic() >= next_every:
                next_every += every_wall
                every()
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)


def _record(args: argparse.Namespace, settings: Settings) -> int:
    from crocbot.kraken.recording import Recorder
    from crocbot.kraken.ws import Subscription, WsClient

    recorder = Recorder(args.out)
    symbols = tuple(settings.symbols)
    subscriptions = [
        Subscription("instrument", params={"include_tokenized_assets": True}),
        Subscription("book", symbols, {"depth": args.depth}),
        Subscription("ticker", symbols),
        Subscription("trade", symbols),
    ]
    client = WsClient(
        settings.kraken.ws_url,
        subscriptions,
        lambda message: None,
        name="record",
        catalog=_catalog_cache(settings),
        recorder=recorder,
    )
    until = f"for {args.duration:g} s" if args.duration is not None else "until Ctrl-C"
    print(f"crocbot record: {', '.join(symbols)} to {args.out}, {until}", file=sys.stderr, flush=True)
    started = time.monotonic()

    def progress() -> None:
        elapsed = time.monotonic() - started
        print(
            f"crocbot record: {recorder.frames} frames in {elapsed:.0f} s ({client.stats.connects} connects)",
            file=sys.stderr,
            flush=True,
        )

    client.start()
    try:
        _wait(args.duration, progress, _PROGRESS_EVERY)
    finally:
        client.stop()
        recorder.close()
    progress()
    print(json.dumps({"frames": recorder.frames, "connects": client.stats.connects, "out": str(args.out)}))
    return ExitCode.OK


def _replay(args: argparse.Namespace, settings: Settings) -> int:
    from crocbot.kraken.recording import verify_recording

    if not args.file.is_file():
        print(f"crocbot: {args.file}: no such file", file=sys.stderr)
        return ExitCode.REFUSED
    summary = verify_recording(args.file, _catalog_cache(settings))
    print(json.dumps(summary.as_json()))
    if not args.verify or not summary.problems:
        return ExitCode.OK
    print(f"crocbot replay: {args.file} does not verify: {', '.join(summary.problems)}", file=sys.stderr)
    return ExitCode.FAILED


def _sources(specs: Iterable[str], catalog: Mapping[str, Instrument]) -> dict[str, Iterable[MarketTrade]]:
    from crocbot.sim.market import candle_csv_source, record_source, trade_csv_source

    out: dict[str, Iterable[MarketTrade]] = {}
    for spec in specs:
        kind, _, rest = spec.partition(":")
        path_text, _, symbol = rest.partition("@")
        symbol = symbol or "BTC/USD"
        item = catalog.get(symbol)
        if item is None or kind not in ("candles", "trades", "record") or not path_text:
            raise ValueError(f"--source {spec!r}: expected candles:FILE, trades:FILE or record:FILE[@SYMBOL]")
        path = Path(path_text)
        if kind == "candles":
            out[symbol] = candle_csv_source(
                path, symbol, price_increment=item.price_increment, qty_increment=item.qty_increment
            )
        elif kind == "trades":
            out[symbol] = trade_csv_source(
                path, symbol, price_increment=item.price_increment, qty_increment=item.qty_increment
            )
        else:
            out[symbol] = record_source(path, symbol)
    return out


def _sim(args: argparse.Namespace) -> int:
    from crocbot.kraken.ratelimit import Tier
    from crocbot.sim.catalog import DEFAULT_INSTRUMENTS
    from crocbot.sim.runner import SimConfig, Simulator

    listed = {i.symbol: i for i in DEFAULT_INSTRUMENTS}
    replay: ReplayClock | None = args.replay_clock
    if replay is not None and args.speed is not None:
        print(
            "crocbot sim: --speed and --replay-clock both set the pace; the replay clock's spec has a speed",
            file=sys.stderr,
        )
        return ExitCode.REFUSED
    api_key = "sim-" + secrets.token_hex(16)
    api_secret = base64.b64encode(secrets.token_bytes(64)).decode()
    config = SimConfig(
        symbols=tuple(s.strip() for s in args.symbols.split(",") if s.strip()),
        seed=args.seed,
        speed=replay.speed if replay is not None else 1.0 if args.speed is None else args.speed,
        accounts={api_key: (api_secret, {"USD": Decimal(10_000)})},
        ws_port=args.port,
        rest_port=0 if args.port == 0 else args.port + 1,
        replay=replay,
        records=args.records,
        tier=Tier(args.tier),
    )
    try:
        sources = _sources(args.source, listed)
        simulator = Simulator(config, sources=sources)
    except (ValueError, OSError) as error:
        print(f"crocbot sim: {error}", file=sys.stderr)
        return ExitCode.REFUSED
    faults = simulator.faults
    faults.lose_add_order_rate = args.fault_lose_add_order
    faults.private_rest_fault_rate = args.fault_private_rest
    faults.rest_hang = args.fault_rest_hang
    faults.private_disconnect_every = args.fault_private_ws_drop_every
    simulator.start()
    # First line: one JSON object, for a harness that starts the simulator on free ports; the rest is for people.
    settings = {
        "CROCBOT_KRAKEN__WS_URL": simulator.ws_url,
        "CROCBOT_KRAKEN__WS_AUTH_URL": simulator.ws_auth_url,
        "CROCBOT_KRAKEN__REST_URL": simulator.rest_url,
        "CROCBOT_SYMBOLS": ",".join(config.symbols),
        "CROCBOT_MODE": "paper",  # the paper venue trades on the simulator's market data
    }
    endpoints = {"ws_url": simulator.ws_url, "ws_auth_url": simulator.ws_auth_url, "rest_url": simulator.rest_url}
    replay_spec = replay.spec if replay is not None else None
    print(json.dumps(endpoints | {"replay_clock": replay_spec, "symbols": list(config.symbols)}), flush=True)
    print(
        f"crocbot simulator on 127.0.0.1: WS {simulator.ws_url}, private WS {simulator.ws_auth_url}, "
        f"REST {simulator.rest_url}"
    )
    print("point crocbot at it with these settings (environment variables):")
    for name, value in settings.items():
        print(f"  {name}={value}")
    if replay_spec is not None:
        print(f"and start it on the simulator's clock: crocbot run --replay-clock {replay_spec}")
    else:
        print("and start it: crocbot run")
        if config.speed != 1.0:
            print(
                f"note: this market runs {args.speed}x faster than the wall clock, which crocbot run follows; to "
                "share accelerated time, start both with the same --replay-clock"
            )
    print(f"simulated account (not a Kraken key): KRAKEN_API_KEY={api_key} KRAKEN_API_SECRET={api_secret}", flush=True)
    try:
        _wait(args.duration)
    finally:
        simulator.stop()
    return ExitCode.OK
