"""The storage writer thread: in order, in batches, durable before done, final on failure.

A real SQLite store and a real thread; the "reactor" is a queue of the callbacks the
thread hands over, run by the test, as ``callFromThread`` would run them.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path

from tests.threadcalls import ThreadCalls
from twistedchat.raft.core import HardState
from twistedchat.raft.messages import Entry, EntryKind
from twistedchat.raft.storage import LogWrite, RaftStorage, StorageWrite
from twistedchat.raft.writer import ThreadedWriter


class GatedStorage(RaftStorage):
    """A real store whose first write waits until the test opens the gate; records the
    size of every transaction, and fails the writes that carry ``poison``."""

    gate: threading.Event
    entered: threading.Event
    batches: list[int]
    poison: bytes | None = None

    def write(self, writes: Sequence[StorageWrite]) -> None:
        self.entered.set()
        self.gate.wait(10)
        self.batches.append(len(writes))
        for w in writes:
            if isinstance(w, LogWrite) and any(e.data == self.poison for e in w.entries):
                raise OSError(5, "Input/output error")
        super().write(writes)


def store(path: Path) -> GatedStorage:
    plain = RaftStorage.open(str(path))
    gated = GatedStorage(plain.path, plain._db)
    gated.gate = threading.Event()
    gated.entered = threading.Event()
    gated.batches = []
    return gated


def entry(index: int, data: bytes = b"x") -> Entry:
    return Entry(1, index, EntryKind.COMMAND, data)


def test_writes_queued_during_an_fsync_become_durable_together_and_complete_in_order(
    tmp_path: Path,
) -> None:
    storage = store(tmp_path)
    reactor = ThreadCalls()
    writer = ThreadedWriter(storage, reactor, lambda reason: None)
    done: list[int] = []
    for i in range(1, 6):  # the first blocks the thread; the other four queue behind it
        writer.submit(LogWrite(HardState(1, None, 0), [entry(i)]), lambda i=i: done.append(i))
        assert storage.entered.wait(10)
    storage.gate.set()
    reactor.run(2)  # one callback per transaction
    assert done == [1, 2, 3, 4, 5]
    assert storage.batches == [1, 4]  # group commit: one transaction for the four
    writer.close()
    hard_state, _, _, entries = storage.load()
    assert [e.index for e in entries] == [1, 2, 3, 4, 5] and hard_state.term == 1
    storage.close()


def test_a_failed_write_is_reported_once_and_nothing_after_it_is_written(tmp_path: Path) -> None:
    storage = store(tmp_path)
    storage.poison = b"bad"
    reactor = ThreadCalls()
    failures: list[str] = []
    writer = ThreadedWriter(storage, reactor, failures.append)
    done: list[int] = []
    writer.submit(LogWrite(None, [entry(1)]), lambda: done.append(1))
    storage.gate.set()
    reactor.run(1)
    writer.submit(LogWrite(None, [entry(2, b"bad")]), lambda: done.append(2))
    reactor.run(1)
    writer.submit(LogWrite(None, [entry(3)]), lambda: done.append(3))
    writer.close()  # the thread has ended: close returns, and the third was never written
    assert done == [1]
    assert failures == ["cannot store entries 2..2: OSError: [Errno 5] Input/output error"]
    assert reactor.calls.empty()
    assert [e.index for e in storage.load()[3]] == [1]
    storage.close()


def test_close_finishes_what_was_submitted(tmp_path: Path) -> None:
    storage = store(tmp_path)
    storage.gate.set()
    writer = ThreadedWriter(storage, ThreadCalls(), lambda reason: None)
    for i in range(1, 51):
        writer.submit(LogWrite(None, [entry(i)]), lambda: None)
    writer.close()
    assert len(storage.load()[3]) == 50
    storage.close()
