"""The paper venue's catch-up after a restart, as bookkeeping the venue actor drives (no threads, no I/O here).

A restored paper account with resting orders must judge them against the prints it missed while crocbot was down
(Kraken's public `Trades` since the last print it saw, up to the moment the catch-up starts). The REST calls run
in the gateway, never in the venue's thread: a slow or rate-limited Kraken must not stop the venue from answering
heartbeats and snapshots. Until every symbol is fetched (or given up on), the venue holds what would otherwise act
on a book it has not caught up with: live prints, the newest book of each symbol, and the router's commands.
Then the missed prints are applied first, then the held prints (those the catch-up did not already cover), the
books, and last the commands, in the order they came.

A failed fetch is tried again after a growing pause, `tries` times in all; a symbol that still cannot be fetched
is judged from now on only (loudly: a stop the market ran through while crocbot was down may be missed). The whole
catch-up is bounded by `budget` wall seconds, so held commands (an exit, a stop) wait at most that long.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Generic, TypeVar

from crocbot.core.messages import Trade
from crocbot.core.messages.market import BookView

__all__ = ["CatchUp", "CatchUpPolicy", "FetchOutcome"]

C = TypeVar("C")  # a held command batch; opaque here
HELD_TRADES = 50_000  # live prints kept while catching up; more than an hour of BTC/USD at a busy time


@dataclass(frozen=True, slots=True)
class CatchUpPolicy:
    tries: int = 3  # fetches per symbol before it is given up
    pause: float = 1.0  # wall seconds before the second try, doubled for each one after
    call_timeout: float = 20.0  # wall seconds for one fetch (all its pages)
    budget: float = 45.0  # wall seconds for the whole catch-up, whatever is still missing then is given up

    def __post_init__(self) -> None:
        if self.tries < 1 or self.pause < 0 or self.call_timeout <= 0 or self.budget <= 0:
            raise ValueError(f"catch-up policy out of range: {self}")


@dataclass(frozen=True, slots=True)
class FetchOutcome:
    """What became of one symbol: its prints in (since, until], or why there are none."""

    symbol: str
    since: datetime
    prints: tuple[Trade, ...] | None  # None: given up
    tries: int
    error: str = ""


@dataclass
class CatchUp(Generic[C]):
    """One catch-up. It holds from the venue's start; `begin` names what to fetch once the router has reconciled:
    `since` per symbol, `until` the event time it began (later prints come live)."""

    policy: CatchUpPolicy = field(default_factory=CatchUpPolicy)
    since: Mapping[str, datetime] = field(default_factory=dict)
    until: datetime | None = None  # None: not begun
    tries: dict[str, int] = field(default_factory=dict)
    outcomes: dict[str, FetchOutcome] = field(default_factory=dict)
    held_trades: deque[Trade] = field(default_factory=lambda: deque(maxlen=HELD_TRADES))
    held_books: dict[str, BookView] = field(default_factory=dict)
    held_commands: list[C] = field(default_factory=list)

    @property
    def begun(self) -> bool:
        return self.until is not None

    @property
    def done(self) -> bool:
        return self.begun and all(symbol in self.outcomes for symbol in self.since)

    def begin(self, since: Mapping[str, datetime], until: datetime) -> None:
        self.since, self.until = dict(since), until

    def fetching(self, symbol: str) -> int:
        """Count a fetch of `symbol` going out; its number (1 for the first)."""
        self.tries[symbol] = self.tries.get(symbol, 0) + 1
        return self.tries[symbol]

    def fetched(self, symbol: str, trades: Sequence[Trade]) -> None:
        since, until = self.since[symbol], self.until
        assert until is not None, "fetched before the catch-up began"
        prints = sorted((t for t in trades if since < t.ts <= until), key=_print_order)
        self.outcomes[symbol] = FetchOutcome(symbol, since, tuple(prints), self.tries.get(symbol, 0))

    def failed(self, symbol: str, error: str) -> float | None:
        """A fetch failed: the wall seconds to wait before the next try, or None when `symbol` is given up."""
        tries = self.tries.get(symbol, 0)
        if tries >= self.policy.tries:
            self.outcomes[symbol] = FetchOutcome(symbol, self.since[symbol], None, tries, error)
            return None
        return float(self.policy.pause * 2 ** (tries - 1))

    def give_up(self, error: str) -> list[str]:
        """The budget is spent: every symbol still missing is given up; their names."""
        missing = [s for s in self.since if s not in self.outcomes]
        for symbol in missing:
            self.outcomes[symbol] = FetchOutcome(symbol, self.since[symbol], None, self.tries.get(symbol, 0), error)
        return missing

    def hold_trade(self, trade: Trade) -> None:
        self.held_trades.append(trade)

    def hold_book(self, view: BookView) -> None:
        self.held_books[view.symbol] = view

    def hold_commands(self, commands: C) -> None:
        self.held_commands.append(commands)


def _print_order(trade: Trade) -> tuple[datetime, int]:
    return trade.ts, trade.trade_id if trade.trade_id is not None else 0
