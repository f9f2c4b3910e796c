"""The strategy actor: evaluates each symbol's strategy on every closed candle and publishes valid signals.

Strategies are pure (candle history in, decision out); a signal is validated before it leaves (the Signal
type refuses a stop on the wrong side; the strategy checks reward:risk net of the instrument's fees and the
slippage allowance, and refuses a stop within the round trip's cost). An invalid setup is logged with its
reason and dropped, never traded. Evaluation waits while the recent history holds a data gap.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from loguru import logger

from crocbot.actors.base import ChildContext, SupervisedActor
from crocbot.core.candles import is_filled
from crocbot.core.costs import TradeCosts
from crocbot.core.messages import Candle, CandleHistory, CandleHistoryWanted, Timeframe
from crocbot.core.strategies import Strategy, StrategyParams, strategy_for
from crocbot.ops.metrics import METRICS, Metrics

__all__ = ["StrategyActor"]


# What `handle` acts on; the rest (`| object`) falls through to the base actor, which logs and ignores it.
_Handled = CandleHistory | Candle


class StrategyActor(SupervisedActor):
    def __init__(
        self,
        ctx: ChildContext,
        symbols: Sequence[str],
        params: StrategyParams,
        increments: Mapping[str, Decimal],
        timeframe: Timeframe,
        *,
        costs: Mapping[str, TradeCosts] | None = None,
        min_stop_cost_multiple: Decimal = Decimal(0),
        metrics: Metrics = METRICS,
    ) -> None:
        super().__init__(ctx)
        self._timeframe = timeframe
        costs = costs or {}
        self._strategies: dict[str, Strategy] = {
            symbol: strategy_for(
                symbol,
                params,
                increments[symbol],
                costs=costs.get(symbol),
                min_stop_cost_multiple=min_stop_cost_multiple,
            )
            for symbol in symbols
        }
        keep = max(s.warmup for s in self._strategies.values()) + 10 if self._strategies else 10
        self._history: dict[str, deque[Candle]] = {symbol: deque(maxlen=keep) for symbol in symbols}
        self._metrics = metrics

    def started(self) -> None:
        self.services.bus.subscribe(CandleHistory, self.name)
        self.services.bus.subscribe(Candle, self.name)
        # After a crash the history died with the old instance: ask for it rather than sit cold for the warm-up.
        self.services.bus.publish(CandleHistoryWanted(self.clock.now()))

    def handle(self, message: _Handled | object) -> Any:
        if isinstance(message, CandleHistory):
            history = self._history.get(message.symbol)
            if history is not None and message.timeframe is self._timeframe:
                known = {c.open_time for c in history}
                merged = sorted(
                    [*[c for c in message.candles if c.open_time not in known], *history], key=lambda c: c.open_time
                )
                history.clear()
                history.extend(merged)
        elif isinstance(message, Candle):
            if message.closed and message.timeframe is self._timeframe and message.symbol in self._history:
                self._on_candle(message)
        else:
            return super().handle(message)
        return None

    def _on_candle(self, candle: Candle) -> None:
        history = self._history[candle.symbol]
        if history and history[-1].open_time >= candle.open_time:
            return  # a repeat (backfill overlap)
        history.append(candle)
        strategy = self._strategies[candle.symbol]
        if len(history) < strategy.warmup or is_filled(candle):
            return  # not warm yet, or an interval without trades: no fresh information
        decision = strategy.decide(list(history), self.clock.now())
        log = logger.bind(symbol=candle.symbol)
        if decision.rejection is not None:
            labels = {"symbol": candle.symbol, "reason": decision.label or "other"}
            self._metrics.inc("crocbot_signals_rejected_total", labels=labels)
            log.info("{} setup dropped: {}", strategy.name, decision.rejection)
        if decision.signal is not None:
            self._metrics.inc("crocbot_signals_total", labels={"symbol": candle.symbol})
            signal = decision.signal
            log.info(
                "{} signal: {} entry {} stop {} target {} ({})",
                strategy.name,
                signal.side,
                signal.entry,
                signal.stop,
                signal.take_profit,
                signal.reason,
            )
            self.services.bus.publish(signal)
