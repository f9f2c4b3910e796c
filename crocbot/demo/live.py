"""`crocbot demo --venue live`: the bot in live mode, through the live venue, against the demo's own simulator.

The simulator opens an account for this run (a key and secret made up here, funded with `[paper]
starting_balances`, as the paper demo is), and the bot trades it exactly as it would trade Kraken: orders over the
private WebSocket, account reads over signed REST, the live preflight before the start. Nothing here can reach
Kraken: every URL the bot is given must be one of the simulator's on 127.0.0.1, or the demo refuses to start.

Not the live gate's business: REAL_TRADING and the countdown guard real money, and there is none here (the keys
exist only inside this process's simulator). `crocbot run --mode live` keeps both.

After the run the simulator's own books are the judge: its list of the account's fills must be the journal's, and
the account's balances must have moved by exactly what those fills bought, sold and paid in fees.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

from crocbot.config import Settings, key_fingerprint
from crocbot.core.messages import Fill, Side
from crocbot.core.money import ZERO, fmt
from crocbot.matching import FillView
from crocbot.ops.redact import REDACTOR
from crocbot.sim.runner import Simulator
from crocbot.startup import StartupError
from crocbot.venues.live.preflight import PreflightResult

__all__ = ["DemoAccount", "VenueCheck", "open_account", "live_overrides", "check_loopback", "check_venue", "banner"]

_LOOPBACK = "127.0.0.1"


@dataclass(frozen=True, slots=True)
class DemoAccount:
    """The simulator's account for this run; the key and secret are masked in every log line and message."""

    api_key: str
    api_secret: str
    balances: Mapping[str, Decimal]


def open_account(simulator: Simulator, balances: Mapping[str, Decimal]) -> DemoAccount:
    """A fresh key and secret of Kraken's shape (so the live code takes them as it takes Kraken's), opened on the
    simulator with `balances`."""
    account = DemoAccount(
        api_key="demo" + secrets.token_hex(16),
        api_secret=base64.b64encode(secrets.token_bytes(64)).decode(),
        balances=dict(balances),
    )
    REDACTOR.add(account.api_key)
    REDACTOR.add(account.api_secret)
    simulator.exchange.add_account(account.api_key, account.api_secret, account.balances)
    return account


def live_overrides(account: DemoAccount, settings: Settings) -> dict[str, Any]:
    """Live mode on the demo's account. Its live limits are the risk limits' own exposure caps of that capital, so
    the risk limits size the entries as in the paper demo (a first real run's small [live] limits would cut every
    entry to a few dollars). The dead man's switch stays off: Kraken's counts wall seconds, and the demo's market
    runs hours ahead of the wall clock, so the simulator would cancel every stop between two refreshes."""
    quote = settings.live.quote_currency
    capital = account.balances.get(quote, ZERO)
    risk = settings.risk
    return {
        "mode": "live",
        "kraken_api_key": account.api_key,
        "kraken_api_secret": account.api_secret,
        "live": {
            "max_order_notional": fmt(capital * risk.max_exposure_per_symbol),
            "max_total_exposure": fmt(capital * risk.max_total_exposure),
            "dead_mans_switch": {"enabled": False},
        },
    }


def check_loopback(settings: Settings, simulator: Simulator) -> None:
    """Refuse to start unless every endpoint is this simulator's on 127.0.0.1 (a config file or environment that
    points crocbot at Kraken must not win over the demo)."""
    wanted = {"ws_url": simulator.ws_url, "ws_auth_url": simulator.ws_auth_url, "rest_url": simulator.rest_url}
    for name, url in wanted.items():
        given = getattr(settings.kraken, name)
        if given != url or urlsplit(given).hostname != _LOOPBACK:
            raise StartupError(
                f"the live demo talks only to its own simulator on {_LOOPBACK}, but kraken.{name} is {given}; "
                "nothing was sent anywhere"
            )


def banner(settings: Settings, account: DemoAccount, preflight: PreflightResult) -> str:
    """What the live demo is, said before it trades."""
    assert settings.kraken_api_key is not None
    live = settings.live
    funded = ", ".join(f"{fmt(amount)} {asset}" for asset, amount in sorted(account.balances.items()))
    available = ", ".join(f"{asset} {fmt(amount)}" for asset, amount in sorted(preflight.balances.items()))
    rows = [
        ("mode", "LIVE mode against the simulator: no real money, nothing is sent to Kraken"),
        ("venue", "crocbot's live venue: orders over the simulator's private WebSocket, account reads over REST"),
        ("endpoints", f"{settings.kraken.ws_auth_url}  {settings.kraken.rest_url}"),
        (
            "account",
            f"opened on the simulator for this run with {funded}; key {key_fingerprint(settings.kraken_api_key)}",
        ),
        (
            "live limits",
            f"{fmt(live.max_order_notional.normalize())} {live.quote_currency} per entry, "
            f"{fmt(live.max_total_exposure.normalize())} "
            f"{live.quote_currency} in total (the risk limits' caps of the demo's capital); dead man's switch off",
        ),
        ("preflight", f"passed against the simulator: available {available or 'nothing'}"),
        ("countdown", "none: the demo owns its venue (crocbot run --mode live still needs REAL_TRADING=1 and counts)"),
    ]
    width = max(len(label) for label, _ in rows)
    return "\n".join(f"  {label.ljust(width)} : {value}" for label, value in rows)


