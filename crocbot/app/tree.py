"""The supervision tree, built from the settings: the money path (`core_tree`) and the market data (`market_tree`).

`core_tree` builds the core subtree alone, so that the tick-to-exit benchmark runs the money path exactly as the
bot wires it, instead of a copy that drifts. What differs between the bot and such a caller is a parameter, never a
second set of constructor arguments.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from crocbot.actors.breaker import CircuitBreaker
from crocbot.actors.candles import CandleBuffer
from crocbot.actors.feed import Feed, FeedOptions
from crocbot.actors.gateway import Gateway
from crocbot.actors.persistence import Persistence
from crocbot.actors.reconciler import Reconciler, ViewSource
from crocbot.actors.router import Router
from crocbot.actors.sl_manager import SLManager
from crocbot.actors.strategy import StrategyActor
from crocbot.actors.supervisor import ChildSpec, Policy, RestartStrategy
from crocbot.actors.venue import VenueActor
from crocbot.actors.venue.in_flight import OrdersInFlight
from crocbot.actors.venue.live import LiveVenue
from crocbot.app.kraken_history import KrakenHistory
from crocbot.config import Settings
from crocbot.config.policies import live_limits, risk_limits, stop_policy, strategy_params
from crocbot.core.costs import TradeCosts
from crocbot.core.desk import DeskConfig
from crocbot.core.instrument import Instrument
from crocbot.core.reconcile import ForeignOrderPolicy
from crocbot.core.risk_sizing import RiskLimits
from crocbot.kraken.endpoints import KrakenApi
from crocbot.kraken.instruments import Catalog
from crocbot.kraken.ratelimit import TRADING_LIMITS, Tier
from crocbot.kraken.ws import WsClient
from crocbot.ops.metrics import Metrics
from crocbot.startup import JOURNAL_FILE, TRADE_LOG_FILE
from crocbot.store.paper_account import PAPER_ACCOUNT_FILE, PAPER_BACKUP_DIR

__all__ = [
    "LiveParts",
    "core_tree",
    "market_tree",
    "trade_costs",
    "ROOT_POLICY",
    "CORE_POLICY",
    "MARKET_POLICY",
    "ACTOR_NAMES",
    "BACKUP_DIR",
]

# The root gives up (and the bot shuts down in order, stops left on the venue) only when the core cannot be kept
# alive; any other child beyond the intensity is restarted slowly and the bot goes safe (entries halted).
ROOT_POLICY = Policy(
    strategy=RestartStrategy.ONE_FOR_ONE,
    max_restarts=5,
    within=60.0,
    backoff_initial=0.5,
    essential=frozenset({"core"}),
)
CORE_POLICY = Policy(strategy=RestartStrategy.REST_FOR_ONE, max_restarts=5, within=60.0, backoff_initial=0.2)
MARKET_POLICY = Policy(strategy=RestartStrategy.ONE_FOR_ONE, max_restarts=10, within=60.0, backoff_initial=0.5)
ACTOR_NAMES = (
    "watchdog",
    "health",
    "core",
    "persistence",
    "venue",
    "router",
    "sl_manager",
    "reconciler",
    "market",
    "feed",
    "candles",
    "strategy",
)
# wall seconds the SL manager's stop-placement deadline waits for the start-up reconciliation (a live one on Kraken's
# Starter REST budget takes up to ~30 s)
_RECONCILE_WAIT = 120.0
BACKUP_DIR = "backups"  # verified journal copies: hourly and at shutdown, the last five kept


@dataclass(frozen=True, slots=True)
class LiveParts:
    """What live mode puts in the core instead of the paper venue, built by the bot: the authenticated REST client,
    the orders gateway and its breaker for the live venue, and Kraken's account view with the private-queries gateway
    and its breaker for the reconciler. `ws_options`, `on_client`: the private WS client's options and a hook that
    hears of its client (tests: a short backoff; a lockstep simulation watching its frames). `capital`: see below."""

    api: KrakenApi
    orders: Gateway
    orders_breaker: CircuitBreaker
    view: ViewSource
    private: Gateway
    private_breaker: CircuitBreaker
    order_timeout: float = 10.0
    view_timeout: float = 30.0
    ws_options: Mapping[str, Any] = field(default_factory=dict)
    on_client: Callable[[WsClient], None] | None = None
    # the account's available quote balance as the preflight found it: a first live start's capital for risk sizing
    # (later starts keep the journal's ledger); None: `[paper] starting_balances`, as a test without a preflight has
    capital: Decimal | None = None
    in_flight: OrdersInFlight | None = None  # the orders handed to `orders`, for the view's `pending`


def trade_costs(settings: Settings, instruments: Mapping[str, Instrument]) -> dict[str, TradeCosts]:
    """Each symbol's round-trip costs. Entries are limit orders that may take liquidity, exits and stops take it:
    judged at the taker's fee."""
    return {
        s: TradeCosts.of(taker_fee=i.taker_fee, maker_fee=i.maker_fee, slippage=settings.risk.slippage_allowance)
        for s, i in instruments.items()
    }


