"""The replica keeps a trailing part of the log behind each snapshot.

A one-node cluster on a real SQLite store and an unstarted peer transport (it has nobody
to talk to), driven by a test clock: after each batch we check where the log starts.
"""

from __future__ import annotations

from pathlib import Path

from twisted.internet.task import Clock

from tests.node.replicas import started_replica
from twistedchat.node.replica import RaftReplica

ME = "127.0.0.1:1"


def _replica(tmp_path: Path, snapshot_every: int) -> tuple[RaftReplica, Clock]:
    clock = Clock()
    replica = started_replica(
        tmp_path, ME, clock, snapshot=b"the state", snapshot_every=snapshot_every
    )
    if replica.fresh:
        replica.found_cluster(frozenset({ME}))
    for _ in range(100):
        clock.advance(0.01)
        if replica.is_leader():
            break
    assert replica.is_leader()
    return replica, clock


def _write(replica: RaftReplica, clock: Clock, count: int) -> None:
    for _ in range(count):
        replica.propose([b"x"])
        clock.advance(0)


def test_the_log_keeps_half_a_snapshot_interval_behind_each_snapshot(tmp_path: Path) -> None:
    replica, clock = _replica(tmp_path, snapshot_every=100)
    _write(replica, clock, 120)
    meta = replica.snapshot_meta()
    assert meta is None  # snapshot taken near 100, not yet compacted to: 50 must follow
    _write(replica, clock, 60)
    meta = replica.snapshot_meta()
    assert meta is not None and 100 <= meta.index <= 110
    last = replica.last_index
    assert last - meta.index >= replica.trailing  # the entries after it are all still here
    assert replica._core.log.first_index == meta.index + 1


def test_a_restart_finds_the_snapshot_and_the_trailing_entries(tmp_path: Path) -> None:
    replica, clock = _replica(tmp_path, snapshot_every=100)
    _write(replica, clock, 180)
    meta = replica.snapshot_meta()
    assert meta is not None
    last = replica.last_index
    replica.stop()
    replica.storage.close()
    again, _ = _replica(tmp_path, snapshot_every=100)
    again_meta = again.snapshot_meta()
    assert again_meta is not None and again_meta.index == meta.index
    assert again.last_index >= last
