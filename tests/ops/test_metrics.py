"""`/metrics`: every metric the README lists, from the first scrape, as a Prometheus client parses it."""

from __future__ import annotations

import re
import sys
import urllib.request
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import prometheus_client
import pytest
from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families

from crocbot.actors.directory import Directory
from crocbot.core.desk.stop_updates import StopOutcome
from crocbot.core.messages import ActorRestarted, BreakerState, BreakerStateChanged, SafeModeChanged
from crocbot.core.messages.orders import OrderPurpose
from crocbot.core.risk_sizing import REFUSAL_LABELS
from crocbot.ops.health import HealthBoard, HealthServer
from crocbot.ops.metric_catalog import (
    CATALOG,
    FEED_CHANNELS,
    ORDER_OUTCOMES,
    PROCESS_METRICS,
    SIGNAL_REJECTIONS,
    markdown_table,
)
from crocbot.ops.metrics import Metrics
from crocbot.ops.process_metrics import MemoryCollector

ROOT = Path(__file__).resolve().parents[2]
SYMBOLS = ("BTC/USD", "ETH/USD")
ACTORS = ("router", "feed")


def parse(text: str) -> dict[str, Metric]:
    """Families by the name a Prometheus user queries (a counter's with its `_total`)."""
    families = {}
    for family in text_string_to_metric_families(text):
        name = family.name + "_total" if family.type == "counter" else family.name
        families[name] = family
    return families


def series(family: Metric, sample: str) -> dict[tuple[tuple[str, str], ...], float]:
    return {tuple(sorted(s.labels.items())): s.value for s in family.samples if s.name == sample}


@pytest.fixture
def metrics() -> Metrics:
    return Metrics({"symbol": SYMBOLS, "breaker": ("kraken-rest",), "actor": ACTORS})


def test_the_first_scrape_has_every_catalog_metric_with_its_type(metrics: Metrics) -> None:
    families = parse(metrics.render().decode())

    for spec in CATALOG:
        assert spec.name in families, f"{spec.name} missing from the first scrape"
        assert families[spec.name].type == spec.kind, spec.name
        assert families[spec.name].documentation == spec.help


def test_labelled_counters_exist_at_zero_for_every_known_value_before_anything_happens(metrics: Metrics) -> None:
    families = parse(metrics.render().decode())

    frames = series(families["crocbot_feed_frames_total"], "crocbot_feed_frames_total")
    assert frames == {(("channel", c),): 0.0 for c in FEED_CHANNELS}
    mismatches = series(families["crocbot_checksum_mismatches_total"], "crocbot_checksum_mismatches_total")
    assert mismatches == {(("symbol", s),): 0.0 for s in SYMBOLS}
    restarts = series(families["crocbot_actor_restarts_total"], "crocbot_actor_restarts_total")
    assert restarts == {(("actor", a),): 0.0 for a in ACTORS}
    breakers = series(families["crocbot_breaker_state"], "crocbot_breaker_state")
    assert breakers == {(("breaker", "kraken-rest"),): 0.0}


def expected_series() -> dict[str, set[tuple[tuple[str, str], ...]]]:
    """Each labelled family's series, written out: a family's fixed values are its own, never another's that
    shares the label's name (`outcome` of orders is not `outcome` of stop updates)."""

    def one(label: str, values: Iterable[str]) -> set[tuple[tuple[str, str], ...]]:
        return {((label, v),) for v in values}

    return {
        "crocbot_feed_frames_total": one("channel", FEED_CHANNELS),
        "crocbot_checksum_mismatches_total": one("symbol", SYMBOLS),
        "crocbot_book_resyncs_total": one("symbol", SYMBOLS),
        "crocbot_signals_total": one("symbol", SYMBOLS),
        "crocbot_signals_rejected_total": {(("reason", r), ("symbol", s)) for r in SIGNAL_REJECTIONS for s in SYMBOLS},
        "crocbot_entries_refused_total": one("reason", REFUSAL_LABELS),
        "crocbot_orders_total": one("purpose", (str(p) for p in OrderPurpose)),
        "crocbot_order_outcomes_total": one("outcome", ORDER_OUTCOMES),
        "crocbot_stop_updates_total": one("outcome", (str(o) for o in StopOutcome)),
        "crocbot_breaker_state": one("breaker", ("kraken-rest",)),
        "crocbot_actor_restarts_total": one("actor", ACTORS),
    }


