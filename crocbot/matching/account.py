"""The account side of the engine: balances, holds of open orders, fees, and the record of orders and fills.

Holds are not booked; they are derived from the open orders every time (`held`), so that there is no second
copy of the truth to drift: an order's hold shrinks with its fills and vanishes when it closes.

Fees: `cost = price * qty` stays exact; each fill's fee is rounded *down* to 8 decimals. Kraken does not
document its fee rounding; rounding down keeps every fee within 1e-8 of the exact value and guarantees that
the hold taken for an order (exact `qty * price * (1 + fee rate)`) always covers what its fills spend, so
no balance can go negative.

With `kraken_rounding` (the exchange simulator's accounts), amounts are booked as Kraken shows them: an order's
cost at the pair's `cost_precision` (its running total is rounded, so the order's cost stays within half a unit
of the exact one however many fills it takes, and each fill's cost is the step of that total), a fee in quote
rounded down to the same decimals, a fee in base down to the pair's `qty_precision`. Rounding adds less than one
unit of cost to what a buy spends, so its funds check and its hold ask for two more units (`rounding_slack`): no
balance goes below zero. The paper venue keeps exact costs: its ledger and crash checks recompute `qty * price`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import ROUND_DOWN, Decimal

from crocbot.core.instrument import Instrument
from crocbot.core.messages.side import Side
from crocbot.core.money import ONE, ZERO, fmt
from crocbot.matching.state import IdSource, OrderState
from crocbot.matching.types import Execution, FillView

__all__ = ["AccountState", "fee_of", "hold_rate", "quote_needed", "rounding_slack"]

_FEE_QUANTUM = Decimal("0.00000001")


def fee_of(amount: Decimal, quantum: Decimal = _FEE_QUANTUM) -> Decimal:
    return amount.quantize(quantum, rounding=ROUND_DOWN)


def _unit(decimals: int) -> Decimal:
    return Decimal(1).scaleb(-decimals)


def hold_rate(instrument: Instrument) -> Decimal:
    """The fee rate a hold reserves: the taker rate (the larger one on every real tier, but be safe)."""
    return max(instrument.taker_fee, instrument.maker_fee)


def rounding_slack(instrument: Instrument, rounding: bool) -> Decimal:
    """What `kraken_rounding` can add to a buy's spend beyond its exact cost and fee: two units of cost."""
    return 2 * _unit(instrument.cost_precision) if rounding else ZERO


def quote_needed(cost: Decimal, fee_in_quote: bool, rate: Decimal) -> Decimal:
    """Quote a buy of `cost` spends: the cost, plus the fee when the fee is charged in quote."""
    return cost * (ONE + rate) if fee_in_quote else cost


def _hold(order: OrderState, rounding: bool = False) -> tuple[str, Decimal]:
    """The asset and amount an open order reserves for its unfilled part."""
    inst = order.instrument
    if not order.is_open:
        return inst.quote, ZERO
    if order.side is Side.SELL:
        # Also while a market sell executes: its later fills must not be spent on an earlier fill's fee.
        return inst.base, order.remaining
    if order.executes_at_market:
        # A market buy executes within the call that checked its funds against the walk; nothing to reserve.
        return inst.quote, ZERO
    # A limit buy (triggered or not) is priced at its limit; a stop-loss/take-profit waiting for its
    # trigger at the trigger price, as if it were a market order filled there.
    price = order.limit_price if order.limit_price is not None else order.trigger_price
    if price is None:  # cannot happen: validation gives every non-market order a price
        return inst.quote, ZERO
    needed = quote_needed(order.remaining * price, order.fee_in_quote, hold_rate(inst))
    return inst.quote, needed + rounding_slack(inst, rounding)


