"""Small helpers shared by the latency benches (`bench_sl.py`, `bench_tick_to_exit.py`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from crocbot.ops.metrics import Histogram

__all__ = ["Summary", "quantile", "ratio"]


def quantile(ordered: Sequence[float], q: float) -> float:
    """The same rule as `Histogram.quantile`: the sample at index int(q * n) of the sorted samples."""
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator > 0 else float("inf")


@dataclass(frozen=True, slots=True)
class Summary:
    """p50 / p99 / max of latency samples, in seconds."""

    count: int
    p50: float
    p99: float
    max: float

    @classmethod
    def of(cls, samples: Sequence[float]) -> Summary:
        if not samples:
            return cls(0, float("nan"), float("nan"), float("nan"))
        ordered = sorted(samples)
        return cls(len(ordered), quantile(ordered, 0.50), quantile(ordered, 0.99), ordered[-1])

    @classmethod
    def of_histogram(cls, histogram: Histogram) -> Summary:
        """From a crocbot histogram, as `/metrics` consumers see it (its recent window)."""
        p50, p99, top = histogram.quantile(0.50), histogram.quantile(0.99), histogram.quantile(1.0)
        if p50 is None or p99 is None or top is None:
            return cls(histogram.count, float("nan"), float("nan"), float("nan"))
        return cls(histogram.count, p50, p99, top)

    def row(self, unit: float = 1e3, width: int = 11, digits: int = 3) -> str:
        """p50, p99 and max scaled by `unit` (1e3: milliseconds) in fixed-width columns."""
        return "".join(f"{value * unit:>{width}.{digits}f}" for value in (self.p50, self.p99, self.max))

    def as_json(self, unit: float = 1e3, suffix: str = "ms") -> dict[str, float | int]:
        return {
            "n": self.count,
            f"p50_{suffix}": round(self.p50 * unit, 4),
            f"p99_{suffix}": round(self.p99 * unit, 4),
            f"max_{suffix}": round(self.max * unit, 4),
        }
