"""Snapshots built in a forked child: the state as it was at the fork, whatever happens
to it afterwards, and a child that fails is reported, not waited for forever."""

from __future__ import annotations

import json

from tests.threadcalls import ThreadCalls
from twistedchat.node.snapshotter import ForkSnapshotter


def test_the_child_serialises_the_state_as_it_was_at_the_fork() -> None:
    state = {"users": [f"user{i}" * 20 for i in range(100_000)]}  # ~13 MB of JSON: many reads
    expected = json.dumps(state).encode()
    reactor = ThreadCalls()
    got: list[bytes] = []
    ForkSnapshotter(reactor).take(lambda: json.dumps(state).encode(), got.append, got.append)
    state["users"].clear()  # the parent moves on at once; the child keeps its own image
    reactor.run()
    assert got == [expected]


def test_a_child_that_fails_is_reported_with_its_status() -> None:
    def broken() -> bytes:
        raise ValueError("not serialisable")

    reactor = ThreadCalls()
    done: list[bytes] = []
    failed: list[str] = []
    ForkSnapshotter(reactor).take(broken, done.append, failed.append)
    reactor.run()
    assert done == [] and failed == ["the snapshot child process exited with status 1"]
