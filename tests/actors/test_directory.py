"""The directory returns the current instance of a name and ignores stale unregistrations."""

from __future__ import annotations

import threading
from typing import Any

import pykka
import pytest

from crocbot.actors.directory import Directory, Entry


class Nobody(pykka.ThreadingActor):
    pass


def entry(name: str, instance: int) -> Entry:
    ref: pykka.ActorRef[Any] = Nobody.start()
    return Entry(name, ref, instance, lambda exited: None, threading.Event())


def test_a_newer_registration_replaces_the_old_and_a_stale_unregister_is_ignored() -> None:
    directory = Directory()
    old, new = entry("feed", 1), entry("feed", 2)
    directory.register(old)
    directory.register(new)

    assert directory.unregister("feed", 1) is False
    assert directory.get("feed") is new.ref
    assert directory.unregister("feed", 2) is True
    assert directory.get("feed") is None


def test_watchers_hear_registrations_and_removals() -> None:
    directory = Directory()
    heard: list[tuple[str, int | None]] = []
    directory.watch(lambda name, e: heard.append((name, e.instance if e else None)))
    first = entry("router", 7)

    directory.register(first)
    directory.unregister("router", 7)

    assert heard == [("router", 7), ("router", None)]


def test_wait_for_is_bounded() -> None:
    directory = Directory()
    with pytest.raises(TimeoutError, match="'ghost' was not registered"):
        directory.wait_for("ghost", timeout=0.01)


def test_tell_reports_whether_a_live_instance_took_the_message() -> None:
    directory = Directory()
    assert directory.tell("nobody", "hello") is False
    e = entry("somebody", 1)
    directory.register(e)
    assert directory.tell("somebody", "hello") is True
    e.ref.stop()
    assert directory.tell("somebody", "hello") is False
