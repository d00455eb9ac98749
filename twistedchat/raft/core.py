"""The sans-IO Raft core: one server's consensus state machine.

Follows Ongaro & Ousterhout, "In Search of an Understandable Consensus Algorithm" (2014),
Figure 2, and Ongaro's dissertation (2014) for what the paper leaves out: pre-vote (9.6),
check-quorum and leader leases against disruptive servers (4.2.3, 6.2), leadership
transfer (3.10), one-server membership changes (4.1-4.3), ReadIndex (6.4), chunked
InstallSnapshot (paper section 7, Figure 13) and the leader writing its log in parallel
with replicating it (10.2.1).

Nothing here does I/O, reads a clock, starts a thread or draws randomness it was not
given: ``tick()`` is time, ``step()`` is the network, and the caller drains a
:class:`Ready` (etcd-raft's shape). Storage may be slow and asynchronous: the caller
starts writing a Ready's hard state, entries and snapshot (only if ``must_sync``), sends
its ``messages`` and applies its committed entries at once, and sends its
``after_persist`` messages only once that write, and every write before it, is durable;
then it calls :meth:`RaftNode.persisted`. The core sorts the messages so that nothing
leaves before what it vouches for is on disk: a vote before the vote is durable, an
acknowledgement of entries before the entries are. A leader counts its own log towards a
majority only as far as it is durable, so it can commit on its followers' disks while its
own write is still under way. Committed entries may be applied before they are durable
here: a majority holds them, and a restart re-learns them.
"""

from __future__ import annotations

import enum
import random
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from twistedchat.raft.log import EMPTY_SNAPSHOT, RaftLog, SnapshotMeta
from twistedchat.raft.messages import (
    AppendEntries,
    AppendEntriesResponse,
    Configuration,
    Entry,
    EntryKind,
    Forward,
    InstallSnapshot,
    InstallSnapshotResponse,
    RaftMessage,
    RequestVote,
    RequestVoteResponse,
    TimeoutNow,
)
from twistedchat.raft.progress import Progress, ProgressState
from twistedchat.raft.quorum import VoteResult, committed_index, has_quorum, vote_result

__all__ = [
    "ConfigChangeRefused",
    "HardState",
    "NotLeader",
    "RaftConfig",
    "RaftNode",
    "Ready",
    "Role",
    "SnapshotMeta",
]


class Role(enum.StrEnum):
    FOLLOWER = "follower"
    PRE_CANDIDATE = "pre-candidate"  # dissertation 9.6: polling without a new term
    CANDIDATE = "candidate"
    LEADER = "leader"
    LEARNER = "learner"  # reported for a follower that is not a voter (never campaigns)


class NotLeader(Exception):
    """This server cannot take the request; ``leader`` is who can, if we know."""

    def __init__(self, leader: str | None) -> None:
        super().__init__(f"not the leader (leader: {leader or 'unknown'})")
        self.leader = leader


class ConfigChangeRefused(Exception):
    """A membership change that would be unsafe now (dissertation 4.1 and its 2015 fix)."""


@dataclass(frozen=True)
class RaftConfig:
    election_ticks: int = 10  # timeouts are drawn from [election_ticks, 2 * election_ticks)
    heartbeat_ticks: int = 1
    max_entries_per_append: int = 512
    max_inflight_appends: int = 8
    snapshot_chunk_bytes: int = 256 * 1024
    check_quorum: bool = True
    pre_vote: bool = True

    def __post_init__(self) -> None:
        if not 0 < self.heartbeat_ticks < self.election_ticks:
            raise ValueError("need 0 < heartbeat_ticks < election_ticks")
        if min(self.max_entries_per_append, self.max_inflight_appends) < 1:
            raise ValueError("max_entries_per_append and max_inflight_appends must be >= 1")
        if self.snapshot_chunk_bytes < 1:
            raise ValueError("snapshot_chunk_bytes must be >= 1")


@dataclass
class HardState:
    """Figure 2's persistent state besides the log.

    ``commit`` is stored along when a write happens anyway, so a restart applies sooner,
    but a change of the commit index alone is never written: a stale commit index is
    re-learned from the leader (etcd's ``MustSync``).
    """

    term: int
    voted_for: str | None
    commit: int


@dataclass
class Ready:
    """Work for the caller (see the module doc for the order).

    If ``must_sync``, write ``snapshot`` (it replaces the whole stored log), then
    ``entries`` (their first overwrites any stored entry at the same or a higher index),
    and ``hard_state``, atomically, after every earlier Ready's write; ``after_persist``
    leaves once that write is durable, and :meth:`RaftNode.persisted` is called with this
    Ready. ``messages`` may leave at once, and ``committed`` be applied at once.
    """

    hard_state: HardState | None  # present exactly when must_sync
    entries: list[Entry]
    snapshot: tuple[SnapshotMeta, bytes] | None
    messages: list[RaftMessage]
    committed: list[Entry]
    read_states: list[tuple[int, int]]  # (request id, read index) confirmed by ReadIndex
    after_persist: list[RaftMessage] = field(default_factory=list)

    @property
    def must_sync(self) -> bool:
        return self.hard_state is not None


