"""The ledger: quote cash, FIFO lots per symbol, realized P&L net of fees, and the record of closed trades.

Every fill is reduced to one signed movement of base units at the fill price plus a fee in quote:

==========  ===============  ==================  ========================  ======================
side        fee paid in      base units moved    cash (quote) change       fee, valued in quote
==========  ===============  ==================  ========================  ======================
buy         quote            + qty               - qty * price - fee       fee
buy         base (fcib)      + (qty - fee)       - qty * price             fee * price
sell        quote (fciq)     - qty               + qty * price - fee       fee
sell        base (default)   - (qty + fee)       + qty * price             fee * price
==========  ===============  ==================  ========================  ======================

This is what Kraken books (and what `crocbot.venues.engine_ledger` simulates): a fee in base is taken from the
base received, or on top of the base given. In every row, `cash change = -units * price - fee in quote`: a fee
paid in base is treated as base units disposed of at the fill price whose proceeds went to the fee. So the
ledger's cash and `position()` equal the balances an exchange account shows after the same fills, and a symbol
that is flat again has realized exactly the cash it gained or lost.

The base units moved are matched FIFO: units in the position's direction add a lot at the fill price; units
against it close the oldest lots first and realize `(price - lot price) * units` (the reverse for a short).
Fees are realized when they are paid, not spread over the lots they belong to: cash has left the account at that
moment, and charging them whole keeps every amount an exact product and sum of exchange figures (a pro-rata share
would need a division). Hence `equity(marks) == cash at start + realized() + unrealized(marks)` at all times,
exactly. A `ClosedTrade` covers one position from flat to flat and carries all of its fees.

Spot crocbot is long only; shorts (a sell on a flat symbol) are handled symmetrically for completeness. A fill
that crosses zero (sells more than the long holds) closes the position, charges its whole fee to the trade it
closes, and opens the opposite position with the rest at the fill price.

Trade ids are `f"{symbol}:{fill_id}"` with the id of the position's first fill: stable across restarts and
replays, unique because Kraken trade ids are unique. Replaying a fill (same `fill_id`) changes nothing; the fill
ids and closed trades are kept for the ledger's life (a few dozen bytes per fill, so weeks of trading stay small).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from decimal import Decimal
from typing import Any

from crocbot.core.ledger_book import OpenPosition, closed_trade_from_state, closed_trade_to_state
from crocbot.core.messages import ClosedTrade, Fill, PositionSide, Side
from crocbot.core.money import ZERO, fmt, to_decimal
from crocbot.kraken.symbols import normal_asset, split_v2

__all__ = ["Ledger", "LEDGER_STATE_VERSION"]

LEDGER_STATE_VERSION = 1


class Ledger:
    """Positions and P&L of the fills crocbot made, in one quote currency. Not thread-safe: one actor owns it."""

    def __init__(self, *, quote: str = "USD", cash: Decimal) -> None:
        self._quote = normal_asset(quote)
        self._start_cash = to_decimal(cash, field="cash")
        self._cash = self._start_cash
        self._open: dict[str, OpenPosition] = {}
        self._realized: dict[str, Decimal] = {}
        self._fill_ids: set[str] = set()
        self._closed: list[ClosedTrade] = []
        self._daily: dict[date, Decimal] = {}

    # -- fills ------------------------------------------------------------------------------------------

    def apply(self, fill: Fill) -> ClosedTrade | None:
        """Book one fill; a ClosedTrade when it made its symbol flat. A fill already booked is ignored (None).

        Raises ValueError, leaving the ledger unchanged, for a fill it cannot value: another quote currency, a
        fee in a third currency, or a base fee that eats the whole quantity bought.
        """
        if fill.fill_id in self._fill_ids:
            return None
        units, fee_quote = self._movement(fill)
        self._fill_ids.add(fill.fill_id)
        self._cash -= units * fill.price + fee_quote
        symbol = fill.symbol
        realized = self._realized.get(symbol, ZERO) - fee_quote
        position = self._open.get(symbol)
        if position is None:
            position = self._open[symbol] = OpenPosition.start(fill, units)
        self._realized[symbol] = realized + position.add(units, fill.price, fee_quote)
        if position.qty != ZERO:
            return None
        del self._open[symbol]
        closed = position.close(fill)
        self._closed.append(closed)
        day = closed.closed_at.date()
        self._daily[day] = self._daily.get(day, ZERO) + closed.realized_pnl
        rest = position.overshoot
        if rest != ZERO:  # the fill crossed zero: what is left opens the opposite position, fee already charged
            self._open[symbol] = OpenPosition.start(fill, rest)
            self._open[symbol].add(rest, fill.price, ZERO)  # same direction: adds a lot, realizes nothing
        return closed

    def _movement(self, fill: Fill) -> tuple[Decimal, Decimal]:
        """Signed base units moved and the fee in quote (see the module table)."""
        base, quote = split_v2(fill.symbol)
        base, quote = normal_asset(base), normal_asset(quote)
        if quote != self._quote:
            raise ValueError(
                f"fill {fill.fill_id}: {fill.symbol} is quoted in {quote}, this ledger keeps {self._quote}"
            )
        fee_asset = normal_asset(fill.fee_currency)
        if fee_asset == quote:
            base_fee, fee_quote = ZERO, fill.fee
        elif fee_asset == base:
            base_fee, fee_quote = fill.fee, fill.fee * fill.price
        else:
            raise ValueError(
                f"fill {fill.fill_id}: fee {fmt(fill.fee)} {fill.fee_currency} is neither {base} nor {quote}; "
                "the ledger cannot value it"
            )
        if fill.side is Side.BUY:
            if base_fee >= fill.qty:
                raise ValueError(
                    f"fill {fill.fill_id}: a base fee of {fmt(base_fee)} leaves nothing of {fmt(fill.qty)} bought"
                )
            return fill.qty - base_fee, fee_quote
        return -(fill.qty + base_fee), fee_quote

    def register_initial_risk(self, symbol: str, risk: Decimal) -> None:
        """Record what the open position stood to lose at its first stop (quote), for the trade's R multiple."""
        position = self._open.get(symbol)
        if position is None:
            raise ValueError(f"{symbol}: no open position to register an initial risk for")
        if not isinstance(risk, Decimal) or not risk.is_finite() or risk <= 0:
            raise ValueError(f"{symbol}: initial risk must be a positive Decimal, got {risk!r}")
        position.initial_risk = risk

    # -- queries ----------------------------------------------------------------------------------------

    @property
    def quote(self) -> str:
        return self._quote

    @property
    def cash(self) -> Decimal:
        return self._cash

    @property
    def start_cash(self) -> Decimal:
        return self._start_cash

    @property
    def closed_trades(self) -> Sequence[ClosedTrade]:
        return tuple(self._closed)

    def symbols(self) -> tuple[str, ...]:
        """Symbols with an open position, sorted."""
        return tuple(sorted(self._open))

    def position(self, symbol: str) -> Decimal:
        """Signed base quantity: > 0 long, < 0 short, 0 flat."""
        position = self._open.get(symbol)
        return ZERO if position is None else position.signed_qty

    def side(self, symbol: str) -> PositionSide | None:
        position = self._open.get(symbol)
        return None if position is None else position.side

    def trade_id(self, symbol: str) -> str | None:
        """The id the ClosedTrade of the open position will carry."""
        position = self._open.get(symbol)
        return None if position is None else position.trade_id

    def average_entry(self, symbol: str) -> Decimal | None:
        """Quantity-weighted price of the lots still open (fees excluded); None when flat."""
        position = self._open.get(symbol)
        return None if position is None else position.average_open_price

    def realized(self, symbol: str | None = None) -> Decimal:
        """FIFO P&L realized so far minus every fee paid, for one symbol or all of them."""
        if symbol is not None:
            return self._realized.get(symbol, ZERO)
        return sum(self._realized.values(), ZERO)

    def unrealized(self, marks: Mapping[str, Decimal]) -> Decimal:
        """P&L of the open lots at `marks` (symbol -> price); ValueError names any open symbol without a mark."""
        return sum((p.unrealized(_mark(marks, s)) for s, p in self._open.items()), ZERO)

    def equity(self, marks: Mapping[str, Decimal]) -> Decimal:
        """Cash plus the open positions valued at `marks` (a short counts as a liability)."""
        return self._cash + sum((p.signed_qty * _mark(marks, s) for s, p in self._open.items()), ZERO)

    def daily_realized(self, day: date) -> Decimal:
        """Net P&L of the trades that went flat on this UTC day (by the time of the closing fill)."""
        return self._daily.get(day, ZERO)

    def fill_ids(self) -> frozenset[str]:
        """Every fill booked, across restarts (reconciliation compares them with the venue's)."""
        return frozenset(self._fill_ids)

    def has_fill(self, fill_id: str) -> bool:
        return fill_id in self._fill_ids

    # -- persistence ------------------------------------------------------------------------------------

    def to_state(self) -> dict[str, Any]:
        """Everything needed to continue after a restart, as JSON-able values (Decimals as strings)."""
        return {
            "version": LEDGER_STATE_VERSION,
            "quote": self._quote,
            "start_cash": fmt(self._start_cash),
            "cash": fmt(self._cash),
            "realized": {s: fmt(v) for s, v in sorted(self._realized.items())},
            "positions": {s: p.to_state() for s, p in sorted(self._open.items())},
            "fill_ids": sorted(self._fill_ids),
            "closed_trades": [closed_trade_to_state(t) for t in self._closed],
        }

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> Ledger:
        """Rebuild a ledger from `to_state()`; ValueError on a state it does not understand."""
        version = state.get("version")
        if version != LEDGER_STATE_VERSION:
            raise ValueError(f"ledger state: version {version!r} is not {LEDGER_STATE_VERSION}")
        try:
            ledger = cls(quote=str(state["quote"]), cash=to_decimal(state["start_cash"], field="start_cash"))
            ledger._cash = to_decimal(state["cash"], field="cash")
            ledger._realized = {str(s): to_decimal(v, field="realized") for s, v in state["realized"].items()}
            ledger._open = {str(s): OpenPosition.from_state(p) for s, p in state["positions"].items()}
            ledger._fill_ids = {str(i) for i in state["fill_ids"]}
            for row in state["closed_trades"]:
                trade = closed_trade_from_state(row)
                ledger._closed.append(trade)
                day = trade.closed_at.date()
                ledger._daily[day] = ledger._daily.get(day, ZERO) + trade.realized_pnl
        except (KeyError, TypeError, AttributeError) as exc:
            raise ValueError(f"ledger state: malformed ({type(exc).__name__}: {exc})") from exc
        return ledger


def _mark(marks: Mapping[str, Decimal], symbol: str) -> Decimal:
    mark = marks.get(symbol)
    if mark is None:
        raise ValueError(f"no mark for {symbol}, which has an open position")
    return mark
