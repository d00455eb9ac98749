"""A replica on a real SQLite store and an unstarted peer transport, for replica tests."""

from __future__ import annotations

from pathlib import Path

from twisted.internet.task import Clock

from twistedchat.node.replica import RaftReplica
from twistedchat.raft.core import RaftConfig
from twistedchat.raft.storage import RaftStorage
from twistedchat.raft.transport import PeerTransport


def started_replica(
    tmp_path: Path, node_id: str, clock: Clock, *, snapshot: bytes = b"", snapshot_every: int = 1000
) -> RaftReplica:
    """A started replica of ``node_id`` driven by ``clock``; it has nobody to talk to."""
    replica = RaftReplica(
        node_id,
        RaftStorage.open(str(tmp_path / "raft")),
        PeerTransport(node_id, "test", "tcp:0:interface=127.0.0.1", reactor=clock),
        clock,
        config=RaftConfig(election_ticks=10, heartbeat_ticks=2),
        tick_seconds=0.01,
        apply_command=lambda index, data, time: None,
        take_snapshot=lambda: snapshot,
        restore_snapshot=lambda index, data: None,
        snapshot_every=snapshot_every,
    )
    replica.start()
    return replica