def core_tree(
    settings: Settings,
    instruments: Mapping[str, Instrument],
    *,
    metrics: Metrics,
    history: KrakenHistory | None = None,
    machinery_scale: float = 1.0,
    escalation: Callable[[], str | None] | None = None,
    limits: RiskLimits | None = None,
    venue_actor: type[VenueActor] = VenueActor,
    persistence_actor: type[Persistence] = Persistence,
    live: LiveParts | None = None,
    statuses: Callable[[str], str | None] | None = None,
) -> ChildSpec:
    """The money path under one rest_for_one supervisor, in dependency order: persistence, venue, router, SL
    manager, reconciler.

    `history`: Kraken's REST history for the paper venue's catch-up after a restart (None: no catch-up).
    `machinery_scale`: event seconds per wall second for the deadlines that measure crocbot's own machinery
    (`BotWiring.machinery_scale`). `escalation`: what gave up earlier in this process, for the router's status.
    `limits`: the risk limits, None for the settings' (a benchmark turns off the daily loss limit, which a setting
    cannot). `venue_actor`, `persistence_actor`: the paper venue's and persistence's actor classes (a benchmark
    passes subclasses that note arrivals and commits). `live`: the live venue's parts; with them the venue is Kraken
    (`LiveVenue`) and the reconciler reads Kraken's account, instead of the paper venue. `statuses`: each symbol's
    Kraken status now (the feed's catalog), for a restarted router."""
    state_dir, log_dir = settings.state_dir, settings.log_dir
    execution = settings.execution
    quote = next(iter(instruments.values())).quote
    catch_up = history.trades_since if history is not None else None
    children = [
        ChildSpec.actor(
            "persistence",
            persistence_actor,
            state_dir / JOURNAL_FILE,
            log_dir / TRADE_LOG_FILE,
            backup_dir=state_dir / BACKUP_DIR,
            metrics=metrics,
        ),
        _live_venue(settings, live)
        if live is not None
        else ChildSpec.actor(
            "venue",
            venue_actor,
            instruments,
            settings.paper.starting_balances,
            account=state_dir / PAPER_ACCOUNT_FILE,
            backup_dir=state_dir / BACKUP_DIR / PAPER_BACKUP_DIR,
            latency=execution.paper_latency_ms / 1000,
            fetch_trades=catch_up,
            gateway=history.gateway if history is not None else None,
            breaker=history.breaker if history is not None else None,
            trading=TRADING_LIMITS[Tier(settings.kraken.tier)],
        ),
        ChildSpec.actor(
            "router",
            Router,
            instruments,
            limits or risk_limits(settings.risk),
            DeskConfig(
                entry_order=execution.entry_order,
                limit_ttl=execution.limit_ttl,
                max_repositions=execution.max_reposition_attempts,
                chase_step=execution.chase_step,
                live_limits=live_limits(settings.live) if live is not None else None,
            ),
            cash=live.capital
            if live is not None and live.capital is not None
            else settings.paper.starting_balances.get(quote, Decimal(0)),
            quote=quote,
            metrics=metrics,
            escalation=escalation,
            statuses=statuses,
            trading=TRADING_LIMITS[Tier(settings.kraken.tier)],
        ),
        ChildSpec.actor(
            "sl_manager",
            SLManager,
            stop_policy(settings.stops),
            {s: i.price_increment for s, i in instruments.items()},
            costs=trade_costs(settings, instruments),
            place_within=settings.stops.place_within * machinery_scale,
            amend_min_interval=settings.stops.amend_min_interval,
            # waits for the venue actor, which takes wall time under a replay clock like the deadline above
            backstop_grace=settings.stops.backstop_grace * machinery_scale,
            backstop_margin=settings.stops.backstop_margin,
            metrics=metrics,
            reconcile_wait=_RECONCILE_WAIT * machinery_scale,
        ),
        ChildSpec.actor(
            "reconciler",
            Reconciler,
            policy=ForeignOrderPolicy(settings.reconcile.unknown_orders),
            interval=settings.reconcile.interval,
            grace=settings.reconcile.grace * machinery_scale,
            **_live_view(live),
        ),
    ]
    return ChildSpec.supervisor("core", children, CORE_POLICY)


