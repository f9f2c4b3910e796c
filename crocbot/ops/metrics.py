"""Counters, gauges and histograms for `/metrics`, in Prometheus' text format. Thread-safe, bounded, dependency-free.

Actors update them from their own threads; the HTTP server renders them. A histogram keeps bucket counts plus a
bounded ring of recent samples, so that the SL manager can publish its p50/p99 without keeping every sample.
"""

from __future__ import annotations

import threading
from bisect import bisect_left
from collections import deque
from collections.abc import Iterable, Sequence

__all__ = ["Metrics", "Histogram", "METRICS", "LATENCY_BUCKETS"]

LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0)


class Histogram:
    def __init__(self, buckets: Sequence[float] = LATENCY_BUCKETS, *, window: int = 10_000) -> None:
        self.buckets = tuple(buckets)
        self._counts = [0] * (len(self.buckets) + 1)
        self._sum = 0.0
        self._count = 0
        self._recent: deque[float] = deque(maxlen=window)
        self._lock = threading.Lock()

    def observe(self, value: float) -> None:
        with self._lock:
            self._counts[bisect_left(self.buckets, value)] += 1
            self._sum += value
            self._count += 1
            self._recent.append(value)

    def quantile(self, q: float) -> float | None:
        """Over the recent window (the last `window` samples)."""
        with self._lock:
            ordered = sorted(self._recent)
        if not ordered:
            return None
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    @property
    def count(self) -> int:
        return self._count

    def lines(self, name: str, labels: str) -> Iterable[str]:
        with self._lock:
            counts, total, count = list(self._counts), self._sum, self._count
        cumulative = 0
        for bound, n in zip((*self.buckets, float("inf")), counts, strict=True):
            cumulative += n
            le = "+Inf" if bound == float("inf") else repr(bound)
            bucket_labels = _join(labels, 'le="' + le + '"')
            yield f"{name}_bucket{{{bucket_labels}}} {cumulative}"
        yield f"{name}_sum{_braces(labels)} {total}"
        yield f"{name}_count{_braces(labels)} {count}"


def _braces(labels: str) -> str:
    return f"{{{labels}}}" if labels else ""


def _join(*parts: str) -> str:
    return ",".join(p for p in parts if p)


def _labels(labels: dict[str, str] | None) -> str:
    if not labels:
        return ""
    return ",".join(f'{k}="{str(v).replace(chr(34), "")}"' for k, v in sorted(labels.items()))


class Metrics:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counters: dict[tuple[str, str], float] = {}
        self._gauges: dict[tuple[str, str], float] = {}
        self._histograms: dict[tuple[str, str], Histogram] = {}
        self._help: dict[str, str] = {}

    def inc(self, name: str, amount: float = 1.0, *, labels: dict[str, str] | None = None, help: str = "") -> None:
        key = (name, _labels(labels))
        with self._lock:
            self._counters[key] = self._counters.get(key, 0.0) + amount
            if help:
                self._help.setdefault(name, help)

    def set(self, name: str, value: float, *, labels: dict[str, str] | None = None, help: str = "") -> None:
        with self._lock:
            self._gauges[(name, _labels(labels))] = value
            if help:
                self._help.setdefault(name, help)

    def histogram(self, name: str, *, labels: dict[str, str] | None = None, help: str = "") -> Histogram:
        key = (name, _labels(labels))
        with self._lock:
            found = self._histograms.get(key)
            if found is None:
                found = self._histograms[key] = Histogram()
            if help:
                self._help.setdefault(name, help)
            return found

    def value(self, name: str, *, labels: dict[str, str] | None = None) -> float:
        key = (name, _labels(labels))
        with self._lock:
            return self._counters.get(key, self._gauges.get(key, 0.0))

    def render(self) -> str:
        with self._lock:
            counters = sorted(self._counters.items())
            gauges = sorted(self._gauges.items())
            histograms = sorted(self._histograms.items(), key=lambda item: item[0])
            helps = dict(self._help)
        lines: list[str] = []
        typed: set[str] = set()
        for kind, rows in (("counter", counters), ("gauge", gauges)):
            for (name, labels), value in rows:
                if name not in typed:
                    typed.add(name)
                    if name in helps:
                        lines.append(f"# HELP {name} {helps[name]}")
                    lines.append(f"# TYPE {name} {kind}")
                lines.append(f"{name}{_braces(labels)} {value:g}")
        for (name, labels), histogram in histograms:
            if name not in typed:
                typed.add(name)
                if name in helps:
                    lines.append(f"# HELP {name} {helps[name]}")
                lines.append(f"# TYPE {name} histogram")
            lines.extend(histogram.lines(name, labels))
        return "\n".join(lines) + "\n"


METRICS = Metrics()  # the process's registry; tests make their own
