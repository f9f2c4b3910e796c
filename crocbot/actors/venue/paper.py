"""The venue actor: runs the router's commands on the paper venue and reports what happened.

Commands take effect after the configured latency on the event clock (Kraken is not instantaneous, and an
accelerated replay must see the same delay in event time). Market data reaches the paper venue from the feed:
books conflated (only the newest matters) and trades reliably (a print through a resting order is a fill).
Every event goes to the router, in order; the account is saved after each batch of events, before the router
hears of them, so a restart finds the same balances and resting orders. The account is the exchange in paper mode,
so it has a file of its own that the venue alone writes (`crocbot.store.paper_account`), not a place in the
journal: a journal restored from a backup must not roll the exchange back with it. The router sends a stop's
cancel and the exit that follows it as one request: one save for both, so the exit does not wait for a durable
write of its own.

A restored account with resting orders first catches up with the market it missed: once the router has
restored itself (`StartupReconciled`, so the fills reach a listening router), the prints made since the last
one the venue saw are fetched (Kraken's public `Trades`, in the REST gateway, never in this thread) and applied
in order; live trades, books and the router's commands wait until then (`crocbot.actors.venue.catch_up`).

A save that fails (a full disk, a read-only file) does not stop the venue: Kraken would not stop either. It is
loud, the events still go out, `PaperAccountSaved(False)` tells the router to halt entries (a restart now would
forget what happened since), and the save is tried again with the next events and on a timer until it works;
`PaperAccountSaved(True)` then lets entries resume.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from loguru import logger

from crocbot.actors.base import ChildContext
from crocbot.actors.breaker import CircuitBreaker
from crocbot.actors.gateway import CallResult, Deadline, Gateway
from crocbot.actors.guarded_file import BackupDue, GuardedFileActor
from crocbot.actors.messages import PaperAccountSaved, VenueRequest, VenueSnapshot
from crocbot.actors.venue.catch_up import CatchUp, CatchUpPolicy
from crocbot.core.clock import wall_rate
from crocbot.core.instrument import Instrument
from crocbot.core.messages import InstrumentStatusChanged, StartupReconciled, Trade, VenueCatchUp
from crocbot.core.messages.journal import LoadState
from crocbot.core.messages.market import BookView
from crocbot.kraken.ratelimit import TRADING_LIMITS, Tier, TradingLimits
from crocbot.ops import failpoints
from crocbot.store.backups import Backups
from crocbot.store.paper_account import PAPER_ACCOUNT_KEY, PAPER_BACKUP_DIR, PaperAccountStore
from crocbot.venues.paper import PaperVenue
from crocbot.venues.paper_view import paper_view
from crocbot.venues.protocol import Submit, VenueCommand, VenueEvent

__all__ = ["VenueActor", "TradeFetcher"]

_ASK_TIMEOUT = 10.0
_SAVE_RETRY = 5.0  # event seconds between tries to save an account the disk refused

# (symbol, prints after this time, up to this time, the call's deadline) -> the prints, oldest first; raises when
# Kraken cannot be asked. Runs in a gateway worker.
TradeFetcher = Callable[[str, datetime, datetime, Deadline], Sequence[Trade]]


@dataclass(frozen=True, slots=True)
class _Due:
    seq: int
    commands: tuple[VenueCommand, ...]


@dataclass(frozen=True, slots=True)
class _SaveAgain:
    """Timer: try again to save an account the disk refused."""


@dataclass(frozen=True, slots=True)
class _FetchAgain:
    """Timer: fetch the missed prints of `symbol` again."""

    symbol: str


@dataclass(frozen=True, slots=True)
class _CatchUpBudgetSpent:
    """Timer: the catch-up has taken as long as it may."""


# What `handle` acts on; the rest (`| object`) falls through to the base actor, which logs and ignores it.
_Timers = _Due | BackupDue | _SaveAgain | _FetchAgain | _CatchUpBudgetSpent
_Handled = (
    VenueRequest
    | VenueSnapshot
    | Trade
    | BookView
    | StartupReconciled
    | InstrumentStatusChanged
    | CallResult[Any]
    | _Timers
)


class VenueActor(GuardedFileActor):
    def __init__(
        self,
        ctx: ChildContext,
        instruments: Mapping[str, Instrument],
        balances: Mapping[str, Decimal],
        *,
        account: Path,
        latency: float = 0.05,
        backup_dir: Path | None = None,
        backup_every: float = 3600.0,
        persistence: str = "persistence",
        fetch_trades: TradeFetcher | None = None,
        gateway: Gateway | None = None,
        breaker: CircuitBreaker | None = None,
        catch_up: CatchUpPolicy | None = None,
        trading: TradingLimits = TRADING_LIMITS[Tier.STARTER],
    ) -> None:
        super().__init__(ctx)
        self._trading = trading  # the pair's trading counter the paper venue enforces, as Kraken does for the tier
        if fetch_trades is not None and gateway is None:
            raise ValueError("fetch_trades needs a gateway: the venue never calls Kraken in its own thread")
        self._instruments = dict(instruments)
        self._balances = dict(balances)
        # opened with coins crocbot did not buy: reconciled as a shared account (`paper_view`)
        quotes = {instrument.quote for instrument in instruments.values()}
        self._shared = any(amount > 0 and asset not in quotes for asset, amount in self._balances.items())
        self._latency = latency
        self._account_path = account
        self._backup_dir = backup_dir or account.parent / "backups" / PAPER_BACKUP_DIR
        self._backup_every = backup_every
        self._store: PaperAccountStore | None = None
        self._persistence = persistence
        self._fetch_trades = fetch_trades
        self._gateway = gateway
        self._breaker = breaker
        self._catch_up_policy = catch_up or CatchUpPolicy()
        self._venue: PaperVenue | None = None
        # A restored account with resting orders catches up (its fetches begin on the router's first
        # StartupReconciled); None once it has, or when there is nothing to catch up with.
        self._catch_up: CatchUp[tuple[VenueCommand, ...]] | None = None
        self._in_latency: dict[int, tuple[VenueCommand, ...]] = {}  # received, waiting out the simulated latency
        self._requests = itertools.count()
        self._unsaved = False  # the last save failed: the file holds an older account
        self._save_again_due = False

    def started(self) -> None:
        backups = Backups(self._backup_dir, clock=self.clock.now)
        self._store = PaperAccountStore.open(self._account_path, backups, clock=self.clock.now, what="paper account")
        saved = self._store.load()
        if saved is None:
            saved = self._moved_from_journal()
        if saved:
            self._venue = PaperVenue.from_state(saved, self._instruments, clock=self.clock, trading=self._trading)
            logger.info("paper account restored: {}", _balances_text(self._venue.balances()))
            if self._fetch_trades is not None and self._venue.resting():
                self._catch_up = CatchUp(self._catch_up_policy)
                summary = "resting orders wait for the prints missed while crocbot was down"
                self.services.bus.publish(VenueCatchUp(False, summary, self.clock.now()))
        else:
            self._venue = PaperVenue.new(self._instruments, self._balances, clock=self.clock, trading=self._trading)
            self._save()
            logger.info("paper account opened: {}", _balances_text(self._balances))
        if self._catch_up is None and self._fetch_trades is not None:
            # An earlier instance may have died mid catch-up: say that this one holds nothing back, or the health
            # board (and the SL manager) would wait for an end that never comes.
            self.services.bus.publish(VenueCatchUp(True, "nothing to catch up", self.clock.now()))
        bus = self.services.bus
        bus.subscribe(VenueRequest, self.name)
        bus.subscribe(StartupReconciled, self.name)
        bus.subscribe(Trade, self.name)
        bus.subscribe(InstrumentStatusChanged, self.name)  # what Kraken accepts changed: so does what paper accepts
        bus.subscribe_conflated(BookView, self.name, key=lambda view: view.symbol)
        self._start_backups()

    def _moved_from_journal(self) -> dict[str, Any] | None:
        """A journal written before the paper account had its own file holds it: take it over from there, once."""
        saved: dict[str, Any] | None = self._ask_persistence(LoadState(PAPER_ACCOUNT_KEY))
        if saved:
            assert self._store is not None
            self._store.save(saved)
            logger.warning("paper account moved from the journal to {}", self._account_path)
        return saved

    @property
    def venue(self) -> PaperVenue:
        assert self._venue is not None
        return self._venue

    def handle(self, message: _Handled | object) -> Any:
        catch_up = self._catch_up
        if isinstance(message, VenueRequest):
            if self._latency > 0:
                seq = next(self._requests)
                self._in_latency[seq] = message.commands
                self.send_later(self._latency, _Due(seq, message.commands))
            else:
                self._execute(message.commands)
        elif isinstance(message, _Due):
            self._in_latency.pop(message.seq, None)
            self._execute(message.commands)
        elif isinstance(message, BackupDue):
            self._backup_due()
        elif isinstance(message, _SaveAgain):
            self._save_again_due = False
            if self._unsaved:
                self._save_or_carry_on()
        elif isinstance(message, Trade):
            if catch_up is not None:
                catch_up.hold_trade(message)
            elif message.symbol in self._instruments:
                self._deliver(self.venue.on_trade(message))
        elif isinstance(message, BookView):
            if catch_up is not None:
                catch_up.hold_book(message)
            elif message.symbol in self._instruments:
                self._deliver(self.venue.on_book(message.symbol, message.bids, message.asks))
        elif isinstance(message, InstrumentStatusChanged):
            self.venue.engine.set_status(message.symbol, message.status)
        elif isinstance(message, StartupReconciled):
            if catch_up is not None and not catch_up.begun:
                self._begin_catch_up(catch_up)
        elif isinstance(message, CallResult):
            self._on_fetched(message)
        elif isinstance(message, _FetchAgain):
            if catch_up is not None and message.symbol not in catch_up.outcomes:
                self._fetch(catch_up, message.symbol)
        elif isinstance(message, _CatchUpBudgetSpent):
            if catch_up is not None:
                for symbol in catch_up.give_up("the catch-up's time budget was spent"):
                    logger.bind(symbol=symbol).error("paper catch-up of {}: still not fetched, given up", symbol)
                self._finish_catch_up(catch_up)
        elif isinstance(message, VenueSnapshot):
            engine, now, pending = self.venue.engine, self.clock.now(), self._pending_ids()
            return paper_view(engine, message.cl_ord_ids, message.fills_since, now, pending, shared=self._shared)
        else:
            return super().handle(message)
        return None

    def _pending_ids(self) -> list[str]:
        """Client ids of the orders received and not acted on yet: in the latency window, or held."""
        batches = list(self._in_latency.values())
        if self._catch_up is not None:
            batches += self._catch_up.held_commands
        return [command.intent.cl_ord_id for batch in batches for command in batch if isinstance(command, Submit)]

    # -- catching up after a restart ----------------------------------------------------------------------

    def _begin_catch_up(self, catch_up: CatchUp[tuple[VenueCommand, ...]]) -> None:
        since = {
            symbol: ts
            for symbol, ts in sorted(self.venue.resting().items())
            if ts is not None and symbol in self._instruments
        }
        catch_up.begin(since, self.clock.now())
        # Again for the actors started after this one (the SL manager holds its placement deadline meanwhile).
        summary = f"fetching the prints missed on {', '.join(since) or 'no symbol'}"
        self.services.bus.publish(VenueCatchUp(False, summary, self.clock.now()))
        if catch_up.done:
            self._finish_catch_up(catch_up)
            return
        self.send_later(self._catch_up_policy.budget * wall_rate(self.clock), _CatchUpBudgetSpent())
        for symbol in since:
            self._fetch(catch_up, symbol)

    def _fetch(self, catch_up: CatchUp[tuple[VenueCommand, ...]], symbol: str) -> None:
        assert self._fetch_trades is not None
        assert self._gateway is not None
        fetch, since, until = self._fetch_trades, catch_up.since[symbol], catch_up.until
        assert until is not None
        tries = catch_up.fetching(symbol)
        self._gateway.submit(
            lambda deadline: fetch(symbol, since, until, deadline),
            reply_to=self.actor_ref,
            timeout=self._catch_up_policy.call_timeout,
            tag=("catch_up", symbol, tries),
            breaker=self._breaker,
        )

    def _on_fetched(self, result: CallResult[Any]) -> None:
        catch_up, tag = self._catch_up, result.tag
        if catch_up is None or not (isinstance(tag, tuple) and tag[0] == "catch_up"):
            return
        symbol, tries = str(tag[1]), int(tag[2])
        if symbol in catch_up.outcomes or tries != catch_up.tries.get(symbol):
            return  # an answer to an earlier try, or after the budget was spent
        if result.ok and isinstance(result.value, list):
            catch_up.fetched(symbol, result.value)
        else:
            error = f"{result.outcome}: {result.error}"
            pause = catch_up.failed(symbol, error)
            if pause is not None:
                logger.bind(symbol=symbol).warning(
                    "paper catch-up of {}: try {} failed ({}); trying again in {:.0f} s", symbol, tries, error, pause
                )
                self.send_later(pause * wall_rate(self.clock), _FetchAgain(symbol))
                return
            logger.bind(symbol=symbol).error(
                "paper catch-up: the trades of {} since {} could not be fetched in {} tries ({}); resting orders are "
                "judged from now on only",
                symbol,
                catch_up.since[symbol].isoformat(),
                tries,
                error,
            )
        if catch_up.done:
            self._finish_catch_up(catch_up)

    def _finish_catch_up(self, catch_up: CatchUp[tuple[VenueCommand, ...]]) -> None:
        venue = self.venue
        self._catch_up = None
        judged: list[str] = []
        for outcome in sorted(catch_up.outcomes.values(), key=lambda o: o.symbol):
            if outcome.prints is None:
                judged.append(f"{outcome.symbol}: NOT fetched ({outcome.error})")
                continue
            judged.append(f"{outcome.symbol}: {len(outcome.prints)} prints")
            events = venue.catch_up(outcome.prints)
            logger.info(
                "paper catch-up: {} prints of {} since {} judged against its resting orders: {} events",
                len(outcome.prints),
                outcome.symbol,
                outcome.since.isoformat(),
                len(events),
            )
            self._deliver(events)
        for trade in catch_up.held_trades:  # the prints first, then the newest book of each symbol, as they happened
            last = venue.engine.last_trade(trade.symbol)
            if trade.symbol in self._instruments and (last is None or trade.ts > last[1]):
                self._deliver(venue.on_trade(trade))
        for symbol, view in catch_up.held_books.items():
            if symbol in self._instruments:
                self._deliver(venue.on_book(symbol, view.bids, view.asks))
        summary = "; ".join(judged) or "no symbol had missed prints to judge"
        self.services.bus.publish(VenueCatchUp(True, summary, self.clock.now()))
        held_commands = list(catch_up.held_commands)
        catch_up.held_trades.clear()
        catch_up.held_books.clear()
        catch_up.held_commands.clear()
        for commands in held_commands:  # in the order the router sent them, on a venue that has caught up
            self._execute(commands)

    def _execute(self, commands: tuple[VenueCommand, ...]) -> None:
        if self._catch_up is not None:  # against a book that has not caught up they would fill at the wrong prices
            self._catch_up.hold_commands(commands)
            return
        self._deliver(self.venue.execute_all(commands))

    def _deliver(self, events: list[VenueEvent]) -> None:
        if not events:
            return
        self._save_or_carry_on()  # before the router hears of them: a restart must not lose what it was told
        failpoints.hit("venue.after_save")  # crash tests: saved, not published
        for event in events:
            self.services.bus.publish(event)  # reliable: kept in order for a router that is restarting

    def _save(self) -> None:
        assert self._store is not None
        self._store.save(self.venue.to_state())

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
        return self.services.directory.ask(self._persistence, message, timeout=_ASK_TIMEOUT)


def _balances_text(balances: Mapping[str, Decimal]) -> str:
    return ", ".join(f"{asset} {amount:f}" for asset, amount in sorted(balances.items())) or "empty"
