"""Builders for the desk tests: a desk on the shipped risk defaults, Kraken-like instruments, signals, venue events
and fills, and `Opened`, a position walked through entry, fills and a live stop."""

from __future__ import annotations

import dataclasses
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from crocbot.config.model import RiskSettings
from crocbot.config.policies import risk_limits
from crocbot.core.desk import (
    LEDGER_KEY,
    RISK_KEY,
    Action,
    Commit,
    Desk,
    DeskConfig,
    FillSeen,
    JournalSnapshot,
    Note,
    PositionState,
    Record,
    StopUpdates,
    Submitted,
)
from crocbot.core.ids import ClientIds
from crocbot.core.instrument import AssetClass, Instrument
from crocbot.core.journaled import JournaledOrder, JournaledPosition
from crocbot.core.ledger import Ledger
from crocbot.core.messages import (
    ExitRequest,
    Fill,
    Liquidity,
    OrderEvent,
    OrderIntent,
    OrderPurpose,
    OrderStatus,
    OrderType,
    Position,
    PositionSide,
    Side,
    Signal,
)
from crocbot.core.messages.commands import Submit
from crocbot.core.messages.journal import EntryBrackets, JournalRecord, RecordEvent, RecordIntent, SaveState
from crocbot.core.risk import RiskGate
from crocbot.core.risk_sizing import RiskLimits

D = Decimal
T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
SYMBOL = "SOL/USD"

# Kraken-like SOL/USD: 0.01 USD ticks, 8 lot decimals, 0.4 % taker fee (as in tests/core/test_risk.py).
SOL = Instrument(
    symbol="SOL/USD",
    base="SOL",
    quote="USD",
    asset_class=AssetClass.CURRENCY,
    status="online",
    price_precision=2,
    qty_precision=8,
    cost_precision=5,
    price_increment=D("0.01"),
    qty_increment=D("0.00000001"),
    qty_min=D("0.02"),
    cost_min=D("0.5"),
    taker_fee=D("0.004"),
    maker_fee=D("0.0025"),
)
ETH = dataclasses.replace(SOL, symbol="ETH/USD", base="ETH")

# What the shipped defaults size a 100 / 98 long to on 10000 USD: 50 USD budget over a worst case of
# 2 + 100 * 0.004 + 98 * 0.004 + 198 * 0.002 = 3.188 USD per unit -> 15.683814303..., down to 1e-8.
QTY = D("15.68381430")


def limits(**changes: object) -> RiskLimits:
    """The shipped defaults: 0.5 % risk, 1 % max loss, 3 % daily, 3 positions, 25 % / 75 % exposure, 15 min."""
    return dataclasses.replace(risk_limits(RiskSettings()), **changes)  # type: ignore[arg-type]  # a builder forwarding any limit the test overrides


def make_desk(
    *,
    chase_step: str = "0.0005",
    entry_order: str = "limit",
    instruments: tuple[Instrument, ...] = (SOL, ETH),
    ledger: Ledger | None = None,
    stop_updates: StopUpdates | None = None,
    **limit_changes: object,
) -> Desk:
    return Desk(
        instruments={i.symbol: i for i in instruments},
        risk=RiskGate(limits(**limit_changes)),
        ledger=ledger or Ledger(quote="USD", cash=D("10000")),
        ids=ClientIds(random.Random(1)),
        config=DeskConfig(chase_step=D(chase_step), entry_order=entry_order),
        stop_updates=stop_updates,
    )


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def signal(
    entry: str = "100",
    stop: str = "98",
    take_profit: str = "106",
    *,
    symbol: str = SYMBOL,
    side: PositionSide = PositionSide.LONG,
    ts: datetime = T0,
) -> Signal:
    return Signal(symbol, side, D(entry), D(stop), D(take_profit), "ema_trend", ts, "fast above slow")


def event(
    cl_ord_id: str, status: OrderStatus, ts: datetime = T0, *, order_id: str | None = None, reason: str = ""
) -> OrderEvent:
    return OrderEvent(cl_ord_id, status, ts, order_id=order_id, reason=reason)