def test_each_labelled_family_has_exactly_its_own_label_values(metrics: Metrics) -> None:
    families = parse(metrics.render().decode())
    expected = expected_series()

    labelled = {spec.name for spec in CATALOG if spec.labels and spec.kind != "histogram"}
    assert set(expected) == labelled, "a labelled family this test does not pin"
    for name, want in expected.items():
        assert set(series(families[name], name)) == want, name
    stop_outcomes = {k[0][1] for k in series(families["crocbot_stop_updates_total"], "crocbot_stop_updates_total")}
    assert "filled" not in stop_outcomes
    rejected = series(families["crocbot_signals_rejected_total"], "crocbot_signals_rejected_total")
    assert not {dict(k)["reason"] for k in rejected} & {"kill_switch", "cooldown"}


def test_declaring_more_application_values_keeps_each_family_to_its_own(metrics: Metrics) -> None:
    metrics.declare(symbol=("SOL/USD",), actor=("reconciler",))
    families = parse(metrics.render().decode())

    assert (("symbol", "SOL/USD"),) in series(families["crocbot_signals_total"], "crocbot_signals_total")
    outcomes = series(families["crocbot_order_outcomes_total"], "crocbot_order_outcomes_total")
    assert set(outcomes) == expected_series()["crocbot_order_outcomes_total"]


def test_a_label_the_catalog_fixes_cannot_be_declared(metrics: Metrics) -> None:
    with pytest.raises(KeyError, match="outcome"):
        metrics.declare(outcome=("sent",))


def test_no_label_takes_an_order_id_or_a_price() -> None:
    allowed = {"channel", "symbol", "reason", "purpose", "outcome", "breaker", "actor"}

    assert {label for spec in CATALOG for label in spec.labels} <= allowed


def test_names_follow_prometheus_conventions() -> None:
    for spec in CATALOG:
        assert re.fullmatch(r"crocbot_[a-z][a-z0-9_]*", spec.name), spec.name
        assert spec.name.endswith("_total") == (spec.kind == "counter"), spec.name
        if spec.kind == "histogram":
            assert spec.name.endswith("_seconds"), spec.name


def test_the_sl_loop_histogram_has_a_bucket_at_the_10_ms_aim(metrics: Metrics) -> None:
    metrics.histogram("crocbot_sl_loop_seconds").observe(0.004)
    metrics.histogram("crocbot_sl_loop_seconds").observe(0.02)
    family = parse(metrics.render().decode())["crocbot_sl_loop_seconds"]

    buckets = {s.labels["le"]: s.value for s in family.samples if s.name == "crocbot_sl_loop_seconds_bucket"}
    assert buckets["0.01"] == 1.0
    assert buckets["+Inf"] == 2.0


def test_counts_gauges_and_quantiles_read_back_as_a_scrape_shows_them(metrics: Metrics) -> None:
    metrics.inc("crocbot_fills_total")
    metrics.inc("crocbot_stop_updates_total", 3, labels={"outcome": "sent"})
    metrics.set("crocbot_equity", 10_250.5)
    loop = metrics.histogram("crocbot_sl_loop_seconds")
    for value in (0.001, 0.002, 0.003, 0.004):
        loop.observe(value)

    assert metrics.value("crocbot_fills_total") == 1
    assert metrics.value("crocbot_stop_updates_total", labels={"outcome": "sent"}) == 3
    assert metrics.value("crocbot_stop_updates_total", labels={"outcome": "dropped"}) == 0
    assert metrics.value("crocbot_equity") == 10_250.5
    assert loop.count == 4
    assert loop.quantile(0.5) == 0.003
    scraped = parse(metrics.render().decode())
    assert series(scraped["crocbot_fills_total"], "crocbot_fills_total") == {(): 1.0}
    assert series(scraped["crocbot_sl_loop_seconds"], "crocbot_sl_loop_seconds_count") == {(): 4.0}


def test_a_metric_not_in_the_catalog_is_refused_with_its_name(metrics: Metrics) -> None:
    with pytest.raises(KeyError, match="crocbot_typo_total"):
        metrics.inc("crocbot_typo_total")
    with pytest.raises(KeyError, match="crocbot_equity is not a counter"):
        metrics.inc("crocbot_equity")


def test_every_metric_the_code_updates_is_declared_in_the_catalog() -> None:
    """A name the catalog lacks would raise in the actor that counts it; find them all here instead."""
    used = set()
    for path in (ROOT / "crocbot").rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        used |= set(re.findall(r"\.(?:inc|set|histogram|value|counter)\(\s*\"([a-z_]+)\"", text))
        used |= set(re.findall(r"^[A-Z_]+(?:METRIC|_FRAMES) = \"([a-z_]+)\"", text, re.MULTILINE))

    assert used, "the scan found no metric update at all"
    assert used <= {spec.name for spec in CATALOG}


