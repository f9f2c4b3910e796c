"""The live start-up preflight: after the countdown and before any order, ask Kraken whether this key, this
account and these symbols can trade, and say exactly what to fix when they cannot.

`gather` makes the calls (BalanceEx, OpenOrders, ClosedOrders, GetWebSocketsToken, AssetPairs, a Ticker and a
`validate=true` AddOrder at the pair's minimum size per symbol, and CancelAllOrdersAfter(0) when the dead man's
switch is on) and keeps each answer or the Kraken error that came instead. `judge` turns those facts into problems,
which stop the start, and warnings, which do not; it is pure, so every message is tested without a network.

A symbol whose status is not `online` is a warning, not a problem: refusing the start would leave the positions of
an earlier run unwatched, while starting lets the bot tend them. Only a delisted or unknown pair stops the start.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from functools import partial
from typing import Any, TypeVar

from loguru import logger

from crocbot.core.instrument import Instrument
from crocbot.core.live_limits import LiveLimits
from crocbot.core.messages import OrderType, Side
from crocbot.core.money import ZERO
from crocbot.core.risk_sizing import money_text
from crocbot.kraken.endpoints import KrakenApi
from crocbot.kraken.errors import AuthError, KrakenError, RateLimitError
from crocbot.kraken.rest_types import AddOrderRequest

__all__ = ["Observed", "PreflightResult", "gather", "judge", "run_preflight", "minimum_order", "PREFLIGHT_CL_ORD_ID"]

PREFLIGHT_CL_ORD_ID = "crocbot-preflight"  # at most 18 characters (FACTS §10.4); a validated order never rests
_BELOW_BID = Decimal("0.98")  # the test order's price, as a share of the bid
_VALIDATED_STATUSES = frozenset({"online", "post_only", "limit_only"})  # where a resting buy is accepted at all

PERMISSION_DENIED = "EGeneral:Permission denied"
# Answers after which every other call fails alike; the auth ones are AuthError, the lockout a RateLimitError.
_FATAL_CODES = ("EAPI:Invalid key", "EAPI:Invalid signature", "EAPI:Invalid nonce", "EGeneral:Temporary lockout")
# The key permission (as kraken.com names it, Settings > API) each call needs (FACTS §10.12).
_PERMISSION = {
    "BalanceEx": "Query Funds",
    "OpenOrders": "Query Open Orders & Trades",
    "ClosedOrders": "Query Closed Orders & Trades",
    "GetWebSocketsToken": "WebSocket interface",
    "CancelAllOrdersAfter": "Cancel & Close Orders",
    "AddOrder": "Create & Modify Orders",
}
_ALL_PERMISSIONS = (
    "Query Funds, Query Open Orders & Trades, Query Closed Orders & Trades, Create & Modify Orders, "
    "Cancel & Close Orders and WebSocket interface"
)
_XSTOCKS = "xStocks are offered only in some regions (not to residents of the US, the UK, Canada or Australia)"
_AUTH_FIXES = {
    "EAPI:Invalid key": "Kraken does not know KRAKEN_API_KEY: copy it again from kraken.com (Settings > API), or "
    "create a new key",
    "EAPI:Invalid signature": "KRAKEN_API_SECRET is not the private key of KRAKEN_API_KEY: copy both again from "
    "kraken.com, as a pair",
    "EAPI:Invalid nonce": "another program uses this API key, or it was used with larger nonces before: give "
    "crocbot a key of its own (a new key starts afresh)",
    "EGeneral:Temporary lockout": "Kraken has locked the key out for about 15 minutes after too many failed calls: "
    "wait, then start again",
    "EAPI:Feature disabled": "Kraken has disabled this API feature for the account: ask Kraken's support",
}

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Observed:
    """What Kraken answered, call by call: the answer, or the KrakenError that came instead (None: not asked)."""

    symbols: tuple[str, ...]
    balances: Mapping[str, Decimal] | KrakenError | None = None  # available (balance less holds), by asset
    open_orders: int | KrakenError | None = None
    closed_orders: int | KrakenError | None = None
    ws_token: bool | KrakenError | None = None
    dead_mans_switch: bool | KrakenError | None = None  # asked only when the switch is on
    instruments: Mapping[str, Instrument | None] | KrakenError | None = None  # None: not among Kraken's pairs
    prices: Mapping[str, Decimal | KrakenError] = field(default_factory=dict)  # best bid
    validated: Mapping[str, KrakenError | None] = field(default_factory=dict)  # None: accepted


@dataclass(frozen=True, slots=True)
class PreflightResult:
    problems: tuple[str, ...]  # each stops the start and says what to fix
    warnings: tuple[str, ...]
    balances: Mapping[str, Decimal]  # available, by asset (empty if Kraken did not say)
    open_orders: int | None

    @property
    def ok(self) -> bool:
        return not self.problems


def minimum_order(instrument: Instrument, price: Decimal) -> Decimal:
    """The smallest quantity Kraken accepts at `price`: its `ordermin`, raised to meet `costmin`."""
    by_cost = (instrument.cost_min / price / instrument.qty_increment).to_integral_value(ROUND_CEILING)
    return max(instrument.qty_min, by_cost * instrument.qty_increment)


# -- the calls ----------------------------------------------------------------------------------------


def _ask(call: Callable[[], T]) -> T | KrakenError:
    try:
        return call()
    except KrakenError as error:
        return error


def _halts(answer: object) -> bool:
    """An answer after which every other call would fail the same way: a bad key, a lockout, no Kraken."""
    if not isinstance(answer, KrakenError):
        return False
    if isinstance(answer, AuthError):
        return not answer.code.startswith(PERMISSION_DENIED)
    return (answer.retryable and not isinstance(answer, RateLimitError)) or answer.code.startswith(_FATAL_CODES)


def gather(api: KrakenApi, symbols: Sequence[str], *, dead_mans_switch: bool = False) -> Observed:
    """Ask Kraken; stop early once an answer shows that the rest would fail the same way."""
    observed = Observed(symbols=tuple(symbols))

    def available() -> dict[str, Decimal]:
        return {asset: row.available for asset, row in api.balance_ex().items()}

    steps: list[tuple[str, Callable[[], object]]] = [
        ("balances", available),
        ("open_orders", lambda: len(api.open_orders())),
        ("closed_orders", lambda: api.closed_orders()[1]),
        ("ws_token", lambda: bool(api.websockets_token())),
    ]
    if dead_mans_switch:
        # 0 disarms: harmless, and it shows that the key may use the switch before the bot relies on it.
        steps.append(("dead_mans_switch", lambda: bool(api.cancel_all_orders_after(0))))
    steps.append(("instruments", lambda: _instruments(api, symbols)))
    for name, call in steps:
        answer = _ask(call)
        change: dict[str, Any] = {name: answer}  # the step's name is the Observed field it fills
        observed = replace(observed, **change)
        if _halts(answer):
            return observed
    instruments = observed.instruments
    assert isinstance(instruments, Mapping)
    prices: dict[str, Decimal | KrakenError] = {}
    validated: dict[str, KrakenError | None] = {}
    for symbol in symbols:
        instrument = instruments.get(symbol)
        if instrument is None or instrument.status not in _VALIDATED_STATUSES:
            continue
        price = prices[symbol] = _ask(partial(_bid, api, symbol))
        outcome = price if isinstance(price, KrakenError) else _validate(api, instrument, price)
        if outcome is not price:
            validated[symbol] = outcome
        if _halts(outcome):
            break
    return replace(observed, prices=prices, validated=validated)


def _bid(api: KrakenApi, symbol: str) -> Decimal:
    return api.ticker(symbol).bid


def _instruments(api: KrakenApi, symbols: Sequence[str]) -> dict[str, Instrument | None]:
    catalog = api.load_catalog()  # fresh from AssetPairs: the status of every pair, xStocks included
    return {symbol: catalog.get(symbol) for symbol in symbols}


def _validate(api: KrakenApi, instrument: Instrument, bid: Decimal) -> KrakenError | None:
    # Below the bid it rests as a maker, and a post_only market accepts it. Not at the bid: the market may fall
    # between the Ticker and the AddOrder, and a post-only buy at a bid above the new ask is refused
    # (`EOrder:Post only order`), which stopped live starts on a fast market.
    steps = (bid * _BELOW_BID / instrument.price_increment).to_integral_value(ROUND_FLOOR)
    price = max(steps * instrument.price_increment, instrument.price_increment)
    request = AddOrderRequest(
        symbol=instrument.symbol,
        side=Side.BUY,
        order_type=OrderType.LIMIT,
        qty=minimum_order(instrument, price),
        cl_ord_id=PREFLIGHT_CL_ORD_ID,
        limit_price=price,
        post_only=True,
    )
    try:
        api.add_order(request, validate=True)  # asset_class=tokenized_asset for xStocks: KrakenApi adds it
    except KrakenError as error:
        return error
    return None


# -- the judgement ------------------------------------------------------------------------------------


def judge(observed: Observed, limits: LiveLimits) -> PreflightResult:
    """Problems (stop the start) and warnings from what Kraken answered; pure."""
    problems: list[str] = []
    warnings: list[str] = []
    calls: list[tuple[str, object]] = [
        ("BalanceEx", observed.balances),
        ("OpenOrders", observed.open_orders),
        ("ClosedOrders", observed.closed_orders),
        ("GetWebSocketsToken", observed.ws_token),
        ("CancelAllOrdersAfter", observed.dead_mans_switch),
        ("AssetPairs", observed.instruments),
    ]
    for method, answer in calls:
        if isinstance(answer, KrakenError):
            problems.append(call_problem(method, answer))
    balances = observed.balances if isinstance(observed.balances, Mapping) else {}
    open_orders = observed.open_orders if isinstance(observed.open_orders, int) else None
    if open_orders:
        warnings.append(
            f"{open_orders} order{'s are' if open_orders != 1 else ' is'} open on the account: crocbot compares them "
            "with its journal, and those it did not place are treated as reconcile.unknown_orders says"
        )
    if isinstance(observed.instruments, Mapping):
        _judge_symbols(observed, observed.instruments, balances, limits, problems, warnings)
    elif observed.instruments is None and not problems:
        problems.append("the preflight stopped before it could check the symbols; start again")
    return PreflightResult(tuple(dict.fromkeys(problems)), tuple(warnings), dict(balances), open_orders)


def _judge_symbols(
    observed: Observed,
    instruments: Mapping[str, Instrument | None],
    balances: Mapping[str, Decimal],
    limits: LiveLimits,
    problems: list[str],
    warnings: list[str],
) -> None:
    accepted = [symbol for symbol, error in observed.validated.items() if error is None]
    denied = [s for s, e in observed.validated.items() if e is not None and e.code.startswith(PERMISSION_DENIED)]
    for symbol in observed.symbols:
        instrument = instruments.get(symbol)
        note = status_note(symbol, instrument)
        if note is not None:
            (problems if note.stops_start else warnings).append(note.text)
        if instrument is None or instrument.status not in _VALIDATED_STATUSES:
            continue
        price = observed.prices.get(symbol)
        if isinstance(price, KrakenError):
            problems.append(call_problem("Ticker", price, symbol=symbol))
            continue
        if price is None:
            continue  # the preflight stopped before this symbol; the reason is among the problems
        minimum = minimum_order(instrument, price) * price
        needed = minimum * (1 + instrument.taker_fee)
        if minimum > limits.max_order_notional:
            problems.append(
                f"{symbol}: Kraken's smallest order is worth about {money_text(minimum)} {instrument.quote}, above "
                f"live.max_order_notional ({money_text(limits.max_order_notional)} {limits.quote}), so every entry "
                f"would be refused: raise live.max_order_notional or remove {symbol} from symbols"
            )
        # Kraken leaves assets the account never held out of its balances: absent is none at all
        have = balances.get(instrument.quote, ZERO) if isinstance(observed.balances, Mapping) else None
        if have is not None and have < needed:
            problems.append(funds_problem(symbol, instrument.quote, have, needed))
        if symbol not in observed.validated:
            continue
        error = observed.validated[symbol]
        if error is None:
            continue
        if error.code.startswith("EOrder:Insufficient funds"):
            problems.append(funds_problem(symbol, instrument.quote, have if have is not None else ZERO, needed))
        else:
            problems.append(order_problem(symbol, instrument, error, all_denied=not accepted and len(denied) > 0))
    skipped = [s for s in observed.symbols if s not in observed.validated]
    if not observed.validated and skipped and not problems:
        warnings.append(
            'no symbol could be checked with a test order (none is online), so the key\'s "Create & Modify Orders" '
            "permission is not confirmed yet"
        )


# -- the messages -------------------------------------------------------------------------------------


def call_problem(method: str, error: KrakenError, *, symbol: str | None = None) -> str:
    """What to fix when a call failed, by Kraken's error string (FACTS §5 and §10)."""
    code, where = error.code, f"{method}{f' for {symbol}' if symbol else ''}: {error.code}"
    if code.startswith(PERMISSION_DENIED) and method in _PERMISSION:
        wanted = _PERMISSION[method]
        return (
            f'the API key lacks the "{wanted}" permission ({where}): on kraken.com, Settings > API, edit the key '
            f"and tick it (crocbot needs {_ALL_PERMISSIONS})"
        )
    for prefix, fix in _AUTH_FIXES.items():
        if code.startswith(prefix):
            return f"{fix} ({where})"
    if isinstance(error, RateLimitError):
        return (
            f"Kraken's rate limit was reached ({where}): another program may use this key; wait a minute, then "
            "start again"
        )
    if error.retryable:
        return (
            f"Kraken did not answer ({method}: {'; '.join(error.codes)}): no order was sent; check "
            "https://status.kraken.com and the network, then start again"
        )
    return f"Kraken refused {where}: see its message, fix it, then start again"