def fill(
    fill_id: str,
    cl_ord_id: str,
    qty: Decimal | str,
    price: str,
    fee: str,
    *,
    side: Side = Side.BUY,
    symbol: str = SYMBOL,
    ts: datetime = T0,
) -> Fill:
    return Fill(
        fill_id=fill_id,
        cl_ord_id=cl_ord_id,
        order_id="O" + cl_ord_id,
        symbol=symbol,
        side=side,
        qty=D(qty),
        price=D(price),
        fee=D(fee),
        fee_currency="USD",
        liquidity=Liquidity.TAKER,
        ts=ts,
    )


def send(
    intent: OrderIntent,
    position_id: str | None,
    reason: str,
    brackets: EntryBrackets | None = None,
    *,
    after_cancels: tuple[str, ...] = (),
) -> list[Action]:
    """How the desk sends an order: its intent journaled (with what the journal needs of it), then the command."""
    return [Record(RecordIntent(intent, position_id, reason, brackets)), Submit(intent, after_cancels)]


def sent(actions: list[Action], purpose: OrderPurpose) -> OrderIntent:
    """The one intent of `purpose` among `actions`."""
    intents = [a.intent for a in actions if isinstance(a, Submit) and a.intent.purpose is purpose]
    assert len(intents) == 1, actions
    return intents[0]


def stop_intent(cl_ord_id: str, qty: Decimal, trigger: str, ts: datetime, *, symbol: str = SYMBOL) -> OrderIntent:
    return OrderIntent(
        cl_ord_id=cl_ord_id,
        symbol=symbol,
        side=Side.SELL,
        order_type=OrderType.STOP_LOSS,
        qty=qty,
        purpose=OrderPurpose.STOP,
        ts=ts,
        trigger_price=D(trigger),
    )


def exit_intent(cl_ord_id: str, qty: Decimal, ts: datetime, *, symbol: str = SYMBOL) -> OrderIntent:
    return OrderIntent(
        cl_ord_id=cl_ord_id,
        symbol=symbol,
        side=Side.SELL,
        order_type=OrderType.MARKET,
        qty=qty,
        purpose=OrderPurpose.EXIT,
        ts=ts,
    )


@dataclass
class Opened:
    """A long 100 / 98 position on SOL/USD, fully filled at 100 in one fill (fee 0.62), its stop acked."""

    desk: Desk
    position_id: str
    entry: str
    stop: str

    @classmethod
    def make(cls, desk: Desk | None = None, *, symbol: str = SYMBOL, price: str = "100", tag: str = "") -> Opened:
        desk = desk or make_desk()
        entry = sent(desk.on(signal(symbol=symbol), T0), OrderPurpose.ENTRY)
        desk.on(Submitted(entry.cl_ord_id), T0)
        desk.on(event(entry.cl_ord_id, OrderStatus.ACKED, at(1)), at(1))
        first = fill(f"F{tag}1", entry.cl_ord_id, entry.qty, price, "0.62", symbol=symbol, ts=at(2))
        stop = sent(desk.on(FillSeen(first, journaled=False), at(2)), OrderPurpose.STOP)
        desk.on(Submitted(stop.cl_ord_id), at(2))
        desk.on(event(stop.cl_ord_id, OrderStatus.ACKED, at(3)), at(3))
        position_id = desk.by_symbol[symbol]
        assert desk.positions[position_id].stop_live
        return cls(desk, position_id, entry.cl_ord_id, stop.cl_ord_id)

    @property
    def position(self) -> PositionState:
        return self.desk.positions[self.position_id]

    def exit_requested(self, seconds: float = 10, reason: str = "manual") -> str:
        """The position's exit, requested at `seconds` and sent (its stop's cancel with it); its client id."""
        request = ExitRequest(self.position_id, self.position.symbol, reason, at(seconds))
        exit_ = sent(self.desk.on(request, at(seconds)), OrderPurpose.EXIT).cl_ord_id
        self.desk.on(Submitted(exit_), at(seconds))
        return exit_


def entry_acked(desk: Desk) -> str:
    """A signal's limit entry, journaled, sent and acknowledged; returns its client id."""
    entry = sent(desk.on(signal(), T0), OrderPurpose.ENTRY)
    desk.on(Submitted(entry.cl_ord_id), T0)
    ack = event(entry.cl_ord_id, OrderStatus.ACKED, at(1), order_id="OE1")
    assert desk.on(ack, at(1)) == [Commit((RecordEvent(ack),))]  # journaled, and nothing else to do
    return entry.cl_ord_id


