"""The health actor: turns bus events into the health board's state and a short tape of recent events.

It only listens. The board it writes lives outside the tree (the HTTP server reads it), so a restart of this
actor loses nothing but the events published while it was down, which the bus keeps for it anyway.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from crocbot.actors.base import ChildContext, SupervisedActor
from crocbot.core.messages import (
    ActorEscalated,
    ActorExited,
    ActorRestarted,
    BreakerStateChanged,
    FeedHealth,
    OrderEvent,
    OrderStatus,
    PositionChanged,
    PositionClosed,
    PositionOpened,
    PrivateWsHealth,
    SafeModeChanged,
    Signal,
    StartupReconciled,
    StartupReconciling,
    VenueCatchUp,
)
from crocbot.core.money import fmt, quote_places, round_to_decimals
from crocbot.ops.health import HealthBoard

__all__ = ["Health"]

_TOPICS = (
    FeedHealth,
    SafeModeChanged,
    BreakerStateChanged,
    ActorRestarted,
    ActorExited,
    ActorEscalated,
    StartupReconciled,
    StartupReconciling,
    VenueCatchUp,
    PrivateWsHealth,
    Signal,
    PositionOpened,
    PositionChanged,
    PositionClosed,
    OrderEvent,
)
_SHOWN = 8  # Kraken's finest precision: an average entry over partial fills has the 28 digits of a VWAP


# What `handle` acts on: events that change the board, and events only told on the tape; the rest (`| object`)
# falls through to the base actor, which logs and ignores it.
_OnBoard = (
    FeedHealth
    | SafeModeChanged
    | BreakerStateChanged
    | ActorRestarted
    | ActorExited
    | ActorEscalated
    | StartupReconciled
    | StartupReconciling
    | VenueCatchUp
    | PrivateWsHealth
)
_OnTape = Signal | PositionOpened | PositionChanged | PositionClosed | OrderEvent


class Health(SupervisedActor):
    def __init__(self, ctx: ChildContext, board: HealthBoard) -> None:
        super().__init__(ctx)
        self._board = board
        # the size last told on the tape, per open position: a position opens at its first partial fill and grows
        self._sizes: dict[str, Decimal] = {}

    def started(self) -> None:
        for topic in _TOPICS:
            self.services.bus.subscribe(topic, self.name)

    def handle(self, message: _OnBoard | _OnTape | object) -> Any:
        board = self._board
        if isinstance(message, FeedHealth):
            board.on_feed(message)
            board.note(message.ts, f"feed {'fresh' if message.fresh else 'NOT fresh'}: {message.reason}")
        elif isinstance(message, SafeModeChanged):
            board.on_safe_mode(message)
            text = "safe mode ON: " + "; ".join(message.reasons) if message.on else "safe mode off"
            board.note(message.ts, text)
        elif isinstance(message, BreakerStateChanged):
            board.on_breaker(message)
            board.note(message.ts, f"breaker {message.name}: {message.previous} -> {message.current}")
        elif isinstance(message, ActorRestarted):
            board.on_restart(message)
            board.note(message.ts, f"actor {message.name} restarted ({message.reason})")
        elif isinstance(message, ActorExited):
            board.on_exited(message)
        elif isinstance(message, ActorEscalated):
            board.on_escalated(message)
            board.note(message.ts, f"supervisor {message.supervisor} gave up: {message.reason}")
        elif isinstance(message, StartupReconciled):
            board.on_reconciled(message)
        elif isinstance(message, StartupReconciling):
            board.on_reconciled(None)
        elif isinstance(message, PrivateWsHealth):
            board.on_private_ws(message)
            board.note(message.ts, f"private WS {'up' if message.connected else 'DOWN'}: {message.reason}")
        elif isinstance(message, VenueCatchUp):
            board.on_catch_up(message)
            board.note(message.ts, f"paper catch-up: {message.summary}")
        else:
            self._tape(message)
        return None

    def _tape(self, message: _OnTape | object) -> None:
        board = self._board
        if isinstance(message, Signal):
            text = f"{message.symbol} {message.strategy} signal: entry {fmt(message.entry)} stop {fmt(message.stop)}"
            board.note(message.ts, text)
        elif isinstance(message, PositionOpened):
            p = message.position
            self._sizes[p.position_id] = p.qty
            board.note(p.opened_at, f"{p.symbol} opened {_size(p.qty, p.entry_price)}, stop {fmt(p.stop_price)}")
        elif isinstance(message, PositionChanged):
            p = message.position
            told = self._sizes.get(p.position_id)
            if told is not None and p.qty != told:  # stop moves are not news here; the size is
                self._sizes[p.position_id] = p.qty
                verb = "grew to" if p.qty > told else "reduced to"
                board.note(self.clock.now(), f"{p.symbol} position {verb} {_size(p.qty, p.entry_price)}")
        elif isinstance(message, PositionClosed):
            self._sizes.pop(message.position_id, None)
            trade = message.trade
            # in the quote's precision: the raw figure has the 28 digits of a VWAP (235.5776343317068574164862663)
            pnl = (
                f" P&L {fmt(round_to_decimals(trade.realized_pnl, quote_places(trade.symbol)))}"
                if trade is not None
                else ""
            )
            board.note(message.ts, f"{message.symbol} closed{pnl}")
        elif isinstance(message, OrderEvent):
            if message.status is OrderStatus.REJECTED:
                board.note(message.ts, f"order {message.cl_ord_id} rejected: {message.reason}")
        else:
            super().handle(message)


def _size(qty: Decimal, entry: Decimal) -> str:
    return f"{fmt(qty)} @ {fmt(round_to_decimals(entry, _SHOWN).normalize())}"
