"""What the router does once, at its start: the desk rebuilt from the journal, and the topics it listens to.

The journal is only read on the persistence thread (the ledger, the risk state, a typed snapshot); the desk is built
and restored here, on the router's, so no other thread ever changes it.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from loguru import logger

from crocbot.actors.bus import Bus
from crocbot.actors.messages import PaperAccountSaved, ReadJournal
from crocbot.core.desk import LEDGER_KEY, RISK_KEY, Desk, DeskConfig, EntryTTL, LookupDue, ProtectionDue, StopBudgetDue
from crocbot.core.desk.stop_updates import StopUpdates
from crocbot.core.desk.trading_status import ENTRY_STATUSES
from crocbot.core.ids import ClientIds
from crocbot.core.instrument import Instrument
from crocbot.core.ledger import Ledger
from crocbot.core.messages import (
    ActorEscalated,
    BreakerStateChanged,
    CommandRejected,
    CommandUnknown,
    ExitRequest,
    FeedHealth,
    Fill,
    InstrumentStatusChanged,
    OrderAmended,
    OrderEvent,
    OrderLookedUp,
    Signal,
    StopAmendRequest,
    VenueAnomaly,
)
from crocbot.core.messages.journal import LoadState
from crocbot.core.messages.market import BookView
from crocbot.core.risk import RiskGate, RiskState
from crocbot.core.risk_sizing import RiskLimits
from crocbot.core.trading_counter import TradingCounter
from crocbot.kraken.ratelimit import TradingLimits
from crocbot.store.desk_snapshot import journal_snapshot

__all__ = ["DESK_EVENTS", "desk_from_journal", "subscribe"]

# The bus topics that reach the desk as they are (a fill and a signal need a word from the router first).
_BUS_EVENTS = (
    OrderEvent,
    OrderAmended,
    CommandRejected,
    CommandUnknown,
    OrderLookedUp,
    ExitRequest,
    StopAmendRequest,
    FeedHealth,
    BreakerStateChanged,
    ActorEscalated,
    VenueAnomaly,
    InstrumentStatusChanged,
)
# Those, and the desk's own timers.
DESK_EVENTS = (*_BUS_EVENTS, EntryTTL, StopBudgetDue, LookupDue, ProtectionDue)


def desk_from_journal(
    ask: Callable[[object], Any],
    *,
    instruments: Mapping[str, Instrument],
    limits: RiskLimits,
    config: DeskConfig,
    cash: Decimal,
    quote: str,
    trading: TradingLimits,
    rng: random.Random,
    now: Callable[[], datetime],
) -> tuple[Desk, str]:
    """The desk as the journal left it (`ask` asks persistence): ledger, risk state (the kill switch survives
    restarts), open positions and their orders; and a summary of what was rebuilt (empty: nothing). A fresh
    ledger holds `cash` in `quote`; `trading` is Kraken's per-pair trading counter, which the desk paces stop
    amends by."""
    ledger_state = ask(LoadState(LEDGER_KEY))
    risk_state = ask(LoadState(RISK_KEY))
    ledger = Ledger.from_state(ledger_state) if ledger_state else Ledger(quote=quote, cash=cash)
    risk = RiskGate(limits, RiskState.from_state(risk_state) if risk_state else None)
    desk = Desk(
        instruments=instruments,
        risk=risk,
        ledger=ledger,
        ids=ClientIds(rng),
        config=config,
        stop_updates=StopUpdates(TradingCounter(trading.threshold, trading.decay)),
    )
    restored = desk.restore(ask(ReadJournal(journal_snapshot)))
    desk.on_day_tick(now())
    if risk.kill_switch_tripped:
        logger.warning("kill switch still tripped after the restart: {}", risk.kill_reason)
    for symbol, instrument in instruments.items():  # a change later is said by the desk; the start's state here
        if instrument.status not in ENTRY_STATUSES:
            logger.bind(symbol=symbol).warning(
                "{} is {} on Kraken: no entries for it until it is online; its positions keep their stops",
                symbol,
                instrument.status,
            )
    return desk, restored


def subscribe(bus: Bus, name: str) -> None:
    """The router hears signals, fills, the desk's bus events and the paper account's saves, and the latest book of
    each symbol (conflated: a busy book never queues views the router would only skip)."""
    for topic in (Signal, Fill, *_BUS_EVENTS, PaperAccountSaved):
        bus.subscribe(topic, name)
    bus.subscribe_conflated(BookView, name, key=lambda view: view.symbol)
