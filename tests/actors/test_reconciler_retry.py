"""A start-up reconciliation that cannot ask the venue (or the journal, or the router) tries again, each time after
twice the pause, up to a minute: an unattended bot whose venue is down for hours must not write a line every 5 s."""

from __future__ import annotations

import re

import pytest

from crocbot.actors.reconciler import Reconciler
from crocbot.actors.runtime import Runtime
from crocbot.actors.supervisor import ChildSpec, Policy
from crocbot.core.clock import SimClock
from tests.support.actors import settle


def test_failed_start_up_attempts_are_retried_with_a_doubling_pause_up_to_a_minute(
    runtime: Runtime, clock: SimClock, capfd: pytest.CaptureFixture[str]
) -> None:
    runtime.start([ChildSpec.actor("reconciler", Reconciler, interval=0.0)], Policy())  # nobody to ask
    for _ in range(8):
        settle()
        clock.advance(60.0)
    settle()

    err = capfd.readouterr().err
    pauses = re.findall(r"start-up reconciliation failed .*?retry in (\d+) s", err)
    assert pauses[:6] == ["5", "10", "20", "40", "60", "60"]
    assert "the persistence actor is not running" in err  # the line says what is missing
