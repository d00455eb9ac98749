"""The password hashing pool: answers arrive on the reactor thread, its queue is bounded."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from twisted.internet import defer

from twistedchat.chat.passwords import Cost, hash_password, needs_rehash, verify_password
from twistedchat.security.hashing import Check, HasherBusy, ThreadPoolHasher, check_password

STORED = hash_password("correct horse", b"s" * 16)


class ThreadReactor:
    """Just ``callFromThread``: calls wait in a queue until the test runs them."""

    def __init__(self) -> None:
        self.calls: queue.Queue[tuple[Callable[..., Any], tuple[Any, ...]]] = queue.Queue()
        self.threads: set[int] = set()

    def callFromThread(self, f: Callable[..., Any], *args: Any, **kw: Any) -> None:
        self.threads.add(threading.get_ident())
        self.calls.put((f, args))

    def run_one(self, timeout: float = 10.0) -> None:
        f, args = self.calls.get(timeout=timeout)
        f(*args)


@pytest.fixture
def reactor() -> ThreadReactor:
    return ThreadReactor()


@pytest.fixture
def hasher(reactor: ThreadReactor) -> Iterator[ThreadPoolHasher]:
    hasher = ThreadPoolHasher(threads=1, max_waiting=2, reactor=reactor)  # type: ignore[arg-type]
    hasher.start()
    yield hasher
    hasher.stop()


def results(deferreds: list[defer.Deferred[Any]]) -> list[Any]:
    out: list[Any] = []
    for d in deferreds:
        d.addBoth(out.append)
    return out


def test_checks_run_on_a_pool_thread_and_answer_through_the_reactor(
    hasher: ThreadPoolHasher, reactor: ThreadReactor
) -> None:
    got = results([hasher.check("correct horse", STORED), hasher.check("wrong", STORED)])
    assert got == [] and hasher.in_flight == 2  # nothing was hashed on this thread
    reactor.run_one()
    reactor.run_one()
    assert got == [Check(ok=True), Check(ok=False)]
    assert threading.get_ident() not in reactor.threads and hasher.in_flight == 0


def test_a_full_queue_refuses_at_once_and_recovers(
    hasher: ThreadPoolHasher, reactor: ThreadReactor
) -> None:
    accepted = [hasher.hash("pw-one-two") for _ in range(3)]  # one running, two waiting
    refused = results([hasher.check("correct horse", STORED)])
    assert len(refused) == 1 and refused[0].check(HasherBusy) and hasher.refused == 1
    hashed = results(accepted)
    for _ in accepted:
        reactor.run_one()
    assert all(verify_password("pw-one-two", h) for h in hashed)
    again = results([hasher.check("correct horse", STORED)])
    reactor.run_one()
    assert again == [Check(ok=True)]


def test_a_pool_not_running_refuses(reactor: ThreadReactor) -> None:
    hasher = ThreadPoolHasher(threads=1, reactor=reactor)  # type: ignore[arg-type]
    (refused,) = results([hasher.check("correct horse", STORED)])
    assert refused.check(HasherBusy)


def test_a_match_against_an_old_hash_comes_with_its_replacement() -> None:
    old = "scrypt$" + b"s".hex() * 16 + "$" + "00" * 32  # the old format, wrong digest
    assert check_password("correct horse", old) == Check(ok=False)
    cheap = hash_password("correct horse", b"s" * 16, Cost(ln=10, r=8, p=1))
    upgraded = check_password("correct horse", cheap)
    assert upgraded.ok and upgraded.rehash is not None and not needs_rehash(upgraded.rehash)
    assert check_password("correct horse", STORED) == Check(ok=True)
