"""The ledger: quote cash, FIFO lots per symbol, realized P&L net of fees, and each round trip as it closes.

Every fill is reduced to one signed movement of base units at the fill price plus a fee in quote:

==========  ===============  ==================  ========================  ======================
side        fee paid in      base units moved    cash (quote) change       fee, valued in quote
==========  ===============  ==================  ========================  ======================
buy         quote            + qty               - qty * price - fee       fee
buy         base (fcib)      + (qty - fee)       - qty * price             fee * price
sell        quote (fciq)     - qty               + qty * price - fee       fee
sell        base (default)   - (qty + fee)       + qty * price             fee * price
==========  ===============  ==================  ========================  ======================

This is what Kraken books (and what `crocbot.matching.account` simulates): a fee in base is taken from the
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
replays, unique because Kraken trade ids are unique.

The ledger's state is saved after every fill, so it holds nothing that grows with the history: each `ClosedTrade`
is handed back by `apply` (the desk journals a position's round trip, in the journal's `closed_trades` table) and
the ledger remembers only the ids of the last `RECENT_FILLS` fills it booked. A fill booked once is not booked again:
- a replay among those recent fills is ignored here (`apply`, `has_fill`), whether the journal can be asked or not;
- an older replay is recognised by the journal, which answers that it holds the fill already: a fill the journal
  held before is booked (`booked`), unless it is one the ledger was told it lacks (`settle`);
- the journal stamps every state document with its newest fill (`Journal.save_state`), and the ledger is saved
  only after it has booked every fill journaled before (the router journals a fill, then books it, then saves it).
  So after a restart the fills journaled after that stamp are exactly those a crash kept from the books; the
  router's restore hands them to `settle`, and the ledger names them (`unbooked`, kept in its state too) until
  reconciliation has booked them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from crocbot.core.ledger_book import OpenPosition
from crocbot.core.messages import ClosedTrade, Fill, PositionSide, Side
from crocbot.core.money import ZERO, fmt, to_decimal
from crocbot.core.symbols import normal_asset, split_v2

__all__ = ["Ledger", "LEDGER_STATE_VERSION", "RECENT_FILLS"]

# Version 2 keeps no fill ids beyond the recent ones and no closed trades; version 1 kept all of both (read, migrated).
LEDGER_STATE_VERSION = 2
# Replays the journal cannot judge (it refuses writes) come from the venue's recent history: Kraken's executions
# snapshot (with `snap_trades`) repeats the last 50 fills. Twice that, at about 20 bytes an id, is a few kB.
RECENT_FILLS = 100


class Ledger:
    """Positions and P&L of the fills crocbot made, in one quote currency. Not thread-safe: one actor owns it."""

    def __init__(self, *, quote: str = "USD", cash: Decimal) -> None:
        self._quote = normal_asset(quote)
        self._start_cash = to_decimal(cash, field="cash")
        self._cash = self._start_cash
        self._open: dict[str, OpenPosition] = {}
        self._realized: dict[str, Decimal] = {}
        self._recent: dict[str, None] = {}  # the last RECENT_FILLS fill ids booked, oldest first
        self._unbooked: set[str] = set()  # journaled fills the ledger was told it lacks (`settle`), until booked
        self._booked = 0  # fills booked since the first run
        self._legacy: frozenset[str] | None = None  # a version-1 state's fill ids, until `settle` compares them

    # -- fills ------------------------------------------------------------------------------------------

    def apply(self, fill: Fill) -> ClosedTrade | None:
        """Book one fill; a ClosedTrade when it made its symbol flat. A fill already booked is ignored (None).

        Raises ValueError, leaving the ledger unchanged, for a fill it cannot value: another quote currency, a
        fee in a third currency, or a base fee that eats the whole quantity bought.
        """
        if self.has_fill(fill.fill_id):
            return None
        units, fee_quote = self._movement(fill)
        self._remember(fill.fill_id)
        self._unbooked.discard(fill.fill_id)
        self._booked += 1
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
        rest = position.overshoot
        if rest != ZERO:  # the fill crossed zero: what is left opens the opposite position, fee already charged
            self._open[symbol] = OpenPosition.start(fill, rest)
            self._open[symbol].add(rest, fill.price, ZERO)  # same direction: adds a lot, realizes nothing
        return closed

    def _remember(self, fill_id: str) -> None:
        self._recent[fill_id] = None
        while len(self._recent) > RECENT_FILLS:
            del self._recent[next(iter(self._recent))]

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
    def fills_booked(self) -> int:
        """Every fill booked since the first run (the crash harness compares it with the journal's count)."""
        return self._booked

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

    def has_fill(self, fill_id: str) -> bool:
        """Whether the fill is among the last `RECENT_FILLS` booked (or, until `settle`, among a version-1 state's):
        a replay recognised without the journal."""
        if self._legacy is not None and fill_id in self._legacy:
            return True
        return fill_id in self._recent

    def booked(self, fill_id: str, *, journaled: bool) -> bool:
        """Whether the fill is booked already. `journaled`: the journal held it before it came this time (it answered
        `RecordFill` with False). Every fill the journal holds is booked, but those `unbooked()` names."""
        return self.has_fill(fill_id) or (journaled and fill_id not in self._unbooked)

    def unbooked(self) -> frozenset[str]:
        """Journaled fills this ledger has not booked yet (a crash came between the two); see `settle`."""
        return frozenset(self._unbooked)

    def settle(self, journaled: Iterable[str]) -> tuple[str, ...]:
        """After a restart: `journaled` are the fills the journal holds after the stamp this ledger's state was saved
        with (all of them when there is no stamp: no state yet, or a version-1 one), in journal order. Those it has
        not booked are named by `unbooked()` until `apply` books them; returned, in that order."""
        ids = list(journaled)
        missing = tuple(i for i in ids if not self.has_fill(i) and i not in self._unbooked)
        self._unbooked.update(missing)
        legacy, self._legacy = self._legacy, None
        if legacy is not None:
            # A version-1 state named every fill booked: keep the newest journaled ones, and those the journal lacks
            # (booked while it refused writes; reconciliation brings them back, and they must be recognised).
            self._recent = dict.fromkeys([i for i in ids if i in legacy][-RECENT_FILLS:])
            self._recent.update(dict.fromkeys(sorted(legacy.difference(ids))))
        return missing

    # -- persistence ------------------------------------------------------------------------------------

    def to_state(self) -> dict[str, Any]:
        """Everything needed to continue after a restart, as JSON-able values (Decimals as strings); its size does
        not grow with the fills booked. ValueError for a version-1 ledger not settled yet: saved before its fill ids
        were compared with the journal, it would lose the fills a crash kept from the books."""
        if self._legacy is not None:
            raise ValueError("ledger state: a version-1 ledger must be settled with the journal before it is saved")
        return {
            "version": LEDGER_STATE_VERSION,
            "quote": self._quote,
            "start_cash": fmt(self._start_cash),
            "cash": fmt(self._cash),
            "realized": {s: fmt(v) for s, v in sorted(self._realized.items())},
            "positions": {s: p.to_state() for s, p in sorted(self._open.items())},
            "fills_booked": self._booked,
            "recent_fills": list(self._recent),
            "unbooked_fills": sorted(self._unbooked),
        }

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> Ledger:
        """Rebuild a ledger from `to_state()`, or from a version-1 state (every fill id and closed trade: the ids
        wait for `settle`, the trades are the journal's); ValueError on a state it does not understand."""
        version = state.get("version")
        if version not in (1, LEDGER_STATE_VERSION):
            raise ValueError(f"ledger state: version {version!r} is not {LEDGER_STATE_VERSION} (or 1)")
        try:
            ledger = cls(quote=str(state["quote"]), cash=to_decimal(state["start_cash"], field="start_cash"))
            ledger._cash = to_decimal(state["cash"], field="cash")
            ledger._realized = {str(s): to_decimal(v, field="realized") for s, v in state["realized"].items()}
            ledger._open = {str(s): OpenPosition.from_state(p) for s, p in state["positions"].items()}
            if version == 1:
                ledger._legacy = frozenset(_ids(state["fill_ids"]))
                ledger._booked = len(ledger._legacy)
            else:
                booked = state["fills_booked"]
                if isinstance(booked, bool) or not isinstance(booked, int) or booked < 0:
                    raise TypeError(f"fills_booked must be a count, got {booked!r}")
                ledger._booked = booked
                ledger._recent = dict.fromkeys(_ids(state["recent_fills"]))
                ledger._unbooked = set(_ids(state["unbooked_fills"]))
        except (KeyError, TypeError, AttributeError) as exc:
            raise ValueError(f"ledger state: malformed ({type(exc).__name__}: {exc})") from exc
        return ledger


def _ids(values: Any) -> list[str]:
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise TypeError(f"fill ids must be a list of strings, got {values!r}")
    return values


def _mark(marks: Mapping[str, Decimal], symbol: str) -> Decimal:
    mark = marks.get(symbol)
    if mark is None:
        raise ValueError(f"no mark for {symbol}, which has an open position")
    return mark
