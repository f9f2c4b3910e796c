"""Orders over Kraken's private WS v2 (`ws-auth`): add_order, amend_order, cancel_order, cancel_all, matched by req_id.

One `WsClient` connection, kept alive, subscribed to `executions` (open orders and the last fills as a snapshot,
the pair's trading counter in each report) and `balances`; each connection fetches a fresh token, and every request
carries it. A call waits for its answer until its deadline, and then:
- an answer with `success` is the result; one with an error is `WsRefusal` (Kraken's string), except the errors
  that leave the outcome open (`EService:Unavailable`, `EGeneral:Internal error`: the order may be in the book
  anyway, FACTS §10.3), which are `WsUnknown`;
- `EAPI:Invalid token`: Kraken refused the request before its engine saw it, so it is sent once more with a fresh
  token (the only resend there is);
- no answer by the deadline, or the connection dropped with the request on it: `WsUnknown`. The request may have
  reached Kraken, so it is never sent again here; the caller looks the order up by its `cl_ord_id`;
- nothing sent because the connection is down: `WsNotConnected` (the caller may use REST instead).
Orders and amends carry Kraken's `deadline` (RFC3339 with ms, 500 ms to 60 s ahead, on the wall clock): a request
that reaches Kraken after it is refused there, instead of acting late.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from loguru import logger

from crocbot.core.clock import Clock
from crocbot.core.messages import OrderIntent
from crocbot.kraken.errors import UNKNOWN_OUTCOME, error_from
from crocbot.kraken.wire import Ack, ConnectionState, Executions
from crocbot.kraken.ws import Subscription, WsClient

__all__ = [
    "WsTrading",
    "WsRefusal",
    "WsUnknown",
    "WsNotConnected",
    "kraken_deadline",
    "add_order_params",
    "refusal_or_unknown",
]

INVALID_TOKEN = "EAPI:Invalid token"
DEADLINE_ELAPSED = "EService:Deadline elapsed"  # refused before the engine: nothing happened
_MIN_AHEAD = 0.5  # Kraken's `deadline` range, in seconds from now
_MAX_AHEAD = 60.0


class WsRefusal(Exception):
    """Kraken answered no (its error string in `code`): nothing changed."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


class WsUnknown(Exception):
    """The request may or may not have taken effect: look the order up, never send it again."""


class WsNotConnected(Exception):
    """The private connection is down: nothing was sent."""


