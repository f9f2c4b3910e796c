"""The feed: one Kraken WS v2 public connection, its books, and whether market data can be trusted.

Market messages (trades, book views, tickers) go straight from the receive thread to the bus: publishing never
blocks, and the conflated subscribers see only the newest book per symbol. Connection and book-sync changes
come to the actor, which publishes `FeedHealth`: fresh only while connected with every book in sync, and why not
(while the line is down, the last attempt's error, so that `/readyz` says "attempt 8 failed: ... Name or service
not known" rather than "starting"). The instrument channel keeps the catalog (and its disk cache) current, and a
traded symbol's status change (Kraken halting an xStock outside market hours, a pair going `cancel_only`) is published
as `InstrumentStatusChanged`, once per change, for the desk to act on.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from loguru import logger

from crocbot.actors.base import ChildContext, SupervisedActor
from crocbot.core.clock import SystemClock
from crocbot.core.messages import Candle, FeedHealth, InstrumentStatusChanged, Ticker, Trade
from crocbot.core.messages.market import BookView
from crocbot.kraken.instruments import Catalog
from crocbot.kraken.reconnect import Backoff
from crocbot.kraken.wire import BookResync, ConnectionState, InstrumentUpdate, Malformed
from crocbot.kraken.ws import Recorder, Subscription, WsClient
from crocbot.ops.metrics import METRICS, Metrics

__all__ = ["Feed", "FeedOptions"]

_MARKET = (Trade, BookView, Ticker, Candle)
_CHANNELS = {BookView: "book", Trade: "trade", Ticker: "ticker", Candle: "ohlc", InstrumentUpdate: "instrument"}
_FRAMES = "crocbot_feed_frames_total"


@dataclass(frozen=True, slots=True)
class FeedOptions:
    depth: int = 25
    stale_after: float = 10.0  # wall seconds without a frame (Kraken sends heartbeats when idle)
    backoff_initial: float = 0.5
    backoff_max: float = 30.0


@dataclass(frozen=True, slots=True)
class _BookInSync:
    symbol: str


# What `handle` acts on; the rest (`| object`) falls through to the base actor, which logs and ignores it.
_Handled = ConnectionState | BookResync | _BookInSync | InstrumentUpdate


class Feed(SupervisedActor):
    def __init__(
        self,
        ctx: ChildContext,
        url: str,
        symbols: Sequence[str],
        catalog: Catalog,
        *,
        options: FeedOptions | None = None,
        catalog_cache: Path | None = None,
        recorder: Recorder | None = None,
        metrics: Metrics = METRICS,
        on_client: Callable[[WsClient], None] | None = None,
    ) -> None:
        """`on_client` hears of each new connection client (a lockstep simulation watches its frame count)."""
        super().__init__(ctx)
        self._on_client = on_client
        self._url = url
        self._symbols = tuple(symbols)
        self._catalog = catalog
        self._options = options or FeedOptions()
        self._catalog_cache = catalog_cache
        self._recorder = recorder
        self._metrics = metrics
        self._frames = {kind: metrics.counter(_FRAMES, labels={"channel": c}) for kind, c in _CHANNELS.items()}
        self._client: WsClient | None = None
        self._connected = False
        self._ever_connected = False
        self._out_of_sync: set[str] = set(self._symbols)
        self._health: tuple[bool, str] | None = None  # the last published (fresh, why)
        self._failed_attempts = 0  # connections that failed or ended since the line was last up
        self._last_error = ""  # why the last of them ended
        self._resyncing: set[str] = set(self._symbols)  # touched only by the receive thread

    def started(self) -> None:
        options = self._options
        symbols = self._symbols
        self._client = WsClient(
            self._url,
            [
                Subscription("instrument", params={"include_tokenized_assets": True}),
                Subscription("book", symbols, {"depth": options.depth}),
                Subscription("trade", symbols),
                Subscription("ticker", symbols),
            ],
            self._on_ws,
            name="feed",
            catalog=self._catalog,
            clock=SystemClock(),  # connection health is wall-clock whatever the event clock does
            backoff=Backoff(initial=options.backoff_initial, maximum=options.backoff_max),
            stale_after=options.stale_after,
            recorder=self._recorder,
            view_levels=options.depth,
        )
        if self._on_client is not None:
            self._on_client(self._client)
        self._publish_health("starting")
        self._client.start()

    def stopping(self) -> None:
        if self._client is not None:
            self._client.stop()

    def crashed(self, error: BaseException) -> None:
        self.stopping()

    @property
    def client(self) -> WsClient | None:
        return self._client

    # -- the receive thread ---------------------------------------------------------------------------

    def _on_ws(self, message: object) -> None:
        """Runs in the WS receive thread: publish market data, hand state changes to the actor, never block."""
        kind = type(message)
        frames = self._frames.get(kind)
        if frames is not None:
            frames.inc()
        if kind in _MARKET:
            if isinstance(message, BookView):
                symbol = message.symbol
                if symbol in self._resyncing:
                    self._resyncing.discard(symbol)
                    self._tell(_BookInSync(symbol))
            self.services.bus.publish(message)
        elif isinstance(message, BookResync):
            self._resyncing.add(message.symbol)
            self._tell(message)
        elif kind in (ConnectionState, InstrumentUpdate):
            self._tell(message)
        elif kind is Malformed:
            self._metrics.inc("crocbot_feed_malformed_total")

    def _tell(self, message: object) -> None:
        try:
            self.actor_ref.tell(message)
        except Exception:  # noqa: BLE001 - the actor is stopping; its successor resubscribes
            return

    # -- the actor ------------------------------------------------------------------------------------

    def handle(self, message: _Handled | object) -> Any:
        if isinstance(message, ConnectionState):
            self._connected = message.state == "connected"
            if self._connected:
                if self._ever_connected:  # every connection after this instance's first is a reconnect
                    self._metrics.inc("crocbot_feed_reconnects_total")
                self._ever_connected = True
                self._failed_attempts = 0
            else:
                self._failed_attempts += 1
                self._last_error = message.reason
                self._out_of_sync = set(self._symbols)
                self._metrics.inc("crocbot_feed_disconnects_total")
                logger.warning("feed {}: {}", message.state, message.reason)
            self._publish_health(message.reason)
        elif isinstance(message, BookResync):
            self._out_of_sync.add(message.symbol)
            if message.reason != "subscribing":  # a (re)connection's first subscription is no resync
                self._metrics.inc("crocbot_book_resyncs_total", labels={"symbol": message.symbol})
            if message.reason == "checksum mismatch":
                self._metrics.inc("crocbot_checksum_mismatches_total", labels={"symbol": message.symbol})
            self._publish_health(f"{message.symbol}: {message.reason}")
        elif isinstance(message, _BookInSync):
            self._out_of_sync.discard(message.symbol)
            self._publish_health(f"{message.symbol} in sync")
        elif isinstance(message, InstrumentUpdate):
            before = self._statuses()
            self._catalog.update_from_ws({"assets": message.assets, "pairs": message.pairs})
            if self._catalog_cache is not None:
                self._catalog.save(self._catalog_cache)
            now = self.clock.now()
            for symbol, status in self._statuses().items():
                previous = before.get(symbol)
                if previous is not None and status != previous:
                    self.services.bus.publish(InstrumentStatusChanged(symbol, status, previous, now))
        else:
            return super().handle(message)
        return None

    def _statuses(self) -> dict[str, str]:
        return {s: i.status for s in self._symbols if (i := self._catalog.get(s)) is not None}

    def _publish_health(self, reason: str) -> None:
        """Publish when freshness or its explanation changed: every failed attempt updates the why."""
        fresh = self._connected and not self._out_of_sync
        if fresh:
            why = "connected, every book in sync"
        elif self._connected:
            why = f"books out of sync: {', '.join(sorted(self._out_of_sync))}"
        elif self._failed_attempts:
            why = f"not connected: attempt {self._failed_attempts} failed: {self._last_error}"
        else:
            why = f"not connected: {reason}"
        if (fresh, why) == self._health:
            return
        self._health = (fresh, why)
        self._metrics.set("crocbot_feed_fresh", 1.0 if fresh else 0.0)
        self.services.bus.publish(
            FeedHealth(fresh, why, self.clock.now(), self._connected, tuple(sorted(self._out_of_sync)))
        )
