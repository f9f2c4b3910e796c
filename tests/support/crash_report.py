"""What the crash harness (`tests.support.crash`) found: one `Trial` per start of the bot, and the `Summary`
that prints the figures (kills by mode, fills, restart-to-ready p50/p99, what each kill left broken, violations,
the errors the bot logged) and, optionally, one line per trial."""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass, field

__all__ = ["Trial", "Summary", "percentile", "normalised"]

_DIGITS = re.compile(r"\d+(?:\.\d+)?")


@dataclass
class Trial:
    index: int
    mode: str  # "sigkill", or the failpoint armed
    fired: str | None = None  # the failpoint that killed the process, if one did
    ready_s: float | None = None  # process start to /readyz 200; None: it died (or timed out) before
    alive_s: float = 0.0  # process start to death
    exit_code: int | None = None
    fills: int = 0  # journaled fills at death
    new_fills: int = 0  # journaled during this run (backfilled ones included)
    catch_up: str = ""  # the paper venue's catch-up of missed prints: "" (nothing resting), "done", "failed", "cut"
    positions: int = 0  # open positions at death
    refused_starts: int = 0  # starts before this one that a fault the simulator served refused (then started again)
    judged: bool = False  # the invariants were judged after this start's readiness
    violations: list[str] = field(default_factory=list)  # invariants broken after readiness (and reconciliation)
    log_errors: list[str] = field(default_factory=list)  # the bot's ERROR and CRITICAL console lines, normalised
    at_death: dict[str, list[str]] = field(default_factory=dict)  # what the kill left for the next start to repair

    @property
    def kill(self) -> str:
        if self.fired is not None:
            return self.fired
        if self.mode == "final":
            return "final (SIGTERM)"
        return "sigkill" if self.mode == "sigkill" else f"sigkill ({self.mode} armed, not hit)"


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100) of a non-empty list."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


@dataclass
class Summary:
    trials: list[Trial]
    final: Trial | None = None
    final_violations: list[str] = field(default_factory=list)  # the quiet files after the last graceful stop
    wall_s: float = 0.0
    stop_s: float | None = None  # how long the final SIGTERM stop took; None: it did not stop in time

    table_rows: bool = False  # add one line per trial to `text()`
    extra: list[str] = field(default_factory=list)  # what a harness of another mode adds (before the violations)

    def table(self) -> list[str]:
        runs = [*self.trials, *([self.final] if self.final is not None else [])]
        return [
            f"{t.index:3d} {t.kill:<52} {_seconds(t.ready_s):>6} {t.alive_s:5.1f} {t.fills:3d} (+{t.new_fills}) "
            f"{t.positions} {t.catch_up or '-':<6} {','.join(k for k, v in t.at_death.items() if v) or '-'}"
            for t in runs
        ]

    @property
    def ready_times(self) -> list[float]:
        runs = [*self.trials, *([self.final] if self.final is not None else [])]
        return [t.ready_s for t in runs if t.ready_s is not None]

    @property
    def violations(self) -> list[str]:
        out = [f"trial {t.index} ({t.kill}): {v}" for t in self.trials for v in t.violations]
        if self.final is not None:
            out += [f"final start: {v}" for v in self.final.violations]
        return out + [f"after the final stop: {v}" for v in self.final_violations]

    def text(self) -> str:
        kills = Counter(t.kill for t in self.trials)
        ready = self.ready_times
        broken = Counter(v[1] for t in self.trials for v in t.violations)
        repaired = Counter(k for t in self.trials for k, found in t.at_death.items() if found)
        fills = self.final.fills if self.final is not None else max((t.fills for t in self.trials), default=0)
        lines = [
            f"crash harness: {len(self.trials)} trials in {self.wall_s:.0f} s wall, {fills} fills journaled",
            "kills: " + ", ".join(f"{mode} {n}" for mode, n in sorted(kills.items())),
            f"died before ready: {sum(1 for t in self.trials if t.ready_s is None)}; "
            f"judged after ready: {sum(1 for t in self.trials if t.judged)}",
        ]
        if ready:
            lines.append(
                f"restart-to-ready: p50 {percentile(ready, 50):.2f} s, p99 {percentile(ready, 99):.2f} s, "
                f"max {max(ready):.2f} s over {len(ready)} starts"
            )
        catch_ups = Counter(t.catch_up for t in self.trials if t.catch_up)
        line = f"trials that added fills: {sum(1 for t in self.trials if t.new_fills)}"
        if catch_ups:
            line += (
                "; starts with resting orders, whose paper catch-up finished / failed / was still running at the "
                f"kill: {catch_ups['done']} / {catch_ups['failed']} / {catch_ups['cut']}"
            )
        refused = sum(t.refused_starts for t in self.trials)
        if refused:
            line += f"; starts refused by a served fault (then started again): {refused}"
        lines.append(line)
        lines.append(
            "left broken at death (for reconciliation to repair): "
            + (", ".join(f"({k}) in {n} trials" for k, n in sorted(repaired.items())) or "nothing")
        )
        stop = f"{self.stop_s:.1f} s" if self.stop_s is not None else "did not stop in time (killed)"
        lines.append(f"final graceful stop (SIGTERM): {stop}")
        lines += self.extra
        lines.append(
            "violations after ready: "
            + (", ".join(f"({k}) {n}" for k, n in sorted(broken.items())) or "none")
            + f"; after the final stop: {len(self.final_violations) or 'none'}"
        )
        lines += [f"  {v}" for v in self.violations[:40]]
        if self.table_rows:
            lines += ["per trial: index, kill, ready s, alive s, fills (+new), open positions, catch-up, left broken"]
            lines += [f"  {row}" for row in self.table()]
        errors = Counter(e for t in [*self.trials, *([self.final] if self.final else [])] for e in t.log_errors)
        lines.append(f"ERROR/CRITICAL lines the bot logged: {sum(errors.values())}")
        lines += [f"  {n} x {text}" for text, n in errors.most_common(8)]
        return "\n".join(lines)


def normalised(level: str, text: str) -> str:
    """An error line without its numbers and ids, so that repeats of one problem count together."""
    return f"{level} " + _DIGITS.sub("#", text)[:110]


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"