@dataclass
class _Read:
    """A ReadIndex request (dissertation 6.4) awaiting a majority's heartbeat answers."""

    request_id: int
    index: int  # the commit index when the request arrived
    ctx: int  # heartbeat round that must be acknowledged by a majority


@dataclass
class _IncomingSnapshot:
    """Chunks of a snapshot received so far (Figure 13 steps 2-5).

    Keyed by the sending leader's term as well: one leader sends one byte stream per
    snapshot index, but two leaders' snapshots of the same index need not be identical
    bytes, so their chunks must never be mixed.
    """

    key: tuple[int, int, int]  # (leader term, last included index, last included term)
    data: bytearray = field(default_factory=bytearray)


class RaftNode:
    """One Raft server. Drive it with ``tick``/``step``; drain it with ``ready``/``advance``."""

    def __init__(
        self,
        node_id: str,
        config: RaftConfig,
        rng: random.Random,
        *,
        hard_state: HardState,
        snapshot: SnapshotMeta | None,
        entries: Sequence[Entry],
        snapshot_data: Callable[[], bytes] | None = None,
        wall_clock: Callable[[], int] = lambda: 0,
    ) -> None:
        """Restart from durable state (use :meth:`bootstrap` for a brand-new cluster).

        ``wall_clock()`` reads this server's clock in milliseconds since the epoch. It is
        an input like the network: the core never reads a clock itself. Our answers to
        votes and appends carry it, and as a leader we stamp the entries we append with
        the voters' clocks (:meth:`_log_clock`), never below the last entry's time.

        ``snapshot_data`` loads the bytes of ``snapshot``; it is needed to send that
        snapshot to a lagging follower should we lead. The commit index may be stale:
        it is re-learned from the leader, and committed entries after the snapshot are
        handed out again to rebuild the state machine.
        """
        if snapshot is not None and snapshot.index > 0 and snapshot_data is None:
            raise ValueError("a snapshot needs its snapshot_data")
        self.id = node_id
        self.cfg = config
        self._rng = rng
        self.log = RaftLog(snapshot or EMPTY_SNAPSHOT, entries, hard_state.commit)
        self._snapshot_data = snapshot_data
        self._wall_clock = wall_clock
        #: Each peer's clock minus ours (ms), as its latest answer to us showed it.
        self._clock_offsets: dict[str, int] = {}
        self._term = hard_state.term
        self._voted_for = hard_state.voted_for
        self._role = Role.FOLLOWER
        self._leader_id: str | None = None
        #: Real elections this node started (not pre-votes), since start: for /metrics.
        self.elections_started = 0
        self._election_elapsed = 0
        self._heartbeat_elapsed = 0
        self._timeout = self._random_timeout()
        self._votes: dict[str, bool] = {}
        self._progress: dict[str, Progress] = {}
        self._transferee: str | None = None
        self._transfer_elapsed = 0
        self._read_ctx = 0
        self._reads: deque[_Read] = deque()
        self._reads_waiting: list[int] = []  # until an entry of our term commits
        self._incoming: _IncomingSnapshot | None = None
        # Output not yet handed out by ready():
        self._messages: list[RaftMessage] = []
        self._read_states: list[tuple[int, int]] = []
        self._new_snapshot: tuple[SnapshotMeta, bytes] | None = None
        self._broadcast_due = False  # new entries to replicate (batched until ready())
        self._read_heartbeat_due = False  # ReadIndex rounds to confirm (batched too)
        self._handed_out_vote = (self._term, self._voted_for)
        self._handed_out_commit = self._applied = self.log.snapshot.index
        self._writes_in_flight = 0  # must_sync Readies handed out, not yet persisted

    @classmethod
    def bootstrap(
        cls,
        node_id: str,
        config: RaftConfig,
        rng: random.Random,
        configuration: Configuration,
        wall_clock: Callable[[], int] = lambda: 0,
    ) -> RaftNode:
        """A founding member of a new cluster: every founder starts from the same log.

        That log is one CONFIG entry at index 1 of term 0, committed, so it is identical
        everywhere without any communication; the first Ready hands it out to persist.
        A server joining an existing cluster must not bootstrap: it starts empty
        (``RaftNode(..., hard_state=HardState(0, None, 0), snapshot=None, entries=[])``)
        and receives the log, configuration included, from the leader.
        """
        node = cls(
            node_id,
            config,
            rng,
            hard_state=HardState(0, None, 0),
            snapshot=None,
            entries=[],
            wall_clock=wall_clock,
        )
        node.log.append([Entry(0, 1, EntryKind.CONFIG, configuration.encode())])
        node.log.commit_to(1)
        return node

    # -- inspection ------------------------------------------------------------------------

    @property
    def role(self) -> Role:
        if self._role is Role.FOLLOWER and self.id not in self.log.config.voters:
            return Role.LEARNER
        return self._role

    @property
    def term(self) -> int:
        return self._term

    @property
    def leader_id(self) -> str | None:
        return self._leader_id

    @property
    def commit_index(self) -> int:
        return self.log.commit

    @property
    def applied_index(self) -> int:
        return self._applied

    @property
    def last_index(self) -> int:
        return self.log.last_index

    @property
    def configuration(self) -> Configuration:
        """The latest configuration in our log, committed or not (dissertation 4.1)."""
        return self.log.config

    @property
    def hard_state(self) -> HardState:
        return HardState(self._term, self._voted_for, self.log.commit)

    @property
    def snapshot_meta(self) -> SnapshotMeta | None:
        return self.log.snapshot if self.log.snapshot.index > 0 else None

    def match_index(self, peer: str) -> int:
        """Leader only: the highest index known to be replicated on ``peer``."""
        if self._role is not Role.LEADER:
            raise NotLeader(self._leader_id)
        return self.log.last_index if peer == self.id else self._progress[peer].match

    def transfer_target(self) -> str | None:
        """Leader only: the most up-to-date other voter, the best heir for a handover."""
        peers = [p for p in self._progress if p in self.log.config.voters]
        return max(peers, key=lambda p: (self._progress[p].match, p), default=None)

    # -- input: time -----------------------------------------------------------------------

    def tick(self) -> None:
        """One unit of logical time; timeouts are whole numbers of ticks."""
        self._election_elapsed += 1
        if self._role is not Role.LEADER:
            if self._election_elapsed >= self._timeout and self._promotable():
                self._campaign(pre_vote=self.cfg.pre_vote)
            return
        if self._transferee is not None:
            self._transfer_elapsed += 1
            if self._transfer_elapsed >= self.cfg.election_ticks:
                self._transferee = None  # 3.10: give up, take proposals again
        if self._election_elapsed >= self.cfg.election_ticks:
            self._election_elapsed = 0
            if self.cfg.check_quorum and not self._check_quorum():
                self._become_follower(self._term, None)
                return
        self._heartbeat_elapsed += 1
        if self._heartbeat_elapsed >= self.cfg.heartbeat_ticks:
            self._heartbeat_elapsed = 0
            for peer in self._progress:
                self._send_heartbeat(peer)

    # -- input: the network ----------------------------------------------------------------

    def admits(self, m: RaftMessage) -> bool:
        """Whether ``m``'s sender may act on this server at all (decision 0018).

        A member of our latest configuration may; so may a member of the configuration
        before it until that one is committed (a leader removing itself still tells us the
        commit, 4.2.2). Anyone else, though the transport proved who it is, is no member:
        it may not move our term, win our vote or write our log. A server that is not a
        member of its own latest configuration cannot tell members apart yet: a founder
        that learnt of the cluster too late to write its first entry, asked for its vote;
        a node being added, replaying the log from configurations that predate it. It
        takes the requests of a candidate or a leader from anyone (dissertation 4.1:
        servers answer RPCs without consulting their configuration), nothing else. So
        does, for a leader's requests, a member that hears no leader of its own
        (:meth:`_hears_a_leader`).
        """
        members = self.log.config.members()
        if m.src in members:
            return True
        if self.id not in members:
            return isinstance(m, AppendEntries | InstallSnapshot | RequestVote)
        if isinstance(m, AppendEntries | InstallSnapshot) and not self._hears_a_leader():
            return True
        return (
            self.log.config_index > self.log.commit
            and m.src in self.log.config_before_latest().members()
        )

    def _hears_a_leader(self) -> bool:
        """Whether a leader we know spoke to us within the last election timeout.

        A member whose configuration is stale (it missed the change that added today's
        leader, crashed or cut off) hears from nobody it knows: its old peers follow the
        new leader, and followers never write to each other. Refusing that leader would
        leave it behind for ever, so a server that hears no leader takes a leader's
        AppendEntries or snapshot from anyone, as Raft does (dissertation 4.1); one that
        does hear its leader, which is every healthy member, still refuses non-members,
        whatever term they claim.
        """
        return self._leader_id is not None and self._election_elapsed < self.cfg.election_ticks

    def step(self, m: RaftMessage) -> None:
        """Handle one message from a peer (Figure 2, "Rules for Servers", then the RPCs).

        Messages from servers that :meth:`admits` refuses are ignored.
        """
        if not self.admits(m):
            return
        if isinstance(m, RequestVoteResponse | AppendEntriesResponse) and m.time:
            self._clock_offsets[m.src] = m.time - self._wall_clock()
        if m.term > self._term:
            if isinstance(m, RequestVote):
                if not m.transfer and self._in_lease():
                    self._send_vote_response(m, granted=False)  # 4.2.3: no disruption
                    return
                if not m.pre_vote:
                    self._become_follower(m.term, None)
            elif isinstance(m, RequestVoteResponse) and m.pre_vote and m.vote_granted:
                pass  # a granted pre-vote carries the term we would use (9.6)
            elif isinstance(m, AppendEntries | InstallSnapshot | TimeoutNow):
                self._become_follower(m.term, m.src)
            else:
                self._become_follower(m.term, None)
        elif m.term < self._term:
            self._reject_stale(m)
            return
        match m:
            case RequestVote():
                self._on_request_vote(m)
            case RequestVoteResponse():
                self._on_vote_response(m)
            case AppendEntries():
                self._on_append_entries(m)
            case AppendEntriesResponse():
                self._on_append_response(m)
            case InstallSnapshot():
                self._on_install_snapshot(m)
            case InstallSnapshotResponse():
                self._on_snapshot_response(m)
            case TimeoutNow():
                self._on_timeout_now()
            case Forward():
                self._on_forward(m)

    def _reject_stale(self, m: RaftMessage) -> None:
        """Figure 2: "reply false if term < currentTerm", which tells a stale leader or
        candidate the current term so it steps down; stale answers are dropped."""
        match m:
            case AppendEntries():
                self._send(
                    AppendEntriesResponse(
                        self.id, m.src, self._term, False, m.prev_log_index, time=self._wall_clock()
                    )
                )
            case InstallSnapshot():
                self._send(
                    InstallSnapshotResponse(
                        self.id, m.src, self._term, m.last_included_index, 0, False
                    )
                )
            case RequestVote():
                self._send_vote_response(m, granted=False)

    # -- input: the application ------------------------------------------------------------

    def propose(self, data: bytes | list[bytes]) -> None:
        """Append COMMAND entries if we lead, else forward them to the leader we know.

        Raises :class:`NotLeader` when nobody known can take them, or while we are handing
        leadership over (3.10). Forwarded proposals are fire-and-forget: the caller retries
        what it does not see applied (client sessions make retries apply once, 6.3).
        """
        proposals = [data] if isinstance(data, bytes) else list(data)
        if not proposals:
            return
        if self._role is Role.LEADER:
            if self._transferee is not None:
                raise NotLeader(self._transferee)
            self._append([(EntryKind.COMMAND, d) for d in proposals])
        elif self._leader_id is not None:
            self._send(Forward(self.id, self._leader_id, self._term, tuple(proposals)))
        else:
            raise NotLeader(None)

    def read_index(self, request_id: int) -> None:
        """Start a linearizable read (dissertation 6.4); leader only, else NotLeader.

        Once a majority has answered a heartbeat sent after this call, and the leader has
        committed an entry of its term, ``(request_id, index)`` appears in
        ``Ready.read_states``: serving the read from a state machine that has applied
        ``index`` is linearizable. A request that never appears (leadership lost
        meanwhile) must be retried by the caller.
        """
        if self._role is not Role.LEADER:
            raise NotLeader(self._leader_id)
        if self.log.term(self.log.commit) == self._term:
            self._start_read(request_id)
        else:
            self._reads_waiting.append(request_id)

    def transfer_leadership(self, target: str) -> None:
        """Dissertation 3.10: stop taking proposals, catch ``target`` up, send TimeoutNow.

        Gives up after an election timeout if ``target`` has not taken over by then.
        """
        if self._role is not Role.LEADER:
            raise NotLeader(self._leader_id)
        if target == self.id:
            return
        if target not in self.log.config.voters:
            raise ValueError(f"{target} is not a voter")
        self._transferee = target
        self._transfer_elapsed = 0
        if self._progress[target].match == self.log.last_index:
            self._send(TimeoutNow(self.id, target, self._term))
        else:
            self._replicate(target)

    def propose_config(self, config: Configuration) -> None:
        """Append a CONFIG entry adding or removing at most one voter (dissertation 4.1).

        Refused while another change is uncommitted, and until this leader has committed
        an entry of its own term: without that rule a change from a previous term that is
        not yet committed can combine with ours into two disjoint majorities (Ongaro,
        raft-dev, 2015, "bug in single-server membership changes"). Learners may be added
        or removed freely alongside, as they never count towards a majority.
        """
        if self._role is not Role.LEADER:
            raise NotLeader(self._leader_id)
        if self._transferee is not None:
            raise ConfigChangeRefused("a leadership transfer is in progress")
        if self.log.term(self.log.commit) != self._term:
            raise ConfigChangeRefused("no entry of this leader's term is committed yet")
        if self.log.config_index > self.log.commit:
            raise ConfigChangeRefused("the previous configuration change is not committed")
        if not config.voters or config.voters & config.learners:
            raise ConfigChangeRefused("need voters, and nobody both voter and learner")
        if len(config.voters ^ self.log.config.voters) > 1:
            raise ConfigChangeRefused("only one voter may be added or removed at a time")
        self._append([(EntryKind.CONFIG, config.encode())])

    def compact(self, index: int, data: bytes) -> SnapshotMeta:
        """The application snapshotted its state at applied ``index``: drop the log up to it.

        ``data`` is what we send to followers that need entries we no longer have.
        """
        if index > self._applied:
            raise ValueError(f"cannot compact to {index}: only {self._applied} applied")
        if index > self.log.snapshot.index:
            self.log.compact(index)
            self._snapshot_data = lambda: data
        return self.log.snapshot

    # -- output ----------------------------------------------------------------------------

    def has_ready(self) -> bool:
        return bool(
            self._messages
            or self._read_states
            or self._new_snapshot
            or self._broadcast_due
            or self._read_heartbeat_due
            or self.log.has_unstable()
            or self._handed_out_commit < self.log.commit
            or (self._term, self._voted_for) != self._handed_out_vote
        )

    def ready(self) -> Ready:
        """Everything to persist, send and apply since the last call, handed out once.

        Proposals and ReadIndex requests made since the last call leave as one
        AppendEntries (or heartbeat) per follower: that is the batching (group commit).
        """
        if self._broadcast_due:
            self._broadcast_due = False
            for peer in self._progress:
                self._replicate(peer)
        if self._read_heartbeat_due:
            self._read_heartbeat_due = False
            for peer in self._progress:
                self._send_heartbeat(peer)
        vote = (self._term, self._voted_for)
        entries = self.log.unstable()
        must_sync = bool(entries) or self._new_snapshot is not None or vote != self._handed_out_vote
        writes_pending = must_sync or self._writes_in_flight > 0
        now: list[RaftMessage] = []
        after_persist: list[RaftMessage] = []
        for m in self._messages:
            (after_persist if self._needs_durability(m, writes_pending) else now).append(m)
        ready = Ready(
            hard_state=self.hard_state if must_sync else None,
            entries=entries,
            snapshot=self._new_snapshot,
            messages=now,
            committed=self.log.slice(self._handed_out_commit + 1, self.log.commit),
            read_states=self._read_states,
            after_persist=after_persist,
        )
        if must_sync:
            self._writes_in_flight += 1
        self._handed_out_vote = vote
        self._handed_out_commit = self.log.commit
        self.log.mark_stable()
        self._new_snapshot = None
        self._messages = []
        self._read_states = []
        return ready

    def _needs_durability(self, m: RaftMessage, writes_pending: bool) -> bool:
        """Whether ``m`` vouches for state that may not be durable yet.

        An acknowledgement of entries beyond the durable prefix would let the leader count
        entries a crash can still take back; a vote, or a request for votes for ourselves,
        stands for a ``voted_for`` that a pending write may hold; an installed snapshot
        for a pending snapshot write. Everything else (appends, heartbeats and their
        answers within the durable prefix, rejections, pre-votes, forwarded proposals)
        promises nothing about our disk and may leave at once, so a slow disk delays
        commits but neither heartbeats nor ReadIndex rounds.
        """
        match m:
            case AppendEntriesResponse():
                return m.success and m.match_index > self.log.durable_index
            case RequestVote():
                return writes_pending and not m.pre_vote
            case RequestVoteResponse():
                return writes_pending and m.vote_granted and not m.pre_vote
            case InstallSnapshotResponse():
                return writes_pending
        return False

    def persisted(self, ready: Ready) -> None:
        """The caller made ``ready``'s write durable (and every earlier one).

        Calls must follow the order of the Readies; one that did not ``must_sync`` may be
        passed too, and changes nothing.
        """
        if not ready.must_sync:
            return
        self._writes_in_flight -= 1
        if ready.entries:
            last = ready.entries[-1]
            self.log.mark_durable(last.index, last.term)
        if self._role is Role.LEADER:
            self._maybe_commit()

    def advance(self, ready: Ready) -> None:
        """The caller persisted, sent and applied ``ready``: its entries count as applied."""
        if ready.snapshot is not None:
            self._applied = max(self._applied, ready.snapshot[0].index)
        if ready.committed:
            self._applied = max(self._applied, ready.committed[-1].index)

    def _send(self, m: RaftMessage) -> None:
        self._messages.append(m)

    # -- roles -----------------------------------------------------------------------------

    def _random_timeout(self) -> int:
        """Section 5.2: randomized election timeouts make split votes rare."""
        return self._rng.randrange(self.cfg.election_ticks, 2 * self.cfg.election_ticks)

    def _promotable(self) -> bool:
        """Only voters of our latest configuration may campaign (learners, removed servers
        and servers that have not received a configuration yet must not)."""
        return self.id in self.log.config.voters

    def _in_lease(self) -> bool:
        """Dissertation 4.2.3: we heard from a leader less than a minimum election timeout
        ago, so a vote request is from a disruptive server. Tied to check-quorum as in
        etcd: only with it does a leader that lost its majority step down and end the lease.
        """
        return (
            self.cfg.check_quorum
            and self._leader_id is not None
            and self._election_elapsed < self.cfg.election_ticks
        )

    def _become_follower(self, term: int, leader: str | None) -> None:
        if term > self._term:
            self._term = term
            self._voted_for = None
        self._role = Role.FOLLOWER
        self._leader_id = leader
        self._reset_timers()
        self._progress = {}
        self._votes = {}
        self._transferee = None
        self._reads.clear()
        self._reads_waiting = []
        self._broadcast_due = self._read_heartbeat_due = False

    def _follow(self, leader: str) -> None:
        """A valid AppendEntries/InstallSnapshot of our term: its sender is the leader."""
        assert self._role is not Role.LEADER, f"two leaders in term {self._term}"
        if self._role is not Role.FOLLOWER or self._leader_id != leader:
            self._become_follower(self._term, leader)
        self._election_elapsed = 0

    def _reset_timers(self) -> None:
        self._election_elapsed = 0
        self._heartbeat_elapsed = 0
        self._timeout = self._random_timeout()

    def _campaign(self, *, pre_vote: bool, transfer: bool = False) -> None:
        """Section 5.2 (or a pre-vote, 9.6: the same poll without incrementing our term)."""
        if pre_vote:
            self._role = Role.PRE_CANDIDATE
            term = self._term + 1
        else:
            self._role = Role.CANDIDATE
            self.elections_started += 1
            self._term += 1
            self._voted_for = self.id
            term = self._term
        self._leader_id = None
        self._reset_timers()
        self._votes = {self.id: True}
        if self._count_votes():
            return
        for voter in sorted(self.log.config.voters - {self.id}):
            self._send(
                RequestVote(
                    self.id,
                    voter,
                    term,
                    self.log.last_index,
                    self.log.last_term,
                    pre_vote=pre_vote,
                    transfer=transfer,
                )
            )

    def _count_votes(self) -> bool:
        """Act on the election outcome; True if it is decided."""
        result = vote_result(self.log.config.voters, self._votes)
        if result is VoteResult.WON:
            if self._role is Role.PRE_CANDIDATE:
                self._campaign(pre_vote=False)
            else:
                self._become_leader()
        elif result is VoteResult.LOST:
            self._become_follower(self._term, None)
        return result is not VoteResult.PENDING

    def _become_leader(self) -> None:
        """Figure 2: reinitialize nextIndex/matchIndex; then a no-op of our term (section 8)
        so that earlier entries can commit (Figure 8) and ReadIndex can start (6.4)."""
        self._role = Role.LEADER
        self._leader_id = self.id
        self._reset_timers()
        self._progress = {}
        self._sync_progress()
        self._append([(EntryKind.NOOP, b"")])

    def _sync_progress(self) -> None:
        """Track exactly the other members of the latest configuration."""
        members = self.log.config.members() - {self.id}
        for peer in sorted(members - self._progress.keys()):  # deterministic message order
            self._progress[peer] = Progress(self.log.last_index + 1, self.cfg.max_inflight_appends)
        for peer in self._progress.keys() - members:
            del self._progress[peer]
        if self._transferee not in self._progress:
            self._transferee = None

    def _check_quorum(self) -> bool:
        """Dissertation 6.2: did a majority answer us during the last election timeout?"""
        active = {p for p, pr in self._progress.items() if pr.recent_active} | {self.id}
        for pr in self._progress.values():
            pr.recent_active = False
        return has_quorum(self.log.config.voters, active)

    # -- elections -------------------------------------------------------------------------

    def _on_request_vote(self, m: RequestVote) -> None:
        """Figure 2 RequestVote receiver, for a real vote or a pre-vote (9.6)."""
        up_to_date = self.log.is_up_to_date(m.last_log_index, m.last_log_term)
        if m.pre_vote:
            granted = m.term > self._term and up_to_date
        else:
            free = self._voted_for == m.src or (self._voted_for is None and self._leader_id is None)
            granted = free and up_to_date
            if granted:
                self._voted_for = m.src
                self._election_elapsed = 0
        self._send_vote_response(m, granted)

    def _send_vote_response(self, m: RequestVote, granted: bool) -> None:
        term = m.term if granted and m.pre_vote else self._term
        self._send(
            RequestVoteResponse(
                self.id, m.src, term, granted, pre_vote=m.pre_vote, time=self._wall_clock()
            )
        )

    def _on_vote_response(self, m: RequestVoteResponse) -> None:
        if m.pre_vote:
            # A grant carries the term we poll for; anything else is from an older poll.
            current = self._role is Role.PRE_CANDIDATE and (
                not m.vote_granted or m.term == self._term + 1
            )
        else:
            current = self._role is Role.CANDIDATE
        if not current:
            return
        self._votes.setdefault(m.src, m.vote_granted)
        self._count_votes()

    def _on_timeout_now(self) -> None:
        """Dissertation 3.10: our leader hands over; campaign at once, skipping pre-vote."""
        if self._role is Role.FOLLOWER and self._promotable():
            self._campaign(pre_vote=False, transfer=True)

    # -- log replication: follower side ----------------------------------------------------

    def _on_append_entries(self, m: AppendEntries) -> None:
        """Figure 2 AppendEntries receiver (step 1, the term, was handled in ``step``)."""
        self._follow(m.src)
        if m.prev_log_index < self.log.commit:
            # Our committed prefix is in every later leader's log (5.4), so it matches:
            # continue from its end rather than refuse what we compacted.
            prev_index = self.log.commit
            entries = tuple(e for e in m.entries if e.index > prev_index)
        elif self.log.matches(m.prev_log_index, m.prev_log_term):
            prev_index, entries = m.prev_log_index, m.entries
        else:  # step 2, with the hints for the leader's fast back-off (5.3)
            conflict_index, conflict_term = self.log.conflict_hint(m.prev_log_index)
            self._send(
                AppendEntriesResponse(
                    self.id,
                    m.src,
                    self._term,
                    False,
                    m.prev_log_index,
                    conflict_index=conflict_index,
                    conflict_term=conflict_term,
                    read_ctx=m.read_ctx,
                    time=self._wall_clock(),
                )
            )
            return
        self.log.merge(entries)  # steps 3 and 4
        last_new = prev_index + len(entries)
        self.log.commit_to(min(m.leader_commit, last_new))  # step 5
        # A heartbeat's answer claims only the durable prefix (which matches the leader's:
        # it is below prev_index), so it leaves at once even while our writes are under
        # way: a slow disk must not make the leader think us gone (check-quorum) and step
        # down. Entries are acknowledged in full, once durable (after_persist).
        match = last_new if entries else min(last_new, self.log.durable_index)
        self._send(
            AppendEntriesResponse(
                self.id,
                m.src,
                self._term,
                True,
                match,
                read_ctx=m.read_ctx,
                time=self._wall_clock(),
                commit=self.log.commit,
            )
        )

    def _on_install_snapshot(self, m: InstallSnapshot) -> None:
        """Figure 13 InstallSnapshot receiver, assembling chunks by offset."""
        self._follow(m.src)
        index, term = m.last_included_index, m.last_included_term
        if index <= self.log.commit or self.log.matches(index, term):
            # We already hold that prefix (step 6): nothing to install.
            self.log.commit_to(index)
            self._incoming = None
            self._send(InstallSnapshotResponse(self.id, m.src, self._term, index, 0, True))
            return
        key = (m.term, index, term)
        if m.offset == 0 and (self._incoming is None or self._incoming.key != key):
            self._incoming = _IncomingSnapshot(key)  # step 2
        incoming = self._incoming
        if incoming is None or incoming.key != key:
            self._send(InstallSnapshotResponse(self.id, m.src, self._term, index, 0, False))
            return
        if m.offset == len(incoming.data):  # steps 3-4; otherwise a duplicate or a gap
            incoming.data += m.data
        if not (m.done and m.offset + len(m.data) == len(incoming.data)):
            received = len(incoming.data)
            self._send(InstallSnapshotResponse(self.id, m.src, self._term, index, received, False))
            return
        data = bytes(incoming.data)  # steps 5-8: the whole snapshot replaces our log
        self._incoming = None
        config = Configuration(frozenset(m.config_voters), frozenset(m.config_learners))
        meta = SnapshotMeta(index, term, config)
        self.log.restore(meta)
        self._snapshot_data = lambda: data
        self._new_snapshot = (meta, data)
        self._handed_out_commit = index
        self._send(InstallSnapshotResponse(self.id, m.src, self._term, index, len(data), True))

    def _on_forward(self, m: Forward) -> None:
        """Proposals a follower forwarded to us; dropped unless we can take them now."""
        if self._role is Role.LEADER and self._transferee is None:
            self._append([(EntryKind.COMMAND, d) for d in m.proposals])

    # -- log replication: leader side ------------------------------------------------------

    def _append(self, items: list[tuple[EntryKind, bytes]]) -> None:
        """Leader: append entries of our term (Figure 2: "append entry to local log")."""
        first = self.log.last_index + 1
        time = max(self.log.last_time, self._log_clock())
        self.log.append(
            [Entry(self._term, first + i, kind, data, time) for i, (kind, data) in enumerate(items)]
        )
        if any(kind == EntryKind.CONFIG for kind, _ in items):
            self._sync_progress()
        self._broadcast_due = True
        self._maybe_commit()

    def _log_clock(self) -> int:
        """The time to stamp new entries with: the median of the voters' clocks we know
        of, ours included (of an even number, the earlier), from the offsets their
        answers to our votes and appends showed. A leader whose clock is off, like any
        one voter, cannot move the log's time while most voters' clocks agree."""
        now = self._wall_clock()
        offsets = self._clock_offsets
        voters = self.log.config.voters
        readings = sorted(
            [now] + [now + offsets[v] for v in voters if v != self.id and v in offsets]
        )
        return readings[(len(readings) - 1) // 2]

    def _replicate(self, peer: str) -> bool:
        """Send ``peer`` what it lacks, as far as its progress state allows (pipelining)."""
        sent = False
        while self._send_append(peer, allow_empty=False):
            sent = True
        return sent

    def _send_append(self, peer: str, *, allow_empty: bool) -> bool:
        """One AppendEntries from ``peer``'s next index unless paused; True if it had entries."""
        pr = self._progress[peer]
        if pr.paused():
            return False
        if self.log.term(pr.next - 1) is None:  # compacted away: only a snapshot helps (7)
            self._send_snapshot_chunk(peer)
            return False
        last = min(self.log.last_index, pr.next - 1 + self.cfg.max_entries_per_append)
        entries = self.log.slice(pr.next, last)
        if not entries and not allow_empty:
            return False
        self._send_entries(peer, pr.next - 1, entries)
        pr.sent(entries[-1].index if entries else None)
        return bool(entries)

    def _send_heartbeat(self, peer: str) -> None:
        """Section 5.2 heartbeat: an empty AppendEntries at ``next - 1``, so that entries
        lost on the way make it fail and send the follower back to PROBE. A probing
        follower gets its next probe instead, a follower in SNAPSHOT the current chunk."""
        pr = self._progress[peer]
        if pr.state is ProgressState.PROBE:
            pr.probe_sent = False
            self._send_append(peer, allow_empty=True)
        elif pr.state is ProgressState.SNAPSHOT or self.log.term(pr.next - 1) is None:
            self._send_snapshot_chunk(peer)
        else:
            self._send_entries(peer, pr.next - 1, [])

    def _send_entries(self, peer: str, prev_index: int, entries: list[Entry]) -> None:
        prev_term = self.log.term(prev_index)
        assert prev_term is not None
        self._send(
            AppendEntries(
                self.id,
                peer,
                self._term,
                prev_index,
                prev_term,
                tuple(entries),
                self.log.commit,
                read_ctx=self._read_ctx,
            )
        )

    def _on_append_response(self, m: AppendEntriesResponse) -> None:
        pr = self._progress.get(m.src)  # empty unless we lead
        if pr is None:
            return
        pr.recent_active = True
        if m.read_ctx > pr.read_ack:
            pr.read_ack = m.read_ctx
            self._release_reads()
        if m.success:
            was_paused = pr.paused()
            if pr.accepted(m.match_index):
                self._maybe_commit()
                if self._role is not Role.LEADER:
                    return  # the commit removed us (4.2.2)
            if pr.state is ProgressState.SNAPSHOT and pr.match >= self.log.snapshot.index:
                pr.become_probe()  # it caught up some other way
            if m.src == self._transferee and pr.match == self.log.last_index:
                self._send(TimeoutNow(self.id, m.src, self._term))
            if not self._replicate(m.src) and was_paused:
                self._send_append(m.src, allow_empty=True)  # the commit index it missed
        elif pr.rejected(m.match_index, self._next_after_rejection(m)):
            self._send_append(m.src, allow_empty=True)

    def _next_after_rejection(self, m: AppendEntriesResponse) -> int:
        """Section 5.3 fast back-off: skip the follower's whole conflicting term at once."""
        if m.conflict_term:
            ours = self.log.last_index_of_term(m.conflict_term, upto=m.match_index)
            if ours is not None:
                return ours + 1
        return m.conflict_index

    def _maybe_commit(self) -> None:
        """Figure 2, last rule for leaders: commit the majority-replicated index, but only
        by counting replicas of an entry of our own term (section 5.4.2, Figure 8)."""
        match = {p: pr.match for p, pr in self._progress.items()}
        match[self.id] = self.log.durable_index  # 10.2.1: our write may still be under way
        index = committed_index(self.log.config.voters, match)
        if self.log.term(index) != self._term or not self.log.commit_to(index):
            return
        if self._reads_waiting:
            waiting, self._reads_waiting = self._reads_waiting, []
            for request_id in waiting:
                self._start_read(request_id)
        if self.id not in self.log.config.voters and self.log.config_index <= self.log.commit:
            self._become_follower(self._term, None)  # 4.2.2: we removed ourselves; done
            return
        for peer in self._progress:  # tell followers the new commit index promptly
            self._send_append(peer, allow_empty=True)

    # -- snapshots: leader side ------------------------------------------------------------

    def _send_snapshot_chunk(self, peer: str) -> None:
        """Figure 13 sender: the chunk at the follower's acknowledged offset."""
        pr = self._progress[peer]
        snapshot = self.log.snapshot
        if pr.state is not ProgressState.SNAPSHOT or pr.snapshot_index != snapshot.index:
            pr.become_snapshot(snapshot.index)  # (re)start from the latest snapshot
        assert self._snapshot_data is not None
        data = self._snapshot_data()
        offset = pr.snapshot_offset
        chunk = data[offset : offset + self.cfg.snapshot_chunk_bytes]
        self._send(
            InstallSnapshot(
                self.id,
                peer,
                self._term,
                snapshot.index,
                snapshot.term,
                tuple(sorted(snapshot.config.voters)),
                tuple(sorted(snapshot.config.learners)),
                offset,
                chunk,
                offset + len(chunk) >= len(data),
            )
        )

    def _on_snapshot_response(self, m: InstallSnapshotResponse) -> None:
        pr = self._progress.get(m.src)  # empty unless we lead
        if pr is None:
            return
        pr.recent_active = True
        if pr.state is not ProgressState.SNAPSHOT or m.last_included_index != pr.snapshot_index:
            return
        if m.done:
            pr.snapshot_installed()
            self._send_append(m.src, allow_empty=True)
        elif m.next_offset != pr.snapshot_offset:
            pr.snapshot_offset = m.next_offset
            self._send_snapshot_chunk(m.src)

    # -- ReadIndex -------------------------------------------------------------------------

    def _start_read(self, request_id: int) -> None:
        self._read_ctx += 1
        self._reads.append(_Read(request_id, self.log.commit, self._read_ctx))
        self._read_heartbeat_due = True
        self._release_reads()

    def _release_reads(self) -> None:
        """Hand out reads whose heartbeat round a majority has acknowledged, in order."""
        while self._reads:
            read = self._reads[0]
            acked = {p for p, pr in self._progress.items() if pr.read_ack >= read.ctx}
            if not has_quorum(self.log.config.voters, acked | {self.id}):
                return
            self._reads.popleft()
            self._read_states.append((read.request_id, read.index))
