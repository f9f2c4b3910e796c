"""The live venue for the tick-to-exit benchmark: crocbot's `LiveVenue` (orders over the private WebSocket, its
`WsTrading`) against the in-process simulator on 127.0.0.1, and the simulator's own note of when each order request
reaches it.

The live parts are the bot's own: a `Bot` in live mode is built (never started) only for them, so the benchmark
measures the wiring `crocbot run --mode live` uses, not a copy of it. The simulator lists the bench's instrument, its
book seeded around the bench's prices, and holds one funded account; its market never moves by itself, so the
venue's stops rest until the SL manager's exit cancels them. Between two round trips the bench moves the
simulator's clock on by `REST_BETWEEN` seconds, as the market's quiet minutes would: the trading rate counters (the
simulator's and the REST client's model of them, both on that clock) drain, and no cancel pays Kraken's penalty for
a young order. Latency, not Kraken's pacing, is measured.

The clock stops when the simulator's WebSocket server hands the exit's `add_order` to its request handler: the
module's `handle_request`, wrapped for the run (`noting_requests`), stamps every private request before it is
handled.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import time
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from pydantic import SecretStr

from crocbot.app import Bot, BotWiring
from crocbot.app.tree import LiveParts
from crocbot.config import Settings
from crocbot.config.model import KrakenSettings
from crocbot.core.instrument import Instrument
from crocbot.sim import ws_api, ws_server
from crocbot.sim.exchange import Exchange
from crocbot.sim.runner import SimConfig, Simulator
from crocbot.sim.ws_server import Session

__all__ = ["SimVenue", "noting_requests", "REST_BETWEEN", "OnRequest"]

API_KEY = "bench-live-key-0123456789abcdef"
API_SECRET = base64.b64encode(hashlib.sha512(b"crocbot tick-to-exit bench secret").digest()).decode()
FUNDS = {"USD": Decimal("10000000")}
REST_BETWEEN = 120.0  # simulated seconds between two round trips: the rate counters drain, no cancel is young

# the name the simulator's WS server calls at each request (imported there, not exported: set by name)
_HANDLER = "handle_request"
OnRequest = Callable[[int, str, Mapping[str, Any]], None]  # (perf_counter_ns on arrival, method, params)


@contextlib.contextmanager
def noting_requests(on_request: OnRequest) -> Iterator[None]:
    """Every private WS request, stamped as the simulator's server hands it to the handler, for the run's length."""
    handle = ws_api.handle_request

    def noting(exchange: Exchange, session: Session, text: str) -> None:
        arrived = time.perf_counter_ns()  # first: what follows is the bench's bookkeeping, not the venue's
        if session.private:
            message = json.loads(text, parse_float=Decimal)
            params = message.get("params")
            on_request(arrived, str(message.get("method")), params if isinstance(params, dict) else {})
        handle(exchange, session, text)

    setattr(ws_server, _HANDLER, noting)
    try:
        yield
    finally:
        setattr(ws_server, _HANDLER, handle)


class SimVenue:
    """The simulator with the bench's account, and the live parts of a bot in live mode that trades it."""

    def __init__(self, settings: Settings, instrument: Instrument) -> None:
        config = SimConfig(
            symbols=(instrument.symbol,), start=datetime.now(UTC), accounts={API_KEY: (API_SECRET, FUNDS)}
        )
        self.simulator = Simulator(config, instruments=(instrument,)).start(drive=False)
        try:
            live = settings.model_copy(
                update={
                    "mode": "live",
                    "kraken_api_key": SecretStr(API_KEY),
                    "kraken_api_secret": SecretStr(API_SECRET),
                    "kraken": KrakenSettings(
                        ws_url=self.simulator.ws_url,
                        ws_auth_url=self.simulator.ws_auth_url,
                        rest_url=self.simulator.rest_url,
                    ),
                }
            )
            # the REST client's rate model on the simulator's clock, as the simulator counts (`REST_BETWEEN`)
            self.bot = Bot(live, {instrument.symbol: instrument}, BotWiring(rest_clock=self.simulator.clock))
        except BaseException:
            self.simulator.stop()
            raise
        assert self.bot.live is not None
        self.parts: LiveParts = self.bot.live
        self.settings = live

    def start(self) -> None:
        """The live gateways, before the tree that calls them starts."""
        self.parts.orders.start()
        self.parts.private.start()

    def rest(self) -> None:
        """The market's quiet minutes between two round trips (`REST_BETWEEN`)."""
        self.simulator.clock.advance(REST_BETWEEN)

    def close(self) -> None:
        self.parts.orders.stop()
        self.parts.private.stop()
        self.simulator.stop()
