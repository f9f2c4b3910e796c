"""Activity: `quiet` is never true while a message is told and not handled, however the check interleaves."""

from __future__ import annotations

import threading
from typing import Any

from crocbot.actors.activity import ACTIVITY, Activity, CountingInbox
from crocbot.actors.runtime import Runtime
from crocbot.actors.supervisor import ChildSpec, Policy
from tests.support.actors import WAIT, Echo, Hang, Probe, Worker, settle


class SendsWhenRead(CountingInbox):
    """The first reading of its handled count (as `quiet` does) lets `peer` receive and handle one message: another
    actor's whole reaction squeezed between two reads of one check."""

    def __init__(self, activity: Activity) -> None:
        self.peer: CountingInbox | None = None
        self._handled = 0
        super().__init__(activity)

    @property  # a property over the counter, to act at the moment `quiet` reads it
    def handled(self) -> int:
        peer, self.peer = self.peer, None
        if peer is not None:
            peer.put("told")
            peer.get()
            peer.handled = peer.taken  # what its owner does when it asks for the next message
        return self._handled

    @handled.setter
    def handled(self, value: int) -> None:
        self._handled = value


class StartsWhenRead(CountingInbox):
    """The first reading of its handled count starts a new actor (a new inbox) and tells it something."""

    def __init__(self, activity: Activity) -> None:
        self.activity = activity
        self.started: CountingInbox | None = None
        self._handled = 0
        super().__init__(activity)

    @property
    def handled(self) -> int:
        if self.started is None:
            self.started = CountingInbox(self.activity)
            self.started.put("hello")
        return self._handled

    @handled.setter
    def handled(self, value: int) -> None:
        self._handled = value


def test_a_message_sent_and_handled_between_two_reads_of_one_check_is_not_taken_for_quiet() -> None:
    activity = Activity()
    first, second = SendsWhenRead(activity), SendsWhenRead(activity)
    first.peer, second.peer = second, first  # whichever is read first, the other one moves after its read

    assert not activity.quiet()
    assert activity.quiet()  # nothing moved during this one, and everything told was handled


def test_an_inbox_created_during_a_check_is_not_missed() -> None:
    activity = Activity()
    starter = StartsWhenRead(activity)  # kept: the activity holds inboxes weakly, as actors hold their own

    assert not activity.quiet()
    assert starter.started is not None
    assert not activity.quiet()  # the new inbox has a message not handled yet


def test_a_message_counts_from_its_put_until_the_owner_asks_for_the_next_one() -> None:
    activity = Activity()
    inbox = CountingInbox(activity)
    assert activity.quiet()

    inbox.put("a")
    assert not activity.quiet()
    assert inbox.get() == "a"
    assert not activity.quiet()  # in hand
    inbox.put("b")
    assert inbox.get() == "b"  # asking for the next one says "a" is done, not "b"
    assert activity.outstanding() == 1
    assert not activity.quiet()


def test_a_stopped_actor_no_longer_counts_what_is_left_in_its_inbox() -> None:
    activity = Activity()
    inbox = CountingInbox(activity)
    inbox.stopped = threading.Event()
    inbox.put("never handled")
    assert not activity.quiet()

    inbox.stopped.set()

    assert activity.quiet()
    assert activity.outstanding() == 0


def test_every_put_from_many_threads_is_counted_and_each_senders_order_is_kept() -> None:
    inbox = CountingInbox(Activity())
    senders, each = 4, 5_000
    start = threading.Barrier(senders)

    def send(sender: int) -> None:
        start.wait(timeout=WAIT)
        for seq in range(each):
            inbox.put((sender, seq))

    threads = [threading.Thread(target=send, args=(sender,)) for sender in range(senders)]
    for thread in threads:
        thread.start()
    received: list[Any] = [inbox.get(timeout=WAIT) for _ in range(senders * each)]
    for thread in threads:
        thread.join(timeout=WAIT)

    assert inbox.puts == senders * each
    assert inbox.taken == senders * each
    for sender in range(senders):
        assert [seq for who, seq in received if who == sender] == list(range(each))


def test_an_actor_is_busy_from_the_tell_until_it_has_handled_its_messages(runtime: Runtime) -> None:
    probe = Probe()
    runtime.start([ChildSpec.actor("a", Worker, probe)], Policy())
    entry = runtime.directory.entry("a")
    assert entry is not None
    inbox = entry.ref.actor_inbox
    assert isinstance(inbox, CountingInbox)
    release = threading.Event()
    entry.ref.tell(Hang(release))
    probe.wait("hang", "a")
    answer = entry.ref.ask(Echo("behind the hang"), block=False)

    assert inbox.outstanding == 2
    assert not ACTIVITY.quiet()

    release.set()
    assert answer.get(timeout=WAIT) == "behind the hang"
    settle()
    assert inbox.outstanding == 0
