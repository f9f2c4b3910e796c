"""The stop-loss manager: watches every open position on every tick, tightens stops, and exits when it must.

On each market tick for a symbol it checks every position in it. A price through the stop is first the venue
stop's to fill (its fill closes the position): this manager's own exit request is a backstop, sent only once the
stop has not filled within `backstop_grace` seconds of event time, or at once when the price is beyond the stop by
more than `backstop_margin` (the venue's stop may be lost, or the book gapped past it) or no stop rests on the
venue; the router sends that exit only after the venue confirms the stop's cancel. A price at the take-profit means
an exit; otherwise the stop policy may tighten the stop (breakeven, profit lock, trailing),
sent as an amend request no more often than `amend_min_interval` per position. A position whose protective
order is not live within `place_within` seconds of its opening is exited as a fail-safe, counted from when the
venue can act: while the paper venue holds every command to catch up with the market it missed (`VenueCatchUp`),
neither the stop nor the exit could go out, so the deadline waits; and until the start-up reconciliation has run
(at most `reconcile_wait`), which is what places a stop a crash left journaled and unsent, or finds it resting:
an exit before it would cancel a stop whose fate is unknown, and be held back for it. The router does the orders;
this actor only decides. Its evaluation time per tick is measured and published.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from loguru import logger

from crocbot.actors.base import ChildContext, SupervisedActor
from crocbot.actors.directory import NotRunning
from crocbot.actors.messages import OpenPositions
from crocbot.core.costs import TradeCosts
from crocbot.core.messages import (
    ATRUpdate,
    ExitReason,
    ExitRequest,
    Position,
    PositionChanged,
    PositionClosed,
    PositionOpened,
    PositionSide,
    StartupReconciled,
    StartupReconciling,
    StopAmendRequest,
    Trade,
    VenueCatchUp,
)
from crocbot.core.messages.market import BookView
from crocbot.core.stops import StopPolicy, StopTrack, stop_crossed
from crocbot.ops.metrics import METRICS, Metrics

__all__ = ["SLManager", "SL_LOOP_METRIC"]

SL_LOOP_METRIC = "crocbot_sl_loop_seconds"
_ASK_TIMEOUT = 10.0


@dataclass(slots=True)
class _Watched:
    track: StopTrack
    take_profit: Decimal | None
    stop_live: bool
    opened_at: datetime
    exiting: bool = False
    last_amend: float | None = None  # event-clock seconds
    crossed_at: datetime | None = None  # when the price went through the stop (and has stayed there since)
    retry_at: float | None = None  # event-clock seconds: no exit asked before (the router gave one up just now)
    last_price: Decimal | None = None  # where the position would exit now (bid for a long)


@dataclass(frozen=True, slots=True)
class _CheckStopLive:
    position_id: str


@dataclass(frozen=True, slots=True)
class _BackstopDue:
    """Timer: the venue's stop has had its grace since the price went through it (at `crossed_at`)."""

    position_id: str
    crossed_at: datetime


# What `handle` acts on; the rest (`| object`) falls through to the base actor, which logs and ignores it.
_Handled = (
    BookView
    | Trade
    | PositionOpened
    | PositionChanged
    | PositionClosed
    | ATRUpdate
    | _CheckStopLive
    | _BackstopDue
    | VenueCatchUp
    | StartupReconciled
    | StartupReconciling
)


