"""The core subtree is built by a function of its own (`core_tree`), so that a benchmark or a test can run the money
path exactly as the bot wires it, without the market data, the health board or the REST gateway."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from crocbot.actors.runtime import Runtime
from crocbot.actors.supervisor import RestartStrategy, WhichChildren
from crocbot.app import CORE_POLICY, ROOT_POLICY, core_tree
from crocbot.config import Settings
from crocbot.kraken.instruments import AssetClass, Instrument
from crocbot.ops.metrics import Metrics

D = Decimal
SOL = Instrument(  # Kraken-like SOL/USD
    symbol="SOL/USD",
    base="SOL",
    quote="USD",
    asset_class=AssetClass.CURRENCY,
    status="online",
    price_precision=2,
    qty_precision=8,
    cost_precision=5,
    price_increment=D("0.01"),
    qty_increment=D("0.00000001"),
    qty_min=D("0.02"),
    cost_min=D("0.5"),
    taker_fee=D("0.004"),
    maker_fee=D("0.0025"),
)


def test_core_tree_starts_the_money_path_alone_in_dependency_order(tmp_path: Path, runtime: Runtime) -> None:
    settings = Settings(_env_file=None, symbols=(SOL.symbol,), state_dir=tmp_path, log_dir=tmp_path)
    runtime.start([core_tree(settings, {SOL.symbol: SOL}, metrics=Metrics())], ROOT_POLICY)
    children = runtime.directory.ask("core", WhichChildren(), timeout=10.0)
    assert [child.name for child in children] == ["persistence", "venue", "router", "sl_manager", "reconciler"]
    assert all(child.running for child in children)


def test_a_restart_in_the_core_takes_every_later_child_with_it() -> None:
    assert CORE_POLICY.strategy is RestartStrategy.REST_FOR_ONE
