"""The engine's mutable record of one order, Kraken-style ids, and the snapshots and events built from a record."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from crocbot.core.instrument import Instrument
from crocbot.core.messages.side import Side
from crocbot.core.money import ZERO
from crocbot.matching.types import (
    LIMIT,
    LIMIT_PRICE_TYPES,
    MARKET,
    STOP_LOSS,
    STOP_LOSS_LIMIT,
    TRIGGER_TYPES,
    Execution,
    OrderSnapshot,
)

__all__ = ["OrderState", "IdSource", "OPEN_STATUSES"]

OPEN_STATUSES = frozenset({"pending_new", "new", "partially_filled"})
_REST_STATUS = {"filled": "closed", "canceled": "canceled", "expired": "expired"}
# Kraken's ids ("OUF4EM-FRGI2-MQMWZD", "TGBB7L-HT5LX-J3BZ4A") only ever show A-Z and 2-7: base32.
_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
_ID_ATTEMPTS = 1000


class IdSource:
    """Order ids (O....-.....-......), execution ids (T....), and increasing integer trade ids.

    Without a seed the ids draw from the OS's entropy, so two accounts or two runs never share an id and their logs
    can be merged (seeded by the actor's instance number, every fresh paper account drew the same sequence). The
    generator's state is saved with the account, so a restored account goes on where it left off. With a seed, the
    same sequence of calls gives the same ids: tests and reproducible simulator runs.
    """

    def __init__(self, seed: int | None = None) -> None:
        self._rng = random.Random(seed)  # None: seeded from os.urandom
        self._used: set[str] = set()
        self._trade_id = 0

    def _make(self, prefix: str) -> str:
        for _ in range(_ID_ATTEMPTS):  # a collision is ~1 in 32**16; the bound only keeps the loop finite
            chars = prefix + "".join(self._rng.choice(_ALPHABET) for _ in range(16))
            candidate = f"{chars[:6]}-{chars[6:11]}-{chars[11:]}"
            if candidate not in self._used:
                self._used.add(candidate)
                return candidate
        raise RuntimeError("could not draw a fresh id")

    def order_id(self) -> str:
        return self._make("O")

    def exec_id(self) -> str:
        return self._make("T")

    def trade_id(self) -> int:
        self._trade_id += 1
        return self._trade_id


@dataclass(slots=True, eq=False)
class OrderState:
    """One order's full state. Only the engine mutates it; everything outside sees frozen snapshots."""

    order_id: str
    seq: int  # acceptance order: time priority among our own orders, and the order of trigger checks
    instrument: Instrument
    side: Side
    order_type: str
    qty: Decimal
    limit_price: Decimal | None
    trigger_price: Decimal | None
    cl_ord_id: str | None
    post_only: bool
    time_in_force: str
    fee_in_quote: bool
    opened: datetime
    order_status: str = "pending_new"
    cum_qty: Decimal = ZERO
    cum_cost: Decimal = ZERO
    fee_quote: Decimal = ZERO  # every fee paid, valued in quote at its fill price (REST `fee`)
    triggered: bool = False
    resting: bool = False  # posted as a maker: only then do public trades fill it
    queue_ahead: Decimal = ZERO  # market qty ahead of us at our price, when resting
    priority: int = 0  # time priority at our price; renewed when an amend loses the queue position
    closed: datetime | None = None
    reason: str | None = None
    amended: bool = False
    trade_ids: list[str] = field(default_factory=list)

    @property
    def symbol(self) -> str:
        return self.instrument.symbol

    @property
    def remaining(self) -> Decimal:
        return max(self.qty - self.cum_qty, ZERO)

    @property
    def is_open(self) -> bool:
        return self.order_status in OPEN_STATUSES

    @property
    def has_trigger(self) -> bool:
        return self.order_type in TRIGGER_TYPES

    @property
    def waiting_for_trigger(self) -> bool:
        return self.has_trigger and not self.triggered

    @property
    def takes_limit(self) -> bool:
        """A limit order, or a triggered -limit variant: it executes and rests at `limit_price`."""
        return self.order_type == LIMIT or (self.order_type in LIMIT_PRICE_TYPES and self.triggered)

    @property
    def executes_at_market(self) -> bool:
        """A market order, or a triggered stop-loss/take-profit: it walks the book and never rests."""
        return self.order_type == MARKET or (self.has_trigger and self.triggered and not self.takes_limit)

    @property
    def avg_price(self) -> Decimal | None:
        return self.cum_cost / self.cum_qty if self.cum_qty > 0 else None

    def trigger_hit(self, last_price: Decimal) -> bool:
        """Kraken's `last` reference: a stop-loss fires when the price moves against the position it protects
        (a sell stop at or below its trigger, a buy stop at or above), a take-profit the other way."""
        if self.trigger_price is None:  # cannot happen: every trigger type is validated to carry one
            return False
        stop = self.order_type in (STOP_LOSS, STOP_LOSS_LIMIT)
        falling = self.side is Side.SELL if stop else self.side is Side.BUY
        return last_price <= self.trigger_price if falling else last_price >= self.trigger_price

    def event(
        self,
        exec_type: str,
        ts: datetime,
        *,
        reason: str | None = None,
        exec_id: str | None = None,
        trade_id: int | None = None,
        last_qty: Decimal | None = None,
        last_price: Decimal | None = None,
        liquidity: str | None = None,
        cost: Decimal | None = None,
        fee: Decimal | None = None,
        fee_asset: str | None = None,
    ) -> Execution:
        trigger_status = None
        if self.has_trigger:
            trigger_status = "triggered" if self.triggered else "untriggered"
        return Execution(
            exec_type=exec_type,
            order_id=self.order_id,
            cl_ord_id=self.cl_ord_id,
            symbol=self.symbol,
            side=self.side,
            order_type=self.order_type,
            order_status=self.order_status,
            order_qty=self.qty,
            cum_qty=self.cum_qty,
            cum_cost=self.cum_cost,
            avg_price=self.avg_price,
            limit_price=self.limit_price,
            trigger_price=self.trigger_price,
            ts=ts,
            exec_id=exec_id,
            trade_id=trade_id,
            last_qty=last_qty,
            last_price=last_price,
            liquidity=liquidity,
            cost=cost,
            fee=fee,
            fee_asset=fee_asset,
            reason=reason,
            trigger_status=trigger_status,
        )

    def snapshot(self) -> OrderSnapshot:
        return OrderSnapshot(
            order_id=self.order_id,
            cl_ord_id=self.cl_ord_id,
            symbol=self.symbol,
            side=self.side,
            order_type=self.order_type,
            status="open" if self.is_open else _REST_STATUS[self.order_status],
            order_status=self.order_status,
            qty=self.qty,
            cum_qty=self.cum_qty,
            cum_cost=self.cum_cost,
            fee=self.fee_quote,
            avg_price=self.avg_price,
            limit_price=self.limit_price,
            trigger_price=self.trigger_price,
            time_in_force=self.time_in_force,
            post_only=self.post_only,
            fee_in_quote=self.fee_in_quote,
            triggered=self.triggered if self.has_trigger else None,
            opened=self.opened,
            closed=self.closed,
            reason=self.reason,
            amended=self.amended,
            trade_ids=tuple(self.trade_ids),
        )
