"""What crocbot's supervised runtime costs on top of plain pykka, measured side by side in one run.

Two figures, each for plain pykka and for crocbot's runtime, in alternating rounds so that machine noise hits
both alike; the verdict uses the ratio of medians:

- messages/s through a 3-actor pipeline (source -> A -> B -> C). Plain pykka actors tell the next ref they were
  given; crocbot actors are supervised children that publish on the bus (reliable subscriptions, resolved
  through the directory on every message), as crocbot's own actors do.
- `ask` round-trip latency, p50 and p99, to one actor.

Target: the runtime costs at most 1.3x plain pykka.   Run: `make bench` or `python bench/bench_runtime.py`.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
from dataclasses import dataclass
from typing import Any

import pykka
from loguru import logger

from crocbot.actors.base import ChildContext, SupervisedActor
from crocbot.actors.runtime import Runtime
from crocbot.actors.supervisor import ChildSpec, Policy

TARGET = 1.3


@dataclass(frozen=True, slots=True)
class Hop0:
    seq: int


@dataclass(frozen=True, slots=True)
class Hop1:
    seq: int


@dataclass(frozen=True, slots=True)
class Hop2:
    seq: int


@dataclass(frozen=True, slots=True)
class Ping:
    seq: int


# -- plain pykka --------------------------------------------------------------------------------------


class PlainStage(pykka.ThreadingActor):
    def __init__(self, forward: pykka.ActorRef[Any] | None, done: threading.Event | None, expected: int) -> None:
        super().__init__()
        self.forward = forward
        self.done = done
        self.expected = expected
        self.count = 0

    def on_receive(self, message: Any) -> Any:
        if isinstance(message, Ping):
            return message.seq
        if self.forward is not None:
            self.forward.tell(message)
            return None
        self.count += 1
        if self.count == self.expected and self.done is not None:
            self.done.set()
        return None


def plain_pipeline(n: int) -> float:
    done = threading.Event()
    c = PlainStage.start(None, done, n)
    b = PlainStage.start(c, None, n)
    a = PlainStage.start(b, None, n)
    try:
        started = time.perf_counter()
        for seq in range(n):
            a.tell(Hop0(seq))
        if not done.wait(120):
            raise RuntimeError("plain pipeline did not finish")
        return n / (time.perf_counter() - started)
    finally:
        for ref in (a, b, c):
            ref.stop()


def plain_asks(n: int) -> list[float]:
    ref = PlainStage.start(None, None, 0)
    try:
        return _time_asks(ref, n)
    finally:
        ref.stop()


# -- crocbot runtime ----------------------------------------------------------------------------------


class Stage(SupervisedActor):
    def __init__(
        self,
        ctx: ChildContext,
        listen: type[Any] | None,
        emit: type[Any] | None,
        done: threading.Event | None,
        expected: int,
    ) -> None:
        super().__init__(ctx)
        self.listen = listen
        self.emit = emit
        self.done = done
        self.expected = expected
        self.count = 0

    def started(self) -> None:
        if self.listen is not None:
            self.services.bus.subscribe(self.listen, self.name)

    def handle(self, message: Any) -> Any:
        if isinstance(message, Ping):
            return message.seq
        if self.emit is not None:
            self.services.bus.publish(self.emit(message.seq))
            return None
        self.count += 1
        if self.count == self.expected and self.done is not None:
            self.done.set()
        return None


def runtime_pipeline(n: int) -> float:
    done = threading.Event()
    runtime = Runtime()
    runtime.start(
        [
            ChildSpec.actor("a", Stage, Hop0, Hop1, None, n),
            ChildSpec.actor("b", Stage, Hop1, Hop2, None, n),
            ChildSpec.actor("c", Stage, Hop2, None, done, n),
        ],
        Policy(),
    )
    try:
        bus = runtime.bus
        started = time.perf_counter()
        for seq in range(n):
            bus.publish(Hop0(seq))
        if not done.wait(120):
            raise RuntimeError("runtime pipeline did not finish")
        return n / (time.perf_counter() - started)
    finally:
        runtime.shutdown()


def runtime_asks(n: int) -> list[float]:
    runtime = Runtime()
    runtime.start([ChildSpec.actor("echo", Stage, None, None, None, 0)], Policy())
    try:
        ref = runtime.directory.get("echo")
        assert ref is not None
        return _time_asks(ref, n)
    finally:
        runtime.shutdown()


# -- measuring ----------------------------------------------------------------------------------------


def _time_asks(ref: pykka.ActorRef[Any], n: int) -> list[float]:
    samples = []
    for seq in range(n):
        started = time.perf_counter()
        ref.ask(Ping(seq), timeout=10)
        samples.append(time.perf_counter() - started)
    return samples


def _pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=50_000, help="messages per pipeline round")
    parser.add_argument("--asks", type=int, default=10_000, help="asks per latency round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--check", action="store_true", help=f"exit 1 if a ratio exceeds {TARGET}")
    args = parser.parse_args()
    logger.remove()  # crocbot's INFO lines (restarts, shutdowns) are not part of the measurement

    plain_rates, runtime_rates = [], []
    plain_p50, plain_p99, runtime_p50, runtime_p99 = [], [], [], []
    for _ in range(args.rounds):
        plain_rates.append(plain_pipeline(args.messages))
        runtime_rates.append(runtime_pipeline(args.messages))
        plain = plain_asks(args.asks)
        ours = runtime_asks(args.asks)
        plain_p50.append(_pct(plain, 0.50))
        plain_p99.append(_pct(plain, 0.99))
        runtime_p50.append(_pct(ours, 0.50))
        runtime_p99.append(_pct(ours, 0.99))

    med = statistics.median
    pipe_ratio = med(plain_rates) / med(runtime_rates)
    p50_ratio = med(runtime_p50) / med(plain_p50)
    p99_ratio = med(runtime_p99) / med(plain_p99)
    print(f"crocbot runtime vs plain pykka: {args.rounds} alternating rounds, medians shown")
    print(f"{'':34}{'plain pykka':>14}{'crocbot':>14}{'cost ratio':>12}")
    print(
        f"{'3-actor pipeline, messages/s':34}{med(plain_rates):>14,.0f}{med(runtime_rates):>14,.0f}{pipe_ratio:>11.2f}x"
    )
    print(
        f"{'ask round-trip p50, us':34}{med(plain_p50) * 1e6:>14.1f}{med(runtime_p50) * 1e6:>14.1f}{p50_ratio:>11.2f}x"
    )
    print(
        f"{'ask round-trip p99, us':34}{med(plain_p99) * 1e6:>14.1f}{med(runtime_p99) * 1e6:>14.1f}{p99_ratio:>11.2f}x"
    )
    worst = max(pipe_ratio, p50_ratio, p99_ratio)
    verdict = "within" if worst <= TARGET else "ABOVE"
    print(f"target: at most {TARGET}x on every line; worst {worst:.2f}x, {verdict} target")
    return 1 if args.check and worst > TARGET else 0


if __name__ == "__main__":
    sys.exit(main())
