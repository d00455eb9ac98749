"""Raft wire messages and log entries as plain immutable values.

These are shared by the sans-IO core (:mod:`twistedchat.raft.core`), the durable storage
and the peer codec (:mod:`twistedchat.raft.codec`). Field names follow the Raft paper
(Figure 2) and Ongaro's dissertation so the core can be checked against them line by line.
Every message carries ``src``, ``dst`` and ``term``.

The codec encodes any dataclass registered in :data:`MESSAGE_TYPES` generically, field by
field, so adding a field here needs no codec change (but bumps the codec's wire version).
"""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass


class EntryKind(enum.IntEnum):
    """What a log entry carries."""

    NOOP = 0  # appended by every new leader at the start of its term (paper section 8)
    COMMAND = 1  # opaque bytes for the state machine
    CONFIG = 2  # a cluster configuration (see Configuration.encode)


@dataclass(frozen=True, slots=True)
class Entry:
    """One log entry. ``time`` is the log's clock (milliseconds since the epoch): the
    leader that appended the entry stamps it from its own clock, never below the entry
    before it, so time never runs backwards along the log, and no other node's clock
    counts (decision 0020). 0 in entries written before the log had a clock."""

    term: int
    index: int
    kind: EntryKind
    data: bytes = b""
    time: int = 0


@dataclass(frozen=True, slots=True)
class Configuration:
    """Cluster membership: voters decide elections and commits, learners only replicate.

    Configurations travel in the log as CONFIG entries (dissertation chapter 4: a server
    uses the latest configuration in its log, committed or not).
    """

    voters: frozenset[str]
    learners: frozenset[str] = frozenset()

    def members(self) -> frozenset[str]:
        return self.voters | self.learners

    def encode(self) -> bytes:
        """Deterministic bytes for a CONFIG entry: every server must write the same entry."""
        doc = {"voters": sorted(self.voters), "learners": sorted(self.learners)}
        return json.dumps(doc, separators=(",", ":")).encode()

    @classmethod
    def decode(cls, data: bytes) -> Configuration:
        doc = json.loads(data)
        return cls(frozenset(doc["voters"]), frozenset(doc["learners"]))


@dataclass(frozen=True, slots=True)
class RequestVote:
    src: str
    dst: str
    term: int
    last_log_index: int
    last_log_term: int
    pre_vote: bool = False  # dissertation 9.6: term is the term the candidate *would* use
    transfer: bool = False  # sent after TimeoutNow: voters ignore their leader lease


@dataclass(frozen=True, slots=True)
class RequestVoteResponse:
    src: str
    dst: str
    term: int
    vote_granted: bool
    pre_vote: bool = False
    time: int = 0  # the sender's clock (ms), for the log's clock (decision 0020); 0: unknown


@dataclass(frozen=True, slots=True)
class AppendEntries:
    src: str
    dst: str
    term: int
    prev_log_index: int
    prev_log_term: int
    entries: tuple[Entry, ...]
    leader_commit: int
    read_ctx: int = 0  # ReadIndex round this heartbeat confirms leadership for (0: none)


@dataclass(frozen=True, slots=True)
class AppendEntriesResponse:
    src: str
    dst: str
    term: int
    success: bool
    # On success: last index known to match the leader's log. On failure: the rejected
    # prev_log_index, so the leader can tell a stale rejection from a fresh one (as etcd).
    match_index: int
    conflict_index: int = 0  # on failure: fast back-off hint (dissertation 5.3 / etcd)
    conflict_term: int = 0
    read_ctx: int = 0
    time: int = 0  # the sender's clock (ms), for the log's clock (decision 0020); 0: unknown
    #: On success: the sender's commit index once it took this in. It applies (and hands
    #: out) up to there in the same turn, so the leader knows how far a follower that goes
    #: silent got (decision 0032).
    commit: int = 0


@dataclass(frozen=True, slots=True)
class InstallSnapshot:
    src: str
    dst: str
    term: int
    last_included_index: int
    last_included_term: int
    config_voters: tuple[str, ...]
    config_learners: tuple[str, ...]
    offset: int
    data: bytes
    done: bool


@dataclass(frozen=True, slots=True)
class InstallSnapshotResponse:
    src: str
    dst: str
    term: int
    last_included_index: int
    next_offset: int  # bytes received so far; the leader sends the next chunk from here
    done: bool


@dataclass(frozen=True, slots=True)
class TimeoutNow:
    """Leadership transfer (dissertation 3.10): the target starts an election at once."""

    src: str
    dst: str
    term: int


@dataclass(frozen=True, slots=True)
class Forward:
    """A follower forwards client proposals to the leader it knows (like etcd's MsgProp).

    Not part of the paper's RPCs: the receiver appends them if it leads and drops them
    otherwise; the originator retries, and client sessions make retries apply once.
    """

    src: str
    dst: str
    term: int
    proposals: tuple[bytes, ...]


RaftMessage = (
    RequestVote
    | RequestVoteResponse
    | AppendEntries
    | AppendEntriesResponse
    | InstallSnapshot
    | InstallSnapshotResponse
    | TimeoutNow
    | Forward
)

#: Every type the codec may put on the wire, by a stable numeric tag (never reuse a tag).
MESSAGE_TYPES: dict[int, type] = {
    1: RequestVote,
    2: RequestVoteResponse,
    3: AppendEntries,
    4: AppendEntriesResponse,
    5: InstallSnapshot,
    6: InstallSnapshotResponse,
    7: TimeoutNow,
    8: Forward,
    20: Entry,
}
