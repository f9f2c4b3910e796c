"""Kraken REST transport: public GETs and signed private POSTs, within Kraken's rate limits, with typed errors.

Every call has a timeout. Private calls on one key are serialised (take a nonce, sign, send, read the answer)
so that nonces reach Kraken in order. Before each call the client consults its model of Kraken's counters and
waits for budget (with `sleep`, which a test may replace by moving a simulated clock) instead of earning
`EAPI:Rate limit exceeded`; a wait longer than the call's deadline fails fast instead.
"""

from __future__ import annotations

import json
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import requests
import requests.adapters

from crocbot import __version__
from crocbot.core.clock import Clock, SystemClock
from crocbot.kraken.auth import Signer, signer_for
from crocbot.kraken.errors import AuthError, RateLimitError, TransportError, error_from
from crocbot.kraken.ratelimit import (
    ADD_COST,
    REST_LIMITS,
    TRADING_LIMITS,
    LeakyCounter,
    Tier,
    amend_cost,
    cancel_cost,
    rest_cost,
)

__all__ = ["RestClient", "RateLimitWaitTooLong", "PUBLIC_LIMIT"]

# Kraken limits public calls per IP without publishing numbers; about 1 per second is safe. A burst of 5 allows a
# start-up backfill of a few symbols at once.
PUBLIC_LIMIT = (5.0, 1.0)
_MARGIN = 1.0  # stay one unit below each limit: the exchange counts a moment later than the client does
_MAX_TRACKED_ORDERS = 10_000


class RateLimitWaitTooLong(RateLimitError):
    """The rate budget frees up only after the call's deadline; nothing was sent."""