def order_problem(symbol: str, instrument: Instrument, error: KrakenError, *, all_denied: bool) -> str:
    """Why a test order at the minimum size was refused, and what to do."""
    code = error.code
    region = f"; {_XSTOCKS}" if instrument.is_xstock else ""
    if code.startswith(PERMISSION_DENIED):
        if all_denied:  # the same line for every symbol, so that it is said once
            return call_problem("AddOrder", error) + (
                f"; if the key has it: {_XSTOCKS}" if instrument.is_xstock else ""
            )
        return (
            f"{symbol} is not tradable for this account: Kraken refuses a test order on it ({code}) while it accepts "
            f"them on other symbols{region or '; the pair may be restricted in your region'}. "
            f"Remove {symbol} from symbols"
        )
    if code.startswith("EAccount:Invalid permissions"):
        said = code.partition("Invalid permissions")[2].lstrip(":").strip() or code
        return f'{symbol} is not tradable for this account: Kraken says "{said}"{region}. Remove {symbol} from symbols'
    if code.startswith("EQuery:Unknown asset pair"):
        return f"{symbol}: Kraken does not accept orders on this pair from this account ({code}){region}. Remove it"
    if code.startswith(("EService:Market in cancel_only mode", "EService:Market in post_only mode")):
        return f"{symbol}: Kraken takes no such orders on it now ({code}); start again once it is online, or remove it"
    if isinstance(error, AuthError | RateLimitError) or error.retryable:
        return call_problem("AddOrder", error, symbol=symbol)
    return (
        f"{symbol}: Kraken refused crocbot's test order at the minimum size ({code}): crocbot's data about the pair "
        "may be out of date; start again, and report it if it persists"
    )


