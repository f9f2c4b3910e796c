"""What `/healthz`, `/readyz` and `/metrics` answer, and the small HTTP server that answers it.

The board is fed by the health actor from bus events and read by the HTTP threads; it lives outside the actor
tree, so a restarting health actor loses nothing and a hung actor never blocks a probe (the server asks no
actor anything). Liveness: every actor of the tree is running and the tree has not given up. Readiness:
liveness, the feed connected with every book in sync, the start-up reconciliation done, the paper venue caught
up with the prints it missed while crocbot was down, every circuit breaker closed and safe mode off. Each answer
is JSON naming the checks that fail.
"""

from __future__ import annotations

import json
import threading
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from crocbot.actors.directory import Directory
from crocbot.core.messages import (
    ActorEscalated,
    ActorExited,
    ActorRestarted,
    BreakerState,
    BreakerStateChanged,
    FeedHealth,
    PrivateWsHealth,
    SafeModeChanged,
    StartupReconciled,
    VenueCatchUp,
)
from crocbot.ops.metrics import METRICS, Metrics

__all__ = ["Check", "HealthBoard", "HealthServer", "BREAKER_LEVEL"]

BREAKER_LEVEL = {BreakerState.CLOSED: 0.0, BreakerState.HALF_OPEN: 1.0, BreakerState.OPEN: 2.0}
_EVENTS_KEPT = 50


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    ok: bool
    detail: str


class HealthBoard:
    def __init__(
        self, expected: Sequence[str], directory: Directory, *, metrics: Metrics = METRICS, live: bool = False
    ) -> None:
        """`live`: the private WS is part of readiness (paper mode has none)."""
        self._expected = tuple(expected)
        self._private: PrivateWsHealth | None = None
        self._live = live
        self._directory = directory
        self._metrics = metrics
        self._lock = threading.Lock()
        self._feed: FeedHealth | None = None
        self._safe: tuple[str, ...] = ()
        self._breakers: dict[str, BreakerState] = {}
        self._reconciled: StartupReconciled | None = None
        self._catch_up: VenueCatchUp | None = None  # the paper venue's last word on its catch-up, if it had one
        self._escalated: str | None = None
        self._restarts: dict[str, int] = {}
        self._down: dict[str, str] = {}  # children that exited for good, and why
        self._events: deque[tuple[datetime, str]] = deque(maxlen=_EVENTS_KEPT)

    # -- updates (the health actor's thread) ----------------------------------------------------------

    def on_feed(self, health: FeedHealth) -> None:
        with self._lock:
            self._feed = health

    def on_private_ws(self, health: PrivateWsHealth) -> None:
        with self._lock:
            self._private = health

    def on_safe_mode(self, changed: SafeModeChanged) -> None:
        with self._lock:
            self._safe = changed.reasons
        self._metrics.set("crocbot_safe_mode", 1.0 if changed.on else 0.0)

    def on_breaker(self, changed: BreakerStateChanged) -> None:
        with self._lock:
            self._breakers[changed.name] = changed.current
        self._metrics.set(
            "crocbot_breaker_state",
            BREAKER_LEVEL[changed.current],
            labels={"breaker": changed.name},
        )

    def on_restart(self, restarted: ActorRestarted) -> None:
        with self._lock:
            self._restarts[restarted.name] = self._restarts.get(restarted.name, 0) + 1
            self._down.pop(restarted.name, None)
        self._metrics.inc("crocbot_actor_restarts_total", labels={"actor": restarted.name})

    def on_exited(self, exited: ActorExited) -> None:
        with self._lock:
            self._down[exited.name] = exited.reason

    def on_escalated(self, escalated: ActorEscalated) -> None:
        with self._lock:
            self._escalated = f"{escalated.supervisor}: {escalated.reason}"

    def on_reconciled(self, reconciled: StartupReconciled | None) -> None:
        """None: reconciling again (the money path restarted), so not ready until it is done."""
        with self._lock:
            self._reconciled = reconciled

    def on_catch_up(self, catch_up: VenueCatchUp) -> None:
        with self._lock:
            self._catch_up = catch_up

    def note(self, ts: datetime, text: str) -> None:
        with self._lock:
            self._events.append((ts, text))

    # -- reads (any thread) ---------------------------------------------------------------------------

    def events(self) -> list[tuple[datetime, str]]:
        with self._lock:
            return list(self._events)

    @property
    def escalation(self) -> str | None:
        """The last supervisor that gave up, and why (None while none has): sticky for the life of the process."""
        with self._lock:
            return self._escalated

    @property
    def safe_reasons(self) -> tuple[str, ...]:
        with self._lock:
            return self._safe

    def liveness(self) -> list[Check]:
        checks = []
        for name in self._expected:
            entry = self._directory.entry(name)
            alive = entry is not None and entry.ref.is_alive()
            with self._lock:
                why = self._down.get(name, "not running (starting or restarting)")
            checks.append(Check(f"actor:{name}", alive, "running" if alive else why))
        with self._lock:
            escalated = self._escalated
        checks.append(Check("supervision", escalated is None, escalated or "every supervisor within its limits"))
        return checks

    def readiness(self) -> list[Check]:
        with self._lock:
            feed, safe, reconciled, catch_up = self._feed, self._safe, self._reconciled, self._catch_up
            private = self._private
            open_breakers = sorted(n for n, s in self._breakers.items() if s is not BreakerState.CLOSED)
        alive = self.liveness()
        dead = [c.name.removeprefix("actor:") for c in alive if not c.ok]
        # live only: while it is down orders go over REST and fills come by reconciliation; trading goes on, slower
        private_ws = (
            [
                Check(
                    "private_ws_connected",
                    private is not None and private.connected,
                    "no private WS report yet" if private is None else private.reason,
                )
            ]
            if self._live
            else []
        )
        return [
            Check("alive", not dead, "every actor running" if not dead else "down: " + ", ".join(dead)),
            Check(
                "feed_connected",
                feed is not None and feed.connected,
                "no feed report yet" if feed is None else feed.reason,
            ),
            Check(
                "books_in_sync",
                feed is not None and feed.connected and not feed.out_of_sync,
                "no feed report yet"
                if feed is None
                else ("out of sync: " + ", ".join(feed.out_of_sync) if feed.out_of_sync else "every book in sync"),
            ),
            Check(
                "reconciled",
                reconciled is not None,
                reconciled.summary if reconciled is not None else "start-up reconciliation not done yet",
            ),
            Check(
                "venue_caught_up",
                catch_up is None or catch_up.done,
                "nothing to catch up" if catch_up is None else catch_up.summary,
            ),
            Check(
                "breakers_closed",
                not open_breakers,
                "open: " + ", ".join(open_breakers) if open_breakers else "every breaker closed",
            ),
            *private_ws,
            Check("not_safe_mode", not safe, "safe mode: " + "; ".join(safe) if safe else "entries allowed"),
        ]


