"""The order router: the only actor that changes orders. A thin shell over the desk's pure decisions.

Write-ahead: an order's intent is journaled (durably, by asking persistence) before the venue hears of it, and
every venue event is journaled before it changes the router's state. If the journal cannot be written, nothing
is sent, entries stop (safe mode) and the failure is loud. On start the router rebuilds its books from the
journal: ledger, risk state (the kill switch survives restarts), open positions and their orders.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from loguru import logger

from crocbot.actors.base import ChildContext, SupervisedActor
from crocbot.actors.persistence import ReadJournal
from crocbot.actors.router_restore import restore
from crocbot.actors.venue import VenueRequest
from crocbot.core.desk import LEDGER_KEY, RISK_KEY, Desk, DeskConfig
from crocbot.core.desk_types import Action, AmendOrder, CancelOrder, Emit, EntryTTL, Note, Record, SendOrder, StartTimer
from crocbot.core.ids import ClientIds
from crocbot.core.ledger import Ledger
from crocbot.core.messages import (
    BreakerState,
    BreakerStateChanged,
    CommandRejected,
    ExitRequest,
    FeedHealth,
    Fill,
    OrderAmended,
    OrderEvent,
    SafeModeChanged,
    Signal,
    StartupReconciled,
    StopAmendRequest,
)
from crocbot.core.messages.journal import LoadState, RecordAmend, RecordEvent, RecordFill, RecordIntent, SaveState
from crocbot.core.risk import RiskGate, RiskState
from crocbot.core.risk_sizing import RiskLimits
from crocbot.kraken.instruments import Instrument
from crocbot.kraken.wire import BookView
from crocbot.ops.metrics import METRICS, Metrics
from crocbot.venues.protocol import Amend, Cancel, Submit, VenueCommand

__all__ = ["Router", "RouterStatus", "OpenPositions", "StatusReport", "PositionView", "OrderView"]

SAFE_MODE_KEY = "safe_mode"  # the state document `crocbot status` reads to say whether safe mode is on
_ASK_TIMEOUT = 10.0
_DAY_TICK = 60.0  # event seconds between checks for a new UTC day


@dataclass(frozen=True, slots=True)
class _DayTick:
    pass


@dataclass(frozen=True, slots=True)
class OpenPositions:
    """Ask the router: the open positions, as `Position` messages (the SL manager asks when it (re)starts)."""


@dataclass(frozen=True, slots=True)
class RouterStatus:
    """Ask the router: its books at a glance (for health, the console and tests)."""


@dataclass(frozen=True, slots=True)
class PositionView:
    position_id: str
    symbol: str
    qty: Decimal
    entry: Decimal
    stop: Decimal
    stop_live: bool
    take_profit: Decimal | None
    mark: Decimal | None


@dataclass(frozen=True, slots=True)
class OrderView:
    cl_ord_id: str
    symbol: str
    purpose: str
    side: str
    order_type: str
    qty: Decimal
    filled: Decimal
    price: Decimal | None
    status: str


@dataclass(frozen=True, slots=True)
class StatusReport:
    equity: Decimal
    realized: Decimal
    open_positions: int
    safe_reasons: tuple[str, ...]
    kill_switch: bool
    ready: bool
    positions: tuple[PositionView, ...] = ()
    orders: tuple[OrderView, ...] = ()
    kill_reason: str = ""


class Router(SupervisedActor):
    def __init__(
        self,
        ctx: ChildContext,
        instruments: Mapping[str, Instrument],
        limits: RiskLimits,
        config: DeskConfig,
        *,
        cash: Decimal,
        quote: str = "USD",
        persistence: str = "persistence",
        metrics: Metrics = METRICS,
    ) -> None:
        super().__init__(ctx)
        self._instruments = dict(instruments)
        self._limits = limits
        self._config = config
        self._cash = cash
        self._quote = quote
        self._persistence = persistence
        self._metrics = metrics
        self._desk: Desk | None = None
        self._ready = False

    @property
    def desk(self) -> Desk:
        assert self._desk is not None
        return self._desk

    # -- start ----------------------------------------------------------------------------------------

    def started(self) -> None:
        ledger_state = self._ask(LoadState(LEDGER_KEY))
        risk_state = self._ask(LoadState(RISK_KEY))
        ledger = Ledger.from_state(ledger_state) if ledger_state else Ledger(quote=self._quote, cash=self._cash)
        risk = RiskGate(self._limits, RiskState.from_state(risk_state) if risk_state else None)
        self._desk = Desk(
            instruments=self._instruments,
            risk=risk,
            ledger=ledger,
            ids=ClientIds(self.services.rng),
            config=self._config,
        )
        restored, stale_entries = self._ask(ReadJournal(lambda journal: restore(self.desk, journal)))
        for cl_ord_id, symbol in stale_entries:  # their brackets died with the old process: take them off
            self._run([CancelOrder(cl_ord_id, symbol)])
        self._run(self.desk.resume(self.clock.now()))  # every open position protected and announced
        self.desk.on_day_tick(self.clock.now())
        if risk.kill_switch_tripped:
            logger.warning("kill switch still tripped after the restart: {}", risk.kill_reason)
        bus = self.services.bus
        for topic in (
            Signal,
            OrderEvent,
            Fill,
            OrderAmended,
            CommandRejected,
            ExitRequest,
            StopAmendRequest,
            FeedHealth,
            BreakerStateChanged,
        ):
            bus.subscribe(topic, self.name)
        bus.subscribe_conflated(BookView, self.name, key=lambda view: view.symbol)
        self.services.scheduler.send_every(_DAY_TICK, self.actor_ref, _DayTick())
        self._ready = True
        if restored:
            logger.info("router rebuilt from the journal: {}", restored)
        # The paper venue's account is restored from the same journal, so the books agree by construction;
        # against a live venue the reconciler (issue 5) compares them before this is said.
        bus.publish(StartupReconciled(restored or "nothing open", self.clock.now()))

    # -- messages -------------------------------------------------------------------------------------

    def handle(self, message: Any) -> Any:
        desk = self.desk
        now = self.clock.now()
        if isinstance(message, BookView):
            if message.bids:
                desk.on_mark(message.symbol, message.bids[0][0])
        elif isinstance(message, Fill):
            order = desk.orders.get(message.cl_ord_id)
            new = self._ask(RecordFill(message, order.position_id if order is not None else None))
            if new:
                self._metrics.inc("crocbot_fills_total", help="fills received")
            # Even a fill the journal knew: a crash between its journaling and the ledger's save must not lose
            # it from the books. The desk skips a fill its ledger has booked.
            self._run(desk.on_fill(message, now))
        elif isinstance(message, OrderEvent):
            if message.cl_ord_id in desk.orders:
                self._ask(RecordEvent(message))
            self._run(desk.on_order_event(message, now))
        elif isinstance(message, OrderAmended):
            if message.cl_ord_id in desk.orders:
                self._ask(RecordAmend(message))
            self._run(desk.on_amended(message, now))
        elif isinstance(message, CommandRejected):
            self._run(desk.on_command_rejected(message, now))
        elif isinstance(message, Signal):
            self._run(desk.on_signal(message, now))
        elif isinstance(message, ExitRequest):
            self._run(desk.on_exit_request(message, now))
        elif isinstance(message, StopAmendRequest):
            self._run(desk.on_stop_amend(message, now))
        elif isinstance(message, EntryTTL):
            self._run(desk.on_entry_ttl(message, now))
        elif isinstance(message, FeedHealth):
            self._run(desk.set_safe("market data not fresh", not message.fresh, now))
        elif isinstance(message, BreakerStateChanged):
            self._run(
                desk.set_safe(f"circuit breaker {message.name} open", message.current is not BreakerState.CLOSED, now)
            )
        elif isinstance(message, _DayTick):
            self._run(desk.on_day_tick(now))
        elif isinstance(message, OpenPositions):
            return [p.message() for p in desk.positions.values() if p.open and p.entry_price is not None]
        elif isinstance(message, RouterStatus):
            return self._status_report()
        else:
            return super().handle(message)
        return None

    def _status_report(self) -> StatusReport:
        desk = self.desk
        positions = tuple(
            PositionView(
                p.position_id,
                p.symbol,
                p.qty,
                p.entry_price,
                p.stop,
                p.stop_live,
                p.take_profit,
                desk.marks.get(p.symbol),
            )
            for p in desk.positions.values()
            if p.open and p.entry_price is not None
        )
        orders = tuple(
            OrderView(
                o.cl_ord_id,
                o.symbol,
                str(o.purpose),
                str(o.intent.side),
                str(o.intent.order_type),
                o.intent.qty,
                o.filled,
                o.limit_price if o.limit_price is not None else o.trigger_price,
                str(o.status),
            )
            for o in desk.orders.values()
            if o.is_open
        )
        return StatusReport(
            desk.equity(),
            desk.ledger.realized(),
            len(positions),
            desk.risk.safe_reasons,
            desk.risk.kill_switch_tripped,
            self._ready,
            positions,
            orders,
            desk.risk.kill_reason or "",
        )

    # -- carrying out the desk's actions --------------------------------------------------------------

    def _run(self, actions: list[Action]) -> None:
        bus = self.services.bus
        # Cancels and amends wait (in order) until the next order of these actions is journaled and go to the venue
        # in one request with it: an exit and the stop cancel before it cost the venue one durable save, not two.
        held: list[VenueCommand] = []
        for action in actions:
            if isinstance(action, SendOrder):
                self._send(action, held)
                held = []
            elif isinstance(action, AmendOrder):
                amend = Amend(
                    action.cl_ord_id,
                    action.symbol,
                    self.clock.now(),
                    action.qty,
                    action.limit_price,
                    action.trigger_price,
                )
                held.append(amend)
            elif isinstance(action, CancelOrder):
                held.append(Cancel(action.cl_ord_id, action.symbol, self.clock.now()))
            elif isinstance(action, Emit):
                bus.publish(action.message)
                if isinstance(action.message, SafeModeChanged):
                    self._save_safe_mode(action.message)
            elif isinstance(action, Record):
                try:
                    self._ask(action.message)
                except Exception as error:  # noqa: BLE001 - a journal failure halts entries; it must not crash exits
                    self._journal_failed(error)
            elif isinstance(action, StartTimer):
                self.send_later(action.delay, action.message)
            elif isinstance(action, Note):
                logger.bind(actor=self.name, symbol=action.symbol or "").log(action.level, action.text)
        if held:
            bus.publish(VenueRequest(tuple(held)))

    def _send(self, action: SendOrder, held: list[VenueCommand]) -> None:
        intent = action.intent
        failure: Exception | None = None
        try:
            self._ask(RecordIntent(intent, action.position_id, action.reason))
        except Exception as error:  # noqa: BLE001 - not journaled means not sent, whatever the failure
            failure = error
        if failure is not None:
            if held:
                self.services.bus.publish(VenueRequest(tuple(held)))
            self._journal_failed(failure)
            self._run(self.desk.not_sent(intent.cl_ord_id, self.clock.now(), f"journal failed: {failure}"))
            return
        self.desk.submitted(intent.cl_ord_id, self.clock.now())
        self._metrics.inc("crocbot_orders_total", labels={"purpose": str(intent.purpose)}, help="orders sent")
        self.services.bus.publish(VenueRequest((*held, Submit(intent))))

    def _journal_failed(self, error: BaseException) -> None:
        logger.critical("the journal could not be written ({}); entries are halted", error)
        self._metrics.inc("crocbot_journal_failures_total", help="journal writes that failed")
        self._run_safe(self.desk.set_safe("journal failing", True, self.clock.now()))

    def _save_safe_mode(self, changed: SafeModeChanged) -> None:
        try:
            self._ask(SaveState(SAFE_MODE_KEY, {"reasons": list(changed.reasons), "ts": changed.ts.isoformat()}))
        except Exception:  # noqa: BLE001 - the journal failing is safe mode already; the status file can lag
            logger.opt(exception=True).error("could not save the safe-mode state for `crocbot status`")

    def _run_safe(self, actions: list[Action]) -> None:
        for action in actions:
            if isinstance(action, Emit):
                self.services.bus.publish(action.message)
            elif isinstance(action, Note):
                logger.log(action.level, action.text)

    def _ask(self, message: object) -> Any:
        ref = self.services.directory.get(self._persistence)
        if ref is None:
            raise RuntimeError("the persistence actor is not running")
        return ref.ask(message, timeout=_ASK_TIMEOUT)