# -- after the run: the simulator's books against the journal -------------------------------------------


@dataclass(frozen=True, slots=True)
class VenueCheck:
    """The simulator's account against the journal: its fills, and the balances they moved."""

    venue_fills: int
    journal_fills: int
    moved: Mapping[str, Decimal]  # by asset: the account's balance now less its opening balance
    problems: Sequence[str] = field(default_factory=tuple)

    @property
    def ok(self) -> bool:
        return not self.problems


def check_venue(simulator: Simulator, account: DemoAccount, journal_fills: Sequence[Fill]) -> VenueCheck:
    """Whether the simulator's records agree with the journal: the same fills (by trade id: quantity, price, side,
    fee), and every balance moved by exactly what the journal's fills bought, sold and paid."""
    engine = simulator.exchange.accounts[account.api_key].engine
    venue_fills = engine.fills()
    balances = engine.balances()
    assets = sorted({*balances, *account.balances})
    moved = {a: balances.get(a, ZERO) - account.balances.get(a, ZERO) for a in assets}
    problems = _fill_problems(venue_fills, journal_fills)
    expected, slack = _moves(journal_fills, simulator)
    for asset in sorted({*moved, *expected}):
        have, want = moved.get(asset, ZERO), expected.get(asset, ZERO)
        if abs(have - want) > slack.get(asset, ZERO):
            problems.append(
                f"the simulator's {asset} balance moved by {fmt(have)}, the journal's fills account for {fmt(want)}"
            )
    return VenueCheck(len(venue_fills), len(journal_fills), {a: m for a, m in moved.items() if m}, tuple(problems))


def _fill_problems(venue: Sequence[FillView], journal: Sequence[Fill]) -> list[str]:
    by_id = {f.exec_id: f for f in venue}
    journaled = {f.fill_id: f for f in journal}
    problems = [f"fill {i} is on the simulator's account but not in the journal" for i in by_id if i not in journaled]
    problems += [f"fill {i} is in the journal but not on the simulator's account" for i in journaled if i not in by_id]
    for fill_id, ours in journaled.items():
        theirs = by_id.get(fill_id)
        if theirs is None:
            continue
        fee = theirs.fee if theirs.fee_asset == _asset(ours.fee_currency) else theirs.fee * theirs.price
        if (ours.side, ours.qty, ours.price, ours.fee) != (theirs.side, theirs.qty, theirs.price, fee):
            problems.append(
                f"fill {fill_id}: the journal has {ours.side.value} {fmt(ours.qty)} at {fmt(ours.price)} fee "
                f"{fmt(ours.fee)}, the simulator {theirs.side.value} {fmt(theirs.qty)} at {fmt(theirs.price)} fee "
                f"{fmt(theirs.fee)} {theirs.fee_asset}"
            )
    return problems


def _moves(fills: Sequence[Fill], simulator: Simulator) -> tuple[dict[str, Decimal], dict[str, Decimal]]:
    """What the journal's fills did to the account, by asset (the coin bought or sold, its cost, the fees), and how
    far the account may be from it: Kraken rounds an order's cost to the pair's decimals, half a unit at most, while
    the journal keeps quantity and price exact."""
    moves: dict[str, Decimal] = {}
    rounding: dict[str, dict[str, Decimal]] = {}  # quote asset -> order -> half a unit of its cost
    for fill in fills:
        instrument = simulator.exchange.instrument(fill.symbol)
        sign = 1 if fill.side is Side.BUY else -1
        moves[instrument.base] = moves.get(instrument.base, ZERO) + sign * fill.qty
        moves[instrument.quote] = moves.get(instrument.quote, ZERO) - sign * fill.qty * fill.price
        fee_asset = _asset(fill.fee_currency)
        moves[fee_asset] = moves.get(fee_asset, ZERO) - fill.fee
        rounding.setdefault(instrument.quote, {})[fill.order_id] = Decimal(1).scaleb(-instrument.cost_precision) / 2
    return moves, {asset: sum(orders.values(), ZERO) for asset, orders in rounding.items()}


def _asset(currency: str) -> str:
    """Kraken's legacy names for fiat (ZUSD) as the simulator's balances spell them (USD)."""
    return currency[1:] if len(currency) == 4 and currency[0] in "ZX" else currency
