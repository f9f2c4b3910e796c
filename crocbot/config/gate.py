"""The live-trading gate: nothing trades real money by accident.

Live mode needs three things at once: `CROCBOT_MODE=live` (or `--mode live`), `REAL_TRADING=1`, and a Kraken
API key and secret. With any of them missing crocbot refuses and says exactly which. With all present it shows
a banner (mode, a fingerprint of the key, never the key, symbols, risk limits) and counts down; Ctrl-C during
the countdown stops it before anything is sent.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import time
from collections.abc import Callable
from decimal import Decimal
from typing import TextIO

from pydantic import SecretStr

from crocbot.config.model import Settings
from crocbot.core.money import fmt

__all__ = [
    "LiveGateRefused",
    "live_gate_problems",
    "quote_problems",
    "key_shape_problems",
    "key_fingerprint",
    "banner",
    "countdown",
    "COUNTDOWN_SECONDS",
]

COUNTDOWN_SECONDS = 10


class LiveGateRefused(Exception):
    def __init__(self, problems: list[str]) -> None:
        super().__init__("live trading refused:\n" + "\n".join(f"  {line}" for line in problems))
        self.problems = problems


def live_gate_problems(settings: Settings) -> list[str]:
    """What is missing for live trading; empty in paper mode or when everything is in place."""
    if settings.mode != "live":
        return []
    problems = []
    if settings.real_trading != "1":
        seen = f" (it is {settings.real_trading!r}; only 1 enables live trading)" if settings.real_trading else ""
        problems.append(f"REAL_TRADING=1 is not set{seen}")
    if settings.kraken_api_key is None:
        problems.append("KRAKEN_API_KEY is not set")
    if settings.kraken_api_secret is None:
        problems.append("KRAKEN_API_SECRET is not set")
    problems += key_shape_problems(settings)
    if problems:
        problems.append("set them in the environment or in .env, or run with --mode paper")
    return problems + quote_problems(settings)


def quote_problems(settings: Settings) -> list[str]:
    """The live limits are amounts of one currency: a symbol quoted in another could not be measured by them."""
    quote = settings.live.quote_currency
    others = [symbol for symbol in settings.symbols if symbol.rsplit("/", 1)[-1] != quote]
    if not others:
        return []
    return [
        f"{', '.join(others)} {'is' if len(others) == 1 else 'are'} not quoted in live.quote_currency ({quote}), "
        f"the currency of the live limits: trade only */{quote} symbols live, or set live.quote_currency"
    ]


def key_shape_problems(settings: Settings) -> list[str]:
    """A line for each key that is set but cannot be a Kraken key; the values are never shown."""
    problems = []
    key, secret = settings.kraken_api_key, settings.kraken_api_secret
    if key is not None and (len(key.get_secret_value()) < 16 or any(c.isspace() for c in key.get_secret_value())):
        problems.append("KRAKEN_API_KEY is not a Kraken API key: at least 16 characters, no spaces (value not shown)")
    if secret is not None:
        try:
            decoded = base64.b64decode(secret.get_secret_value(), validate=True)
        except (binascii.Error, ValueError):
            decoded = b""
        if len(decoded) < 32:
            problems.append(
                "KRAKEN_API_SECRET is not a Kraken API secret: the base64 text Kraken shows once (value not shown)"
            )
    return problems


def key_fingerprint(key: SecretStr) -> str:
    """Enough to tell two keys apart in a log, nothing that helps to guess one."""
    return "sha256:" + hashlib.sha256(key.get_secret_value().encode()).hexdigest()[:12]


def _pct(value: Decimal) -> str:
    return fmt((value * 100).normalize()) + " %"


def _money(amount: Decimal, currency: str) -> str:
    return f"{fmt(amount)} {currency}"


def _switch(settings: Settings) -> str:
    switch = settings.live.dead_mans_switch
    if not switch.enabled:
        return "off (orders stay on Kraken if crocbot dies)"
    return (
        f"ON: Kraken cancels every order, stops included, {switch.timeout} s after crocbot stops refreshing it "
        f"(every {fmt(Decimal(str(switch.refresh_interval)).normalize())} s)"
    )


def banner(settings: Settings) -> str:
    assert settings.kraken_api_key is not None
    risk, live = settings.risk, settings.live
    rows = [
        ("mode", "LIVE: real orders with real money on Kraken"),
        ("api key", key_fingerprint(settings.kraken_api_key)),
        ("symbols", ", ".join(settings.symbols)),
        ("risk per trade", f"{_pct(risk.risk_per_trade)} of equity (hard ceiling {_pct(risk.max_loss_per_trade)})"),
        ("daily loss limit", f"{_pct(risk.daily_loss_limit)} of equity, then no new entries"),
        ("max positions", f"{risk.max_open_positions}"),
        ("max exposure", f"{_pct(risk.max_exposure_per_symbol)} per symbol, {_pct(risk.max_total_exposure)} in total"),
        (
            "live limits",
            f"{_money(live.max_order_notional, live.quote_currency)} per entry, "
            f"{_money(live.max_total_exposure, live.quote_currency)} in positions and entries (stops, exits exempt)",
        ),
        (
            "capital",
            f"{_money(live.capital, live.quote_currency)} at the first live start (at most what is available)"
            if live.capital is not None
            else f"the {live.quote_currency} available on the account at the first live start",
        ),
        ("dead man's switch", _switch(settings)),
        ("endpoints", f"{settings.kraken.rest_url}  {settings.kraken.ws_auth_url}"),
    ]
    width = max(len(label) for label, _ in rows)
    rule = "=" * 78
    body = [f"  {label.ljust(width)} : {value}" for label, value in rows]
    return "\n".join([rule, "  CROCBOT LIVE TRADING", rule, *body, rule])


def countdown(
    seconds: int = COUNTDOWN_SECONDS,
    *,
    out: TextIO,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Count down on `out`; a KeyboardInterrupt (Ctrl-C) propagates to the caller, which aborts."""
    out.write(f"Live trading starts in {seconds} seconds. Press Ctrl-C to abort.\n")
    out.flush()
    for remaining in range(seconds, 0, -1):
        out.write(f"  {remaining}...\n")
        out.flush()
        sleep(1.0)
    out.write("  go.\n")
    out.flush()