class SLManager(SupervisedActor):
    def __init__(
        self,
        ctx: ChildContext,
        policy: StopPolicy,
        price_increments: dict[str, Decimal],
        *,
        costs: Mapping[str, TradeCosts] | None = None,
        place_within: float = 1.0,
        amend_min_interval: float = 5.0,
        backstop_grace: float = 5.0,
        backstop_margin: Decimal = Decimal("0.005"),
        metrics: Metrics = METRICS,
        router: str = "router",
        reconcile_wait: float = 120.0,
    ) -> None:
        super().__init__(ctx)
        self._router = router
        self._reconcile_wait = reconcile_wait
        self._reconciled = False  # the start-up reconciliation has run since this actor started
        self._started_at = 0.0
        self._policy = policy
        self._increments = price_increments
        self._costs = dict(costs or {})  # a symbol's fees: where its breakeven stop belongs
        self._place_within = place_within
        self._amend_min_interval = amend_min_interval
        self._backstop_grace = backstop_grace
        self._backstop_margin = backstop_margin
        self._metrics = metrics
        self._loop = metrics.histogram(SL_LOOP_METRIC)
        self._watched: dict[str, _Watched] = {}
        self._by_symbol: dict[str, set[str]] = {}
        self._atr: dict[str, Decimal] = {}
        self._venue_holding = False  # the venue is catching up and holds every command until it has

    def started(self) -> None:
        bus = self.services.bus
        self._started_at = self.clock.monotonic()
        for topic in (
            PositionOpened,
            PositionChanged,
            PositionClosed,
            ATRUpdate,
            VenueCatchUp,
            StartupReconciled,
            StartupReconciling,
        ):
            bus.subscribe(topic, self.name)
        bus.subscribe_conflated(BookView, self.name, key=lambda view: view.symbol)
        bus.subscribe_conflated(Trade, self.name, key=lambda trade: trade.symbol)
        self._adopt_open_positions()

    def _adopt_open_positions(self) -> None:
        """A restarted SL manager has forgotten every position: ask the router, which keeps them."""
        try:
            answer: Any = self.services.directory.ask(self._router, OpenPositions(), timeout=_ASK_TIMEOUT)
        except NotRunning:
            logger.warning("no router to ask for open positions; watching those it reports from now on")
            return
        positions: list[Position] = list(answer)
        for position in positions:
            self._watch(position, opened=False)
        if positions:
            logger.info("watching {} open positions after a start", len(positions))

    @property
    def watched(self) -> int:
        return len(self._watched)

    def handle(self, message: _Handled | object) -> Any:
        if isinstance(message, BookView):
            bid, ask = (message.bids[0][0] if message.bids else None), (message.asks[0][0] if message.asks else None)
            self._tick(message.symbol, bid, ask)
        elif isinstance(message, Trade):
            self._tick(message.symbol, message.price, message.price)
        elif isinstance(message, PositionOpened | PositionChanged):
            self._watch(message.position, opened=isinstance(message, PositionOpened))
        elif isinstance(message, PositionClosed):
            self._forget(message.position_id)
        elif isinstance(message, ATRUpdate):
            self._atr[message.symbol] = message.atr
        elif isinstance(message, _CheckStopLive):
            self._check_stop_live(message.position_id)
        elif isinstance(message, _BackstopDue):
            self._backstop_due(message.position_id, message.crossed_at)
        elif isinstance(message, VenueCatchUp):
            self._venue_holding = not message.done
        elif isinstance(message, StartupReconciled | StartupReconciling):
            self._reconciled = isinstance(message, StartupReconciled)
        else:
            return super().handle(message)
        return None

    # -- positions ------------------------------------------------------------------------------------

    def _watch(self, position: Position, *, opened: bool) -> None:
        watched = self._watched.get(position.position_id)
        if watched is None:
            track = StopTrack(
                position.position_id,
                position.symbol,
                position.side,
                position.entry_price,
                position.stop_price,
                position.stop_price,
                self._increments.get(position.symbol, Decimal("0.01")),
                breakeven=self._breakeven(position),
            )
            # An exit in flight (a restarted manager meets one) is the router's to finish: no second ask.
            watched = _Watched(track, position.take_profit, position.stop_live, position.opened_at, position.exiting)
            self._watched[position.position_id] = watched
            self._by_symbol.setdefault(position.symbol, set()).add(position.position_id)
            if opened or not position.stop_live:
                self.send_later(self._place_within, _CheckStopLive(position.position_id))
        else:
            was_protected = watched.stop_live or watched.exiting
            watched.stop_live = position.stop_live
            if watched.exiting and not position.exiting:
                # The router gave up an exit (rejected, no liquidity, held back): this manager may ask again when
                # the price says so, after a pause (asking on every tick would only spend the pair's trading
                # counter on cancels of the stop), and a price still through the stop starts a new grace.
                watched.crossed_at = None
                watched.retry_at = self.clock.monotonic() + self._backstop_grace
            watched.exiting = position.exiting
            if was_protected and not position.stop_live and not position.exiting:
                # No stop on the venue any more (and no exit): the placement deadline applies again.
                self.send_later(self._place_within, _CheckStopLive(position.position_id))
            track = watched.track
            long = track.side is PositionSide.LONG
            if (position.stop_price > track.stop) if long else (position.stop_price < track.stop):
                track.tighten(position.stop_price)
            elif position.stop_price != track.stop:
                logger.bind(symbol=track.symbol).critical(
                    "position {}: the router reports a looser stop {} than {}; keeping the tighter one",
                    position.position_id,
                    position.stop_price,
                    track.stop,
                )
            track.entry = position.entry_price
            track.breakeven = self._breakeven(position)

    def _breakeven(self, position: Position) -> Decimal | None:
        costs = self._costs.get(position.symbol)
        if costs is None:
            return None
        increment = self._increments.get(position.symbol, Decimal("0.01"))
        return costs.breakeven(position.side, position.entry_price, increment)

    def _forget(self, position_id: str) -> None:
        watched = self._watched.pop(position_id, None)
        if watched is not None:
            self._by_symbol.get(watched.track.symbol, set()).discard(position_id)

    def _check_stop_live(self, position_id: str) -> None:
        watched = self._watched.get(position_id)
        if watched is None or watched.stop_live or watched.exiting:
            return
        if self._venue_holding:  # the stop is waiting at the venue with everything else: look again later
            self.send_later(self._place_within, _CheckStopLive(position_id))
            return
        if not self._reconciled and self.clock.monotonic() - self._started_at < self._reconcile_wait:
            self.send_later(self._place_within, _CheckStopLive(position_id))  # the reconciliation protects it first
            return
        pause = (watched.retry_at or 0.0) - self.clock.monotonic()
        if pause > 0:  # the router gave an exit up a moment ago: look again once another may be asked
            self.send_later(pause, _CheckStopLive(position_id))
            return
        logger.bind(symbol=watched.track.symbol).critical(
            "position {} has no live stop {}s after it opened; exiting it", position_id, self._place_within
        )
        self._metrics.inc("crocbot_positions_without_stop_total")
        self._exit(watched, "no live stop within the placement deadline")

    # -- the loop -------------------------------------------------------------------------------------

    def _tick(self, symbol: str, bid: Decimal | None, ask: Decimal | None) -> None:
        started = time.perf_counter()
        now = self.clock.monotonic()
        for position_id in tuple(self._by_symbol.get(symbol, ())):
            watched = self._watched[position_id]
            if watched.exiting:
                continue
            track = watched.track
            price = bid if track.side is PositionSide.LONG else ask
            if price is None:
                continue
            watched.last_price = price
            if stop_crossed(track.side, track.stop, price):
                self._through_stop(watched, price)
                continue
            watched.crossed_at = None
            tp = watched.take_profit
            if tp is not None and ((price >= tp) if track.side is PositionSide.LONG else (price <= tp)):
                self._exit(watched, f"take-profit {tp} reached at {price}", ExitReason.TAKE_PROFIT)
                continue
            proposal = track.next_stop(price, self._atr.get(symbol), self._policy)
            if proposal is None:
                continue
            if watched.last_amend is not None and now - watched.last_amend < self._amend_min_interval:
                continue
            watched.last_amend = now
            level, kind = proposal
            self.services.bus.publish(StopAmendRequest(position_id, symbol, level, kind, self.clock.now()))
        self._loop.observe(time.perf_counter() - started)

    def _through_stop(self, watched: _Watched, price: Decimal) -> None:
        """The price is through the stop: exit now, or give the venue's stop its grace to fill first."""
        track = watched.track
        beyond = abs(track.stop - price) / track.stop if track.stop > 0 else Decimal(1)
        through = f"price {price} is through the stop {track.stop}"
        if not watched.stop_live:
            self._exit(watched, f"{through} and no stop rests on the venue")
        elif beyond > self._backstop_margin:
            self._exit(watched, f"{through} by more than {self._backstop_margin:%} and the stop has not filled")
        elif watched.crossed_at is None:
            watched.crossed_at = self.clock.now()
            if self._backstop_grace <= 0:
                self._exit(watched, f"{through} and the stop has not filled")
            else:
                self.send_later(self._backstop_grace, _BackstopDue(track.position_id, watched.crossed_at))

    def _backstop_due(self, position_id: str, crossed_at: datetime) -> None:
        watched = self._watched.get(position_id)
        if watched is None or watched.exiting or watched.crossed_at != crossed_at or watched.last_price is None:
            return  # closed (the stop filled), exiting already, or the price came back (and maybe crossed anew)
        track = watched.track
        if not stop_crossed(track.side, track.stop, watched.last_price):
            return
        waited = (self.clock.now() - watched.crossed_at).total_seconds()
        self._exit(
            watched,
            f"price {watched.last_price} is through the stop {track.stop} and the venue's stop has not filled in "
            f"{waited:.1f} s",
        )

    def _exit(self, watched: _Watched, reason: str, kind: ExitReason | None = None) -> None:
        """Ask the router to exit; `kind` None means the stop level was reached (the stop's kind names it)."""
        if watched.retry_at is not None and self.clock.monotonic() < watched.retry_at:
            return  # the router gave an exit up a moment ago: not again yet
        watched.exiting = True
        track = watched.track
        self.services.bus.publish(ExitRequest(track.position_id, track.symbol, reason, self.clock.now(), kind))
