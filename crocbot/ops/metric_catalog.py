"""Every metric `/metrics` serves, declared once: the registry is built from this list, and so is the README's table.

A counter or gauge exists from the first scrape: its label values are known in advance, either fixed here (channels,
outcomes, reasons) or named by the application at start (symbols, breakers, actors), and each combination is
created at 0. No label takes an unbounded value (an order id, a price): a series per order would grow for ever.
Names follow Prometheus' conventions: `_total` for counters, base units in the name (`_seconds`, `_bytes`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from crocbot.core.desk.stop_updates import StopOutcome
from crocbot.core.messages.orders import OrderPurpose, OrderStatus
from crocbot.core.risk_sizing import REFUSAL_LABELS

__all__ = [
    "MetricSpec",
    "CATALOG",
    "PROCESS_METRICS",
    "LATENCY_BUCKETS",
    "FEED_CHANNELS",
    "ORDER_OUTCOMES",
    "SIGNAL_REJECTIONS",
    "markdown_table",
]

Kind = Literal["counter", "gauge", "histogram"]

# Seconds. 0.01 is the SL loop's aim (p99 under 10 ms), so a bucket edge sits there and a rule can read the
# fraction of loops within it without interpolating.
LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0)

# What the feed subscribes to and hands on; `ohlc` comes only from a recording or a feed that sends candles.
FEED_CHANNELS = ("book", "trade", "ticker", "ohlc", "instrument")
# The ends of an order (the terminal statuses), each order counted once at its end. An order whose send went
# unanswered (`unknown`, looked up) is not ended: it is counted when the lookup or the venue says how it ended.
ORDER_OUTCOMES = tuple(str(s) for s in OrderStatus if s.is_terminal)
# `Decision.label` of the strategies and the cost checks; `other` for a drop without a label.
SIGNAL_REJECTIONS = ("atr", "invalid", "regime", "reward_risk", "stop_within_costs", "take_profit_loses", "other")


@dataclass(frozen=True, slots=True)
class MetricSpec:
    """One metric family. `known` fixes a label's values here; a label absent from it gets its values from the
    application (`Metrics(labels=...)`): `symbol`, `breaker`, `actor`."""

    name: str
    kind: Kind
    help: str
    labels: tuple[str, ...] = ()
    known: tuple[tuple[str, tuple[str, ...]], ...] = ()
    buckets: tuple[float, ...] = LATENCY_BUCKETS


CATALOG: tuple[MetricSpec, ...] = (
    # market data
    MetricSpec(
        "crocbot_feed_frames_total",
        "counter",
        "market data messages received, by channel",
        ("channel",),
        (("channel", FEED_CHANNELS),),
    ),
    MetricSpec("crocbot_feed_malformed_total", "counter", "frames that could not be used"),
    MetricSpec("crocbot_checksum_mismatches_total", "counter", "book checksum mismatches", ("symbol",)),
    MetricSpec(
        "crocbot_book_resyncs_total",
        "counter",
        "books subscribed again on a live connection (after a checksum mismatch or an overdue snapshot)",
        ("symbol",),
    ),
    MetricSpec("crocbot_feed_disconnects_total", "counter", "feed connections lost"),
    MetricSpec("crocbot_feed_reconnects_total", "counter", "feed connections made again after one was lost"),
    MetricSpec("crocbot_feed_fresh", "gauge", "1 while market data can be trusted (connected, every book in sync)"),
    # strategies and the risk gate
    MetricSpec("crocbot_signals_total", "counter", "signals emitted", ("symbol",)),
    MetricSpec(
        "crocbot_signals_rejected_total",
        "counter",
        "setups the strategies dropped, by reason",
        ("symbol", "reason"),
        (("reason", SIGNAL_REJECTIONS),),
    ),
    MetricSpec(
        "crocbot_entries_refused_total",
        "counter",
        "signals refused by the risk gate (or before it), by reason",
        ("reason",),
        (("reason", REFUSAL_LABELS),),
    ),
    # orders
    MetricSpec(
        "crocbot_orders_total",
        "counter",
        "orders sent, by purpose",
        ("purpose",),
        (("purpose", tuple(str(p) for p in OrderPurpose)),),
    ),
    MetricSpec(
        "crocbot_order_outcomes_total",
        "counter",
        "orders ended, by outcome (each order once, at its end)",
        ("outcome",),
        (("outcome", ORDER_OUTCOMES),),
    ),
    MetricSpec("crocbot_fills_total", "counter", "fills received and journaled"),
    MetricSpec("crocbot_fills_backfilled_total", "counter", "fills learnt from the venue's history"),
    MetricSpec(
        "crocbot_stop_updates_total",
        "counter",
        "stop updates by what became of them",
        ("outcome",),
        (("outcome", tuple(str(o) for o in StopOutcome)),),
    ),
    MetricSpec("crocbot_fence_breaches_total", "counter", "sells refused by the inventory fence (never expected)"),
    MetricSpec("crocbot_positions_without_stop_total", "counter", "positions exited for want of a live stop"),
    MetricSpec("crocbot_sl_loop_seconds", "histogram", "SL manager evaluation time per market tick"),
    # money
    MetricSpec("crocbot_equity", "gauge", "cash plus open positions marked to market, in the quote currency"),
    MetricSpec("crocbot_unrealized_pnl", "gauge", "P&L of the open positions marked to market, in the quote currency"),
    # safety
    MetricSpec("crocbot_safe_mode", "gauge", "1 while entries are halted (safe mode)"),
    MetricSpec("crocbot_kill_switch", "gauge", "1 while the daily loss kill switch is tripped"),
    MetricSpec("crocbot_breaker_state", "gauge", "circuit breaker state: 0 closed, 1 half-open, 2 open", ("breaker",)),
    MetricSpec("crocbot_actor_restarts_total", "counter", "actor restarts by supervisors", ("actor",)),
    # the journal
    MetricSpec(
        "crocbot_journal_write_seconds", "histogram", "time to make one journal record, or one batch of them, durable"
    ),
    MetricSpec(
        "crocbot_journal_commits_total", "counter", "journal transactions committed (a batch of records is one)"
    ),
    MetricSpec("crocbot_journal_failures_total", "counter", "journal writes that failed"),
)

# Served by prometheus_client's process collector where /proc exists (Linux), and by crocbot itself elsewhere
# (`crocbot.ops.process_metrics`); the collector adds a few more (CPU seconds, virtual memory, start time).
PROCESS_METRICS: tuple[MetricSpec, ...] = (
    MetricSpec("process_resident_memory_bytes", "gauge", "resident memory (Linux, Windows)"),
    MetricSpec("process_open_fds", "gauge", "open file descriptors (Linux; Windows has handles, not fds)"),
)


def markdown_table() -> str:
    """The README's metric table (a test checks the README holds exactly this)."""
    rows = ["| metric | type | labels | meaning |", "|---|---|---|---|"]
    for spec in (*CATALOG, *PROCESS_METRICS):
        labels = ", ".join(f"`{label}`" for label in spec.labels) or "-"
        rows.append(f"| `{spec.name}` | {spec.kind} | {labels} | {spec.help} |")
    return "\n".join(rows) + "\n"
