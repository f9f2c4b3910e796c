"""One Kraken WS v2 connection, kept alive: connect, subscribe, read, check books, detect staleness, reconnect.

The receive thread parses each frame, applies book updates to its L2 books, and hands every message to
`on_message`, which must not block (crocbot's feed publishes to the bus). It never waits on a downstream actor.

- Subscriptions are batched: one request per channel carrying every symbol; Kraken acks once per symbol.
- A book whose checksum fails is unsubscribed and subscribed again for a fresh snapshot; until then it is out
  of use and its updates are ignored. A snapshot that has not come `snapshot_timeout` seconds after its
  subscribe (a lost answer on a line that otherwise lives) is asked for again; three misses in a row drop the line.
  Both are logged (WARNING) with the symbol and what the client does about it, at most once per `log_every`
  seconds per symbol and condition: a book failing every second must be visible, not fill the log.
- No frame for `stale_after` seconds (Kraken sends a heartbeat every second when idle) means a dead connection.
  An application `ping` goes out every `ping_every` seconds.
- Reconnects back off with jitter and stay within a connection budget (Kraken's IP ban). Close code 1008
  (policy violation) is terminal. After every reconnect everything is subscribed again, books from fresh
  snapshots; a private connection fetches a fresh token first.
"""

from __future__ import annotations

import contextlib
import itertools
import struct
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import websocket
from loguru import logger

from crocbot.core.clock import Clock, SystemClock
from crocbot.core.messages import BookUpdate
from crocbot.core.messages.market import BookView
from crocbot.core.throttle import Throttle
from crocbot.kraken.book import Apply, L2Book
from crocbot.kraken.codec import Codec
from crocbot.kraken.instruments import Catalog
from crocbot.kraken.jsontext import dumps
from crocbot.kraken.reconnect import Backoff, ConnectBudget
from crocbot.kraken.wire import Ack, BookResync, ConnectionState
from crocbot.ops.redact import redact

__all__ = ["Subscription", "WsClient", "WsStats", "POLICY_VIOLATION"]

POLICY_VIOLATION = 1008
_PRIVATE_CHANNELS = frozenset({"executions", "balances"})
_SNAPSHOT_MISSES = 3  # overdue snapshots of one book in a row before the connection itself is suspect


@dataclass(frozen=True, slots=True)
class Subscription:
    channel: str
    symbols: tuple[str, ...] = ()
    params: Mapping[str, Any] = field(default_factory=dict)  # depth, interval, snapshot, include_tokenized_assets...


@dataclass(slots=True)
class WsStats:
    connects: int = 0
    disconnects: int = 0
    book_resubscribes: int = 0
    checksum_mismatches: int = 0
    stale_disconnects: int = 0
    snapshot_timeouts: int = 0  # books resubscribed (or the line dropped) because their snapshot never came
    subscribe_errors: int = 0
    last_frame_at: float = 0.0
    session_frames: int = 0  # frames fully handled on the current connection (a lockstep driver compares it)


Recorder = Callable[[str, str], None]  # (direction "in" | "out", exact text frame)


