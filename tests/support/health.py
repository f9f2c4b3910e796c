"""A stand-in for a bot's health server: a `/readyz` that answers a given body and counts the requests."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.support.process import WAIT


class FakeHealth:
    """A /readyz that answers `body` (503 unless ready) and counts the requests it got."""

    def __init__(self, body: dict[str, Any]) -> None:
        self.body = body
        self.requests: list[str] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                fake.requests.append(self.path)
                data = json.dumps(fake.body).encode()
                self.send_response(200 if fake.body.get("ready") else 503)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = int(self.server.server_address[1])


@contextmanager
def fake_health(body: dict[str, Any]) -> Iterator[FakeHealth]:
    fake = FakeHealth(body)
    thread = threading.Thread(target=fake.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        fake.server.shutdown()
        thread.join(timeout=WAIT)
        fake.server.server_close()
