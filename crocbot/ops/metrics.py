"""The metrics behind `/metrics`: prometheus_client's counters, gauges and histograms in a registry of crocbot's own.

Each `Metrics` owns a `CollectorRegistry` (the bot has one, every test makes its own), so nothing lands in
prometheus_client's global registry and two bots in one process never share a count. Every family is declared in
`crocbot.ops.metric_catalog` and exists, at 0, from the first scrape. Actors update them from their own threads
(prometheus_client is thread-safe); the HTTP server renders them with `render()`.

A histogram also keeps a bounded ring of recent samples, so that the SL manager and the benchmarks can read a
p50/p99 without keeping every sample (Prometheus' buckets answer that only to the bucket's width).
"""

from __future__ import annotations

import itertools
import os
import threading
from collections import deque
from collections.abc import Iterable, Mapping

import prometheus_client
from prometheus_client import CollectorRegistry, Counter, Gauge, ProcessCollector, generate_latest
from prometheus_client import Histogram as PromHistogram
from prometheus_client.exposition import choose_encoder

from crocbot.ops.metric_catalog import CATALOG, LATENCY_BUCKETS, MetricSpec
from crocbot.ops.process_metrics import MemoryCollector

__all__ = ["Metrics", "Histogram", "METRICS", "LATENCY_BUCKETS"]

# A `_created` gauge beside every counter and histogram doubles the series and tells a trader nothing a restart
# count does not; the switch is process-wide, and crocbot is the process.
prometheus_client.disable_created_metrics()  # type: ignore[no-untyped-call]  # the library leaves it unannotated

_Family = Counter | Gauge | PromHistogram


class Histogram:
    """A prometheus histogram plus the last `window` samples, for `quantile`."""

    def __init__(self, child: PromHistogram, *, window: int = 10_000) -> None:
        self._child = child
        self._recent: deque[float] = deque(maxlen=window)
        self._count = 0
        self._lock = threading.Lock()

    def observe(self, value: float) -> None:
        self._child.observe(value)
        with self._lock:
            self._recent.append(value)
            self._count += 1

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


class Metrics:
    """The catalog's families in one registry. `labels` names the values of the labels only the application knows
    (`symbol`, `breaker`, `actor`), so that their series exist before anything happens; `declare` adds more."""

    def __init__(self, labels: Mapping[str, Iterable[str]] | None = None) -> None:
        self.registry = CollectorRegistry()
        self._specs = {spec.name: spec for spec in CATALOG}
        self._families: dict[str, _Family] = {spec.name: _family(spec, self.registry) for spec in CATALOG}
        # Per family: a label the catalog fixes keeps that family's own values (`outcome` of orders is not
        # `outcome` of stop updates); only the application's labels (`symbol`, ...) are shared by every family.
        self._fixed = {spec.name: dict(spec.known) for spec in CATALOG}
        self._application = {label for spec in CATALOG for label in spec.labels if label not in self._fixed[spec.name]}
        self._shared: dict[str, set[str]] = {}
        self._histograms: dict[tuple[str, tuple[tuple[str, str], ...]], Histogram] = {}
        self._lock = threading.Lock()
        if os.path.exists("/proc/self/stat"):
            ProcessCollector(registry=self.registry)
        else:  # prometheus_client reads /proc only; Windows gets its resident memory from crocbot
            self.registry.register(MemoryCollector())
        self.declare(**{label: tuple(values) for label, values in (labels or {}).items()})

    def declare(self, **values: Iterable[str]) -> None:
        """Create at 0 every series of every family whose labels all have known values (idempotent). Only the
        application's labels can be given; a label the catalog fixes is changed there."""
        fixed_here = sorted(set(values) - self._application)
        if fixed_here:
            raise KeyError(
                f"labels {fixed_here} take their values from crocbot.ops.metric_catalog, not from the application "
                f"(which names {sorted(self._application)})"
            )
        with self._lock:
            for label, given in values.items():
                self._shared.setdefault(label, set()).update(given)
            shared = {label: sorted(v) for label, v in self._shared.items()}
        for spec in CATALOG:
            if not spec.labels or spec.kind == "histogram":
                continue
            fixed = self._fixed[spec.name]
            known = [sorted(fixed[label]) if label in fixed else shared.get(label, []) for label in spec.labels]
            if not all(known):
                continue
            family = self._families[spec.name]
            for combination in itertools.product(*known):
                family.labels(*combination)

    def inc(self, name: str, amount: float = 1.0, *, labels: Mapping[str, str] | None = None) -> None:
        family = self._family(name, "counter")
        assert isinstance(family, Counter)
        (family.labels(**labels) if labels else family).inc(amount)

    def counter(self, name: str, *, labels: Mapping[str, str] | None = None) -> Counter:
        """One series of a counter, for a path that counts it often: its `inc()` skips the label lookup (0.5 us
        instead of 3 per frame in the feed's receive thread)."""
        family = self._family(name, "counter")
        assert isinstance(family, Counter)
        return family.labels(**labels) if labels else family

    def set(self, name: str, value: float, *, labels: Mapping[str, str] | None = None) -> None:
        family = self._family(name, "gauge")
        assert isinstance(family, Gauge)
        (family.labels(**labels) if labels else family).set(value)

    def histogram(self, name: str, *, labels: Mapping[str, str] | None = None) -> Histogram:
        key = (name, tuple(sorted((labels or {}).items())))
        with self._lock:
            found = self._histograms.get(key)
            if found is None:
                family = self._family(name, "histogram")
                assert isinstance(family, PromHistogram)
                found = self._histograms[key] = Histogram(family.labels(**labels) if labels else family)
            return found

    def value(self, name: str, *, labels: Mapping[str, str] | None = None) -> float:
        """A counter's or gauge's current value (0 for a series not created yet), as a scrape would show it."""
        spec = self._specs.get(name)
        if spec is None or spec.kind == "histogram":
            raise KeyError(f"{name} is not a counter or gauge of crocbot.ops.metric_catalog")
        found = self.registry.get_sample_value(name, dict(labels or {}))
        return 0.0 if found is None else found

    def render(self) -> bytes:
        """The Prometheus text exposition of every family (and the process's memory and fds)."""
        return generate_latest(self.registry)

    def exposition(self, accept: str = "") -> tuple[bytes, str]:
        """The body and its content type for a scraper's Accept header: OpenMetrics when it asks for it, else the
        classic text format (version 0.0.4), which every Prometheus reads."""
        encoder, content_type = choose_encoder(accept)
        return encoder(self.registry), content_type

    def _family(self, name: str, kind: str) -> _Family:
        spec = self._specs.get(name)
        if spec is None or spec.kind != kind:
            raise KeyError(f"{name} is not a {kind} of crocbot.ops.metric_catalog; declare it there")
        return self._families[name]


def _family(spec: MetricSpec, registry: CollectorRegistry) -> _Family:
    if spec.kind == "counter":
        return Counter(spec.name, spec.help, spec.labels, registry=registry)
    if spec.kind == "gauge":
        return Gauge(spec.name, spec.help, spec.labels, registry=registry)
    return PromHistogram(spec.name, spec.help, spec.labels, registry=registry, buckets=spec.buckets)


METRICS = Metrics()  # the fallback of actors built without one; a bot owns its own (`BotWiring.metrics`)
