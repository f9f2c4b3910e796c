"""Client order ids are what Kraken accepts (at most 18 printable characters), name their purpose, and never
repeat: not within one millisecond of the event clock, not across generators, not as time moves on."""

from __future__ import annotations

import random
import threading
from datetime import UTC, datetime, timedelta

import pytest

from crocbot.core.ids import ClientIds
from crocbot.core.messages import OrderPurpose, valid_cl_ord_id

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("purpose", "prefix"),
    [
        (OrderPurpose.ENTRY, "cbe"),
        (OrderPurpose.EXIT, "cbx"),
        (OrderPurpose.STOP, "cbs"),
        (OrderPurpose.TAKE_PROFIT, "cbt"),
    ],
)
def test_an_id_names_its_purpose_and_is_valid_for_kraken(purpose: OrderPurpose, prefix: str) -> None:
    cl_ord_id = ClientIds(random.Random(1)).new(purpose, T0)
    assert cl_ord_id.startswith(prefix)
    assert valid_cl_ord_id(cl_ord_id)
    assert len(cl_ord_id) <= 18
    assert cl_ord_id == cl_ord_id.lower()
    assert cl_ord_id.isalnum()


def test_the_layout_is_prefix_millis_counter_noise() -> None:
    ids = ClientIds(random.Random(1))
    first, second = ids.new(OrderPurpose.ENTRY, T0), ids.new(OrderPurpose.STOP, T0)
    millis = int(T0.timestamp() * 1000)
    assert int(first[3:11], 36) == millis % 36**8
    assert first[3:11] == second[3:11]  # the same millisecond
    assert (int(first[11:14], 36), int(second[11:14], 36)) == (0, 1)  # the counter
    assert len(first) == len(second) == 16


def test_5000_ids_in_the_same_millisecond_are_unique() -> None:
    ids = ClientIds(random.Random(1))
    made = [ids.new(OrderPurpose.ENTRY, T0) for _ in range(5000)]
    assert len(set(made)) == 5000
    assert all(valid_cl_ord_id(i) and len(i) <= 18 for i in made)


def test_ids_are_unique_across_purposes_and_time() -> None:
    ids = ClientIds(random.Random(2))
    made = [ids.new(purpose, T0 + timedelta(milliseconds=n % 7)) for n in range(3000) for purpose in OrderPurpose]
    assert len(set(made)) == len(made)


def test_a_restart_in_the_same_millisecond_is_covered_by_the_random_part() -> None:
    # two generators (a restart with the counter back at zero): the ids differ in their random characters
    a = ClientIds(random.Random(1)).new(OrderPurpose.ENTRY, T0)
    b = ClientIds(random.Random(2)).new(OrderPurpose.ENTRY, T0)
    assert a[:14] == b[:14]
    assert a != b


def test_the_millisecond_part_wraps_after_eight_base36_digits() -> None:
    far = datetime(2200, 1, 1, tzinfo=UTC)  # past 36**8 ms (about 89 years) from the epoch
    cl_ord_id = ClientIds(random.Random(1)).new(OrderPurpose.ENTRY, far)
    assert valid_cl_ord_id(cl_ord_id)
    assert len(cl_ord_id) == 16


def test_ids_are_unique_across_threads() -> None:
    ids = ClientIds(random.Random(3))
    made: list[str] = []
    lock = threading.Lock()

    def work() -> None:
        mine = [ids.new(OrderPurpose.STOP, T0) for _ in range(500)]
        with lock:
            made.extend(mine)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(made) == len(set(made)) == 4000