def test_two_registries_never_share_a_count_and_the_global_registry_holds_none_of_crocbots() -> None:
    first, second = Metrics(), Metrics()
    first.inc("crocbot_fills_total")

    assert first.value("crocbot_fills_total") == 1
    assert second.value("crocbot_fills_total") == 0
    assert b"crocbot_" not in prometheus_client.generate_latest(prometheus_client.REGISTRY)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="prometheus_client's process collector reads /proc")
def test_process_memory_and_open_fds_are_served_on_linux(metrics: Metrics) -> None:
    families = parse(metrics.render().decode())

    for spec in PROCESS_METRICS:
        assert families[spec.name].type == spec.kind
    assert families["process_resident_memory_bytes"].samples[0].value > 1_000_000
    assert families["process_open_fds"].samples[0].value > 0


def test_the_memory_collector_serves_resident_memory_where_proc_is_absent() -> None:
    families = {f.name: f for f in MemoryCollector(lambda: 123_456_789).collect()}
    nothing = list(MemoryCollector(lambda: None).collect())

    assert families["process_resident_memory_bytes"].samples[0].value == 123_456_789
    assert nothing == []


def test_the_readme_metric_table_is_the_catalog() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    found = re.search(r"<!-- metrics:begin -->\n(.*?)<!-- metrics:end -->", readme, re.DOTALL)

    assert found is not None, "README.md has no <!-- metrics:begin --> ... <!-- metrics:end --> block"
    assert found.group(1) == markdown_table(), (
        "README's metric table differs from crocbot.ops.metric_catalog; paste the output of "
        "`python -c 'from crocbot.ops.metric_catalog import markdown_table; print(markdown_table())'`"
    )


@pytest.fixture
def server(metrics: Metrics) -> Iterator[HealthServer]:
    board = HealthBoard(ACTORS, Directory(), metrics=metrics)
    server = HealthServer(board, "127.0.0.1", 0, metrics=metrics).start()
    try:
        yield server
    finally:
        server.stop()


def test_the_health_server_serves_the_exposition_a_prometheus_client_parses(
    metrics: Metrics, server: HealthServer
) -> None:
    with urllib.request.urlopen(server.url + "/metrics", timeout=10) as response:
        content_type = response.headers["Content-Type"]
        families = parse(response.read().decode())

    assert content_type.startswith("text/plain; version=0.0.4")
    for spec in (*CATALOG, *PROCESS_METRICS):
        if spec in PROCESS_METRICS and not sys.platform.startswith("linux"):
            continue
        assert families[spec.name].type == spec.kind, spec.name


def test_a_restart_the_board_hears_of_is_counted_for_its_actor(metrics: Metrics) -> None:
    board = HealthBoard(ACTORS, Directory(), metrics=metrics)
    board.on_restart(ActorRestarted("router", "core", "boom", 1, datetime(2026, 1, 1, tzinfo=UTC)))

    assert metrics.value("crocbot_actor_restarts_total", labels={"actor": "router"}) == 1
    assert metrics.value("crocbot_actor_restarts_total", labels={"actor": "feed"}) == 0


def test_a_scraper_that_asks_for_openmetrics_gets_it(server: HealthServer) -> None:
    request = urllib.request.Request(
        server.url + "/metrics", headers={"Accept": "application/openmetrics-text; version=1.0.0"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        content_type = response.headers["Content-Type"]
        body = response.read().decode()

    assert content_type.startswith("application/openmetrics-text")
    assert body.endswith("# EOF\n")


def test_safe_mode_and_a_breaker_state_are_gauges_the_board_sets_from_their_events(metrics: Metrics) -> None:
    board = HealthBoard(ACTORS, Directory(), metrics=metrics)
    ts = datetime(2026, 1, 1, tzinfo=UTC)
    board.on_safe_mode(SafeModeChanged(True, ("market data not fresh",), ts))
    board.on_breaker(BreakerStateChanged("kraken-rest", BreakerState.CLOSED, BreakerState.OPEN, ts, 60.0, 0.0, 20))

    assert metrics.value("crocbot_safe_mode") == 1
    assert metrics.value("crocbot_breaker_state", labels={"breaker": "kraken-rest"}) == 2
    board.on_safe_mode(SafeModeChanged(False, (), ts))
    assert metrics.value("crocbot_safe_mode") == 0
