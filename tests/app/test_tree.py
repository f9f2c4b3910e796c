"""The core subtree is built by a function of its own (`core_tree`), so that a benchmark or a test can run the money
path exactly as the bot wires it, without the market data, the health board or the REST gateway."""

from __future__ import annotations

from pathlib import Path

from crocbot.actors.runtime import Runtime
from crocbot.actors.supervisor import RestartStrategy, WhichChildren
from crocbot.app import CORE_POLICY, ROOT_POLICY, core_tree
from crocbot.config import Settings
from crocbot.ops.metrics import Metrics
from crocbot.sim.catalog import instrument

SOL = instrument("SOL/USD", price_decimals=2, qty_min="0.02")  # as the simulator lists it


def test_core_tree_starts_the_money_path_alone_in_dependency_order(tmp_path: Path, runtime: Runtime) -> None:
    settings = Settings(_env_file=None, symbols=(SOL.symbol,), state_dir=tmp_path, log_dir=tmp_path)
    runtime.start([core_tree(settings, {SOL.symbol: SOL}, metrics=Metrics())], ROOT_POLICY)
    children = runtime.directory.ask("core", WhichChildren(), timeout=10.0)
    assert [child.name for child in children] == ["persistence", "venue", "router", "sl_manager", "reconciler"]
    assert all(child.running for child in children)


def test_a_restart_in_the_core_takes_every_later_child_with_it() -> None:
    assert CORE_POLICY.strategy is RestartStrategy.REST_FOR_ONE
