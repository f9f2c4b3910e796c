"""`crocbot demo` as a package: `run` runs it (the simulator, the bot on the simulator's clock, the summary), `live`
puts the bot in live mode on an account of the simulator's (`--venue live`) and checks the summary against it,
`view` draws the console view and `paths` says where the recorded market data is.

This face stays cheap to import: `crocbot --help` reads `DEFAULT_DATA` from it, so the names that need the runtime
(the bot, the simulator, rich) load `run` on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from crocbot.demo.paths import DEFAULT_DATA

if TYPE_CHECKING:
    from crocbot.demo.run import DEMO_SYMBOLS, DemoOptions, DemoResult, run_demo, summary_text

__all__ = ["DemoOptions", "DemoResult", "run_demo", "summary_text", "DEFAULT_DATA", "DEMO_SYMBOLS"]

_FROM_RUN = frozenset({"DemoOptions", "DemoResult", "run_demo", "summary_text", "DEMO_SYMBOLS"})


def __getattr__(name: str) -> object:
    if name in _FROM_RUN:
        from crocbot.demo import run

        return getattr(run, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
