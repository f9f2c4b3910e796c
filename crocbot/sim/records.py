"""The simulator's own records: what it received and did, as JSON lines, for a judge that must not trust the bot.

A crash test judges the bot's journal and trade log against what the exchange saw, and the exchange's side must
come from somewhere the bot never writes. `crocbot sim --records PATH` appends one JSON object per line, flushed as
it is written (a SIGKILLed bot cannot lose them; a killed simulator loses at most a line it was writing):

- `order`: an order request (`add`, `amend`, `cancel`, `cancel_all`) with its transport (`ws`, `rest`, or `""` for a
  test's direct call), `req_id` (WS), what it asked for, and `accepted` with the order id or the `error` string;
- `exec`: every execution the exchange produced, as the `executions` channel carries it (order state changes and
  fills: a `trade` row has `exec_id`, `trade_id`, `last_qty`, `last_price`, `cost`, `fee`, `fee_asset`);
- `nonce`: every authenticated REST call's nonce, per key, `accepted` or not;
- `refusal`: a REST private call the exchange refused (its `error`), rate limits included;
- `fault`: a fault served (the same names as `FaultPlan.served`).
Every record has `seq` (its line number from 1) and `ts` (the simulator's clock). Decimals keep their exact
lexeme (`crocbot.kraken.jsontext`); read them back with `read_records`, which parses numbers as `Decimal`.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path
from typing import IO, Any

from crocbot.core.clock import Clock
from crocbot.kraken.jsontext import dumps, loads
from crocbot.matching import Execution

__all__ = ["SimRecords", "read_records"]


class SimRecords:
    """One writer for one file; every method may be called from any thread."""

    def __init__(self, path: Path, clock: Clock) -> None:
        self.path = path
        self._clock = clock
        self._lock = threading.Lock()
        self._seq = 0
        self._file: IO[str] | None = path.open("a", encoding="utf-8")

    def write(self, kind: str, **fields: Any) -> None:
        with self._lock:
            if self._file is None:
                return  # closed: the simulator is stopping
            self._seq += 1
            record = {"seq": self._seq, "kind": kind, "ts": self._clock.now().isoformat(), **fields}
            self._file.write(dumps(record) + "\n")
            self._file.flush()

    def executions(self, api_key: str, events: list[Execution]) -> None:
        for event in events:
            row = {k: v for k, v in asdict(event).items() if v is not None}
            row["side"], row["ts"] = str(event.side), event.ts.isoformat()
            self.write("exec", key=api_key, **row)

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None


def read_records(path: Path) -> Iterator[dict[str, Any]]:
    """The records in order; a torn last line (the simulator killed mid-write) is skipped."""
    if not path.is_file():
        return
    with path.open(encoding="utf-8") as file:
        for line in file:
            if not line.endswith("\n"):
                return
            record: dict[str, Any] = loads(line)
            yield record
