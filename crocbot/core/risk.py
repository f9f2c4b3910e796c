"""The risk gate the order router consults before every entry and every stop. Pure: no clock, no I/O.

- Entries pass, in this order: the UTC risk day is current (`roll_day` ran; without a starting equity the daily
  loss limit cannot be enforced, so the gate fails closed), the kill switch is not tripped, safe mode is off,
  fewer than `max_open_positions` other positions are open, the symbol is not cooling down after a loss; then
  `size_entry` sizes by risk and caps by exposure (`crocbot.core.risk_sizing`).
- Exits are never gated: nothing here refuses a sell that closes a position. `check_stop` refuses only a stop
  *level* whose worst-case loss breaks the fail-safe, and names the widest level that would not.
- Kill switch: the net realized P&L of the trades closed on the current UTC day (wins offset losses; unrealized
  P&L is not counted) reaching `-daily_loss_limit * day_start_equity` trips it for the rest of that day. A restart
  the same day keeps it (`state()` / `RiskState.from_state`); the first `roll_day` of a later day clears it, also
  when that call comes days late after a long outage.
- `RiskState` is what survives a restart: the risk day and its figures, the kill switch, the cooldowns. Safe-mode
  reasons are deliberately left out: they describe live conditions (a stale feed, an open breaker) that their
  owners re-detect after a start, and a persisted one would outlive the actor meant to clear it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from crocbot.core.checks import utc
from crocbot.core.instrument import Instrument
from crocbot.core.messages import ClosedTrade, PositionSide, Signal
from crocbot.core.money import ZERO, fmt, to_decimal
from crocbot.core.risk_sizing import (
    Refusal,
    RiskLimits,
    Sizing,
    money_text,
    percent_text,
    size_position,
    stop_refusal,
)

__all__ = ["RiskGate", "RiskState", "RISK_STATE_VERSION", "RiskLimits", "Sizing", "Refusal"]

RISK_STATE_VERSION = 1


@dataclass(frozen=True, slots=True)
class RiskState:
    """A snapshot of the gate's memory.

    `day` is the UTC day the daily figures belong to (None before the first `roll_day`); `daily_realized` is the
    net P&L of the trades closed on it; `kill_day` the day the kill switch tripped for (None when it is not
    tripped); `cooldowns` maps a symbol to the end of its cooldown after a loss.
    """

    day: date | None = None
    day_start_equity: Decimal | None = None
    daily_realized: Decimal = ZERO
    daily_trades: int = 0
    kill_day: date | None = None
    kill_reason: str = ""
    cooldowns: Mapping[str, datetime] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # A snapshot must not change when the gate it came from moves on.
        object.__setattr__(self, "cooldowns", {s: utc(t, f"cooldown {s}") for s, t in self.cooldowns.items()})
        if self.kill_day is not None and self.day is not None and self.kill_day > self.day:
            raise ValueError(f"risk state: kill switch day {self.kill_day} is after the risk day {self.day}")
        if self.daily_trades < 0:
            raise ValueError(f"risk state: daily_trades must not be negative, got {self.daily_trades}")

    def to_state(self) -> dict[str, Any]:
        return {
            "version": RISK_STATE_VERSION,
            "day": None if self.day is None else self.day.isoformat(),
            "day_start_equity": None if self.day_start_equity is None else fmt(self.day_start_equity),
            "daily_realized": fmt(self.daily_realized),
            "daily_trades": self.daily_trades,
            "kill_day": None if self.kill_day is None else self.kill_day.isoformat(),
            "kill_reason": self.kill_reason,
            "cooldowns": {s: t.isoformat() for s, t in sorted(self.cooldowns.items())},
        }

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> RiskState:
        """Rebuild from `to_state()`; ValueError on a state it does not understand."""
        version = state.get("version")
        if version != RISK_STATE_VERSION:
            raise ValueError(f"risk state: version {version!r} is not {RISK_STATE_VERSION}")
        try:
            equity = state["day_start_equity"]
            trades = state["daily_trades"]
            if isinstance(trades, bool) or not isinstance(trades, int):
                raise TypeError(f"daily_trades must be an int, got {trades!r}")
            return cls(
                day=_day(state["day"]),
                day_start_equity=None if equity is None else to_decimal(equity, field="day_start_equity"),
                daily_realized=to_decimal(state["daily_realized"], field="daily_realized"),
                daily_trades=trades,
                kill_day=_day(state["kill_day"]),
                kill_reason=str(state["kill_reason"]),
                cooldowns={
                    str(s): utc(datetime.fromisoformat(str(t)), f"cooldown {s}") for s, t in state["cooldowns"].items()
                },
            )
        except (KeyError, TypeError, AttributeError) as exc:
            raise ValueError(f"risk state: malformed ({type(exc).__name__}: {exc})") from exc


def _day(value: Any) -> date | None:
    return None if value is None else date.fromisoformat(str(value))


class RiskGate:
    """Risk decisions and the daily accounting behind them. Not thread-safe: the order router owns it."""

    def __init__(self, limits: RiskLimits, state: RiskState | None = None) -> None:
        self._limits = limits
        start = state if state is not None else RiskState()
        self._day: date | None = start.day
        self._day_start_equity: Decimal | None = start.day_start_equity
        self._daily_realized = start.daily_realized
        self._daily_trades = start.daily_trades
        self._kill_day: date | None = start.kill_day
        self._kill_reason = start.kill_reason
        self._cooldowns: dict[str, datetime] = dict(start.cooldowns)
        self._safe: dict[str, None] = {}  # an insertion-ordered set: reasons read in the order they came

    @property
    def limits(self) -> RiskLimits:
        return self._limits

    def state(self) -> RiskState:
        return RiskState(
            day=self._day,
            day_start_equity=self._day_start_equity,
            daily_realized=self._daily_realized,
            daily_trades=self._daily_trades,
            kill_day=self._kill_day,
            kill_reason=self._kill_reason,
            cooldowns=self._cooldowns,
        )

    # -- the UTC day ------------------------------------------------------------------------------------

    def roll_day(self, now: datetime, equity: Decimal) -> None:
        """Start the UTC day of `now` if it is later than the current one: reset the daily figures, take `equity`
        as the day's starting equity, clear a kill switch of an earlier day, forget finished cooldowns.

        Cheap and idempotent within a day, so the router can call it before every decision. A `now` on or before
        the current day changes nothing: a restart the same day keeps the starting equity it had.
        """
        today = utc(now, "now").date()
        if self._day is not None and today <= self._day:
            return
        self._day = today
        self._day_start_equity = equity
        self._daily_realized = ZERO
        self._daily_trades = 0
        if self._kill_day is not None and self._kill_day < today:
            self._kill_day = None
            self._kill_reason = ""
        self._cooldowns = {s: t for s, t in self._cooldowns.items() if t > now}

    @property
    def day(self) -> date | None:
        return self._day

    @property
    def day_start_equity(self) -> Decimal | None:
        return self._day_start_equity

    @property
    def daily_realized(self) -> Decimal:
        return self._daily_realized

    # -- entries ----------------------------------------------------------------------------------------

    def check_entry(self, symbol: str, *, now: datetime, open_positions: int) -> Refusal | None:
        """None when a new entry on `symbol` may go ahead; `open_positions` counts the other open positions."""
        today = utc(now, "now").date()
        if self._day is None:
            return Refusal(
                "risk day not started (roll_day has not run): the daily loss limit has no starting equity", "risk_day"
            )
        if today != self._day:
            return Refusal(
                f"risk day is {self._day} but it is {today} UTC: roll_day must run before new entries", "risk_day"
            )
        if self._kill_day is not None:
            return Refusal(f"kill switch tripped for {self._kill_day}: no new entries until 00:00 UTC", "kill_switch")
        if self._safe:
            return Refusal(
                f"safe mode ({'; '.join(self._safe)}): no new entries, exits and stops carry on", "safe_mode"
            )
        if open_positions >= self._limits.max_open_positions:
            return Refusal(
                f"{open_positions} positions are open, the maximum is {self._limits.max_open_positions}: "
                f"no new entry on {symbol}",
                "max_positions",
            )
        until = self._cooldowns.get(symbol)
        if until is not None and until > now:
            return Refusal(f"{symbol} is cooling down after a loss until {until:%Y-%m-%d %H:%M:%S} UTC", "cooldown")
        return None

    def size_entry(
        self,
        signal: Signal,
        *,
        equity: Decimal,
        instrument: Instrument,
        open_exposure: Mapping[str, Decimal],
        now: datetime,
    ) -> Sizing | Refusal:
        """Run `check_entry`, then size the signal. `open_exposure` maps each open symbol to the quote it takes
        (unsigned); the symbols in it other than the signal's count as the other open positions."""
        others = sum(1 for s, v in open_exposure.items() if s != signal.symbol and v != ZERO)
        refusal = self.check_entry(signal.symbol, now=now, open_positions=others)
        if refusal is not None:
            return refusal
        return size_position(
            signal, equity=equity, instrument=instrument, open_exposure=open_exposure, limits=self._limits
        )

    def cooldown_until(self, symbol: str) -> datetime | None:
        return self._cooldowns.get(symbol)

    # -- stops ------------------------------------------------------------------------------------------

    def check_stop(
        self,
        *,
        side: PositionSide,
        qty: Decimal,
        entry: Decimal,
        stop: Decimal,
        equity_at_entry: Decimal,
        instrument: Instrument,
    ) -> Refusal | None:
        """None when a stop at `stop` keeps the position's worst-case loss within the fail-safe
        (`fail_safe_fraction * max_loss_per_trade * equity_at_entry`)."""
        return stop_refusal(
            side=side,
            qty=qty,
            entry=entry,
            stop=stop,
            equity_at_entry=equity_at_entry,
            instrument=instrument,
            limits=self._limits,
        )

    # -- closed trades ----------------------------------------------------------------------------------

    def on_trade_closed(self, trade: ClosedTrade, *, now: datetime, equity: Decimal) -> list[str]:
        """Account a closed trade (`equity` is the account's after it); returns what changed, for the log.

        A loss starts the symbol's cooldown from the trade's close. The trade counts towards the daily loss of
        the day it closed on; a trade closing on a later day than the current one starts that day first (with
        the equity before this trade's P&L as the starting equity, since roll_day was evidently not called), and
        a late report of an earlier day's trade is not counted against today.
        """
        now = utc(now, "now")
        events: list[str] = []
        quote = trade.symbol.partition("/")[2]
        pnl = trade.realized_pnl
        closed_day = trade.closed_at.date()
        if self._day is None or closed_day > self._day:
            self.roll_day(trade.closed_at, equity - pnl)
            events.append(
                f"risk day {closed_day} started by a closed trade, starting equity {money_text(equity - pnl)} {quote}"
            )
        if pnl < 0 and self._limits.cooldown_after_loss > timedelta(0):
            until = trade.closed_at + self._limits.cooldown_after_loss
            previous = self._cooldowns.get(trade.symbol)
            if previous is None or until > previous:
                self._cooldowns[trade.symbol] = until
            if until > now:
                events.append(
                    f"{trade.symbol} cooling down until {until:%Y-%m-%d %H:%M:%S} UTC after a loss of "
                    f"{money_text(-pnl)} {quote}"
                )
        if closed_day != self._day:
            events.append(
                f"trade {trade.trade_id} closed on {closed_day}, before the risk day {self._day}: "
                "not counted in today's loss"
            )
            return events
        self._daily_realized += pnl
        self._daily_trades += 1
        events.extend(self._check_kill_switch(quote))
        return events

    def _check_kill_switch(self, quote: str) -> list[str]:
        if self._kill_day is not None or self._day_start_equity is None:
            return []
        loss = -self._daily_realized
        limit = self._limits.daily_loss_limit * self._day_start_equity
        if loss <= 0 or loss < limit:
            return []
        self._kill_day = self._day
        self._kill_reason = (
            f"kill switch tripped: daily loss {money_text(loss)} {quote} >= "
            f"{percent_text(self._limits.daily_loss_limit)} % of {money_text(self._day_start_equity)} {quote}; "
            "no new entries until 00:00 UTC"
        )
        events = [self._kill_reason]
        if self._limits.flatten_on_kill_switch:
            events.append("flatten_on_kill_switch is set: open positions are to be closed")
        return events

    # -- kill switch and safe mode ----------------------------------------------------------------------

    @property
    def kill_switch_tripped(self) -> bool:
        return self._kill_day is not None

    @property
    def kill_reason(self) -> str:
        return self._kill_reason

    @property
    def should_flatten(self) -> bool:
        return self._kill_day is not None and self._limits.flatten_on_kill_switch

    def set_safe_mode(self, reason: str, on: bool) -> None:
        """Turn one independent safe-mode reason on or off (e.g. "feed stale: BTC/USD", "breaker open: rest").
        Entries are allowed only when no reason is active; exits and stops are never blocked."""
        if not reason:
            raise ValueError("safe mode: a reason is required")
        if on:
            self._safe[reason] = None
        else:
            self._safe.pop(reason, None)

    @property
    def safe_mode(self) -> bool:
        return bool(self._safe)

    @property
    def safe_reasons(self) -> tuple[str, ...]:
        return tuple(self._safe)
