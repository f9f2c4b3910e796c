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
    Emit,
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
    OrderAmended,
    OrderEvent,
    OrderIntent,
    OrderPurpose,
    OrderStatus,
    OrderType,
    Position,
    PositionChanged,
    PositionOpened,
    PositionSide,
    Side,
    Signal,
)
from crocbot.core.messages.commands import Submit
from crocbot.core.messages.journal import (
    EntryBrackets,
    JournalRecord,
    RecordAmend,
    RecordEvent,
    RecordFill,
    RecordIntent,
    RecordPositionOpened,
    SaveState,
)
from crocbot.core.money import ZERO
from crocbot.core.reconcile import ForeignOrderPolicy, Plan
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
    cl_ord_id: str,
    status: OrderStatus,
    ts: datetime = T0,
    *,
    order_id: str | None = None,
    reason: str = "",
    filled_qty: Decimal = ZERO,
) -> OrderEvent:
    return OrderEvent(cl_ord_id, status, ts, order_id=order_id, reason=reason, filled_qty=filled_qty)


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


def seen(fill: Fill) -> FillSeen:
    """A fill as the router hands a new one to the desk: fresh from the venue, not in the journal before."""
    return FillSeen(fill, journaled=False)


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


def fail_safe_desk() -> Desk:
    """A desk that takes market entries at up to 0.95 % risk a trade and the whole equity's exposure, and takes a stop
    within the round trip's cost: what it takes for the fail-safe (no stop fits the risk: exit) alone to decide."""
    return make_desk(
        entry_order="market",
        risk_per_trade=D("0.0095"),
        max_exposure_per_symbol=D(1),
        max_total_exposure=D(1),
        min_stop_cost_multiple=D(0),
    )


def exit_working(*, reported_sent: bool = True) -> tuple[Desk, str, str, str]:
    """A market entry of 78.51629006 at 101 (stop 99.99) of which 40 filled, its stop sent, and an exit of the 40
    handed out (and, if `reported_sent`, reported sent by the router). The rest of the entry, should it fill, fits no
    stop (the fail-safe exits all of it). Returns (desk, position id, entry, exit)."""
    desk = fail_safe_desk()
    entry = entry_sent(desk, signal("100", "99.99", "110")).cl_ord_id
    position_id = desk.by_symbol[SYMBOL]
    stop = sent(desk.on(seen(fill("F1", entry, "40", "101", "0.4", ts=at(2))), at(2)), OrderPurpose.STOP)
    desk.on(Submitted(stop.cl_ord_id), at(2))
    first = sent(desk.on(ExitRequest(position_id, SYMBOL, "manual", at(10)), at(10)), OrderPurpose.EXIT).cl_ord_id
    if reported_sent:
        desk.on(Submitted(first), at(10))
    return desk, position_id, entry, first


def entry_sent(desk: Desk, entry: Signal | None = None) -> OrderIntent:
    """The entry of `entry` (by default `signal()`), journaled and sent at T0, not yet acknowledged."""
    intent = sent(desk.on(entry or signal(), T0), OrderPurpose.ENTRY)
    desk.on(Submitted(intent.cl_ord_id), T0)
    return intent


def entry_acked(desk: Desk) -> str:
    """A signal's limit entry, journaled, sent and acknowledged; returns its client id."""
    entry = entry_sent(desk)
    ack = event(entry.cl_ord_id, OrderStatus.ACKED, at(1), order_id="OE1")
    assert desk.on(ack, at(1)) == [Commit((RecordEvent(ack),))]  # journaled, and nothing else to do
    return entry.cl_ord_id


def stop_sent(desk: Desk, qty: Decimal | str = QTY, fee: str = "0.62") -> tuple[str, str, str]:
    """A signal's entry acked, then filled for `qty` at 100 (at 2 s), its stop sent but not yet acknowledged:
    (position id, entry, stop)."""
    entry = entry_acked(desk)
    stop = sent(desk.on(seen(fill("F1", entry, qty, "100", fee, ts=at(2))), at(2)), OrderPurpose.STOP).cl_ord_id
    desk.on(Submitted(stop), at(2))
    return desk.by_symbol[SYMBOL], entry, stop


