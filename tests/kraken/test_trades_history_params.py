"""TradesHistory is asked for one row per execution, so that its ids are the `executions` channel's `exec_id`s; every
account view is asked for xStock amounts in token terms, as crocbot's orders count them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from crocbot.kraken.endpoints import KrakenApi
from crocbot.kraken.rest import RestClient


class _Recording(RestClient):
    def __init__(self) -> None:
        super().__init__("http://127.0.0.1:9")  # never called: `private` is replaced
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def private(
        self,
        method: str,
        params: Mapping[str, Any] | None = None,
        *,
        deadline: float | None = None,
        trading_pair: str | None = None,
        trading_cost: float = 0.0,
    ) -> Any:
        self.calls.append((method, dict(params or {})))
        if method.startswith("Balance") or method == "QueryOrders":
            return {}
        return {"trades": {}, "count": 0, "open": {}, "closed": {}}


def test_trades_history_asks_for_unconsolidated_rows() -> None:
    rest = _Recording()

    KrakenApi(rest).trades_history(offset=50)

    assert rest.calls == [("TradesHistory", {"ofs": 50, "consolidate_taker": False, "rebase_multiplier": "base"})]


def test_every_account_view_asks_for_token_terms() -> None:
    rest = _Recording()
    api = KrakenApi(rest)

    api.balance()
    api.balance_ex()
    api.open_orders(cl_ord_id="cb1")
    api.closed_orders(cl_ord_id="cb1")
    api.query_orders(["O1"])

    assert [(method, params.get("rebase_multiplier")) for method, params in rest.calls] == [
        ("Balance", "base"),
        ("BalanceEx", "base"),
        ("OpenOrders", "base"),
        ("ClosedOrders", "base"),
        ("QueryOrders", "base"),
    ]