def _live_venue(settings: Settings, live: LiveParts) -> ChildSpec:
    return ChildSpec.actor(
        "venue",
        LiveVenue,
        settings.kraken.ws_auth_url,
        live.api,
        live.orders,
        breaker=live.orders_breaker,
        timeout=live.order_timeout,
        ws_options=live.ws_options,
        on_client=live.on_client,
        in_flight=live.in_flight,
    )


def _live_view(live: LiveParts | None) -> dict[str, Any]:
    """The reconciler's venue view: Kraken's account over REST when live, the venue actor's snapshot on paper."""
    if live is None:
        return {}
    return {
        "view_source": live.view,
        "gateway": live.private,
        "breaker": live.private_breaker,
        "view_timeout": live.view_timeout,
    }


def market_tree(
    settings: Settings,
    instruments: Mapping[str, Instrument],
    *,
    metrics: Metrics,
    history: KrakenHistory | None = None,
    feed: FeedOptions | None = None,
    on_feed_client: Callable[[WsClient], None] | None = None,
    catalog: Catalog | None = None,
) -> ChildSpec:
    """Market data, candles and strategies under one one_for_one supervisor: each restarts alone.

    `history`: Kraken's REST history for the candles' backfill at start (None: candles from live trades only).
    `feed`: the feed's options (None: the configured book depth and the defaults). `catalog`: the one the feed keeps
    current from the instrument channel (None: one of `instruments`)."""
    timeframe = settings.strategy.frame
    symbols = tuple(instruments)
    children = [
        ChildSpec.actor(
            "feed",
            Feed,
            settings.kraken.ws_url,
            symbols,
            catalog if catalog is not None else Catalog(instruments.values()),
            options=feed or FeedOptions(depth=settings.execution.book_depth),
            catalog_cache=None,
            metrics=metrics,
            on_client=on_feed_client,
        ),
        ChildSpec.actor(
            "candles",
            CandleBuffer,
            symbols,
            timeframe,
            atr_period=settings.strategy.atr_period,
            backfill=history.candles if history is not None else None,
            gateway=history.gateway if history is not None else None,
            breaker=history.breaker if history is not None else None,
        ),
        ChildSpec.actor(
            "strategy",
            StrategyActor,
            symbols,
            strategy_params(settings.strategy),
            {s: i.price_increment for s, i in instruments.items()},
            timeframe,
            costs=trade_costs(settings, instruments),
            min_stop_cost_multiple=settings.risk.min_stop_cost_multiple,
            metrics=metrics,
        ),
    ]
    return ChildSpec.supervisor("market", children, MARKET_POLICY)