def funds_problem(symbol: str, quote: str, have: Decimal, needed: Decimal) -> str:
    return (
        f"the available {quote} balance ({money_text(have)} {quote}) is too small for one minimum order on {symbol} "
        f"(about {money_text(needed)} {quote} with fees): deposit at least {money_text(needed - have)} {quote} more, "
        f"free {quote} held by open orders, or remove {symbol} from symbols"
    )


@dataclass(frozen=True, slots=True)
class StatusNote:
    text: str
    stops_start: bool


def status_note(symbol: str, instrument: Instrument | None) -> StatusNote | None:
    """A symbol that is not online: delisted or missing stops the start; a temporary status only warns."""
    if instrument is None:
        hint = f"; {_XSTOCKS}" if symbol.split("/")[0].endswith("x") else ""
        return StatusNote(
            f"{symbol} is not among Kraken's pairs (AssetPairs){hint}: check its spelling (WS v2 names such as "
            f"BTC/USD or AAPLx/USD) or remove it from symbols",
            stops_start=True,
        )
    status = instrument.status
    if status == "online":
        return None
    if status == "delisted" or status not in _KNOWN_STATUSES:
        return StatusNote(f"{symbol} is {status} on Kraken: remove it from symbols", stops_start=True)
    return StatusNote(
        f"{symbol} is {status} on Kraken (not online): it takes {_STATUS_MEANS[status]} until Kraken sets it online"
        + ("" if status in _VALIDATED_STATUSES else "; no test order was sent for it"),
        stops_start=False,
    )


_STATUS_MEANS = {
    "cancel_only": "cancels only, no new orders",
    "post_only": "only maker (post-only) limit orders",
    "limit_only": "only limit orders",
    "reduce_only": "only orders that reduce a position",
    "maintenance": "no orders at all",
}
_KNOWN_STATUSES = frozenset({"online", *_STATUS_MEANS})


def run_preflight(
    api: KrakenApi, symbols: Sequence[str], limits: LiveLimits, *, dead_mans_switch: bool = False
) -> PreflightResult:
    """Ask Kraken and judge the answers; logs what it found (never a key), returns the result to refuse or go on."""
    result = judge(gather(api, symbols, dead_mans_switch=dead_mans_switch), limits)
    for line in result.warnings:
        logger.warning("preflight: {}", line)
    for line in result.problems:
        logger.error("preflight: {}", line)
    shown = ", ".join(f"{asset} {amount}" for asset, amount in sorted(result.balances.items()) if amount > 0)
    logger.info(
        "preflight {}: available {}; {} open orders",
        "passed" if result.ok else "failed",
        shown or "nothing",
        "?" if result.open_orders is None else result.open_orders,
    )
    return result