def partly_filled(desk: Desk) -> tuple[str, str, str]:
    """An entry with 10 of 15.68381430 filled at 100 and its stop acked: (position id, entry, stop)."""
    position_id, entry, stop = stop_sent(desk, "10", "0.4")
    desk.on(event(stop, OrderStatus.ACKED, at(3)), at(3))
    return position_id, entry, stop


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


def opened_by(
    desk: Desk,
    entry_fill: Fill,
    position_id: str,
    then: list[Action],
    *,
    stop: str = "98",
    take_profit: str | None = "106",
) -> list[Action]:
    """What the desk decides, log lines aside (`decided`), when `entry_fill` opens a long position: the fill and the
    position (stop `stop`) journaled in one `Commit` with `then`'s records and the saved books, the position
    announced, then `then`'s commands (its protective stop, or its exit)."""
    opened = Position(
        position_id,
        entry_fill.symbol,
        PositionSide.LONG,
        entry_fill.qty,
        entry_fill.price,
        D(stop),
        entry_fill.ts,
        take_profit=None if take_profit is None else D(take_profit),
        initial_stop=D(stop),
    )
    return committed(
        [
            Record(RecordFill(entry_fill, position_id, False)),
            Record(RecordPositionOpened(opened)),
            Emit(PositionOpened(opened)),
            *then,
            *saves(desk),
        ]
    )


def opened_with_stop(
    desk: Desk, entry_fill: Fill, position_id: str, stop_id: str, *, stop: str = "98", take_profit: str | None = "106"
) -> list[Action]:
    """`opened_by`, the position protected by a stop order at `stop` for the filled quantity."""
    intent = stop_intent(stop_id, entry_fill.qty, stop, entry_fill.ts, symbol=entry_fill.symbol)
    placed = send(intent, position_id, f"protective stop at {stop}")
    return opened_by(desk, entry_fill, position_id, placed, stop=stop, take_profit=take_profit)


def opened_and_exited(
    desk: Desk,
    entry_fill: Fill,
    position_id: str,
    exit_id: str,
    why: str,
    *,
    stop: str,
    take_profit: str | None = "106",
) -> list[Action]:
    """`opened_by`, the position (stop `stop`, never placed) sold at once at market for `why`."""
    intent = exit_intent(exit_id, entry_fill.qty, entry_fill.ts, symbol=entry_fill.symbol)
    sold = send(intent, position_id, f"exit: {why}")
    return opened_by(desk, entry_fill, position_id, sold, stop=stop, take_profit=take_profit)


def only_journaled(message: OrderEvent | OrderAmended) -> list[Action]:
    """What `Desk.on` answers to a venue message that changes nothing on the books: the message journaled, and
    nothing decided."""
    record = RecordEvent(message) if isinstance(message, OrderEvent) else RecordAmend(message)
    return [Commit((record,))]


def started(desk: Desk, now: datetime) -> list[Action]:
    """A rebuilt desk's actions at the router's start-up reconciliation, the venue agreeing with the books: what
    the desk decides to carry on (`resume`): every open position protected and announced."""
    actions, _ = desk.reconcile(Plan(), ForeignOrderPolicy.ADOPT, now, startup=True, journaled=frozenset())
    return actions


def protected_again(
    message: OrderEvent, position_id: str, stop_id: str, *, qty: Decimal = QTY, stop: str = "98"
) -> list[Action]:
    """What the desk decides, log lines aside (`decided`), when the venue's `message` leaves a long position of `qty`
    without a stop (its exit failed, or the stop's cancel the desk asked for an exit landed after the exit failed):
    `message` journaled, a new stop order at `stop` journaled and sent, the position announced with it, not yet
    live."""
    placed = send(stop_intent(stop_id, qty, stop, message.ts), position_id, f"protective stop at {stop}")
    changed = announced(position_id, qty=qty, stop=stop, stop_live=False)
    return committed([Record(RecordEvent(message)), *placed, Emit(PositionChanged(changed))])


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
