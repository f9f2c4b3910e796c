"""The venue actor: runs the router's commands on the paper venue and reports what happened.

Commands take effect after the configured latency on the event clock (Kraken is not instantaneous, and an
accelerated replay must see the same delay in event time). Market data reaches the paper venue from the feed:
books conflated (only the newest matters) and trades reliably (a print through a resting order is a fill).
Every event goes to the router, in order; the account is saved after each batch of events, so a restart finds
the same balances and resting orders. The router sends a stop's cancel and the exit that follows it as one
request: one save for both, so the exit does not wait for a durable write of its own.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from loguru import logger

from crocbot.actors.base import ChildContext, SupervisedActor
from crocbot.core.messages import Trade
from crocbot.core.messages.journal import LoadState, SaveState
from crocbot.kraken.instruments import Instrument
from crocbot.kraken.wire import BookView
from crocbot.venues.paper import PaperVenue
from crocbot.venues.protocol import VenueCommand, VenueEvent

__all__ = ["VenueActor", "VenueRequest", "PAPER_ACCOUNT_KEY"]

PAPER_ACCOUNT_KEY = "paper_account"
_ASK_TIMEOUT = 10.0


@dataclass(frozen=True, slots=True)
class VenueRequest:
    """From the router: carry out `commands`, in order, as one batch (one durable save of the account)."""

    commands: tuple[VenueCommand, ...]

    def __post_init__(self) -> None:
        if not self.commands:
            raise ValueError("a venue request needs at least one command")


@dataclass(frozen=True, slots=True)
class _Due:
    commands: tuple[VenueCommand, ...]


class VenueActor(SupervisedActor):
    def __init__(
        self,
        ctx: ChildContext,
        instruments: Mapping[str, Instrument],
        balances: Mapping[str, Decimal],
        *,
        latency: float = 0.05,
        persistence: str = "persistence",
    ) -> None:
        super().__init__(ctx)
        self._instruments = dict(instruments)
        self._balances = dict(balances)
        self._latency = latency
        self._persistence = persistence
        self._venue: PaperVenue | None = None

    def started(self) -> None:
        saved = self._ask_persistence(LoadState(PAPER_ACCOUNT_KEY))
        if saved:
            self._venue = PaperVenue.from_state(saved, self._instruments, clock=self.clock)
            logger.info("paper account restored: {}", _balances_text(self._venue.balances()))
        else:
            self._venue = PaperVenue.new(self._instruments, self._balances, clock=self.clock, seed=self.ctx.instance)
            self._save()
            logger.info("paper account opened: {}", _balances_text(self._balances))
        bus = self.services.bus
        bus.subscribe(VenueRequest, self.name)
        bus.subscribe(Trade, self.name)
        bus.subscribe_conflated(BookView, self.name, key=lambda view: view.symbol)

    @property
    def venue(self) -> PaperVenue:
        assert self._venue is not None
        return self._venue

    def handle(self, message: Any) -> Any:
        if isinstance(message, VenueRequest):
            if self._latency > 0:
                self.send_later(self._latency, _Due(message.commands))
            else:
                self._execute(message.commands)
        elif isinstance(message, _Due):
            self._execute(message.commands)
        elif isinstance(message, Trade):
            if message.symbol in self._instruments:
                self._deliver(self.venue.on_trade(message))
        elif isinstance(message, BookView):
            if message.symbol in self._instruments:
                self._deliver(self.venue.on_book(message.symbol, message.bids, message.asks))
        else:
            return super().handle(message)
        return None

    def _execute(self, commands: tuple[VenueCommand, ...]) -> None:
        venue = self.venue
        self._deliver([event for command in commands for event in venue.execute(command)])

    def _deliver(self, events: list[VenueEvent]) -> None:
        if not events:
            return
        self._save()  # before the router hears of them: a restart must not lose what it was told
        for event in events:
            self.services.bus.publish(event)  # reliable: kept in order for a router that is restarting

    def _save(self) -> None:
        self._ask_persistence(SaveState(PAPER_ACCOUNT_KEY, self.venue.to_state()))

    def _ask_persistence(self, message: object) -> Any:
        ref = self.services.directory.get(self._persistence)
        if ref is None:
            raise RuntimeError("the persistence actor is not running; the paper account cannot be read or saved")
        return ref.ask(message, timeout=_ASK_TIMEOUT)


def _balances_text(balances: Mapping[str, Decimal]) -> str:
    return ", ".join(f"{asset} {amount:f}" for asset, amount in sorted(balances.items())) or "empty"
