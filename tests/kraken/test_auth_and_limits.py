"""Nonces only increase (across threads and restarts); errors are typed; rate budgets and reconnects are modelled."""

from __future__ import annotations

import random
import threading
from pathlib import Path

import pytest

from crocbot.kraken.auth import NonceSource
from crocbot.kraken.errors import AuthError, BusinessRejection, RateLimitError, RetryableError, error_from
from crocbot.kraken.ratelimit import LeakyCounter, amend_cost, cancel_cost, rest_cost
from crocbot.kraken.reconnect import Backoff, ConnectBudget


def test_nonces_strictly_increase_across_threads() -> None:
    source = NonceSource(time_ns=lambda: 1_000)  # a frozen clock: only the counter can keep them apart
    seen: list[int] = []
    lock = threading.Lock()

    def draw() -> None:
        for _ in range(500):
            nonce = source.next()
            with lock:
                seen.append(nonce)

    threads = [threading.Thread(target=draw) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)

    assert len(set(seen)) == 2000


def test_nonces_strictly_increase_across_a_restart_even_if_the_clock_went_back(tmp_path: Path) -> None:
    path = tmp_path / "nonce"
    first = NonceSource(path, time_ns=lambda: 5_000_000_000_000)
    before = [first.next() for _ in range(3)]

    restarted = NonceSource(path, time_ns=lambda: 1_000)  # the machine's clock jumped back
    after = restarted.next()

    assert after > max(before)


def test_a_damaged_nonce_file_is_refused_with_advice(tmp_path: Path) -> None:
    path = tmp_path / "nonce"
    path.write_text("garbage")
    with pytest.raises(ValueError, match="damaged"):
        NonceSource(path)


@pytest.mark.parametrize(
    ("codes", "kind", "unknown"),
    [
        (["EOrder:Insufficient funds"], BusinessRejection, False),
        (["EGeneral:Invalid arguments:volume"], BusinessRejection, False),
        (["EAPI:Invalid nonce"], AuthError, False),
        (["EGeneral:Permission denied"], AuthError, False),
        (["EAPI:Rate limit exceeded"], RateLimitError, False),
        (["EService:Unavailable"], RetryableError, True),
        (["EService:Throttled: 1700000000"], RetryableError, True),
        (["EGeneral:Internal error"], RetryableError, True),
    ],
)
def test_kraken_errors_map_to_what_the_caller_may_do(codes: list[str], kind: type, unknown: bool) -> None:
    error = error_from(codes, method="AddOrder")
    assert type(error) is kind
    assert error.unknown_outcome is unknown
    assert str(error) == f"AddOrder: {codes[0]}"


def test_the_rest_counter_costs_and_decays_like_krakens() -> None:
    assert (rest_cost("Balance"), rest_cost("TradesHistory"), rest_cost("AddOrder")) == (1.0, 4.0, 0.0)
    counter = LeakyCounter(15, 0.33)
    for _ in range(15):
        assert counter.try_add(1, now=0.0)
    assert not counter.try_add(1, now=0.0)
    assert counter.wait_needed(1, now=0.0) == pytest.approx(1 / 0.33)
    assert counter.try_add(1, now=1 / 0.33)


def test_order_age_sets_the_cost_of_amending_and_cancelling() -> None:
    assert (amend_cost(1), amend_cost(7), amend_cost(20)) == (4.0, 3.0, 1.0)
    assert (cancel_cost(1), cancel_cost(60), cancel_cost(301)) == (8.0, 2.0, 0.0)


def test_backoff_grows_with_jitter_and_resets() -> None:
    backoff = Backoff(initial=0.5, maximum=8, jitter=0.5, rng=random.Random(1))
    delays = [backoff.next_delay() for _ in range(8)]
    assert all(0.25 <= d <= 0.5 for d in delays[:1])
    assert max(delays) <= 8
    assert delays[5] > delays[0]
    backoff.reset()
    assert backoff.next_delay() <= 0.5


def test_the_connect_budget_waits_instead_of_going_over() -> None:
    budget = ConnectBudget(limit=3, window=600)
    for t in (0.0, 10.0, 20.0):
        assert budget.wait_needed(t) == 0
        budget.record(t)
    assert budget.wait_needed(30.0) == 570.0
    assert budget.wait_needed(600.0) == 0
