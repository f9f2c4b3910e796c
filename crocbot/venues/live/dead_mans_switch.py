"""Kraken's dead man's switch (`cancel_all_orders_after`), kept armed while crocbot runs and disarmed when it stops.

Armed with a timeout T, Kraken cancels every open order of the account T seconds after the last call unless
another call comes first; 0 disarms it. Kraken recommends T = 60 refreshed every 15-30 s (FACTS §4). When it fires
it cancels the protective stops along with resting entries, which is why it is off by default (`[live]
dead_mans_switch`).

`DeadMansSwitch` decides when to call and keeps what it knows: `due` and `record` are pure, `tick` and `disarm`
make the call. A failed refresh is retried soon (every `retry_after` seconds), not at the next interval, and each
failure says how long remains before Kraken cancels everything. The clock must run in wall time (a `SystemClock`, or
an `IoClock` under a replay clock): Kraken counts the timeout in real seconds.
"""

from __future__ import annotations

from collections.abc import Callable

from loguru import logger

from crocbot.core.clock import Clock
from crocbot.kraken.errors import KrakenError

__all__ = ["DeadMansSwitch", "DISARM"]

DISARM = 0  # Kraken's timeout that turns the switch off


class DeadMansSwitch:
    def __init__(
        self,
        send: Callable[[int], object],
        clock: Clock,
        *,
        timeout: int = 60,
        refresh_interval: float = 20.0,
        retry_after: float = 5.0,
    ) -> None:
        """`send(timeout)` is the call, e.g. `KrakenApi.cancel_all_orders_after`; it raises `KrakenError` on failure."""
        if not 0 < refresh_interval < timeout or not 0 < retry_after <= refresh_interval:
            raise ValueError("the switch needs 0 < retry_after <= refresh_interval < timeout")
        self._send = send
        self._clock = clock
        self.timeout = timeout
        self.refresh_interval = refresh_interval
        self.retry_after = retry_after
        self.fires_at: float | None = None  # monotonic time by which Kraken cancels everything; None: not armed
        self.next_at: float | None = clock.monotonic()  # when to call next; None once disarmed for good
        self.failures = 0  # consecutive failed calls

    # -- the decisions ------------------------------------------------------------------------------------

    def due(self, now: float) -> bool:
        return self.next_at is not None and now >= self.next_at

    def record(self, sent_at: float, ok: bool) -> None:
        """The outcome of an arming call sent at `sent_at`. The deadline counts from the sending, a little before
        Kraken's own, so what crocbot believes is never later than what Kraken does."""
        if self.next_at is None:
            return  # disarmed meanwhile: a late answer must not re-schedule
        if ok:
            self.failures = 0
            self.fires_at = sent_at + self.timeout
            self.next_at = sent_at + self.refresh_interval
        else:
            self.failures += 1
            self.next_at = sent_at + self.retry_after

    def seconds_left(self, now: float) -> float | None:
        """Seconds before Kraken cancels every order if no refresh gets through; None when not armed."""
        return None if self.fires_at is None else max(0.0, self.fires_at - now)

    # -- the calls ----------------------------------------------------------------------------------------

    def tick(self) -> bool:
        """Refresh if due; True if a call was made and it went through."""
        sent_at = self._clock.monotonic()
        if not self.due(sent_at):
            return False
        try:
            self._send(self.timeout)
        except KrakenError as error:
            self.record(sent_at, ok=False)
            logger.warning(
                "dead man's switch: refresh failed ({}); {}; trying again in {:g} s",
                error,
                self._outlook(),
                self.retry_after,
            )
            return False
        self.record(sent_at, ok=True)
        return True

    def _outlook(self) -> str:
        left = self.seconds_left(self._clock.monotonic())
        if left is None:
            return "it is not armed yet"
        if left <= 0:
            return "Kraken has probably cancelled every open order already, the stops included"
        return f"Kraken cancels every open order, the stops included, in {left:.0f} s unless a refresh gets through"

    def disarm(self) -> bool:
        """At a graceful stop: turn the switch off, so that the stops stay on Kraken. True if Kraken confirmed."""
        was_armed = self.fires_at is not None
        self.next_at = None
        try:
            self._send(DISARM)
        except KrakenError as error:
            left = self.seconds_left(self._clock.monotonic())
            if was_armed and left is not None and left > 0:
                logger.error(
                    "dead man's switch: could not disarm it ({}): Kraken cancels every order, stops included, in "
                    "{:.0f} s; start crocbot again before then, or disarm it with CancelAllOrdersAfter timeout=0",
                    error,
                    left,
                )
            return False
        self.fires_at = None
        return True
