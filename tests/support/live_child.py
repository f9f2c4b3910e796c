"""`crocbot run --mode live` for the live crash harness, without the banner and the 10 s countdown.

`python -m tests.support.live_child run [crocbot run's options] --replay-clock SPEC`: the arguments are parsed by
the CLI's own parser and the settings built by its own loader (`crocbot.cli._load`: files, environment, secrets
masked in logs), the live gate (`live_gate_problems`: REAL_TRADING=1, the keys) must pass, and then the same
`run_bot` that `crocbot run` calls after its countdown runs the bot. What it leaves out, and why that is safe
here only:
- the banner and countdown: thirty kill -9 trials would spend five minutes counting down; no product path skips
  them (`crocbot run --mode live` always counts down);
- `replay_problems`, which refuses a replay clock outside paper mode: every URL must be on 127.0.0.1 instead (this
  module refuses anything else), so accelerated time never meets a real market.
Test-only: it lives under tests/, which the package does not ship.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from urllib.parse import urlsplit

from crocbot.cli import _load, build_parser
from crocbot.cli_market import _is_loopback
from crocbot.config import ConfigError, live_gate_problems
from crocbot.exit_codes import ExitCode
from crocbot.ops.log import bootstrap_logging


def main(argv: Sequence[str]) -> int:
    from crocbot.app import run_bot

    bootstrap_logging()  # as `crocbot.cli.main` does first
    args = build_parser().parse_args(list(argv))
    if args.command != "run":
        print("live_child: only `run` is supported", file=sys.stderr)
        return ExitCode.REFUSED
    try:
        settings = _load(args)
    except ConfigError as error:
        print(f"live_child: invalid configuration: {error.problems}", file=sys.stderr)
        return ExitCode.REFUSED
    urls = {name: str(getattr(settings.kraken, name)) for name in ("rest_url", "ws_url", "ws_auth_url")}
    remote = [f"kraken.{name} is {url}" for name, url in urls.items() if not _is_loopback(urlsplit(url).hostname)]
    problems = remote + live_gate_problems(settings)
    if settings.mode != "live":
        problems.append(f"mode is {settings.mode}; this child runs live mode against the simulator only")
    if problems:
        print("live_child: refused:\n  " + "\n  ".join(problems), file=sys.stderr)
        return ExitCode.REFUSED
    return run_bot(settings, clock=args.replay_clock)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
