"""The composition root: builds the bot's supervision tree from the settings and runs it until told to stop.

    root (one_for_one)
    ├── watchdog                 heartbeats every actor; a hung one is restarted
    ├── health                   bus events -> the health board behind /healthz, /readyz, /metrics
    ├── core (rest_for_one)      the money path, in dependency order: a restart takes the later ones with it
    │   ├── persistence          the journal and the trade log (the only writer)
    │   ├── venue                the paper venue (paper mode): Kraken as seen from the bot
    │   ├── router               the only writer of orders; rebuilds itself from the journal on start
    │   ├── sl_manager           stops on every tick
    │   └── reconciler           books against the venue: at start (not ready until done), periodically
    └── market (one_for_one)     market data, candles and strategies: each restarts alone
        ├── feed, candles, strategy

The core starts before the market, so the router and the SL manager listen before the first price arrives.
Exchange calls (REST backfill) go through a gateway and a circuit breaker; an open breaker is safe mode.

- `tree`: the tree from the settings; `core_tree` builds the money path alone (the tick-to-exit benchmark runs it);
- `bot`: `Bot`, the running bot (runtime, REST gateway, health server), and `BotWiring`, what its callers vary;
- `kraken_history`: the REST calls for the past (the candles' backfill, the paper venue's catch-up);
- `instruments`: `load_instruments`, the configured symbols' instruments from Kraken or the cached catalog;
- `run`: `run_bot`, `crocbot run` from start to exit code; `preflight`, the live preflight it runs first.
"""

from crocbot.app.bot import WATCHDOG_TIMEOUT, Bot, BotWiring
from crocbot.app.instruments import CATALOG_FILE, load_instruments
from crocbot.app.run import preflight, run_bot
from crocbot.app.tree import ACTOR_NAMES, BACKUP_DIR, CORE_POLICY, ROOT_POLICY, core_tree, market_tree
from crocbot.startup import JOURNAL_FILE, TRADE_LOG_FILE, StartupError

__all__ = [
    "Bot",
    "BotWiring",
    "StartupError",
    "load_instruments",
    "run_bot",
    "preflight",
    "core_tree",
    "market_tree",
    "ROOT_POLICY",
    "CORE_POLICY",
    "ACTOR_NAMES",
    "WATCHDOG_TIMEOUT",
    "JOURNAL_FILE",
    "TRADE_LOG_FILE",
    "CATALOG_FILE",
    "BACKUP_DIR",
]
