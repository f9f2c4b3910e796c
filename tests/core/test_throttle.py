"""The throttle lets the first occurrence through at once, then one per interval per key, counting the rest."""

from __future__ import annotations

import pytest

from crocbot.core.throttle import Throttle


def test_the_first_occurrence_of_each_key_passes_at_once() -> None:
    throttle = Throttle(30.0)

    assert throttle.admit("BTC/USD", 100.0) == 0
    assert throttle.admit("ETH/USD", 100.0) == 0  # another key has a budget of its own


def test_occurrences_within_the_interval_are_held_back_and_counted_on_the_next_that_passes() -> None:
    throttle = Throttle(30.0)
    throttle.admit("BTC/USD", 0.0)

    held = [throttle.admit("BTC/USD", float(second)) for second in range(1, 30)]

    assert held == [None] * 29
    assert throttle.admit("BTC/USD", 30.0) == 29
    assert throttle.admit("BTC/USD", 31.0) is None
    assert throttle.admit("BTC/USD", 60.0) == 1


def test_a_quiet_key_passes_again_without_a_count() -> None:
    throttle = Throttle(30.0)
    throttle.admit(("checksum", "BTC/USD"), 0.0)

    assert throttle.admit(("checksum", "BTC/USD"), 500.0) == 0


def test_a_negative_interval_is_refused() -> None:
    with pytest.raises(ValueError, match="interval"):
        Throttle(-1.0)
