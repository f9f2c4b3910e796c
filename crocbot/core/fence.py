"""The inventory fence: crocbot never sells more of a coin than it owns and has not already promised to another sell.

A spot account may hold coins crocbot did not buy (the trader's own, another bot's). Kraken checks a sell only
against the account's balance, so a sell beyond what crocbot bought would be filled with those coins: a second exit
after a stop that already sold the position, a stop sized to an old quantity. The fence is crocbot's own check, in
front of the venue: a sell (stop, exit, take-profit) or an amend that grows one may ask for at most the bot's open
quantity in that symbol minus what its other open sells still have to sell. Orders whose cancel the new order waits
for (`after_cancels`: an exit behind its position's stop) are not counted, since the new order goes out only once
they are gone. Pure arithmetic; the desk supplies the figures and the router refuses what breaches it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from crocbot.core.money import ZERO, fmt

__all__ = ["OpenSell", "fence_breach"]


@dataclass(frozen=True, slots=True)
class OpenSell:
    """A sell of crocbot's that is working, or may be (sent, not yet answered): what it still has to sell."""

    cl_ord_id: str
    remaining: Decimal


def fence_breach(
    symbol: str,
    cl_ord_id: str,
    qty: Decimal,
    *,
    held: Decimal,
    open_sells: Iterable[OpenSell],
    after_cancels: Iterable[str] = (),
) -> str | None:
    """Why a sell of `qty` (what order `cl_ord_id` would have left to sell) breaches the fence, or None."""
    skip = {cl_ord_id, *after_cancels}
    committed = sum((s.remaining for s in open_sells if s.cl_ord_id not in skip), ZERO)
    room = max(held, ZERO) - committed
    if qty <= room:
        return None
    return (
        f"inventory fence: {cl_ord_id} would sell {fmt(qty)} {symbol}, but crocbot holds {fmt(max(held, ZERO))} of "
        f"which its other open sells already commit {fmt(committed)} (room {fmt(max(room, ZERO))})"
    )