class WsClient:
    def __init__(
        self,
        url: str,
        subscriptions: Sequence[Subscription],
        on_message: Callable[[object], None],
        *,
        name: str = "ws",
        catalog: Catalog | None = None,
        token_provider: Callable[[], str] | None = None,
        clock: Clock | None = None,
        backoff: Backoff | None = None,
        budget: ConnectBudget | None = None,
        stale_after: float = 10.0,
        snapshot_timeout: float | None = None,
        ping_every: float = 20.0,
        read_timeout: float = 0.5,
        connect_timeout: float = 10.0,
        view_levels: int = 10,
        recorder: Recorder | None = None,
        log_every: float = 30.0,
    ) -> None:
        self.url = url
        self.name = name
        self._subscriptions = tuple(subscriptions)
        self._on_message = on_message
        self._catalog = catalog or Catalog()
        self._token_provider = token_provider
        self._clock = clock or SystemClock()
        self._backoff = backoff or Backoff()
        self._budget = budget or ConnectBudget()
        self._stale_after = stale_after
        # A subscription whose snapshot never comes (a lost ack or snapshot) leaves a book dark on a live line.
        self._snapshot_timeout = stale_after if snapshot_timeout is None else snapshot_timeout
        self._awaiting: dict[str, float] = {}  # book symbol -> when its snapshot was asked for (monotonic)
        self._snapshot_misses: dict[str, int] = {}  # consecutive timeouts per book on this connection
        self._ping_every = ping_every
        self._read_timeout = read_timeout
        self._connect_timeout = connect_timeout
        self._view_levels = view_levels
        self._recorder = recorder
        self._reports = Throttle(log_every)  # touched only by the receive thread
        self._codec = Codec(now=self._clock.now)
        self._req_ids = itertools.count(1)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._ws: websocket.WebSocket | None = None
        self._token: str | None = None
        self._send_lock = threading.Lock()
        self.stats = WsStats()
        self.connected = threading.Event()
        self.terminal: str | None = None
        self.books: dict[str, L2Book] = {}
        self._book_subscription: dict[str, Subscription] = {}
        for sub in self._subscriptions:
            if sub.channel == "book":
                for symbol in sub.symbols:
                    self._book_subscription[symbol] = sub

    @property
    def codec(self) -> Codec:
        return self._codec

    # -- lifecycle ------------------------------------------------------------------------------------

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name=f"{self.name}-recv", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        ws = self._ws
        if ws is not None:
            with contextlib.suppress(websocket.WebSocketException, OSError):
                ws.close(timeout=1)
        if self._thread is not None:
            self._thread.join(timeout)

    def request(self, method: str, params: Mapping[str, Any] | None = None) -> int:
        """Send a request (add_order, cancel_order, ...); its Ack arrives through on_message with this req_id."""
        req_id = next(self._req_ids)
        body: dict[str, Any] = {"method": method, "req_id": req_id}
        merged = dict(params or {})
        if self._token_provider is not None and self._token is not None:
            merged.setdefault("token", self._token)
        if merged:
            body["params"] = merged
        self._send(body)
        return req_id

    # -- the connection loop --------------------------------------------------------------------------

    def _run(self) -> None:
        while not self._stop.is_set():
            wait = self._budget.wait_needed(self._clock.monotonic())
            if wait > 0:
                logger.warning("{}: connection budget used up; next attempt in {:.0f}s", self.name, wait)
                if self._stop.wait(wait):
                    return
            self._budget.record(self._clock.monotonic())
            reason = self._session()
            self.connected.clear()
            self._emit(ConnectionState(self.name, "disconnected", reason, self._clock.now()))
            if self.terminal is not None:
                self._emit(ConnectionState(self.name, "terminal", self.terminal, self._clock.now()))
                return
            if self._stop.wait(self._backoff.next_delay()):
                return

    def _session(self) -> str:
        """One connection from connect to close; returns why it ended."""
        try:
            if self._token_provider is not None:
                self._token = self._token_provider()  # a fresh token for every private connection
            ws = websocket.create_connection(
                self.url, timeout=self._connect_timeout, skip_utf8_validation=True, enable_multithread=True
            )
        except Exception as error:  # noqa: BLE001 - any failure to connect is retried the same way
            return redact(f"connect failed: {type(error).__name__}: {error}")
        self._ws = ws
        self.stats.connects += 1
        self.stats.session_frames = 0
        self.stats.last_frame_at = self._clock.monotonic()
        try:
            ws.settimeout(self._read_timeout)
            for book in self.books.values():
                book.invalidate()
            self._subscribe_all()
            self.connected.set()
            self._emit(ConnectionState(self.name, "connected", self.url, self._clock.now()))
            return self._read(ws)
        except (websocket.WebSocketException, OSError) as error:
            return f"{type(error).__name__}: {error}"
        finally:
            self.stats.disconnects += 1
            self._ws = None
            with contextlib.suppress(websocket.WebSocketException, OSError):
                ws.close(timeout=1)

    def _read(self, ws: websocket.WebSocket) -> str:
        last_ping = connected_at = self._clock.monotonic()
        while not self._stop.is_set():
            now = self._clock.monotonic()
            if now - self.stats.last_frame_at > self._stale_after:
                self.stats.stale_disconnects += 1
                return f"stale: no frame for {now - self.stats.last_frame_at:.1f}s"
            if self._awaiting and (gave_up := self._chase_snapshots(now)):
                return gave_up
            if now - last_ping >= self._ping_every:
                self._send({"method": "ping", "req_id": next(self._req_ids)})
                last_ping = now
            if now - connected_at > 60:
                self._backoff.reset()  # a connection that lived a minute earns a fresh backoff
            try:
                opcode, frame = ws.recv_data_frame(control_frame=False)
            except websocket.WebSocketTimeoutException:
                continue
            if opcode == websocket.ABNF.OPCODE_CLOSE:
                code = struct.unpack("!H", frame.data[:2])[0] if len(frame.data) >= 2 else 1005
                text = frame.data[2:].decode("utf-8", "replace")
                if code == POLICY_VIOLATION:
                    self.terminal = f"closed by the server with 1008 (policy violation): {text}"
                return f"closed by the server: {code} {text}".strip()
            self.stats.last_frame_at = self._clock.monotonic()
            try:
                text = frame.data.decode("utf-8")  # strict: the socket skipped validation, crocbot does not
            except UnicodeDecodeError:
                self._handle(self._codec.decode(b"\xff"))
                self.stats.session_frames += 1
                continue
            if self._recorder is not None:
                self._recorder("in", text)
            self._handle(self._codec.decode(text))
            self.stats.session_frames += 1
        return "stopped"

    # -- messages -------------------------------------------------------------------------------------

    def _handle(self, messages: list[object]) -> None:
        for message in messages:
            if type(message) is BookUpdate:
                self._apply_book(message)
                continue
            if type(message) is Ack and not message.success and message.method == "subscribe":
                self.stats.subscribe_errors += 1
                logger.error("{}: subscription refused: {} ({})", self.name, message.error, message.symbol or "")
            self._emit(message)

    def _apply_book(self, update: BookUpdate) -> None:
        book = self.books.get(update.symbol)
        if book is None:
            return
        if update.snapshot:
            self._awaiting.pop(update.symbol, None)
            self._snapshot_misses.pop(update.symbol, None)
        result = book.apply(update)
        if result is Apply.OK:
            self._emit(
                BookView(
                    update.symbol,
                    tuple(book.bids(self._view_levels)),
                    tuple(book.asks(self._view_levels)),
                    update.ts,
                )
            )
        elif result is Apply.MISMATCH:
            self.stats.checksum_mismatches += 1
            expected, computed = update.checksum, book.checksum()
            self._report(
                "checksum mismatch",
                update.symbol,
                f"{self.name}: {update.symbol} book checksum mismatch (Kraken sent {expected}, the book computes "
                f"{computed}): resubscribing for a fresh snapshot; the book is out of use until it comes",
                expected=expected,
                computed=computed,
            )
            self._emit(BookResync(update.symbol, "checksum mismatch"))
            self._resubscribe_book(update.symbol)

    def _chase_snapshots(self, now: float) -> str | None:
        """Resubscribe each book whose snapshot is overdue; after three misses in a row, give up the connection."""
        for symbol, since in list(self._awaiting.items()):
            if now - since <= self._snapshot_timeout:
                continue
            self.stats.snapshot_timeouts += 1
            misses = self._snapshot_misses[symbol] = self._snapshot_misses.get(symbol, 0) + 1
            if misses >= _SNAPSHOT_MISSES:
                return f"no book snapshot for {symbol} after {misses} subscriptions"
            self._report(
                "snapshot overdue",
                symbol,
                f"{self.name}: no book snapshot for {symbol} within {now - since:.1f}s: resubscribing (the line is "
                f"dropped after {_SNAPSHOT_MISSES} misses in a row; this was miss {misses})",
            )
            self._emit(BookResync(symbol, "snapshot overdue"))  # a resync like a mismatch's: counted, book out of use
            self._resubscribe_book(symbol)
        return None

    def _report(self, condition: str, symbol: str, text: str, **context: object) -> None:
        """A WARNING for a book's trouble, throttled per (condition, symbol); the line counts those held back."""
        held = self._reports.admit((condition, symbol), self._clock.monotonic())
        if held is None:
            return
        more = f" ({held} more since the last report)" if held else ""
        logger.bind(symbol=symbol, condition=condition, held_back=held, **context).warning("{}{}", text, more)

    def _resubscribe_book(self, symbol: str) -> None:
        sub = self._book_subscription[symbol]
        self.stats.book_resubscribes += 1
        self._awaiting[symbol] = self._clock.monotonic()
        params = {"channel": "book", "symbol": [symbol], "depth": sub.params.get("depth", 10)}
        self._send({"method": "unsubscribe", "params": params, "req_id": next(self._req_ids)})
        self._send({"method": "subscribe", "params": {**params, **sub.params}, "req_id": next(self._req_ids)})

    def _subscribe_all(self) -> None:
        self._awaiting.clear()
        self._snapshot_misses.clear()
        for sub in self._subscriptions:
            params: dict[str, Any] = {"channel": sub.channel, **sub.params}
            if sub.symbols:
                params["symbol"] = list(sub.symbols)
            if sub.channel in _PRIVATE_CHANNELS and self._token is not None:
                params["token"] = self._token
            if sub.channel == "book":
                depth = int(sub.params.get("depth", 10))
                for symbol in sub.symbols:
                    instrument = self._catalog.get(symbol)
                    book = self.books.get(symbol)
                    if book is None:
                        book = L2Book(
                            symbol,
                            depth,
                            price_precision=instrument.price_precision if instrument else None,
                            qty_precision=instrument.qty_precision if instrument else None,
                        )
                        self.books[symbol] = book
                    book.invalidate()
                    self._awaiting[symbol] = self._clock.monotonic()
                    self._emit(BookResync(symbol, "subscribing"))
            self._send({"method": "subscribe", "params": params, "req_id": next(self._req_ids)})

    def _send(self, body: Mapping[str, Any]) -> None:
        ws = self._ws
        if ws is None:
            raise websocket.WebSocketConnectionClosedException("not connected")
        text = dumps(dict(body))
        with self._send_lock:
            ws.send(text)
        if self._recorder is not None:
            token = self._token
            self._recorder("out", text.replace(token, "***") if token else text)  # a token never reaches a file

    def _emit(self, message: object) -> None:
        try:
            self._on_message(message)
        except Exception:  # noqa: BLE001 - a broken consumer must not kill the receive thread
            logger.opt(exception=True).error("{}: on_message failed for {}", self.name, type(message).__name__)
