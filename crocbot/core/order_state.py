"""The order state machine: every order's life as the router sees it, with the transitions Kraken allows.

created -> submitted -> acked -> partially_filled -> filled, and the endings cancelled, replaced, rejected,
expired, error. `unknown` is the state of an order whose send timed out: it may exist on the exchange, so it is
looked up (by client order id), never sent again; the lookup moves it on. Fills may overtake acks (they come on
another channel), so a submitted or unknown order can go straight to partially filled or filled. Any other
move is a bug and raises, so that it is caught rather than traded on.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from crocbot.core.messages import Fill, OrderIntent, OrderPurpose, OrderStatus
from crocbot.core.money import ZERO, fmt

__all__ = ["IllegalTransition", "TrackedOrder", "ALLOWED"]

S = OrderStatus
_OPEN_ENDINGS = {S.CANCELLED, S.EXPIRED, S.ERROR}
ALLOWED: dict[OrderStatus, frozenset[OrderStatus]] = {
    S.CREATED: frozenset({S.SUBMITTED, S.REJECTED, S.ERROR}),
    S.SUBMITTED: frozenset({S.ACKED, S.PARTIALLY_FILLED, S.FILLED, S.REJECTED, S.UNKNOWN} | _OPEN_ENDINGS),
    S.UNKNOWN: frozenset({S.ACKED, S.PARTIALLY_FILLED, S.FILLED, S.REJECTED} | _OPEN_ENDINGS),
    S.ACKED: frozenset({S.PARTIALLY_FILLED, S.FILLED, S.REPLACED} | _OPEN_ENDINGS),
    S.PARTIALLY_FILLED: frozenset({S.PARTIALLY_FILLED, S.FILLED} | _OPEN_ENDINGS),
    S.FILLED: frozenset(),
    S.CANCELLED: frozenset(),
    S.REPLACED: frozenset(),
    S.REJECTED: frozenset(),
    S.EXPIRED: frozenset(),
    S.ERROR: frozenset(),
}


class IllegalTransition(RuntimeError):
    """A state change the machine does not allow: a bug, or the venue said something impossible."""


@dataclass(slots=True, eq=False)
class TrackedOrder:
    """One order as the router tracks it. Mutated only by the router's thread, through these methods."""

    intent: OrderIntent
    position_id: str | None
    status: OrderStatus = OrderStatus.CREATED
    venue_id: str | None = None
    filled: Decimal = ZERO
    cost: Decimal = ZERO
    fees: Decimal = ZERO  # in the fee currency of the fills (crocbot asks for fees in quote)
    limit_price: Decimal | None = None
    trigger_price: Decimal | None = None
    qty: Decimal = ZERO  # the order's size now: the intent's, until an amend the venue confirmed changes it
    amends: int = 0
    reason: str = ""
    created_at: datetime | None = None
    updated_at: datetime | None = None
    fill_ids: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        # Given ones are an order's amended terms (a restart rebuilds it from the journal); else the intent's.
        self.limit_price = self.limit_price if self.limit_price is not None else self.intent.limit_price
        self.trigger_price = self.trigger_price if self.trigger_price is not None else self.intent.trigger_price
        self.qty = self.qty or self.intent.qty
        self.created_at = self.created_at or self.intent.ts
        self.updated_at = self.updated_at or self.intent.ts

    @property
    def cl_ord_id(self) -> str:
        return self.intent.cl_ord_id

    @property
    def symbol(self) -> str:
        return self.intent.symbol

    @property
    def purpose(self) -> OrderPurpose:
        return self.intent.purpose

    @property
    def remaining(self) -> Decimal:
        return max(self.qty - self.filled, ZERO)

    @property
    def avg_price(self) -> Decimal | None:
        return self.cost / self.filled if self.filled else None

    @property
    def is_open(self) -> bool:
        """Working on the venue, or possibly working (unknown): it still needs watching."""
        return not self.status.is_terminal and self.status is not OrderStatus.CREATED

    def move(self, to: OrderStatus, at: datetime, reason: str = "") -> bool:
        """Change state; False (and no change) for a repeat of the current state, raise if not allowed."""
        if to is self.status and to is not OrderStatus.PARTIALLY_FILLED:
            return False
        if to not in ALLOWED[self.status]:
            raise IllegalTransition(f"order {self.cl_ord_id}: {self.status} -> {to} is not allowed")
        self.status = to
        self.updated_at = at
        if reason:
            self.reason = reason
        return True

    def apply_fill(self, fill: Fill) -> bool:
        """Book a fill once (by fill id); the status follows the filled quantity. False for a duplicate."""
        if fill.fill_id in self.fill_ids:
            return False
        if fill.cl_ord_id != self.cl_ord_id:
            raise IllegalTransition(f"fill {fill.fill_id} is for {fill.cl_ord_id}, not {self.cl_ord_id}")
        if self.filled + fill.qty > self.qty:
            raise IllegalTransition(
                f"order {self.cl_ord_id}: fill {fill.fill_id} of {fmt(fill.qty)} over-fills "
                f"{fmt(self.filled)} of {fmt(self.qty)}"
            )
        done = self.filled + fill.qty == self.qty
        to = OrderStatus.FILLED if done else OrderStatus.PARTIALLY_FILLED
        if to is not self.status and to not in ALLOWED[self.status]:  # check first: a refused fill changes nothing
            raise IllegalTransition(f"order {self.cl_ord_id}: fill {fill.fill_id} moves {self.status} -> {to}")
        self.fill_ids.add(fill.fill_id)
        self.filled += fill.qty
        self.cost += fill.qty * fill.price
        self.fees += fill.fee
        self.move(to, fill.ts)
        return True

    def amended(
        self,
        at: datetime,
        *,
        qty: Decimal | None = None,
        limit_price: Decimal | None = None,
        trigger_price: Decimal | None = None,
    ) -> None:
        """Kraken amends in place: same order, same ids, new size (the total, filled part included) or price."""
        if self.status.is_terminal:
            raise IllegalTransition(f"order {self.cl_ord_id}: cannot amend a {self.status} order")
        if qty is not None:
            if qty < self.filled:
                raise IllegalTransition(
                    f"order {self.cl_ord_id}: amended to {fmt(qty)}, below the {fmt(self.filled)} already filled"
                )
            self.qty = qty
        if limit_price is not None:
            self.limit_price = limit_price
        if trigger_price is not None:
            self.trigger_price = trigger_price
        self.amends += 1
        self.updated_at = at