def partly_filled(desk: Desk) -> tuple[str, str, str]:
    """An entry with 10 of 15.68381430 filled at 100 and its stop acked: (position id, entry, stop)."""
    entry = entry_acked(desk)
    stop = sent(
        desk.on(FillSeen(fill("F1", entry, "10", "100", "0.4", ts=at(2)), journaled=False), at(2)), OrderPurpose.STOP
    ).cl_ord_id
    desk.on(Submitted(stop), at(2))
    desk.on(event(stop, OrderStatus.ACKED, at(3)), at(3))
    return desk.by_symbol[SYMBOL], entry, stop


def announced(
    position_id: str,
    *,
    qty: Decimal = QTY,
    entry: str | Decimal = "100",
    stop: str = "98",
    initial_stop: str = "98",
    stop_live: bool = True,
    opened_at: int = 2,
    exiting: bool = False,
    symbol: str = SYMBOL,
) -> Position:
    """The long position of `Opened` (100 / 98, take-profit 106) as the desk announces it."""
    return Position(
        position_id,
        symbol,
        PositionSide.LONG,
        qty,
        D(entry),
        D(stop),
        at(opened_at),
        take_profit=D("106"),
        stop_live=stop_live,
        initial_stop=D(initial_stop),
        exiting=exiting,
    )


def restored(
    old: Desk,
    journaled_stops: dict[str, str | None] | None = None,
    *,
    entry_prices: dict[str, Decimal] | None = None,
) -> Desk:
    """A fresh desk rebuilt from what `old` would have journaled, through the desk's own restore: the ledger from its
    saved state, the open orders with their last status, the open positions with the stop order the journal names
    (`journaled_stops`, by position id; by default the desk's current one, which the journal knows once the stop was
    acked) and their entry price (`entry_prices`, by position id, where the journal says otherwise)."""
    desk = make_desk(ledger=Ledger.from_state(old.ledger.to_state()))
    open_orders = tuple(
        JournaledOrder(
            order.intent,
            order.position_id,
            "",
            order.status,
            order.venue_id,
            order.filled,
            order.avg_price,
            order.updated_at or T0,
            amended_qty=order.qty,
            amended_limit=order.limit_price,
            amended_trigger=order.trigger_price,
        )
        for order in old.orders.values()
        if order.is_open
    )
    positions = tuple(
        JournaledPosition(
            position.position_id,
            position.symbol,
            position.side,
            position.qty,
            (entry_prices or {}).get(position.position_id, position.entry_price or D(0)),
            position.initial_stop,
            position.stop,
            position.stop_kind,
            (journaled_stops or {}).get(position.position_id, position.stop_order),
            position.take_profit,
            position.opened_at or T0,
        )
        for position in old.positions.values()
        if position.open
    )
    desk.restore(JournalSnapshot((), open_orders, positions, ()))
    return desk


def saves(desk: Desk) -> list[Action]:
    """The desk's durable state, saved after every decision that changes it."""
    return [
        Record(SaveState(LEDGER_KEY, desk.ledger.to_state())),
        Record(SaveState(RISK_KEY, desk.risk.state().to_state())),
    ]


def decided(actions: list[Action]) -> list[Action]:
    """What the desk decided, without its log lines (their wording may change; what was decided may not)."""
    return [a for a in actions if not isinstance(a, Note)]


def logged(actions: list[Action]) -> list[tuple[str, str | None]]:
    """The level and symbol of each log line, in order: how loudly the desk reported, and about which pair."""
    return [(a.level, a.symbol) for a in actions if isinstance(a, Note)]


def committed(decided_actions: list[Action]) -> list[Action]:
    """`decided_actions`, written as the rule decides them (a `Record` beside the action it journals), as `Desk.on`
    hands them out: every record in one `Commit` first, in order, then the rest, in order."""
    records = tuple(a.message for a in decided_actions if isinstance(a, Record))
    rest: list[Action] = [a for a in decided_actions if not isinstance(a, Record)]
    return [Commit(records), *rest] if records else rest


def journaled(actions: list[Action]) -> list[JournalRecord]:
    """Every record `actions` journal, in order: a `Commit`'s, and a lone `Record`'s (a rule's own output)."""
    out: list[JournalRecord] = []
    for a in actions:
        if isinstance(a, Commit):
            out += a.records
        elif isinstance(a, Record):
            out.append(a.message)
    return out
