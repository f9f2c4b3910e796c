"""The whole bot trading days of real BTC/USD movement plus synthetic ETH/USD and AAPLx/USD, on both venues: paper,
and live against the simulator's private WS and REST.

One run per venue (a module fixture, a minute or two) replays Kraken's 5-minute BTC/USD candles of 9-12 March 2023
(the USDC de-peg weekend: fast moves, gaps) through the simulator in lockstep with the bot. On the way, the market
data feed stalls: the bot must go to safe mode (`/readyz` 503, no entries) while an exit still fills, and recover
when data returns. The tests then check the run's records against each other and against capital-safety rules,
the same on both venues.
"""

from __future__ import annotations

import contextlib
import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from loguru import logger
from prometheus_client.parser import text_string_to_metric_families

from crocbot.actors.router import FENCE_METRIC
from crocbot.app import ACTOR_NAMES
from crocbot.core.messages import ExitReason, ExitRequest, OrderPurpose, OrderStatus, PositionSide, Signal
from crocbot.ops.metric_catalog import CATALOG, PROCESS_METRICS
from crocbot.ops.trade_audit import audit_journal
from crocbot.sim.catalog import DEFAULT_INSTRUMENTS
from crocbot.sim.market import candle_csv_source
from tests.support.e2e import BTC_CANDLES, VENUES, Paper, fifo_realized, step_until

pytestmark = pytest.mark.skipif(
    not BTC_CANDLES.is_file(), reason=f"needs the recorded Kraken candles at {BTC_CANDLES} (../shared/data)"
)

REPLAY_START = datetime(2023, 3, 9, tzinfo=UTC)
# The paper venue replays three days; the live one (every order, cancel and fill a round trip to the simulator's
# private WS and REST: about twice the wall time per event hour) the first 27 hours of the same data, which still
# cross midnight (a new trading day: the daily loss limit's reset) and trade, to keep the suite's time in bounds.
REPLAY = {"paper": timedelta(days=3), "live": timedelta(hours=27)}
STALL_AFTER = {"paper": timedelta(days=1, hours=12), "live": timedelta(hours=18)}
STALL_WALL_SECONDS = 5.0
STALE_AFTER = 1.5  # wall seconds without a frame before the feed reconnects


@dataclass
class Run:
    paper: Paper
    replay: timedelta = REPLAY["paper"]
    log: list[dict[str, Any]] = field(default_factory=list)  # WARNING and up
    info: list[str] = field(default_factory=list)  # the INFO lines' messages
    stall: dict[str, Any] = field(default_factory=dict)
    final_realized: Decimal = Decimal(0)
    settle_timeouts: int = 0
    first_scrape: str = ""  # /metrics as soon as the bot was ready
    last_scrape: str = ""  # /metrics after the run


def _get(url: str) -> tuple[int, dict[str, Any]]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def _scrape(paper: Paper) -> str:
    bot, _ = paper.running
    assert bot.server is not None
    with urllib.request.urlopen(bot.server.url + "/metrics", timeout=10) as response:
        return str(response.read().decode())


def _open_position_by_hand(paper: Paper) -> tuple[str, str]:
    """A marketable long on a symbol the strategies are not in, so the stall has a position to exit."""
    bot, _ = paper.running
    held = {p.symbol for p in bot.status().positions}
    symbol = next(s for s in ("ETH/USD", "AAPLx/USD", "BTC/USD") if s not in held)
    book = paper.simulator.exchange.markets[symbol].book
    ask = book.asks(1)[0][0]
    step = next(i for i in DEFAULT_INSTRUMENTS if i.symbol == symbol).price_increment
    entry = (ask * Decimal("1.002")).quantize(step)
    signal = Signal(
        symbol,
        PositionSide.LONG,
        entry,
        (entry * Decimal("0.985")).quantize(step),
        (entry * Decimal("1.05")).quantize(step),
        "by-hand",
        paper.simulator.clock.now(),
        "the stall scenario needs an open position",
    )
    bot.runtime.bus.publish(signal)
    step_until(paper, f"a protected position in {symbol}", lambda: _protected(paper, symbol))
    return next(p.position_id for p in bot.status().positions if p.symbol == symbol), symbol


def _protected(paper: Paper, symbol: str) -> bool:
    bot, _ = paper.running
    return any(p.symbol == symbol and p.stop_live for p in bot.status().positions)


