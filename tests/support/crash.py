"""The kill -9 harness: a real `crocbot run`, killed over and over, judged from the files it leaves behind.

One `crocbot sim` child runs the market (BTC/USD, ETH/USD, AAPLx/USD, synthetic) on a replay clock; the bot
children run on the same spec, so both agree on market time without talking. The spec's wall epoch lies in the
past, so the simulator starts with `pre_roll` market seconds of history (the strategy is warm after the REST
backfill) and 1-minute candles close every `60 / speed` wall seconds.

Each trial starts `crocbot run` on the same state and log directories, with a failpoint armed for some trials
(`crocbot.ops.failpoints`), measures restart-to-ready (process start to `/readyz` 200), judges the invariants
(`tests.support.crash_checks`), lets the bot trade for a random time and SIGKILLs it unless a failpoint killed it
first. The judging happens after readiness, because start-up reconciliation is what repairs what a kill broke:

- (c) within `stop_window` wall seconds of readiness, every open position and holding has a live stop;
- (a), (b), (d) agree in one snapshot within `settle_window` wall seconds of readiness (the venue saves before it
  publishes, so a running bot is briefly ahead of its journal by the events in flight; a real gap never closes).

The disagreements left at each death are recorded too (`at_death`): they say what the kill broke and what the
next start had to repair. After the last trial the bot is started once more, judged, stopped with SIGTERM, and
the quiet files are judged once more, strictly.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import re
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import IO

from crocbot.ops.failpoints import ENV_POINTS, ENV_SEED
from crocbot.sim.catalog import DEFAULT_INSTRUMENTS
from tests.support.crash_checks import Snapshot, check_all, read_snapshot, stops_invariant
from tests.support.crash_report import Summary, Trial, normalised
from tests.support.process import CONFIG, REPO, crocbot_env
from tests.support.sim import free_port

__all__ = ["CrashConfig", "CrashHarness", "Trial", "Summary", "FAILPOINTS"]

ANCHOR = datetime(2026, 1, 5, 14, 30, tzinfo=UTC)  # a Monday in US market hours: the xStock trades too
SYMBOLS = ("BTC/USD", "ETH/USD", "AAPLx/USD")
STARTING_USD = Decimal(10_000)
# Per-pass probabilities: a point on every event batch fires less often than one on every (rarer) fill.
FAILPOINTS: Mapping[str, float] = {
    "router.after_intent": 0.5,
    "venue.after_save": 0.25,
    "router.after_fill_journal": 0.7,
    "persistence.after_fill_commit": 0.7,
}
# Settings that trade often on 1-minute candles: a short ATR so the strategy is warm after 22 candles, a
# 20-candle breakout, market entries (a signal is a fill), no cooldown and a loose daily limit so it keeps going.
TRADING = {
    "CROCBOT_SYMBOLS": ",".join(SYMBOLS),
    "CROCBOT_STRATEGY__DEFAULT": "donchian_breakout",
    "CROCBOT_STRATEGY__TIMEFRAME": "1m",
    "CROCBOT_STRATEGY__ATR_PERIOD": "2",
    "CROCBOT_STRATEGY__BREAKOUT_PERIOD": "3",
    "CROCBOT_STRATEGY__STOP_ATR_MULTIPLE": "2",
    # stops inside the round trip's cost allowed and targets past it: on 1-minute candles a fee-aware strategy
    # would never trade, and the harness needs trades
    "CROCBOT_STRATEGY__TAKE_PROFIT_ATR_MULTIPLE": "20",
    "CROCBOT_STRATEGY__MIN_REWARD_RISK": "0.1",
    "CROCBOT_RISK__MIN_STOP_COST_MULTIPLE": "0",
    "CROCBOT_EXECUTION__ENTRY_ORDER": "market",
    "CROCBOT_RISK__COOLDOWN_AFTER_LOSS": "0",
    "CROCBOT_RISK__DAILY_LOSS_LIMIT": "0.5",
    "CROCBOT_RISK__MAX_OPEN_POSITIONS": "3",
    "CROCBOT_PAPER__STARTING_BALANCES": json.dumps({"USD": str(STARTING_USD)}),
    "CROCBOT_LOG_LEVEL": "INFO",
}
_FIRED = re.compile(r"crocbot failpoint (\S+) fired")
_LOGGED_ERROR = re.compile(r"^\S+ \S+ (ERROR|CRITICAL)\s+(.*)$")
_POLL = 0.05  # wall seconds between probes of /readyz and of the files
_START_ATTEMPTS = 4  # starts of one trial when the simulator's faults refuse them (`_start_refused_by_fault`)


@dataclass
class CrashConfig:
    trials: int = 30
    # Market seconds per wall second: a 1-minute candle closes every half second. With a 3-candle breakout about
    # half the trials trade; at 20x (a candle every 3 s) almost nothing traded between the kills.
    speed: float = 120.0
    pre_roll: float = 1800.0  # market seconds of history before the first start (the breakout needs 22 candles)
    alive: tuple[float, float] = (0.3, 2.5)  # wall seconds the bot trades after it is judged, uniformly
    failpoint_share: float = 0.5  # trials with a failpoint armed
    failpoints: Mapping[str, float] = field(default_factory=lambda: dict(FAILPOINTS))
    seed: int = 5
    ready_timeout: float = 60.0  # wall seconds from process start to /readyz 200
    stop_window: float = 1.0  # (c): wall seconds after readiness
    settle_window: float = 3.0  # (a), (b), (d): wall seconds after readiness
    exit_timeout: float = 20.0  # wall seconds for a killed process to be reaped
    stop_timeout: float = 90.0  # wall seconds for the final SIGTERM stop (then it is killed, and that is reported)


class CrashHarness:
    """`with CrashHarness(tmp_path, config) as harness: summary = harness.run()`."""

    def __init__(self, tmp_path: Path, config: CrashConfig | None = None) -> None:
        self.config = config or CrashConfig()
        self.tmp = tmp_path
        self.state_dir, self.log_dir, self.out_dir = tmp_path / "state", tmp_path / "logs", tmp_path / "out"
        self.instruments = {i.symbol: i for i in DEFAULT_INSTRUMENTS if i.symbol in SYMBOLS}
        self.starting = {"USD": STARTING_USD}
        self.rng = random.Random(self.config.seed)
        wall_epoch = round(time.time() - self.config.pre_roll / self.config.speed, 3)
        self.spec = f"{ANCHOR.isoformat()}@{wall_epoch}x{self.config.speed:g}"
        self.sim: subprocess.Popen[bytes] | None = None
        self.urls: dict[str, str] = {}
        self.stop_s: float | None = None
        self._files: list[IO[bytes]] = []

    # -- the simulator --------------------------------------------------------------------------------

    def __enter__(self) -> CrashHarness:
        for folder in (self.state_dir, self.log_dir, self.out_dir):
            folder.mkdir(parents=True, exist_ok=True)
        out = self.out_dir / "sim.out"
        args = ["sim", "--port", "0", "--replay-clock", self.spec, "--symbols", ",".join(SYMBOLS), "--seed", "3"]
        self.sim = self._spawn([*args, *self._sim_options()], out, self.out_dir / "sim.err", dict(os.environ))
        try:
            self.urls = self._first_json_line(out, self.sim, timeout=30.0)
            self._wait_for_history(timeout=60.0)
            self._sim_started(out)
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        if self.sim is not None and self.sim.poll() is None:
            self.sim.terminate()
            try:
                self.sim.wait(timeout=self.config.exit_timeout)
            except subprocess.TimeoutExpired:
                self.sim.kill()
                self.sim.wait(timeout=self.config.exit_timeout)
        for file in self._files:
            file.close()
        self._files.clear()

    def _spawn(
        self, args: list[str], out: Path, err: Path, env: dict[str, str], module: str = "crocbot"
    ) -> subprocess.Popen[bytes]:
        stdout, stderr = out.open("wb"), err.open("wb")
        self._files += [stdout, stderr]
        return subprocess.Popen([sys.executable, "-m", module, *args], cwd=REPO, env=env, stdout=stdout, stderr=stderr)

    # -- what a harness of another mode changes (`tests.support.crash_live`) --------------------------

    bot_module = "crocbot"  # the bot child's `python -m` module

    def _sim_options(self) -> list[str]:
        return []

    def _sim_started(self, out: Path) -> None:
        """The simulator printed its endpoints and has its history."""

    def _snapshot(self) -> Snapshot | None:
        return read_snapshot(self.state_dir, self.log_dir)

    def _stops(self, snap: Snapshot) -> list[str]:
        return stops_invariant(snap, self.instruments)

    def _check(self, snap: Snapshot) -> dict[str, list[str]]:
        return check_all(snap, self.starting, self.instruments)

    def _catch_up(self, err: str, resting: bool) -> str:
        """The paper venue's catch-up of the prints it missed, for a start that found orders resting."""
        if not resting:
            return ""
        return "failed" if "could not be fetched" in err else "done" if "paper catch-up:" in err else "cut"

    def _start_refused_by_fault(self, err: str, exit_code: int | None) -> bool:
        """Whether a start that never got ready was refused by a fault the simulator served (then it is started
        again: the refusal was right, and the trial is for what comes after)."""
        return False

    def _trial_starting(self, trial: Trial) -> None:
        """Just before a start of the bot (each, when a refused start is retried)."""

    @staticmethod
    def _first_json_line(path: Path, process: subprocess.Popen[bytes], *, timeout: float) -> dict[str, str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = path.read_text(encoding="utf-8", errors="replace")
            if "\n" in text:
                first: dict[str, str] = json.loads(text.split("\n", 1)[0])
                return first
            if process.poll() is not None:
                raise RuntimeError(f"crocbot sim exited with {process.returncode}; see {path.with_suffix('.err')}")
            time.sleep(_POLL)
        raise TimeoutError(f"crocbot sim printed no endpoints within {timeout} s")

    def _wait_for_history(self, *, timeout: float) -> None:
        """Until the simulator has applied its pre-roll (it catches up from the anchor as fast as it can)."""
        wanted = ANCHOR + timedelta(seconds=self.config.pre_roll * 0.95)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError, ValueError, KeyError):
                with urllib.request.urlopen(self.urls["rest_url"] + "/0/public/Time", timeout=2) as response:
                    now = datetime.fromtimestamp(json.loads(response.read())["result"]["unixtime"], UTC)
                if now >= wanted:
                    return
            time.sleep(0.2)
        raise TimeoutError(f"the simulator did not reach {wanted.isoformat()} within {timeout} s")

    # -- the trials -----------------------------------------------------------------------------------

    def run(self) -> Summary:
        started = time.monotonic()
        trials = []
        for index in range(self.config.trials):
            armed = self.rng.random() < self.config.failpoint_share and bool(self.config.failpoints)
            mode = self.rng.choice(sorted(self.config.failpoints)) if armed else "sigkill"
            trials.append(self._trial(index, mode))
        final = self._trial(self.config.trials, "final")
        snap = self._snapshot()
        final_violations = [v for found in self._check(snap).values() for v in found] if snap is not None else []
        return Summary(trials, final, final_violations, time.monotonic() - started, self.stop_s)

    def _bot_env(self, port: int, mode: str, index: int) -> dict[str, str]:
        env = crocbot_env(
            self.tmp,
            CROCBOT_STATE_DIR=str(self.state_dir),
            CROCBOT_LOG_DIR=str(self.log_dir),
            CROCBOT_KRAKEN__REST_URL=self.urls["rest_url"],
            CROCBOT_KRAKEN__WS_URL=self.urls["ws_url"],
            CROCBOT_KRAKEN__WS_AUTH_URL=self.urls["ws_auth_url"],
            CROCBOT_HEALTH__PORT=str(port),
            **TRADING,
        )
        if mode in self.config.failpoints:
            env[ENV_POINTS] = f"{mode}={self.config.failpoints[mode]}"
            env[ENV_SEED] = str(self.config.seed * 1000 + index)
        return env

    def _trial(self, index: int, mode: str) -> Trial:
        config, trial = self.config, Trial(index, mode)
        before = self._snapshot()
        fills_before = len(before.fills) if before is not None else 0
        resting = bool(before.venue_open_orders()) if before is not None else False
        bots: list[subprocess.Popen[bytes]] = []
        try:
            for attempt in range(_START_ATTEMPTS):
                name = f"bot-{index:03d}" + (f"-{attempt}" if attempt else "")
                bot, port, started = self._start_bot(trial, name, mode)
                bots.append(bot)
                trial.ready_s = self._wait_ready(bot, port, started)
                if trial.ready_s is not None or not self._start_refused_by_fault(self._err(name), bot.poll()):
                    break
                trial.refused_starts += 1
            if trial.ready_s is not None:
                self._judge(bot, trial)
                if mode == "final":
                    self.stop_s = self._stop(bot, signal.SIGTERM, config.stop_timeout)
                else:
                    self._wait_exit(bot, self.rng.uniform(*config.alive))
            self._stop(bot, signal.SIGKILL, config.exit_timeout)
        finally:
            for started_bot in bots:  # every one, whatever interrupted the trial (a test's timeout too)
                if started_bot.poll() is None:
                    started_bot.kill()
                    started_bot.wait(timeout=config.exit_timeout)
        trial.alive_s = time.monotonic() - started
        trial.exit_code = bot.returncode
        err = self._err(name)
        fired = _FIRED.search(err)
        trial.fired = fired.group(1) if fired is not None else None
        trial.catch_up = self._catch_up(err, resting)
        trial.log_errors = [normalised(m.group(1), m.group(2)) for m in map(_LOGGED_ERROR.match, err.splitlines()) if m]
        snap = self._snapshot()
        if snap is not None:
            trial.fills, trial.positions = len(snap.fills), len(snap.open_positions)
            trial.new_fills = trial.fills - fills_before
            trial.at_death = self._check(snap)
        return trial

    def _start_bot(self, trial: Trial, name: str, mode: str) -> tuple[subprocess.Popen[bytes], int, float]:
        port = free_port()
        self._trial_starting(trial)
        started = time.monotonic()
        bot = self._spawn(
            ["run", "--config", str(CONFIG), "--replay-clock", self.spec],
            self.out_dir / f"{name}.out",
            self.out_dir / f"{name}.err",
            self._bot_env(port, mode, trial.index),
            module=self.bot_module,
        )
        return bot, port, started

    def _err(self, name: str) -> str:
        return (self.out_dir / f"{name}.err").read_text(encoding="utf-8", errors="replace")

    def _wait_ready(self, bot: subprocess.Popen[bytes], port: int, started: float) -> float | None:
        url = f"http://127.0.0.1:{port}/readyz"
        deadline = started + self.config.ready_timeout
        while time.monotonic() < deadline and bot.poll() is None:
            with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=0.5) as response:
                if response.status == 200:
                    return time.monotonic() - started
            time.sleep(_POLL)
        return None

    def _judge(self, bot: subprocess.Popen[bytes], trial: Trial) -> None:
        """(c) within the stop window, then (a), (b), (d) in one snapshot within the settle window, both counted
        from readiness; a process that dies meanwhile (a failpoint) leaves the judging to the next start."""
        ready_at = time.monotonic()
        stops = self._poll_until(bot, ready_at + self.config.stop_window, self._stops)
        if stops is None:
            return
        rest = self._poll_until(
            bot,
            ready_at + self.config.settle_window,
            lambda s: [v for k, found in self._check(s).items() if k != "c" for v in found],
        )
        if rest is None:
            return
        trial.judged = True
        trial.violations = stops + rest

    def _poll_until(
        self, bot: subprocess.Popen[bytes], deadline: float, check: Callable[[Snapshot], list[str]]
    ) -> list[str] | None:
        """The last violations when `check(snapshot)` never came back empty by `deadline`; [] when it did; None
        when the process died first."""
        found: list[str] = ["no journal yet"]
        for _ in range(10_000):  # bounded twice: by the count and by the deadline
            snap = self._snapshot()
            if bot.poll() is not None:
                return None
            found = check(snap) if snap is not None else ["no journal yet"]
            if not found or time.monotonic() >= deadline:
                return list(found)
            time.sleep(_POLL)
        return list(found)

    def _wait_exit(self, bot: subprocess.Popen[bytes], seconds: float) -> None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            bot.wait(timeout=seconds)

    @staticmethod
    def _stop(bot: subprocess.Popen[bytes], how: signal.Signals, timeout: float) -> float | None:
        """Send `how` and wait; the seconds it took to exit, or None when it was still running at `timeout`."""
        started = time.monotonic()
        if bot.poll() is None:
            bot.send_signal(how)
        try:
            bot.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None
        return time.monotonic() - started