class AccountState:
    """Balances, orders (open and closed) and fills of one account."""

    def __init__(self, balances: Mapping[str, Decimal], ids: IdSource, *, kraken_rounding: bool = False) -> None:
        for asset, amount in balances.items():
            if not isinstance(amount, Decimal) or not amount.is_finite() or amount < 0:
                raise ValueError(f"balance of {asset}: expected a non-negative Decimal, got {amount!r}")
        self._balances: dict[str, Decimal] = dict(balances)
        self._ids = ids
        self.orders: dict[str, OrderState] = {}  # every order ever accepted, in acceptance order
        self.open: dict[str, OrderState] = {}  # the open ones, in acceptance order
        self.fills: list[FillView] = []
        self.kraken_rounding = kraken_rounding
        self._exact_cost: dict[str, Decimal] = {}  # open order id -> unrounded cost so far (kraken_rounding only)

    # -- balances -----------------------------------------------------------------------------------------

    def balance(self, asset: str) -> Decimal:
        return self._balances.get(asset, ZERO)

    def balances(self) -> dict[str, Decimal]:
        return dict(self._balances)

    def held(self, asset: str) -> Decimal:
        total = ZERO
        for order in self.open.values():
            held_asset, amount = _hold(order, self.kraken_rounding)
            if held_asset == asset:
                total += amount
        return total

    def hold(self, order: OrderState) -> tuple[str, Decimal]:
        return _hold(order, self.kraken_rounding)

    def available(self, asset: str) -> Decimal:
        return self.balance(asset) - self.held(asset)

    def _add(self, asset: str, amount: Decimal) -> None:
        self._balances[asset] = self.balance(asset) + amount

    # -- orders -------------------------------------------------------------------------------------------

    def accept(self, order: OrderState) -> None:
        self.orders[order.order_id] = order
        self.open[order.order_id] = order

    def close(self, order: OrderState, order_status: str, ts: datetime, reason: str | None = None) -> Execution:
        """End an order: `filled`, `canceled` or `expired`; the event's exec_type is the same word."""
        order.order_status = order_status
        order.closed = ts
        order.reason = reason
        order.resting = False
        self.open.pop(order.order_id, None)
        self._exact_cost.pop(order.order_id, None)
        return order.event(order_status, ts, reason=reason)

    def fill(self, order: OrderState, price: Decimal, qty: Decimal, *, maker: bool, ts: datetime) -> list[Execution]:
        """Book one fill: balances, fee, the order's totals, the trade history; a `trade` event, and a
        `filled` event when nothing remains."""
        if qty <= 0 or qty > order.remaining:
            raise ValueError(f"order {order.order_id}: cannot fill {fmt(qty)} of {fmt(order.remaining)} remaining")
        inst = order.instrument
        rate = inst.maker_fee if maker else inst.taker_fee
        cost = self._cost(order, price * qty)
        quote_unit = _unit(inst.cost_precision) if self.kraken_rounding else _FEE_QUANTUM
        base_unit = _unit(inst.qty_precision) if self.kraken_rounding else _FEE_QUANTUM
        order.cum_qty += qty
        order.cum_cost += cost
        if order.side is Side.BUY:
            self._add(inst.base, qty)
            self._add(inst.quote, -cost)
            if order.fee_in_quote:
                fee, fee_asset = fee_of(cost * rate, quote_unit), inst.quote
            else:
                fee, fee_asset = fee_of(qty * rate, base_unit), inst.base
        else:
            self._add(inst.base, -qty)
            self._add(inst.quote, cost)
            fee, fee_asset = fee_of(qty * rate, base_unit), inst.base
            # fcib/fciq are *preferences* on Kraken. Selling a whole balance with the fee in base cannot pay
            # the fee in base, so it is taken from the proceeds in quote instead (our reading; see report).
            if order.fee_in_quote or fee > self.available(inst.base):
                fee, fee_asset = fee_of(cost * rate, quote_unit), inst.quote
        self._add(fee_asset, -fee)
        fee_quote = fee if fee_asset == inst.quote else fee * price
        order.fee_quote += fee_quote.quantize(quote_unit) if self.kraken_rounding else fee_quote
        exec_id, trade_id = self._ids.exec_id(), self._ids.trade_id()
        order.trade_ids.append(exec_id)
        self.fills.append(
            FillView(
                exec_id=exec_id,
                trade_id=trade_id,
                order_id=order.order_id,
                cl_ord_id=order.cl_ord_id,
                symbol=order.symbol,
                side=order.side,
                order_type=order.order_type,
                price=price,
                qty=qty,
                cost=cost,
                fee=fee,
                fee_asset=fee_asset,
                maker=maker,
                ts=ts,
            )
        )
        # Kraken's own example reports `partially_filled` on a trade even when it completes the order; the
        # `filled` event that follows is what closes it.
        order.order_status = "partially_filled"
        events = [
            order.event(
                "trade",
                ts,
                exec_id=exec_id,
                trade_id=trade_id,
                last_qty=qty,
                last_price=price,
                liquidity="m" if maker else "t",
                cost=cost,
                fee=fee,
                fee_asset=fee_asset,
            )
        ]
        if order.remaining == 0:
            events.append(self.close(order, "filled", ts))
        return events

    def _cost(self, order: OrderState, exact: Decimal) -> Decimal:
        """A fill's cost: exact, or with `kraken_rounding` the step of the order's rounded running total."""
        if not self.kraken_rounding:
            return exact
        total = self._exact_cost.get(order.order_id, order.cum_cost) + exact
        self._exact_cost[order.order_id] = total
        return total.quantize(_unit(order.instrument.cost_precision)) - order.cum_cost