def _stall(paper: Paper, run: Run) -> None:
    bot, conductor = paper.running
    assert bot.server is not None
    position_id, held = _open_position_by_hand(paper)
    entries_before = sum(1 for o in paper.journal().orders() if o.intent.purpose is OrderPurpose.ENTRY)

    conductor.require_feed = False
    conductor.max_speed = 1.0  # event time at wall pace while the feed is silent, as it would be live
    # Market data stalls; the account's link does not (live, Kraken's private WS is an endpoint of its own, and the
    # paper venue has none to stall): the exit below goes out and fills on either venue.
    paper.simulator.faults.stall(STALL_WALL_SECONDS, private=False)
    step_until(paper, "safe mode", lambda: bool(bot.status().safe_reasons))
    run.stall["readyz"] = _get(bot.server.url + "/readyz")
    run.stall["healthz"] = _get(bot.server.url + "/healthz")

    # No entries in safe mode: a valid signal is refused.
    symbol = next(s for s in paper.symbols if s not in {p.symbol for p in bot.status().positions})
    price = paper.simulator.exchange.markets[symbol].book.asks(1)[0][0]
    bot.runtime.bus.publish(
        Signal(
            symbol,
            PositionSide.LONG,
            price,
            price * Decimal("0.98"),
            price * Decimal("1.06"),
            "by-hand",
            paper.simulator.clock.now(),
        )
    )
    # Exits still work: the position opened above is closed at market against the last book.
    bot.runtime.bus.publish(
        ExitRequest(position_id, held, "operator exit during the stall", paper.simulator.clock.now(), ExitReason.MANUAL)
    )
    step_until(
        paper, "the exit during the stall", lambda: all(p.position_id != position_id for p in bot.status().positions)
    )
    run.stall["entries_added"] = (
        sum(1 for o in paper.journal().orders() if o.intent.purpose is OrderPurpose.ENTRY) - entries_before
    )
    run.stall["exited"] = position_id
    run.stall["safe_during_exit"] = bool(bot.status().safe_reasons)

    # Data returns: the feed reconnects, books resync, safe mode ends, /readyz is 200 again.
    step_until(paper, "recovery from the stall", lambda: not bot.status().safe_reasons, step=0.5)
    conductor.require_feed = True
    conductor.max_speed = None
    paper.wait_ready(allow=())
    run.stall["readyz_after"] = _get(bot.server.url + "/readyz")


