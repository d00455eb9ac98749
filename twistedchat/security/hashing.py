"""Password hashing off the reactor thread, in a small pool with a bounded queue.

One scrypt hash takes tens of ms of CPU; on the reactor thread a handful of logins a
second starve Raft heartbeats and every other user of the node (issue 15). hashlib.scrypt
releases the GIL while it works, so a thread pool moves that time off the reactor
thread entirely (measured: a busy loop on the main thread keeps its pace while another
thread hashes).

The pool is small (the node's other work needs the remaining cores) and so is its
queue: when :attr:`ThreadPoolHasher.max_waiting` checks are queued already, a new one
fails at once with :class:`HasherBusy`, which the connection answers with a clear
"try again" instead of letting work, and memory, pile up.

:class:`ImmediateHasher` does the same work synchronously, for unit tests and tools.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, TypeVar, cast

from twisted.internet import defer
from twisted.internet.interfaces import IReactorFromThreads
from twisted.internet.threads import deferToThreadPool
from twisted.python.threadpool import ThreadPool

from twistedchat.chat.passwords import SALT_BYTES, hash_password, needs_rehash, verify_password

#: Threads hashing at once: leave at least one core to the reactor.
DEFAULT_THREADS = max(1, min(4, (os.cpu_count() or 2) - 1))
#: Checks that may wait for a thread; beyond that new ones are refused (HasherBusy).
DEFAULT_MAX_WAITING = 32

T = TypeVar("T")


class HasherBusy(Exception):
    """Too many password checks are waiting already; the caller says "try again"."""


@dataclass(frozen=True, slots=True)
class Check:
    """The verdict on a password, and the hash to replace the stored one with, if due."""

    ok: bool
    rehash: str | None = None


def check_password(password: str, stored: str) -> Check:
    """Verify ``password`` against ``stored``; if it matches and the stored hash is of an
    older format or lower cost, hash it again now, in the same job, so the node can
    upgrade the stored hash (it has the password only at this moment)."""
    if not verify_password(password, stored):
        return Check(ok=False)
    if needs_rehash(stored):
        return Check(ok=True, rehash=new_hash(password))
    return Check(ok=True)


def new_hash(password: str) -> str:
    """A hash of ``password`` with a fresh random salt at the current cost."""
    return hash_password(password, os.urandom(SALT_BYTES))


class PasswordHasher(Protocol):
    """What a connection asks for; the answers come as Deferreds, on the reactor thread."""

    def check(self, password: str, stored: str) -> defer.Deferred[Check]:
        """:func:`check_password`; fails with :class:`HasherBusy` when overloaded."""

    def hash(self, password: str) -> defer.Deferred[str]:
        """:func:`new_hash`; fails with :class:`HasherBusy` when overloaded."""


class ImmediateHasher:
    """Hashes on the caller's thread and answers with fired Deferreds (tests, tools)."""

    def check(self, password: str, stored: str) -> defer.Deferred[Check]:
        return defer.succeed(check_password(password, stored))

    def hash(self, password: str) -> defer.Deferred[str]:
        return defer.succeed(new_hash(password))


class ThreadPoolHasher:
    """Hashes in a Twisted :class:`ThreadPool` of ``threads`` threads; the node starts it
    with its service and stops it when the service stops (which waits for running jobs).
    Answers come back on ``reactor``'s thread (default: the global reactor).
    """

    def __init__(
        self,
        threads: int = DEFAULT_THREADS,
        max_waiting: int = DEFAULT_MAX_WAITING,
        reactor: IReactorFromThreads | None = None,
    ) -> None:
        if reactor is None:
            from twisted.internet import reactor as default

            reactor = cast(IReactorFromThreads, default)
        self.reactor = reactor
        self.threads = threads
        self.max_waiting = max_waiting
        self.pool = ThreadPool(minthreads=threads, maxthreads=threads, name="password-hashing")
        self.in_flight = 0  # jobs queued or running
        self.refused = 0  # jobs refused with HasherBusy, for the logs and the tests

    def start(self) -> None:
        self.pool.start()

    def stop(self) -> None:
        self.pool.stop()

    def check(self, password: str, stored: str) -> defer.Deferred[Check]:
        return self._run(check_password, password, stored)

    def hash(self, password: str) -> defer.Deferred[str]:
        return self._run(new_hash, password)

    def _run(self, job: Callable[..., T], *args: str) -> defer.Deferred[T]:
        if not self.pool.started or self.in_flight >= self.threads + self.max_waiting:
            self.refused += 1
            return defer.fail(HasherBusy())
        self.in_flight += 1
        result: defer.Deferred[T] = deferToThreadPool(self.reactor, self.pool, job, *args)
        return result.addBoth(self._done)

    def _done(self, result: T) -> T:
        self.in_flight -= 1
        return result