def _body(key: str, checks: list[Check]) -> tuple[bool, dict[str, Any]]:
    ok = all(c.ok for c in checks)
    return ok, {
        key: ok,
        "failing": [c.name for c in checks if not c.ok],
        "checks": {c.name: {"ok": c.ok, "detail": c.detail} for c in checks},
    }


def _marked(answer: tuple[bool, dict[str, Any]], mark: dict[str, str]) -> tuple[bool, dict[str, Any]]:
    ok, payload = answer
    return ok, payload | mark


class HealthServer:
    """`/healthz`, `/readyz` (200 or 503, JSON) and `/metrics` (Prometheus text) on a daemon thread."""

    def __init__(
        self, board: HealthBoard, host: str, port: int, *, metrics: Metrics = METRICS, instance_id: str | None = None
    ) -> None:
        # The instance id (see `crocbot.ops.identity`) lets `crocbot status` tell its own bot from whatever else
        # answers on the port.
        mark = {} if instance_id is None else {"instance_id": instance_id}
        handler = _handler(
            {
                "/healthz": lambda: _body("alive", board.liveness()),
                "/readyz": lambda: _marked(_body("ready", board.readiness()), mark),
            },
            metrics,
        )
        self._host = host
        self._server = ThreadingHTTPServer((host, port), handler)
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://{self._host}:{self.port}"

    def start(self) -> HealthServer:
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.2}, name="health-http", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=5)
        self._server.server_close()


def _handler(
    routes: dict[str, Callable[[], tuple[bool, dict[str, Any]]]], metrics: Metrics
) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == "/metrics":
                self._reply(200, *metrics.exposition(self.headers.get("Accept", "")))
                return
            route = routes.get(path)
            if route is None:
                body = json.dumps({"error": f"no such path {path}; try /healthz, /readyz or /metrics"})
                self._reply(404, body.encode(), "application/json")
                return
            ok, payload = route()
            self._reply(200 if ok else 503, json.dumps(payload, indent=1).encode(), "application/json")

        def _reply(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            return  # probes every few seconds would drown the log; failures show in the bodies

    return Handler