@pytest.fixture(scope="module", params=VENUES)
def run(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Iterator[Run]:
    venue = str(request.param)
    replay = REPLAY[venue]
    tmp_path = tmp_path_factory.mktemp(f"{venue}-e2e")
    btc = next(i for i in DEFAULT_INSTRUMENTS if i.symbol == "BTC/USD")
    source = candle_csv_source(
        BTC_CANDLES,
        "BTC/USD",
        price_increment=btc.price_increment,
        qty_increment=btc.qty_increment,
        start=REPLAY_START - timedelta(hours=13),
        end=REPLAY_START + replay,
    )
    paper = Paper(tmp_path, sources={"BTC/USD": source}, stale_after=STALE_AFTER, live=venue == "live")
    result = Run(paper, replay)
    sink = logger.add(lambda message: result.log.append(dict(message.record)), level="WARNING")
    info = logger.add(
        lambda message: result.info.append(message.record["message"]),
        filter=lambda record: record["level"].name == "INFO",
    )
    try:
        paper.start()
        result.first_scrape = _scrape(paper)
        paper.run_until(REPLAY_START + STALL_AFTER[venue])
        _stall(paper, result)
        paper.run_until(REPLAY_START + replay)
        bot, conductor = paper.running
        result.final_realized = bot.status().realized
        result.settle_timeouts = conductor.stats.settle_timeouts
        result.last_scrape = _scrape(paper)
        yield result
    finally:
        with contextlib.suppress(ValueError):  # the per-test clean slate may have removed them already
            logger.remove(sink)
            logger.remove(info)
        paper.stop()


# -- the records agree ------------------------------------------------------------------------------------


def test_the_bot_traded_and_every_fill_is_in_the_journal_and_the_trade_log(run: Run) -> None:
    seen = {f.fill_id for f in run.paper.seen.fills}
    journal = {f.fill_id for f in run.paper.journal().fills()}
    logged = {r["fill_id"] for r in run.paper.trade_log() if r["type"] == "fill"}
    closed = [p for p in run.paper.journal().positions() if not p.is_open]

    assert len(closed) >= 3, "days of BTC/USD with two synthetic markets should have closed some trades"
    assert seen == journal == logged
    trades_logged = [r for r in run.paper.trade_log() if r["type"] == "trade"]
    assert len(trades_logged) == len(run.paper.journal().closed_trades())


def test_every_closed_trade_in_the_trade_log_says_why_it_closed_at_the_instruments_precision(run: Run) -> None:
    decimals = {i.symbol: i.price_precision for i in DEFAULT_INSTRUMENTS}
    trades = [r for r in run.paper.trade_log() if r["type"] == "trade"]
    reasons = {r["exit_reason"] for r in trades}

    assert "manual" in reasons, "the operator's exit during the stall"
    assert reasons <= {reason.value for reason in ExitReason}
    for record in trades:
        assert record["strategy"], record
        assert record["equity_after"] > 0
        for price in (record["entry_price"], record["exit_price"]):
            assert -price.as_tuple().exponent <= decimals[record["symbol"]], record


def test_a_market_hour_is_a_few_info_lines(run: Run) -> None:
    """Hourly journal and paper-account backups were two INFO lines of every market hour on their own, on top of
    this run's trading (about a signal and a close every two hours: 1.45 INFO lines per market hour in all)."""
    hours = run.replay / timedelta(hours=1) + 13  # the replay and its pre-roll

    assert len(run.info) / hours < 2.0, f"{len(run.info)} INFO lines in {hours} market hours"
    assert not [line for line in run.info if line.startswith("journal backup")]


def test_the_ledger_equals_an_independent_fifo_recomputation_from_the_trade_log(run: Run) -> None:
    fills = sorted((r for r in run.paper.trade_log() if r["type"] == "fill"), key=lambda r: r["ts"])
    cent = Decimal("0.01")

    assert fifo_realized(fills).quantize(cent) == run.final_realized.quantize(cent)


# -- capital safety ---------------------------------------------------------------------------------------


def test_every_position_had_its_stop_on_the_venue_within_one_second_of_its_fill(run: Run) -> None:
    journal = run.paper.journal()
    stops_by_position: dict[str, list[str]] = {}
    for order in journal.orders():
        if order.intent.purpose is OrderPurpose.STOP and order.position_id is not None:
            stops_by_position.setdefault(order.position_id, []).append(order.cl_ord_id)
    late = []
    for position in journal.positions():
        acks = [
            event.ts
            for cl_ord_id in stops_by_position.get(position.position_id, [])
            for event in journal.order_events(cl_ord_id)
            if event.status is OrderStatus.ACKED
        ]
        first = min(acks) if acks else None
        closed_fast = position.closed_at is not None and position.closed_at - position.opened_at <= timedelta(seconds=1)
        if (first is None or first - position.opened_at > timedelta(seconds=1)) and not closed_fast:
            late.append((position.position_id, position.opened_at, first))

    assert journal.positions()
    assert late == []


def test_no_closed_trade_lost_more_than_its_max_loss_plus_the_slippage_allowance(run: Run) -> None:
    settings = run.paper.settings
    assert settings is not None
    risk = settings.risk
    start = sum(settings.paper.starting_balances.values())
    realized = Decimal(0)
    over_stop, over_limit = [], []
    trades = sorted(run.paper.journal().closed_trades(), key=lambda t: t.closed_at)
    for trade in trades:
        slippage = risk.slippage_allowance * trade.exit_price * trade.qty
        loss = -trade.realized_pnl
        # Exact: no trade lost more than its stop put at risk, its fees and the slippage allowance.
        assert trade.initial_risk is not None, trade
        if loss > trade.initial_risk + trade.fees + slippage:
            over_stop.append((trade.trade_id, loss, trade.initial_risk, trade.fees))
        # Against the limit: the gate sized with the equity of the moment, which the records give only up to
        # other positions' unrealised P&L; the exposure caps keep that well inside 5 % of equity.
        equity_ceiling = (start + max(realized, Decimal(0))) * Decimal("1.05")
        if loss > risk.max_loss_per_trade * equity_ceiling + slippage:
            over_limit.append((trade.trade_id, loss))
        realized += trade.realized_pnl

    assert trades
    assert over_stop == []
    assert over_limit == []


def test_nothing_critical_was_logged_and_the_bot_kept_up_with_the_market(run: Run) -> None:
    critical = [r["message"] for r in run.log if r["level"].name == "CRITICAL"]

    assert critical == []
    assert run.settle_timeouts == 0


def test_one_exit_per_position_no_funds_refusal_and_no_inventory_fence_breach(run: Run) -> None:
    """Issue 11, part 1: no exit reached the venue after its position's stop had filled (in one demo run it happened
    23 times, each refused for funds on paper; live it would sell coins the bot does not own)."""
    with run.paper.journal() as journal:
        audit = audit_journal(journal)

    assert audit.closed_trades > 0
    assert audit.exits_after_stop_fill == 0
    assert audit.oversold_positions == 0
    assert audit.funds_refusals == 0
    assert run.paper.metrics.value(FENCE_METRIC) == 0


# -- /metrics ----------------------------------------------------------------------------------------------


def _families(text: str) -> dict[str, Any]:
    """Families by the name a Prometheus user queries (a counter's with its `_total`), as prometheus_client parses
    them."""
    families = {}
    for family in text_string_to_metric_families(text):
        families[family.name + "_total" if family.type == "counter" else family.name] = family
    return families


def _value(families: dict[str, Any], sample: str, **labels: str) -> float:
    name = sample.removesuffix("_count") if sample.endswith("_seconds_count") else sample
    found = [s.value for s in families[name].samples if s.name == sample and s.labels == labels]
    assert len(found) == 1, (sample, labels, families[name].samples)
    return float(found[0])


def test_the_first_scrape_of_the_running_bot_has_every_readme_metric_with_its_type(run: Run) -> None:
    families = _families(run.first_scrape)

    for spec in (*CATALOG, *PROCESS_METRICS):
        assert spec.name in families, f"{spec.name} is not served by the running bot"
        assert families[spec.name].type == spec.kind, spec.name
    for symbol in run.paper.symbols:
        assert _value(families, "crocbot_checksum_mismatches_total", symbol=symbol) == 0
    for actor in ACTOR_NAMES:
        assert _value(families, "crocbot_actor_restarts_total", actor=actor) == 0
    assert _value(families, "crocbot_breaker_state", breaker="kraken-rest") == 0
    assert _value(families, "crocbot_fills_total") == 0
    assert _value(families, "crocbot_equity") > 0  # the paper account's starting cash


def test_the_last_scrape_counts_what_the_run_did(run: Run) -> None:
    families = _families(run.last_scrape)
    fills = len(run.paper.journal().fills())

    assert _value(families, "crocbot_fills_total") + _value(families, "crocbot_fills_backfilled_total") == fills
    assert _value(families, "crocbot_order_outcomes_total", outcome="filled") > 0
    assert _value(families, "crocbot_orders_total", purpose="entry") > 0
    assert _value(families, "crocbot_feed_frames_total", channel="book") > 0
    assert _value(families, "crocbot_feed_frames_total", channel="trade") > 0
    assert _value(families, "crocbot_feed_reconnects_total") >= 1  # the stall made the feed connect again
    assert _value(families, "crocbot_entries_refused_total", reason="safe_mode") >= 1  # the signal in the stall
    assert _value(families, "crocbot_sl_loop_seconds_count") > 0
    assert _value(families, "crocbot_journal_write_seconds_count") >= fills
    assert _value(families, "crocbot_safe_mode") == 0
    assert _value(families, "crocbot_equity") > 0


# -- the stall ----------------------------------------------------------------------------------------------


def test_a_feed_stall_puts_the_bot_in_safe_mode_with_readyz_503_and_healthz_200(run: Run) -> None:
    ready_code, ready = run.stall["readyz"]
    alive_code, alive = run.stall["healthz"]

    assert ready_code == 503
    assert ready["ready"] is False
    assert "not_safe_mode" in ready["failing"]
    assert {"feed_connected", "books_in_sync"} & set(ready["failing"])
    assert alive_code == 200, alive


def test_in_safe_mode_no_entry_is_sent_but_an_exit_fills(run: Run) -> None:
    assert run.stall["entries_added"] == 0
    assert run.stall["safe_during_exit"] is True
    exited = [p for p in run.paper.journal().positions() if p.position_id == run.stall["exited"]]
    assert exited
    assert exited[0].closed_at is not None


def test_the_bot_recovers_when_data_returns(run: Run) -> None:
    code, body = run.stall["readyz_after"]

    assert code == 200, body
    assert body["ready"] is True
