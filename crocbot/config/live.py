"""The `[live]` settings: the limits of a first live run and Kraken's dead man's switch.

They mean nothing on paper and are read in live mode only. The defaults are deliberately small, so that a trader
who goes live without reading this section still risks little: 100 of the quote currency per order and 300 in
total (three positions at the largest order, `risk.max_open_positions`' default).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from crocbot.core.money import fmt

__all__ = ["LiveSettings", "DeadMansSwitchSettings"]

_STRICT = ConfigDict(extra="forbid", hide_input_in_errors=True, frozen=True, validate_default=True)


def _amount(value: Decimal) -> Decimal:
    if not value.is_finite() or value <= 0:
        raise ValueError("a positive amount of the quote currency, e.g. 100")
    return value


def _currency(value: str) -> str:
    if not (2 <= len(value) <= 10 and value.isalnum() and value.isupper()):
        raise ValueError("a currency code as in the symbols' quote, e.g. USD or EUR")
    return value


Amount = Annotated[Decimal, AfterValidator(_amount)]


class DeadMansSwitchSettings(BaseModel):
    """Kraken's `cancel_all_orders_after`: if crocbot stops refreshing it, Kraken cancels every open order."""

    model_config = _STRICT

    # Off by default: when it fires it cancels the protective stops together with resting entries (see README).
    enabled: bool = False
    # Kraken recommends 60 s, refreshed every 15-30 s (FACTS §4 cancel_all_orders_after).
    timeout: Annotated[int, Field(ge=30, le=3600)] = 60
    refresh_interval: Annotated[float, Field(ge=15, le=30)] = 20.0

    @model_validator(mode="after")
    def _refreshed_in_time(self) -> DeadMansSwitchSettings:
        if self.refresh_interval * 2 > self.timeout:
            raise ValueError(
                f"refresh_interval ({fmt(Decimal(str(self.refresh_interval)).normalize())} s) must be at most half "
                f"of timeout ({self.timeout} s), so that one lost refresh does not cancel every order; "
                "Kraken recommends a 60 s timeout refreshed every 15-30 s"
            )
        return self


class LiveSettings(BaseModel):
    """Amounts are in `quote_currency`; in live mode every symbol must be quoted in it."""

    model_config = _STRICT

    quote_currency: Annotated[str, AfterValidator(_currency)] = "USD"
    # An entry whose value (qty x limit price, or the book's price for a market order) is above this is refused.
    max_order_notional: Amount = Decimal("100")
    # An entry that would take the bot's open positions and resting entries above this in total is refused.
    max_total_exposure: Amount = Decimal("300")
    # The capital risk sizing counts at the first live start (the percentages of `[risk]` are of it); unset: all of
    # the quote currency available on the account then, which on a large account is rarely what a first run means.
    capital: Amount | None = None
    dead_mans_switch: DeadMansSwitchSettings = Field(default_factory=DeadMansSwitchSettings)

    @model_validator(mode="after")
    def _consistent(self) -> LiveSettings:
        if self.max_order_notional > self.max_total_exposure:
            raise ValueError(
                f"max_order_notional ({fmt(self.max_order_notional)}) must not exceed max_total_exposure "
                f"({fmt(self.max_total_exposure)}): no order that large could ever be sent"
            )
        return self
