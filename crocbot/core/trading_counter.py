"""Kraken's per-pair trading counter, as crocbot estimates it before it sends an order command.

Kraken charges every add, amend and cancel to a counter per pair, shared by REST, WS and FIX, which decays
continuously; a command that would take the counter over its threshold is refused (`EOrder:Rate limit exceeded`),
and the fixed part is charged even then. An amend or a cancel of a young order costs more (the age is the time
since the order was placed or last amended). The table lives here, in the pure core, because the desk needs it to
pace stop amends; `crocbot.kraken.ratelimit` (the client and the simulator) uses the same table.

The estimate errs on the side of a fuller counter, so that an amend it lets through never tips Kraken's over:
- a command's cost counts in full from when it is sent until the venue answers about its order (`answered`), and
  decays only from then (Kraken charged it somewhere in between; a call stuck in a queue or a hung socket may reach
  it late), or at the latest `settle_within` seconds after it was sent (a call's deadline is far shorter);
- the caller computes an order's age from the last time the venue reported it changed (conservatively young);
- amends may fill the counter only up to `threshold - reserve`: the reserve keeps room for what protects money and
  is never paced, the exit of a position and the cancel of its stop (up to 8 + 1 for a young stop);
- a refusal for the rate limit (someone else on the key, a clock that drifted) is believed: the counter is full.
Pure: no I/O, no threads; time is the caller's `now`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

__all__ = ["ADD_COST", "amend_cost", "cancel_cost", "TradingCounter", "STARTER"]

ADD_COST = 1.0
STARTER = (60.0, 1.0)  # Kraken's lowest tier: threshold, decay per second (`crocbot.kraken.ratelimit` has them all)
# (order younger than N seconds, penalty), from Kraken's spot rate-limit table (FACTS.md §6).
_AMEND_PENALTY = ((5, 3.0), (10, 2.0), (15, 1.0))
_CANCEL_PENALTY = ((5, 8.0), (10, 6.0), (15, 5.0), (45, 4.0), (90, 2.0), (300, 1.0))
RESERVE = 10.0  # an exit (1) behind the cancel of a young stop (8), and a unit for rounding and clocks


def _penalty(table: tuple[tuple[int, float], ...], age: float) -> float:
    for younger_than, penalty in table:
        if age < younger_than:
            return penalty
    return 0.0


def amend_cost(age: float) -> float:
    """What an amend of an order `age` seconds old (since placed or last amended) adds to its pair's counter."""
    return 1.0 + _penalty(_AMEND_PENALTY, age)


def cancel_cost(age: float) -> float:
    return _penalty(_CANCEL_PENALTY, age)


@dataclass(slots=True)
class _Pair:
    level: float = 0.0  # the settled charges, as of `at`
    at: datetime | None = None
    in_flight: dict[str, list[tuple[float, datetime]]] = field(default_factory=dict)  # by order: (cost, sent at)


class TradingCounter:
    """The estimate of every pair's counter (see the module doc)."""

    def __init__(
        self, threshold: float, decay: float, *, reserve: float = RESERVE, settle_within: float = 30.0
    ) -> None:
        if threshold <= reserve or decay <= 0:
            raise ValueError("a trading counter needs a threshold above its reserve and a positive decay")
        self.threshold = threshold
        self.decay = decay
        self.reserve = reserve
        self.settle_within = settle_within
        self._pairs: dict[str, _Pair] = {}
        self._symbol_of: dict[str, str] = {}  # order -> pair, for the orders with a charge in flight

    def sent(self, symbol: str, order: str, cost: float, now: datetime) -> None:
        """A command about `order` went out: its cost counts in full until the venue answers about the order."""
        if cost <= 0:
            return
        pair = self._pair(symbol, now)
        pair.in_flight.setdefault(order, []).append((cost, now))
        self._symbol_of[order] = symbol

    def answered(self, order: str, now: datetime) -> None:
        """The venue answered about `order`: what was sent about it was charged by now, and decays from now."""
        symbol = self._symbol_of.pop(order, None)
        if symbol is None:
            return
        pair = self._pair(symbol, now)
        charges = pair.in_flight.pop(order, [])
        pair.level += sum(cost for cost, _ in charges)

    def exceeded(self, symbol: str, now: datetime) -> None:
        """The venue refused a command for the rate limit: its counter is at the threshold, whatever we thought."""
        pair = self._pair(symbol, now)
        pair.level = max(pair.level, self.threshold - self._in_flight(pair))

    def level(self, symbol: str, now: datetime) -> float:
        pair = self._pair(symbol, now)
        return pair.level + self._in_flight(pair)

    def wait(self, symbol: str, cost: float, now: datetime) -> float:
        """Seconds until an amend costing `cost` fits below `threshold - reserve` (0: it fits now)."""
        excess = self.level(symbol, now) + cost - (self.threshold - self.reserve)
        return excess / self.decay if excess > 1e-9 else 0.0

    def _in_flight(self, pair: _Pair) -> float:
        return sum(cost for charges in pair.in_flight.values() for cost, _ in charges)

    def _pair(self, symbol: str, now: datetime) -> _Pair:
        """The pair's counter, decayed to `now`. A charge in flight for `settle_within` seconds never heard its answer
        (a lost message): it is settled now, which credits it no decay for the time it waited (the safe side)."""
        pair = self._pairs.get(symbol)
        if pair is None:
            pair = self._pairs[symbol] = _Pair(at=now)
            return pair
        if pair.at is not None and now > pair.at:
            pair.level = max(0.0, pair.level - (now - pair.at).total_seconds() * self.decay)
            pair.at = now
        for order, charges in list(pair.in_flight.items()):
            stale = [charge for charge in charges if (now - charge[1]).total_seconds() >= self.settle_within]
            for charge in stale:
                charges.remove(charge)
                pair.level += charge[0]
            if not charges:
                del pair.in_flight[order]
                self._symbol_of.pop(order, None)
        return pair
