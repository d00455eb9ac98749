"""Storage writes off the reactor: a writer thread that fsyncs in order, in batches.

An fsync takes a fraction of a millisecond on a good disk and seconds on a bad one; on
the reactor thread it would stall heartbeats, IRC and every timer for as long. The
replica hands each write to a :class:`ThreadedWriter` instead and goes on (the Raft core
holds back whatever must wait for the disk, see :mod:`twistedchat.raft.core`). The thread
takes every write queued since its last fsync and makes them durable in one transaction
(group commit across reactor turns), then reports them done, in submission order, on
the reactor thread.

The first failure is final (decision 0019: never retry a failed fsync): the writer
reports it once and drops everything after it, and the replica stops the process.

:class:`InlineWriter` writes at once in the caller's thread: the same contract,
deterministic, for tests driven by ``twisted.internet.task.Clock``.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from typing import Protocol

from twisted.internet.interfaces import IReactorFromThreads
from twisted.logger import Logger

from twistedchat.raft.storage import Compaction, RaftStorage, StorageWrite

log = Logger()

#: Writes made durable by one transaction at most (bounds one fsync's latency).
MAX_BATCH = 512

Done = Callable[[], None]


class StorageWriter(Protocol):
    def submit(self, write: StorageWrite, done: Done) -> None:
        """Make ``write`` durable after every write submitted before it, then call ``done``
        (on the reactor thread). May raise if the write fails at once."""

    def close(self) -> None:
        """Finish the writes submitted so far, then stop."""


class InlineWriter:
    """Writes in the caller's thread before ``submit`` returns; failures raise."""

    def __init__(self, storage: RaftStorage) -> None:
        self.storage = storage

    def submit(self, write: StorageWrite, done: Done) -> None:
        self.storage.write([write])
        done()

    def close(self) -> None:
        pass


class ThreadedWriter:
    """One thread that owns the store's writes; see the module doc."""

    def __init__(
        self,
        storage: RaftStorage,
        reactor: IReactorFromThreads,
        on_failure: Callable[[str], None],
    ) -> None:
        """``on_failure(reason)`` is called once, on the reactor thread, if a write fails."""
        self.storage = storage
        self._reactor = reactor
        self._on_failure = on_failure
        self._queue: queue.SimpleQueue[tuple[StorageWrite, Done] | None] = queue.SimpleQueue()
        #: Given each batch's seconds in ``storage.write`` (one transaction, one fsync),
        #: on the writer thread, when set: for /metrics (prometheus_client is thread-safe).
        self.on_fsync: Callable[[float], None] | None = None
        self._thread = threading.Thread(target=self._run, name="raft-storage", daemon=True)
        self._thread.start()

    def submit(self, write: StorageWrite, done: Done) -> None:
        self._queue.put((write, done))

    def close(self) -> None:
        """Blocks until the queued writes are durable (or failed): a few fsyncs at most."""
        self._queue.put(None)
        self._thread.join()

    def _run(self) -> None:
        while True:
            batch, stopping = self._next_batch()
            if batch:
                started = time.perf_counter()
                try:
                    self.storage.write([write for write, _ in batch])
                except Exception as exc:  # any failure stops the node (see the module doc)
                    reason = f"cannot {_describe(batch)}: {type(exc).__name__}: {exc}"
                    self._reactor.callFromThread(self._on_failure, reason)
                    return
                timed = self.on_fsync
                if timed is not None:
                    timed(time.perf_counter() - started)
                self._reactor.callFromThread(_call_all, [done for _, done in batch])
            if stopping:
                return

    def _next_batch(self) -> tuple[list[tuple[StorageWrite, Done]], bool]:
        """Wait for a write, then take whatever else is queued; and whether to stop."""
        first = self._queue.get()
        if first is None:
            return [], True
        batch = [first]
        while len(batch) < MAX_BATCH:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is None:
                return batch, True
            batch.append(item)
        return batch, False


def _call_all(callbacks: list[Done]) -> None:
    for callback in callbacks:
        callback()


def _describe(batch: list[tuple[StorageWrite, Done]]) -> str:
    """What a failed batch was to do, in the words the replica uses for one write."""
    indexes = [e.index for w, _ in batch if not isinstance(w, Compaction) for e in w.entries]
    if indexes:
        return f"store entries {indexes[0]}..{indexes[-1]}"
    compactions = [w.meta.index for w, _ in batch if isinstance(w, Compaction)]
    if compactions:
        return f"compact the log to index {compactions[-1]}"
    return "store the hard state"