class RestClient:
    def __init__(
        self,
        base_url: str,
        *,
        api_key: str | None = None,
        api_secret: str | None = None,
        nonce_file: Path | None = None,
        tier: Tier = Tier.STARTER,
        timeout: float = 10.0,
        clock: Clock | None = None,
        sleep: Callable[[float], None] = time.sleep,
        session: requests.Session | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._clock = clock or SystemClock()
        self._sleep = sleep
        self._session = session or requests.Session()
        self._session.headers["User-Agent"] = f"crocbot/{__version__}"
        # Never let the HTTP layer resend anything: a resent AddOrder is a duplicate order.
        for prefix in ("http://", "https://"):
            self._session.mount(prefix, requests.adapters.HTTPAdapter(max_retries=0))
        self._signer: Signer | None = (
            signer_for(api_key, api_secret, nonce_file) if api_key is not None and api_secret is not None else None
        )
        rest = REST_LIMITS[tier]
        self._rest_counter = LeakyCounter(rest.limit, rest.decay)
        self._public_counter = LeakyCounter(*PUBLIC_LIMIT)
        self._trading = TRADING_LIMITS[tier]
        self._pair_counters: dict[str, LeakyCounter] = {}
        self._order_times: OrderedDict[str, float] = OrderedDict()  # order id or cl_ord_id -> placed/amended at
        self._limits_lock = threading.Lock()

    @property
    def clock(self) -> Clock:
        return self._clock

    @property
    def authenticated(self) -> bool:
        return self._signer is not None

    # -- calls ----------------------------------------------------------------------------------------

    def public(self, method: str, params: Mapping[str, Any] | None = None, *, deadline: float | None = None) -> Any:
        self._wait(self._public_counter, 1.0, deadline, method)
        url = f"{self.base_url}/0/public/{method}"
        response = self._send("GET", url, method, deadline, params=dict(params or {}))
        return self._result(response, method)

    def private(
        self,
        method: str,
        params: Mapping[str, Any] | None = None,
        *,
        deadline: float | None = None,
        trading_pair: str | None = None,
        trading_cost: float = 0.0,
    ) -> Any:
        """A signed call. `trading_pair`/`trading_cost` charge the per-pair trading counter for order calls."""
        signer = self._signer
        if signer is None:
            raise AuthError(["EAPI:Invalid key"], method=f"{method} (crocbot has no API key configured)")
        self._wait(self._rest_counter, rest_cost(method), deadline, method)
        if trading_pair is not None and trading_cost > 0:
            self._wait(self._pair_counter(trading_pair), trading_cost, deadline, method)
        path = f"/0/private/{method}"
        with signer.lock:
            nonce = signer.nonces.next()
            body = urlencode([("nonce", str(nonce)), *((k, _text(v)) for k, v in (params or {}).items())])
            headers = signer.headers(path, body, nonce)
            headers["Content-Type"] = "application/x-www-form-urlencoded; charset=utf-8"
            response = self._send("POST", self.base_url + path, method, deadline, data=body, headers=headers)
        return self._result(response, method)

    # -- rate budget ----------------------------------------------------------------------------------

    def _pair_counter(self, pair: str) -> LeakyCounter:
        with self._limits_lock:
            counter = self._pair_counters.get(pair)
            if counter is None:
                counter = LeakyCounter(self._trading.threshold, self._trading.decay)
                self._pair_counters[pair] = counter
            return counter

    def _wait(self, counter: LeakyCounter, cost: float, deadline: float | None, method: str) -> None:
        if cost <= 0:
            return
        for _ in range(1000):  # each pass either fits or sleeps exactly as long as the model says
            now = self._clock.monotonic()
            wait = counter.wait_needed(cost, now, margin=_MARGIN)
            if wait <= 0:
                counter.add(cost, now)
                return
            if deadline is not None and now + wait > deadline:
                raise RateLimitWaitTooLong(
                    [f"rate budget frees up in {wait:.1f}s, after the call's deadline"], method=method
                )
            # A hair longer than the model asks: clocks round (a simulated one to whole microseconds).
            self._sleep(wait + 0.001)
        raise RateLimitWaitTooLong(["rate budget never freed up"], method=method)

    def charge_trading(self, pair: str, cost: float, *, deadline: float | None, method: str) -> None:
        """Take `cost` from the pair's trading counter for an order call sent another way (Kraken's counter is shared
        by REST, WS and FIX), waiting for budget as REST order calls do; `RateLimitWaitTooLong` if it frees up only
        after `deadline` (nothing may be sent then)."""
        self._wait(self._pair_counter(pair), cost, deadline, method)

    def observe_trading(self, pair: str, level: float) -> None:
        """Kraken reported `pair`'s trading counter (the executions channel's `ratecount`): the model follows it up."""
        self._pair_counter(pair).at_least(level, self._clock.monotonic())

    def trading_level(self, pair: str) -> float:
        """Where the model puts `pair`'s trading counter now."""
        return self._pair_counter(pair).level(self._clock.monotonic())

    def order_cost(self, action: str, order_key: str | None) -> float:
        """The trading-counter cost of adding, amending or cancelling an order of the given age."""
        if action == "add":
            return ADD_COST
        placed = self._order_times.get(order_key) if order_key else None
        age = 0.0 if placed is None else self._clock.monotonic() - placed  # unknown age: assume the worst
        return amend_cost(age) if action == "amend" else cancel_cost(age)

    def note_order(self, *keys: str) -> None:
        """Remember when an order was placed or amended (its age sets the cost of amending or cancelling it)."""
        now = self._clock.monotonic()
        with self._limits_lock:
            for key in keys:
                if key:
                    self._order_times[key] = now
                    self._order_times.move_to_end(key)
            while len(self._order_times) > _MAX_TRACKED_ORDERS:
                self._order_times.popitem(last=False)

    # -- transport ------------------------------------------------------------------------------------

    def _send(self, verb: str, url: str, method: str, deadline: float | None, **kwargs: Any) -> requests.Response:
        timeout = self.timeout
        if deadline is not None:
            timeout = min(timeout, max(0.05, deadline - self._clock.monotonic()))
        try:
            response = self._session.request(verb, url, timeout=timeout, **kwargs)
        except requests.Timeout:
            raise TransportError([f"no answer within {timeout:.1f}s"], method=method) from None
        except requests.RequestException as error:
            raise TransportError([f"{type(error).__name__}: {_os_cause(error)}"], method=method) from None
        if response.status_code != 200:
            raise TransportError([f"HTTP {response.status_code}"], method=method)
        return response

    @staticmethod
    def _result(response: requests.Response, method: str) -> Any:
        try:
            payload = json.loads(response.text, parse_float=Decimal)
        except ValueError:
            raise TransportError(["the answer is not JSON"], method=method) from None
        if not isinstance(payload, dict):
            raise TransportError(["the answer is not a JSON object"], method=method)
        errors = [str(e) for e in payload.get("error") or () if str(e).startswith("E")]
        if errors:
            raise error_from(errors, method=method)
        if "result" not in payload:
            raise TransportError(["the answer has no result"], method=method)
        return payload["result"]


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, float):
        raise TypeError("floats are not sent to Kraken: pass Decimal")
    return str(value)


def _os_cause(error: BaseException) -> str:
    """The operating system's word for a failed connection ("Connection refused", "Name or service not known"),
    found down requests' and urllib3's wrappers; never their text, which repeats the URL."""
    stack: list[object] = [error]
    seen: set[int] = set()
    while stack:
        current = stack.pop()
        if not isinstance(current, BaseException) or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, OSError) and current.strerror:
            return current.strerror
        stack += [getattr(current, "reason", None), current.__cause__, current.__context__, *current.args]
    return "connection failed"
