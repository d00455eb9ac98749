"""The replica notes how far each peer is known to have got, for replay on reclaim."""

from __future__ import annotations

from pathlib import Path

from twisted.internet.task import Clock

from tests.node.replicas import started_replica
from twistedchat.node.replica import RaftReplica
from twistedchat.raft.messages import AppendEntries, AppendEntriesResponse

ME, PEER, STRANGER = "127.0.0.1:1", "127.0.0.1:2", "127.0.0.1:3"


def _replica(tmp_path: Path) -> RaftReplica:
    replica = started_replica(tmp_path, ME, Clock())
    replica.found_cluster(frozenset({ME, PEER}))
    return replica


def test_a_leaders_commit_index_is_what_it_sent_and_a_followers_what_it_answered(
    tmp_path: Path,
) -> None:
    replica = _replica(tmp_path)
    assert replica.known_commit(PEER) is None  # never heard
    replica.receive(AppendEntries(PEER, ME, 5, 0, 0, (), 4))
    assert replica.known_commit(PEER) == 4  # what it had committed, as leader
    replica.receive(AppendEntriesResponse(PEER, ME, 5, True, 9, commit=7))
    assert replica.known_commit(PEER) == 7  # an answer of this term
    replica.receive(AppendEntriesResponse(PEER, ME, 5, True, 9, commit=3))  # reordered
    assert replica.known_commit(PEER) == 7
    replica.receive(AppendEntriesResponse(STRANGER, ME, 5, True, 9, commit=50))
    assert replica.known_commit(STRANGER) is None  # not a member: not even looked at


def test_what_it_said_last_must_carry_its_commit_index_and_be_of_this_term(
    tmp_path: Path,
) -> None:
    replica = _replica(tmp_path)
    replica.receive(AppendEntriesResponse(PEER, ME, 0, True, 9, commit=7))
    replica.receive(AppendEntries(PEER, ME, 5, 0, 0, (), 4))  # a new term: the answer is old
    replica.receive(AppendEntriesResponse(PEER, ME, 3, True, 9, commit=8))
    assert replica.known_commit(PEER) is None  # an answer to a leadership of an older term
    replica.receive(AppendEntries(PEER, ME, 5, 0, 0, (), 6))
    replica.receive(AppendEntriesResponse(PEER, ME, 5, False, 2, commit=99))
    assert replica.known_commit(PEER) is None  # a refusal says nothing of its commit