def kraken_deadline(now: datetime, seconds: float, *, minimum: float = _MIN_AHEAD) -> str:
    """Kraken's `deadline`: RFC3339 with milliseconds, kept within its window (WS: 500 ms to 60 s; REST's is
    `minimum`=2 s to 60 s)."""
    ahead = min(_MAX_AHEAD, max(minimum, seconds))
    return (now + timedelta(seconds=ahead)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def add_order_params(intent: OrderIntent) -> dict[str, Any]:
    """The `add_order` params of an intent (without token and deadline). Fees in quote, as crocbot's ledger books
    them (Kraken's default charges a sell in base)."""
    params: dict[str, Any] = {
        "order_type": str(intent.order_type),
        "side": str(intent.side),
        "order_qty": intent.qty,
        "symbol": intent.symbol,
        "cl_ord_id": intent.cl_ord_id,
        "fee_preference": "quote",
    }
    if intent.limit_price is not None:
        params["limit_price"] = intent.limit_price
    if intent.trigger_price is not None:
        params["triggers"] = {"reference": "last", "price": intent.trigger_price, "price_type": "static"}
    if intent.post_only:
        params["post_only"] = True
    return params


@dataclass(slots=True)
class _Waiter:
    expected: int
    acks: list[Ack] = field(default_factory=list)
    lost: str | None = None  # the connection dropped first
    done: threading.Event = field(default_factory=threading.Event)


class WsTrading:
    def __init__(
        self,
        url: str,
        token_provider: Callable[[], str],
        on_executions: Callable[[Executions], None],
        *,
        on_other: Callable[[object], None] | None = None,
        clock: Clock | None = None,
        wall: Callable[[], datetime] | None = None,
        snap_trades: bool = True,
        **client_options: Any,
    ) -> None:
        self._token_provider = token_provider
        self._on_executions = on_executions
        self._on_other = on_other
        self._wall = wall or (lambda: datetime.now(UTC))
        self._lock = threading.Lock()
        self._waiters: dict[int, _Waiter] = {}
        self._token: str | None = None
        # `rebased: false`: xStock amounts in token terms, as crocbot's orders count them (`TOKEN_TERMS` for REST)
        executions = {"snap_orders": True, "snap_trades": snap_trades, "ratecounter": True, "rebased": False}
        self.client = WsClient(
            url,
            [Subscription("executions", params=executions), Subscription("balances", params={"rebased": False})],
            self._on_message,
            name="ws-private",
            token_provider=self._new_token,
            clock=clock,
            **client_options,
        )

    # -- lifecycle ------------------------------------------------------------------------------------

    def start(self) -> None:
        self.client.start()

    def stop(self) -> None:
        self.client.stop()
        self._lose_all("the client stopped")

    @property
    def connected(self) -> bool:
        return self.client.connected.is_set()

    def _new_token(self) -> str:
        token = self._token_provider()
        self._token = token
        return token

    # -- the calls ------------------------------------------------------------------------------------

    def add_order(self, intent: OrderIntent, timeout: float) -> str:
        """Place the order; Kraken's order id."""
        params = add_order_params(intent)
        params["deadline"] = kraken_deadline(self._wall(), timeout)
        (ack,) = self._call("add_order", params, timeout)
        return str((ack.result or {}).get("order_id", ""))

    def amend_order(
        self,
        *,
        cl_ord_id: str,
        timeout: float,
        qty: Decimal | None = None,
        limit_price: Decimal | None = None,
        trigger_price: Decimal | None = None,
        symbol: str | None = None,
    ) -> str:
        """Amend in place (same ids, queue priority kept where possible); Kraken's amend id. `symbol` for xStocks."""
        params: dict[str, Any] = {"cl_ord_id": cl_ord_id, "deadline": kraken_deadline(self._wall(), timeout)}
        changes = {"order_qty": qty, "limit_price": limit_price, "trigger_price": trigger_price}
        params.update({key: value for key, value in changes.items() if value is not None})
        if symbol is not None:
            params["symbol"] = symbol
        (ack,) = self._call("amend_order", params, timeout)
        return str((ack.result or {}).get("amend_id", ""))

    def cancel_order(
        self, timeout: float, *, cl_ord_ids: Sequence[str] = (), order_ids: Sequence[str] = ()
    ) -> list[Ack]:
        """Cancel orders; Kraken answers once per order, each answer a success or a refusal of its own."""
        params: dict[str, Any] = {}
        if cl_ord_ids:
            params["cl_ord_id"] = list(cl_ord_ids)
        if order_ids:
            params["order_id"] = list(order_ids)
        if not params:
            raise ValueError("cancel_order needs at least one id")
        return self._call("cancel_order", params, timeout, expected=len(cl_ord_ids) + len(order_ids), each=True)

    def cancel_all(self, timeout: float) -> int:
        (ack,) = self._call("cancel_all", {}, timeout)
        return int((ack.result or {}).get("count", 0))

    def _call(
        self, method: str, params: Mapping[str, Any], timeout: float, *, expected: int = 1, each: bool = False
    ) -> list[Ack]:
        acks = self._round_trip(method, params, timeout, expected)
        if any(a.error == INVALID_TOKEN for a in acks):
            # Refused before the engine saw it: a fresh token and one more try is no blind resend.
            logger.warning("{}: the WS token was refused; fetching a fresh one and sending once more", method)
            try:
                self._new_token()
            except Exception as error:  # noqa: BLE001 - nothing was done: the request is refused, not unknown
                raise WsRefusal(f"{INVALID_TOKEN} (and no fresh token: {type(error).__name__})") from None
            acks = self._round_trip(method, params, timeout, expected)
        for ack in acks:
            if not ack.success and not each:
                raise refusal_or_unknown(ack.error or "no error text")
        return acks

    def _round_trip(self, method: str, params: Mapping[str, Any], timeout: float, expected: int) -> list[Ack]:
        if not self.connected:
            raise WsNotConnected(f"{method}: the private WebSocket is not connected")
        waiter = _Waiter(expected)
        with self._lock:  # registered before an answer can be looked for: the receive thread waits on the lock
            try:
                req_id = self.client.request(method, {**params, "token": self._token})
            except Exception as error:  # noqa: BLE001 - a send that failed half-way may have reached Kraken
                raise WsUnknown(f"{method}: sending failed ({type(error).__name__}: {error})") from None
            self._waiters[req_id] = waiter
        try:
            if not waiter.done.wait(max(0.0, timeout)):
                raise WsUnknown(f"{method}: no answer within {timeout:.1f} s (req_id {req_id})")
        finally:
            with self._lock:
                self._waiters.pop(req_id, None)
        if waiter.lost is not None and len(waiter.acks) < expected:
            raise WsUnknown(f"{method}: {waiter.lost} before the answer (req_id {req_id})")
        return list(waiter.acks)

    # -- the receive thread ---------------------------------------------------------------------------

    def _on_message(self, message: object) -> None:
        if type(message) is Ack and message.req_id is not None:
            with self._lock:
                waiter = self._waiters.get(message.req_id)
                if waiter is not None and message.method != "subscribe":
                    waiter.acks.append(message)
                    # A cancel of n orders is answered n times, but a refusal of the request itself (token,
                    # arguments) only once: only `EOrder:` refusals are about one of the orders.
                    whole = not message.success and not (message.error or "").startswith("EOrder:")
                    if whole or len(waiter.acks) >= waiter.expected:
                        waiter.done.set()
                    return
        if type(message) is Executions:
            self._on_executions(message)
            return
        if type(message) is ConnectionState and message.state != "connected":
            self._lose_all(f"the connection was lost ({message.reason})")
        if self._on_other is not None:
            self._on_other(message)

    def _lose_all(self, why: str) -> None:
        with self._lock:
            for waiter in self._waiters.values():
                waiter.lost = why
                waiter.done.set()


def refusal_or_unknown(code: str) -> WsRefusal | WsUnknown:
    """A refusal, or, for Kraken's errors that leave an order's fate open, an unknown outcome."""
    if code == DEADLINE_ELAPSED:
        return WsRefusal(code)
    if isinstance(error_from([code]), UNKNOWN_OUTCOME):
        return WsUnknown(f"Kraken answered {code}: the request may have taken effect")
    return WsRefusal(code)
