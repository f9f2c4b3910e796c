"""The venue actor: runs the router's commands on the paper venue and reports what happened.

Commands take effect after the configured latency on the event clock (Kraken is not instantaneous, and an
accelerated replay must see the same delay in event time). Market data reaches the paper venue from the feed:
books conflated (only the newest matters) and trades reliably (a print through a resting order is a fill).
Every event goes to the router, in order; the account is saved after each batch of events, so a restart finds
the same balances and resting orders. The router sends a stop's cancel and the exit that follows it as one
request: one save for both, so the exit does not wait for a durable write of its own.

A restored account with resting orders first catches up with the market it missed: once the router has
restored itself (`StartupReconciled`, so the fills reach a listening router), the prints made since the last
one the venue saw are fetched (Kraken's public `Trades`) and applied in order; live trades and books wait
until then, and live trades the catch-up already covered are dropped.

A save that fails (a full disk, a read-only journal) does not stop the venue: Kraken would not stop either. It is
loud, the events still go out, `PaperAccountSaved(False)` tells the router to halt entries (a restart now would
forget what happened since), and the save is tried again with the next events and on a timer until it works;
`PaperAccountSaved(True)` then lets entries resume.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from loguru import logger

from crocbot.actors.base import ChildContext, SupervisedActor
from crocbot.core.messages import StartupReconciled, Trade
from crocbot.core.messages.journal import LoadState, SaveState
from crocbot.kraken.instruments import Instrument
from crocbot.kraken.wire import BookView
from crocbot.ops import failpoints
from crocbot.venues.paper import PaperVenue
from crocbot.venues.paper_view import paper_view
from crocbot.venues.protocol import VenueCommand, VenueEvent

__all__ = ["VenueActor", "VenueRequest", "VenueSnapshot", "PaperAccountSaved", "PAPER_ACCOUNT_KEY"]

PAPER_ACCOUNT_KEY = "paper_account"
_ASK_TIMEOUT = 10.0
_HELD_TRADES = 50_000  # live prints kept while catching up; a catch-up is one REST call per symbol
_SAVE_RETRY = 5.0  # event seconds between tries to save an account the journal refused

# (symbol, prints after this time) -> the prints, oldest first; raises when Kraken cannot be asked
TradeFetcher = Callable[[str, datetime], Sequence[Trade]]


@dataclass(frozen=True, slots=True)
class VenueRequest:
    """From the router: carry out `commands`, in order, as one batch (one durable save of the account)."""

    commands: tuple[VenueCommand, ...]

    def __post_init__(self) -> None:
        if not self.commands:
            raise ValueError("a venue request needs at least one command")


@dataclass(frozen=True, slots=True)
class VenueSnapshot:
    """Ask: the venue's view for reconciliation (`crocbot.core.reconcile.VenueView`): open orders, the closed ones
    among `cl_ord_ids`, fills since `fills_since` (all it keeps when None), balances."""

    cl_ord_ids: tuple[str, ...]
    fills_since: datetime | None


@dataclass(frozen=True, slots=True)
class _Due:
    commands: tuple[VenueCommand, ...]


@dataclass(frozen=True, slots=True)
class PaperAccountSaved:
    """Published when saving the paper account starts failing (`saved` False, with the error) or works again."""

    saved: bool
    reason: str
    ts: datetime


@dataclass(frozen=True, slots=True)
class _SaveAgain:
    """Timer: try again to save an account the journal refused."""


class VenueActor(SupervisedActor):
    def __init__(
        self,
        ctx: ChildContext,
        instruments: Mapping[str, Instrument],
        balances: Mapping[str, Decimal],
        *,
        latency: float = 0.05,
        persistence: str = "persistence",
        fetch_trades: TradeFetcher | None = None,
    ) -> None:
        super().__init__(ctx)
        self._instruments = dict(instruments)
        self._balances = dict(balances)
        self._latency = latency
        self._persistence = persistence
        self._fetch_trades = fetch_trades
        self._venue: PaperVenue | None = None
        self._catching_up = False
        self._held_trades: deque[Trade] = deque(maxlen=_HELD_TRADES)
        self._held_books: dict[str, BookView] = {}
        self._unsaved = False  # the last save failed: the journal holds an older account
        self._save_again_due = False

    def started(self) -> None:
        saved = self._ask_persistence(LoadState(PAPER_ACCOUNT_KEY))
        if saved:
            self._venue = PaperVenue.from_state(saved, self._instruments, clock=self.clock)
            logger.info("paper account restored: {}", _balances_text(self._venue.balances()))
            self._catching_up = self._fetch_trades is not None and bool(self._venue.resting())
        else:
            self._venue = PaperVenue.new(self._instruments, self._balances, clock=self.clock, seed=self.ctx.instance)
            self._save()
            logger.info("paper account opened: {}", _balances_text(self._balances))
        bus = self.services.bus
        bus.subscribe(VenueRequest, self.name)
        bus.subscribe(StartupReconciled, self.name)
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
        elif isinstance(message, _SaveAgain):
            self._save_again_due = False
            if self._unsaved:
                self._save_or_carry_on()
        elif isinstance(message, Trade):
            if self._catching_up:
                self._held_trades.append(message)
            elif message.symbol in self._instruments:
                self._deliver(self.venue.on_trade(message))
        elif isinstance(message, BookView):
            if self._catching_up:
                self._held_books[message.symbol] = message
            elif message.symbol in self._instruments:
                self._deliver(self.venue.on_book(message.symbol, message.bids, message.asks))
        elif isinstance(message, StartupReconciled):
            if self._catching_up:
                self._catch_up()
        elif isinstance(message, VenueSnapshot):
            return paper_view(self.venue.engine, message.cl_ord_ids, message.fills_since, self.clock.now())
        else:
            return super().handle(message)
        return None

    def _catch_up(self) -> None:
        assert self._fetch_trades is not None
        venue, now = self.venue, self.clock.now()
        for symbol, since in sorted(venue.resting().items(), key=lambda item: item[0]):
            if since is None or symbol not in self._instruments:
                continue
            try:
                prints = [t for t in self._fetch_trades(symbol, since) if since < t.ts <= now]
            except Exception as error:  # noqa: BLE001 - whatever Kraken did, trading goes on; say what is not known
                logger.error(
                    "paper catch-up: the trades of {} since {} could not be fetched ({}); resting orders are "
                    "judged from now on only",
                    symbol,
                    since.isoformat(),
                    error,
                )
                continue
            events = venue.catch_up(prints)
            logger.info(
                "paper catch-up: {} prints of {} since {} judged against its resting orders: {} events",
                len(prints),
                symbol,
                since.isoformat(),
                len(events),
            )
            self._deliver(events)
        self._catching_up = False
        held, self._held_trades = list(self._held_trades), deque(maxlen=_HELD_TRADES)
        for trade in held:  # the prints first, then the newest book of each symbol, as they happened
            last = venue.engine.last_trade(trade.symbol)
            if trade.symbol in self._instruments and (last is None or trade.ts > last[1]):
                self._deliver(venue.on_trade(trade))
        for symbol, view in self._held_books.items():
            if symbol in self._instruments:
                self._deliver(venue.on_book(symbol, view.bids, view.asks))
        self._held_books.clear()

    def _execute(self, commands: tuple[VenueCommand, ...]) -> None:
        venue = self.venue
        self._deliver([event for command in commands for event in venue.execute(command)])

    def _deliver(self, events: list[VenueEvent]) -> None:
        if not events:
            return
        self._save_or_carry_on()  # before the router hears of them: a restart must not lose what it was told
        failpoints.hit("venue.after_save")  # crash tests: saved, not published
        for event in events:
            self.services.bus.publish(event)  # reliable: kept in order for a router that is restarting

    def _save(self) -> None:
        self._ask_persistence(SaveState(PAPER_ACCOUNT_KEY, self.venue.to_state()))

    def _save_or_carry_on(self) -> None:
        try:
            self._save()
        except Exception as error:  # noqa: BLE001 - the venue works on whatever the disk does; loud, and tried again
            if not self._unsaved:
                logger.critical(
                    "the paper account could not be saved ({}); the venue carries on and saves again every {:.0f} s "
                    "and with the next events (a restart before then finds the account as last saved)",
                    error,
                    _SAVE_RETRY,
                )
                self.services.bus.publish(PaperAccountSaved(False, str(error), self.clock.now()))
            self._unsaved = True
            if not self._save_again_due:
                self._save_again_due = True
                self.send_later(_SAVE_RETRY, _SaveAgain())
            return
        if self._unsaved:
            self._unsaved = False
            logger.warning("the paper account is saved again")
            self.services.bus.publish(PaperAccountSaved(True, "saved again", self.clock.now()))

    def _ask_persistence(self, message: object) -> Any:
        ref = self.services.directory.get(self._persistence)
        if ref is None:
            raise RuntimeError("the persistence actor is not running; the paper account cannot be read or saved")
        return ref.ask(message, timeout=_ASK_TIMEOUT)


def _balances_text(balances: Mapping[str, Decimal]) -> str:
    return ", ".join(f"{asset} {amount:f}" for asset, amount in sorted(balances.items())) or "empty"
