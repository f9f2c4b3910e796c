"""The simulator's WebSocket endpoints (public `/v2`, private `/auth/v2`) on 127.0.0.1.

Each connection has one ordered outbound queue and one writer thread, so acks, snapshots and updates leave in the
order they were produced, and the faults of the plan are applied where a real network would apply them: frames
dropped, duplicated, delayed, malformed, a book's checksum corrupted (once per book until the client takes a
fresh snapshot, so that every corruption calls for exactly one resubscription), stalls and disconnects.
A client too slow to keep its queue under the limit is disconnected, as Kraken does.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import queue
import socket
import threading
import time
from collections import Counter, deque
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from loguru import logger
from websockets.exceptions import ConnectionClosed
from websockets.sync.server import Server, ServerConnection, serve

from crocbot.kraken.jsontext import dumps
from crocbot.sim.bookmaker import BookData
from crocbot.sim.faults import FaultPlan
from crocbot.sim.frames import HEARTBEAT_FRAME, book_frame, status_frame
from crocbot.sim.ws_api import handle_request, with_ratecount

if TYPE_CHECKING:
    from crocbot.sim.accounts import Account
    from crocbot.sim.exchange import Exchange

__all__ = ["SimWsServer", "Session"]

_QUEUE_LIMIT = 200_000
_HEARTBEAT_EVERY = 1.0
_CLOSE = object()
_connection_ids = itertools.count(13_834_774_380_200_032_777)  # Kraken's ids are u64s beyond int64


class Session:
    def __init__(self, server: SimWsServer, connection: ServerConnection, *, private: bool) -> None:
        self.server = server
        self.connection = connection
        self.private = private
        self.account: Account | None = None
        self.token: str | None = None  # the token of this connection's private subscription: valid while it is up
        self.ratecounter = False  # `executions` subscribed with `ratecounter: true`
        self.connection_id = next(_connection_ids)
        self._subs: dict[str, set[str]] = {}
        self.corrupted: set[str] = set()  # books whose last frame had a bad checksum, until their next snapshot
        self._queue: queue.Queue[str | object] = queue.Queue(maxsize=_QUEUE_LIMIT)
        self.closed = threading.Event()
        self.sent = 0  # frames written to the socket, heartbeats included
        self.enqueued = 0  # frames queued for the client; `settled` catches up once each is sent or dropped
        self.settled = 0
        self._count_lock = threading.Lock()  # the market driver and the request handler both enqueue

    def subscribe(self, key: str, symbol: str) -> None:
        self._subs.setdefault(key, set()).add(symbol)
        if key.startswith("book:"):
            self.corrupted.discard(symbol)

    def unsubscribe(self, key: str, symbol: str) -> None:
        self._subs.get(key, set()).discard(symbol)

    def subscribed(self, key: str, symbol: str) -> bool:
        return symbol in self._subs.get(key, ())

    @property
    def backlog(self) -> int:
        return self._queue.qsize()

    @property
    def idle(self) -> bool:
        """Every queued frame is on the wire or dropped (a lockstep driver then compares `sent` with the client)."""
        return self.settled == self.enqueued

    def enqueue(self, frame: str | object) -> None:
        counted = 1 if isinstance(frame, str) else 0
        with self._count_lock:
            self.enqueued += counted  # before the writer can see it, so `idle` is never true too early
        try:
            self._queue.put_nowait(frame)
        except queue.Full:
            with self._count_lock:
                self.enqueued -= counted
            logger.warning("simulator: a client fell {} frames behind; disconnecting it", _QUEUE_LIMIT)
            self.close()

    def close(self, code: int = 1001, reason: str = "CloudFlare WebSocket proxy restarting") -> None:
        """Close with a close frame, without waiting for the handshake (the caller may be the market driver)."""
        if self.closed.is_set():
            return
        self.closed.set()
        threading.Thread(target=self._close, args=(code, reason), name="sim-ws-close", daemon=True).start()

    def _close(self, code: int, reason: str) -> None:
        with contextlib.suppress(ConnectionClosed, OSError, RuntimeError):
            self.connection.close(code, reason)

    def write(self, faults: FaultPlan) -> None:
        """The writer loop: send queued frames (faults applied) and a heartbeat when idle."""
        last = time.monotonic()
        while not self.closed.is_set():
            try:
                frame = self._queue.get(timeout=0.2)
            except queue.Empty:
                frame = None
            if frame is _CLOSE:
                return
            queued = isinstance(frame, str)
            try:
                if faults.link_stalled(self.private):
                    continue  # a stalled link delivers nothing, heartbeats included
                if frame is None:
                    if not self._subs or time.monotonic() - last < _HEARTBEAT_EVERY:
                        continue
                    frame = HEARTBEAT_FRAME
                assert isinstance(frame, str)
                if not self._send(frame, faults):
                    return
                last = time.monotonic()
            finally:
                if queued:
                    self.settled += 1

    def _send(self, frame: str, faults: FaultPlan) -> bool:
        """One frame with the configured faults; False once the connection is gone."""
        if faults.frame_delay > 0:
            time.sleep(faults.frame_delay)
        if faults.roll(faults.drop_rate):
            faults.count("drop")
            return True
        try:
            self.connection.send(frame)
            self.sent += 1
            if faults.roll(faults.duplicate_rate):
                faults.count("duplicate")
                self.connection.send(frame)
                self.sent += 1
            if faults.roll(faults.malformed_rate):
                faults.count("malformed")
                self.connection.send(frame[: max(1, len(frame) // 2)])
                self.sent += 1
        except (ConnectionClosed, OSError, RuntimeError):
            return False
        return True

    def stop_writer(self) -> None:
        self.closed.set()
        with contextlib.suppress(queue.Full):
            self._queue.put_nowait(_CLOSE)


class SimWsServer:
    def __init__(self, exchange: Exchange, faults: FaultPlan, *, host: str = "127.0.0.1", port: int = 0) -> None:
        if host not in ("127.0.0.1", "localhost", "::1"):
            raise ValueError("the simulator listens on loopback only")
        self._exchange = exchange
        self._faults = faults
        self._sessions: list[Session] = []
        self._lock = threading.Lock()
        self._server: Server = serve(
            self._handle, host, port, compression=None, ping_interval=None, max_size=2**22, logger=None, close_timeout=2
        )
        self._thread: threading.Thread | None = None
        self.connections = 0
        self.corrupted_frames: deque[str] = deque(maxlen=100_000)  # what was sent with a bad checksum, for checks
        self._lost_answers: Counter[str] = Counter()  # trading method -> answers still to lose
        self.answers_lost = 0
        faults.on_disconnect(self.disconnect_all)
        exchange.hub = self

    @property
    def port(self) -> int:
        return int(self._server.socket.getsockname()[1])

    @property
    def public_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/v2"

    @property
    def auth_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/auth/v2"

    def start(self) -> None:
        self._thread = threading.Thread(target=self._server.serve_forever, name="sim-ws", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self.disconnect_all()
        self._server.shutdown()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def sessions(self) -> list[Session]:
        """The open sessions (a closing one receives nothing more)."""
        with self._lock:
            return [s for s in self._sessions if not s.closed.is_set()]

    def disconnect_all(self) -> None:
        for session in self.sessions():
            session.close()

    def lose_answers(self, method: str, count: int = 1) -> None:
        """Carry out the next `count` private requests of `method` (add_order, cancel_order, ...) but send no answer."""
        with self._lock:
            self._lost_answers[method] += count

    def take_lost_answer(self, method: str) -> bool:
        with self._lock:
            queued = self._lost_answers[method] > 0
            if queued:
                self._lost_answers[method] -= 1
        if not queued and not (method == "add_order" and self._faults.lose_add_order()):
            return False
        with self._lock:
            self.answers_lost += 1
        return True

    def disconnect_private(self) -> None:
        """Drop the private (`/auth`) connections only, as a private WS outage does."""
        self._faults.count("private_disconnect")
        for session in self.sessions():
            if session.private:
                session.close()

    # -- per connection -------------------------------------------------------------------------------

    def _handle(self, connection: ServerConnection) -> None:
        # Many small frames: without NODELAY, Nagle and delayed ACKs cap the stream at a few hundred frames a second.
        connection.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        path = connection.request.path if connection.request is not None else "/v2"
        session = Session(self, connection, private=path.startswith("/auth"))
        with self._lock:
            self._sessions.append(session)
            self.connections += 1
        writer = threading.Thread(target=session.write, args=(self._faults,), name="sim-ws-writer", daemon=True)
        writer.start()
        session.enqueue(status_frame(session.connection_id, self._exchange.status))
        try:
            for message in connection:
                text = message if isinstance(message, str) else message.decode("utf-8", "replace")
                handle_request(self._exchange, session, text)
        except ConnectionClosed:
            pass
        finally:
            with self._lock:
                self._sessions.remove(session)
            session.stop_writer()
            writer.join(timeout=5)

    # -- the exchange's hub ---------------------------------------------------------------------------

    def wants(self, channel: str, symbol: str) -> bool:
        return any(session.subscribed(channel, symbol) for session in self.sessions())

    def publish(self, channel: str, symbol: str, frame: str) -> None:
        for session in self.sessions():
            if session.subscribed(channel, symbol):
                session.enqueue(frame)

    def publish_book(self, symbol: str, depth: int, data: BookData, ts: datetime) -> None:
        key = f"book:{depth}"
        frame: str | None = None
        for session in self.sessions():
            if not session.subscribed(key, symbol):
                continue
            if symbol not in session.corrupted and self._faults.roll(self._faults.corrupt_checksum_rate):
                session.corrupted.add(symbol)
                self._faults.count("corrupt_checksum")
                corrupted = book_frame(symbol, data, snapshot=False, ts=ts, checksum=data.checksum ^ 0x1)
                self.corrupted_frames.append(corrupted)
                session.enqueue(corrupted)
                continue
            if frame is None:
                frame = book_frame(symbol, data, snapshot=False, ts=ts)
            session.enqueue(frame)

    def publish_private(self, api_key: str, channel: str, frame: str) -> None:
        counted: str | None = None
        for session in self.sessions():
            account = session.account
            if account is None or account.api_key != api_key or not session.subscribed(channel, "*"):
                continue
            if channel == "executions" and session.ratecounter:
                if counted is None:
                    body = json.loads(frame, parse_float=Decimal)
                    counted = dumps(with_ratecount(self._exchange, account, body))
                session.enqueue(counted)
            else:
                session.enqueue(frame)
