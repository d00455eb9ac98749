"""A replica that cannot persist a write or apply an entry stops, and skips nothing.

One-node clusters on a real SQLite store, driven by a test clock; the store fails on
command, the way a full disk or a failed fsync makes SQLite fail.
"""

from __future__ import annotations

import errno
import sqlite3
from collections.abc import Sequence
from pathlib import Path

import pytest
from twisted.internet.task import Clock

from twistedchat.node.replica import RaftReplica
from twistedchat.raft.core import RaftConfig
from twistedchat.raft.storage import Compaction, RaftStorage, StorageWrite
from twistedchat.raft.transport import PeerTransport

ME = "127.0.0.1:1"


class FailingStorage(RaftStorage):
    """A real store whose writes (of the kinds in ``failing``) raise ``fail_with``, if set."""

    fail_with: Exception | None = None
    failing = frozenset({"save", "compact"})
    writes = 0

    def _maybe_fail(self, kind: str) -> None:
        self.writes += 1
        if self.fail_with is not None and kind in self.failing:
            raise self.fail_with

    def write(self, writes: Sequence[StorageWrite]) -> None:
        for w in writes:
            self._maybe_fail("compact" if isinstance(w, Compaction) else "save")
        super().write(writes)


class Node:
    """A one-node cluster that records what it applied and why it stopped."""

    def __init__(self, path: Path, *, snapshot_every: int = 10_000) -> None:
        self.clock = Clock()
        self.applied: list[bytes] = []
        self.poison: bytes | None = None
        self.stops: list[str] = []
        store = RaftStorage.open(str(path))
        self.storage = FailingStorage(store.path, store._db)
        self.replica = RaftReplica(
            ME,
            self.storage,
            PeerTransport(ME, "test", "tcp:0:interface=127.0.0.1", reactor=self.clock),
            self.clock,
            config=RaftConfig(election_ticks=10, heartbeat_ticks=2),
            tick_seconds=0.01,
            apply_command=self._apply,
            take_snapshot=lambda: b"state",
            restore_snapshot=lambda index, data: None,
            snapshot_every=snapshot_every,
            fail_stop=self.stops.append,
        )
        self.replica.start()
        if self.replica.fresh:
            self.replica.found_cluster(frozenset({ME}))
        for _ in range(100):
            self.clock.advance(0.01)
            if self.replica.is_leader():
                return
        raise AssertionError("no leader")

    def _apply(self, index: int, data: bytes, time: int) -> None:
        if data == self.poison:
            raise ValueError(f"cannot decode {data!r}")
        self.applied.append(data)

    def write(self, *batch: bytes) -> None:
        self.replica.propose(list(batch))
        self.clock.advance(0)

    def close(self) -> None:
        self.replica.stop()
        self.storage.close()


@pytest.mark.parametrize(
    "fault",
    [
        sqlite3.OperationalError("database or disk is full"),
        OSError(errno.EIO, "Input/output error"),
    ],
    ids=["enospc", "eio"],
)
def test_a_write_that_cannot_be_persisted_stops_the_replica_before_anything_depends_on_it(
    tmp_path: Path, fault: Exception
) -> None:
    node = Node(tmp_path)
    node.write(b"one")
    node.storage.fail_with = fault
    node.write(b"two", b"three")
    assert len(node.stops) == 1
    assert node.stops[0].startswith("cannot store entries ")
    assert str(fault) in node.stops[0]
    assert node.applied == [b"one"]  # never acknowledged: its write failed
    writes = node.storage.writes
    node.storage.fail_with = None  # the disk is back, but this process must not go on
    node.write(b"four")
    node.clock.advance(1.0)  # ticks, heartbeats: none run any more
    assert node.storage.writes == writes and node.applied == [b"one"]
    assert node.clock.getDelayedCalls() == []
    assert len(node.stops) == 1


def test_an_entry_that_cannot_be_applied_stops_the_replica_and_nothing_after_it_applies(
    tmp_path: Path,
) -> None:
    node = Node(tmp_path)
    node.poison = b"poison"
    node.write(b"one", b"poison", b"three")  # one batch: one Ready
    assert node.applied == [b"one"]
    assert len(node.stops) == 1 and node.stops[0].startswith("cannot apply entry ")
    assert "ValueError: cannot decode b'poison'" in node.stops[0]
    node.write(b"four")
    assert node.applied == [b"one"]


def test_a_restart_after_the_fault_is_fixed_applies_everything_that_was_durable(
    tmp_path: Path,
) -> None:
    node = Node(tmp_path)
    node.poison = b"poison"
    node.write(b"one", b"poison", b"three")
    assert node.stops
    node.close()
    again = Node(tmp_path)  # the fix: a build whose apply takes the entry
    assert again.applied == [b"one", b"poison", b"three"]
    again.write(b"four")
    assert again.applied[-1] == b"four" and not again.stops


def test_a_failed_compaction_stops_the_replica(tmp_path: Path) -> None:
    node = Node(tmp_path, snapshot_every=4)
    node.write(b"a", b"b", b"c", b"d", b"e")  # snapshot taken; compaction waits 2 more
    node.storage.fail_with = OSError(errno.ENOSPC, "No space left on device")
    node.storage.failing = frozenset({"compact"})
    node.write(b"f")
    node.write(b"g")  # two past the snapshot: compact to it
    assert len(node.stops) == 1 and node.stops[0].startswith("cannot compact the log to index")
    assert "No space left on device" in node.stops[0]
