"""TradesHistory is asked for one row per execution, so that its ids are the `executions` channel's `exec_id`s."""

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
        return {"trades": {}, "count": 0}


def test_trades_history_asks_for_unconsolidated_rows() -> None:
    rest = _Recording()

    KrakenApi(rest).trades_history(offset=50)

    assert rest.calls == [("TradesHistory", {"ofs": 50, "consolidate_taker": False})]
