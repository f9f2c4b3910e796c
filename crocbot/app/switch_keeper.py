"""Kraken's dead man's switch kept armed while the live bot runs, and disarmed when it stops in order.

The switch (`crocbot.venues.live.dead_mans_switch`) decides when to call; this gives it a thread of its own that
asks it about once a second. Not an actor and not a gateway call: nothing waits for its answer, and a hung refresh
delays only the next refresh (the switch's own outlook says what that means). It counts on the wall clock, as
Kraken does. `stop` ends the thread first, so that the switch is only ever called from one thread, then disarms it:
the stops stay on Kraken after a graceful stop.
"""

from __future__ import annotations

import threading

from loguru import logger

from crocbot.venues.live.dead_mans_switch import DeadMansSwitch

__all__ = ["SwitchKeeper"]

_POLL = 1.0  # seconds between asking the switch whether a refresh is due
_JOIN = 15.0  # seconds to wait for a refresh in flight at the stop (a REST call's timeout, with room)


class SwitchKeeper:
    def __init__(self, switch: DeadMansSwitch, *, poll: float = _POLL) -> None:
        self.switch = switch
        self._poll = poll
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        logger.info(
            "dead man's switch: armed with {} s, refreshed every {:g} s",
            self.switch.timeout,
            self.switch.refresh_interval,
        )
        self._thread = threading.Thread(target=self._run, name="dead-mans-switch", daemon=True)
        self._thread.start()

    def stop(self) -> bool:
        """End the refreshes and disarm; True if Kraken confirmed the switch is off."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(_JOIN)
            if self._thread.is_alive():
                logger.warning("dead man's switch: a refresh is still hanging; disarming it all the same")
        disarmed = self.switch.disarm()
        if disarmed:
            logger.info("dead man's switch: disarmed (the stops stay on Kraken)")
        return disarmed

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.switch.tick()
            except Exception:  # noqa: BLE001 - the refreshes must go on; the switch logs its own failures
                logger.opt(exception=True).error("dead man's switch: a refresh failed unexpectedly")
            self._stop.wait(self._poll)
