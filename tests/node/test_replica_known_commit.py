"""The replica notes how far each peer is known to have got, for replay on reclaim."""

from __future__ import annotations

from pathlib import Path

from twisted.internet.task import Clock

from twistedchat.node.replica import RaftReplica
from twistedchat.raft.core import RaftConfig
from twistedchat.raft.messages import AppendEntries, AppendEntriesResponse
from twistedchat.raft.storage import RaftStorage
from twistedchat.raft.transport import PeerTransport

ME, PEER, STRANGER = "127.0.0.1:1", "127.0.0.1:2", "127.0.0.1:3"


def _replica(tmp_path: Path) -> RaftReplica:
    clock = Clock()
    replica = RaftReplica(
        ME,
        RaftStorage.open(str(tmp_path / "raft")),
        PeerTransport(ME, "test", "tcp:0:interface=127.0.0.1", reactor=clock),
        clock,
        config=RaftConfig(election_ticks=10, heartbeat_ticks=2),
        tick_seconds=0.01,
        apply_command=lambda index, data, time: None,
        take_snapshot=lambda: b"",
        restore_snapshot=lambda index, data: None,
        snapshot_every=1000,
    )
    replica.start()
    replica.found_cluster(frozenset({ME, PEER}))
    return replica


def test_a_leaders_commit_index_is_what_it_sent_and_a_followers_what_it_answered(
    tmp_path: Path,
) -> None:
    replica = _replica(tmp_path)
    assert replica.known_commit(PEER) == 0
    replica.receive(AppendEntries(PEER, ME, 5, 0, 0, (), 0))
    replica.receive(AppendEntriesResponse(PEER, ME, 5, True, 9, commit=7))
    assert replica.known_commit(PEER) == 7
    replica.receive(AppendEntriesResponse(PEER, ME, 5, True, 9, commit=3))  # reordered
    replica.receive(AppendEntriesResponse(PEER, ME, 5, False, 2, commit=99))  # a refusal
    assert replica.known_commit(PEER) == 7
    replica.receive(AppendEntriesResponse(STRANGER, ME, 5, True, 9, commit=50))
    assert replica.known_commit(STRANGER) == 0  # not a member: not even looked at
