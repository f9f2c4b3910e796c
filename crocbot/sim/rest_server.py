"""The simulator's REST endpoint: Kraken's paths, signature and nonce checks, answers and error strings.

`GET /0/public/<Method>?...` and `POST /0/private/<Method>` with a form body, `API-Key` and `API-Sign` headers.
Every answer is HTTP 200 with `{"error": [...], "result": ...}`, as Kraken's; injected faults add HTTP 502, hangs,
and an AddOrder that executes but whose answer never arrives (the connection is closed instead).
"""

from __future__ import annotations

import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol
from urllib.parse import parse_qsl, urlsplit

from loguru import logger

from crocbot.kraken.jsontext import dumps
from crocbot.sim.faults import FaultPlan

__all__ = ["SimRestServer", "RestBackend", "SimError"]


class SimError(Exception):
    """A Kraken error answer; `code` is the exact string, e.g. `EAPI:Invalid nonce`."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


class RestBackend(Protocol):
    def public_call(self, method: str, params: dict[str, str]) -> Any: ...

    def private_call(self, method: str, params: dict[str, str], *, api_key: str, api_sign: str, body: str) -> Any: ...


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        super().setup()
        # Headers and body leave in separate writes; without NODELAY, Nagle and delayed ACKs add 40 ms a call.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:
        return  # quiet: requests are the simulator's business as usual

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        method = _method(url.path, "/0/public/")
        if method is None:
            self._reply(404, None)
            return
        self._serve(method, dict(parse_qsl(url.query)), private=False, body="")

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode("utf-8") if length else ""
        url = urlsplit(self.path)
        private = _method(url.path, "/0/private/")
        public = _method(url.path, "/0/public/")
        if private is not None:
            self._serve(private, dict(parse_qsl(body)), private=True, body=body)
        elif public is not None:
            self._serve(public, dict(parse_qsl(body)), private=False, body=body)
        else:
            self._reply(404, None)

    def _serve(self, method: str, params: dict[str, str], *, private: bool, body: str) -> None:
        backend, faults = self.server.backend, self.server.faults
        fault = faults.take_rest_fault(method, private=private)
        if fault is not None and fault.kind != "lose_response":
            self._inject(fault.kind, faults)
            return
        try:
            if private:
                result = backend.private_call(
                    method,
                    params,
                    api_key=self.headers.get("API-Key", ""),
                    api_sign=self.headers.get("API-Sign", ""),
                    body=body,
                )
            else:
                result = backend.public_call(method, params)
            payload: dict[str, Any] = {"error": [], "result": result}
        except SimError as error:
            payload = {"error": [error.code]}
        except Exception:  # noqa: BLE001 - the simulator answers like Kraken, never with a Python traceback
            logger.opt(exception=True).error("simulator REST {} failed", method)
            payload = {"error": ["EGeneral:Internal error"]}
        if fault is not None:  # lose_response: the order went through; its answer never arrives
            self.close_connection = True
            self.connection.close()
            return
        self._reply(200, payload)

    def _inject(self, kind: str, faults: FaultPlan) -> None:
        if kind == "http_502":
            self._reply(502, None)
        elif kind == "timeout":
            time.sleep(faults.rest_hang)  # holds only this request's thread, like a hung upstream
            self._reply(502, None)
        elif kind == "unavailable":
            self._reply(200, {"error": ["EService:Unavailable"]})
        elif kind == "rate_limit":
            self._reply(200, {"error": ["EAPI:Rate limit exceeded"]})

    def _reply(self, status: int, payload: dict[str, Any] | None) -> None:
        data = dumps(payload).encode("utf-8") if payload is not None else b""
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except OSError:
            self.close_connection = True  # the client gave up (its timeout); nothing to tell it


def _method(path: str, prefix: str) -> str | None:
    if not path.startswith(prefix):
        return None
    name = path[len(prefix) :]
    return name if name.isalnum() else None


class _Server(ThreadingHTTPServer):
    daemon_threads = True  # a request held by a `timeout` fault must not block the shutdown
    backend: RestBackend
    faults: FaultPlan


class SimRestServer:
    def __init__(self, backend: RestBackend, faults: FaultPlan, *, host: str = "127.0.0.1", port: int = 0) -> None:
        if host not in ("127.0.0.1", "localhost", "::1"):
            raise ValueError("the simulator listens on loopback only")
        self._server = _Server((host, port), _Handler)
        self._server.backend = backend
        self._server.faults = faults
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> str:
        self._thread = threading.Thread(target=self._server.serve_forever, name="sim-rest", daemon=True)
        self._thread.start()
        return self.url

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
