"""Drives the sans-IO Raft core with the reactor: ticks, durable storage, peers, applying.

The loop is etcd-raft's with asynchronous storage writes: take a ``Ready``, hand its
write to the storage writer (a thread, :mod:`twistedchat.raft.writer`), send the messages
that need no disk at once (a leader's appends leave while its own write is under way,
dissertation 10.2.1), apply its committed entries, ``advance``; the messages that vouch
for the write (acknowledgements, votes) leave when it is durable, and the core is told
(``persisted``) so a leader counts its own copy. Everything that arrives in one reactor
turn is one Ready, and the writer makes every Ready queued during an fsync durable with
the next one (group commit), so a slow disk slows commits but never ticks, heartbeats or
IRC. Writes, compactions included, reach the disk in the order they were handed out.

Fail-stop (decision 0019): if a write cannot be made durable, or a committed entry cannot
be applied, the replica stops at once, before it sends or applies anything after the
failure. Going on would acknowledge what the disk does not hold, or leave this replica's
state behind the others' at an index the log says it applied; retrying a failed fsync is
unsafe too (the kernel may have dropped the dirty pages: PostgreSQL's "fsyncgate"). A
restart reads what is durable and catches up from the leader.
"""

from __future__ import annotations

import ipaddress
import os
import random
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import NoReturn, TypeVar

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.logger import Logger

from twistedchat.node.snapshotter import InlineSnapshotter, Snapshotter
from twistedchat.raft.core import NotLeader, RaftConfig, RaftNode, Ready, Role, SnapshotMeta
from twistedchat.raft.messages import (
    AppendEntries,
    AppendEntriesResponse,
    Configuration,
    EntryKind,
    RaftMessage,
)
from twistedchat.raft.storage import Compaction, LogWrite, RaftStorage, StorageWrite
from twistedchat.raft.transport import PeerTransport
from twistedchat.raft.writer import InlineWriter, StorageWriter
from twistedchat.ratelimit import TokenBucket

log = Logger()
T = TypeVar("T")

#: Seconds between two log lines about messages from non-members.
NON_MEMBER_LOG_EVERY = 60.0
#: Proposals whose commit latency is being timed at most (a stuck log drops the oldest).
PROPOSALS_TIMED = 4096


class ReplicaFailure(Exception):
    """Storing or applying failed: the replica must not go on (see the module doc)."""


@dataclass
class _PendingWrite:
    """A write handed to the writer: a Ready's (None: a compaction), and the messages
    that leave once it is durable."""

    ready: Ready | None
    held: list[RaftMessage] = field(default_factory=list)


def exit_process(reason: str) -> NoReturn:
    """Stop this process now, with one line and status 1.

    Not ``reactor.stop()``: a graceful stop hands leadership over and says goodbye to
    peers, all from a state the disk may not hold.
    """
    log.critical("stopping at once: {reason}", reason=reason)
    os._exit(1)


class RaftReplica:
    """One node's Raft: implements the hub's :class:`~twistedchat.node.hub.CommandLog`."""

    def __init__(
        self,
        node_id: str,
        storage: RaftStorage,
        transport: PeerTransport,
        clock: IReactorTime,
        *,
        config: RaftConfig,
        tick_seconds: float,
        apply_command: Callable[[int, bytes, int], None],
        applied_batch: Callable[[], None] = lambda: None,
        take_snapshot: Callable[[], bytes],
        restore_snapshot: Callable[[int, bytes], None],
        snapshot_every: int,
        rng: random.Random | None = None,
        fail_stop: Callable[[str], None] = exit_process,
        writer: StorageWriter | None = None,
        snapshotter: Snapshotter | None = None,
    ):
        """``apply_command`` applies one committed entry, and ``applied_batch`` is called
        after each run of them (the hub writes out what they sent, once per connection).
        ``fail_stop(reason)`` is called once if storing or applying fails; the replica
        does nothing more after it (tests record the reason instead of exiting).
        ``writer`` makes writes durable (default: at once, in the reactor thread; the
        node passes a :class:`~twistedchat.raft.writer.ThreadedWriter`, whose failures
        go to :meth:`storage_failed`). ``snapshotter`` runs ``take_snapshot`` (default: at
        once; the node passes a :class:`~twistedchat.node.snapshotter.ForkSnapshotter`)."""
        self.node_id = node_id
        self.storage = storage
        self.writer: StorageWriter = writer or InlineWriter(storage)
        self.snapshotter: Snapshotter = snapshotter or InlineSnapshotter()
        self._snapshotting = False  # a snapshot is being built
        self._pending: deque[_PendingWrite] = deque()
        self.transport = transport
        self.clock = clock
        self.tick_seconds = tick_seconds
        self._apply_command = apply_command
        self._applied_batch = applied_batch
        self._take_snapshot = take_snapshot
        self._restore_snapshot = restore_snapshot
        self.snapshot_every = snapshot_every
        #: Entries kept behind the latest snapshot (etcd keeps 5,000, HashiCorp 10,240).
        self.trailing = snapshot_every // 2
        self._taken: tuple[int, bytes] | None = None  # a snapshot waiting to compact to
        self._tick_call: IDelayedCall | None = None
        self._process_call: IDelayedCall | None = None
        self._processing = False
        self._last_snapshot_index = 0
        self._raft_config = config
        self._rng = rng or random.Random()
        self._fail_stop = fail_stop
        #: Why the replica stopped for good (a storage or apply failure), if it did.
        self.failure: str | None = None
        #: When we last heard from each peer over Raft (for dead-node detection).
        self.last_contact: dict[str, float] = {}
        #: member -> (commit index it learnt, term, said as leader), if the last thing heard
        #: from it said so: see known_commit.
        self._known_commit: dict[str, tuple[int, int, bool]] = {}
        #: Raft messages from servers outside the configuration, which the core ignores.
        self.ignored_from_non_members = 0
        self._non_member_log = TokenBucket(1, 1 / NON_MEMBER_LOG_EVERY)
        #: Writes are held, not refused, for this long without a leader (an election).
        self.leaderless_grace = 3 * 2 * config.election_ticks * tick_seconds
        self._leader_seen_at: float | None = None
        self._known_leader: str | None = None
        #: Called when a new leader becomes known, so lost proposals go out at once.
        self.on_new_leader: Callable[[], None] = lambda: None
        #: Times a leader became known after none or another was (the first one included;
        #: a leader re-elected after an election without one counts again), for /metrics.
        self.leader_changes = 0
        #: Given the seconds from a leader's proposal to its commit, when set (/metrics).
        self.on_append_latency: Callable[[float], None] | None = None
        self._proposed: deque[tuple[int, float]] = deque(maxlen=PROPOSALS_TIMED)
        self._core, self.fresh = self._load_core()
        #: A fresh node ignores peers until it knows whether it founds a cluster or joins one.
        self.decided = not self.fresh
        transport.on_message = self.receive
        transport.on_received = self._process_now

    def _load_core(self) -> tuple[RaftNode, bool]:
        """Restart from durable state; a node without any starts empty and undecided."""
        hard_state, snapshot, snapshot_data, entries = self.storage.load()
        if snapshot is not None and snapshot_data is not None:
            self._restore_snapshot(snapshot.index, snapshot_data)
            self._last_snapshot_index = snapshot.index
        fresh = snapshot is None and not entries and hard_state.term == 0
        core = RaftNode(
            self.node_id,
            self._raft_config,
            self._rng,
            hard_state=hard_state,
            snapshot=snapshot,
            entries=entries,
            snapshot_data=(lambda: snapshot_data) if snapshot_data is not None else None,
            wall_clock=self._wall_clock,
        )
        return core, fresh

    def found_cluster(self, voters: frozenset[str]) -> None:
        """Bootstrap a new cluster: every founder writes the same first entry."""
        if self.decided:
            raise RuntimeError("only a fresh, undecided node may found a cluster")
        log.info("founding cluster with voters {voters}", voters=sorted(voters))
        self._core = RaftNode.bootstrap(
            self.node_id, self._raft_config, self._rng, Configuration(voters), self._wall_clock
        )
        self.decided = True
        self._sync_peers()
        self._schedule()

    def await_invitation(self) -> None:
        """Join an existing cluster: accept its leader's log once it adds us."""
        if not self.decided:
            log.info("waiting to be added to the cluster by its leader")
            self.decided = True

    # -- lifecycle ---------------------------------------------------------------------

    def start(self) -> None:
        self._sync_peers()
        self._tick_call = self.clock.callLater(self.tick_seconds, self._tick)
        self._schedule()

    def stop(self) -> None:
        for call in (self._tick_call, self._process_call):
            if call is not None and call.active():
                call.cancel()
        self._tick_call = self._process_call = None

    def hand_over_leadership(self, timeout: float = 1.0) -> Deferred[None]:
        """On a graceful stop, let the most up-to-date voter lead before we go (no election)."""
        done: Deferred[None] = Deferred()
        target = self._core.transfer_target() if self._core.role == "leader" else None
        if target is None:
            done.callback(None)
            return done
        log.info("handing leadership to {target}", target=target)
        self._core.transfer_leadership(target)
        self._process()
        deadline = self.clock.seconds() + timeout

        def check() -> None:
            if self._core.role != "leader" or self.clock.seconds() >= deadline:
                done.callback(None)
            else:
                self.clock.callLater(self.tick_seconds, check)

        check()
        return done

    # -- what the rest of the node may read of Raft, and the two changes it may ask ----

    @property
    def role(self) -> Role:
        return self._core.role

    def is_leader(self) -> bool:
        return self._core.role == Role.LEADER

    @property
    def term(self) -> int:
        return self._core.term

    @property
    def leader_id(self) -> str | None:
        return self._core.leader_id

    @property
    def configuration(self) -> Configuration:
        return self._core.configuration

    @property
    def elections_started(self) -> int:
        return self._core.elections_started

    @property
    def commit_index(self) -> int:
        return self._core.commit_index

    @property
    def applied_index(self) -> int:
        return self._core.applied_index

    @property
    def last_index(self) -> int:
        return self._core.last_index

    def match_index(self, member: str) -> int:
        return self._core.match_index(member)

    def change_membership(self, configuration: Configuration) -> None:
        """Propose ``configuration`` (one change at a time, dissertation 4.1); raises
        NotLeader or ConfigChangeRefused if it cannot be proposed now."""
        self._core.propose_config(configuration)
        self._schedule()

    def transfer_leadership(self, target: str) -> None:
        """Hand leadership to ``target`` (dissertation 3.10); raises NotLeader, or
        ValueError for a target that is not a voter."""
        self._core.transfer_leadership(target)
        self._schedule()

    # -- CommandLog --------------------------------------------------------------------

    def propose(self, entries: list[bytes]) -> None:
        if self.failure is not None:
            return
        try:
            self._core.propose(entries)
        except NotLeader:
            return  # no leader known: the hub retries
        if self.on_append_latency is not None:
            self._proposed.append((self._core.last_index, self.clock.seconds()))
        self._process_now()  # the hub has batched this turn's proposals already

    def writable(self) -> bool:
        """Whether writes may be accepted: a leader is known, or was until moments ago.

        An election takes a few election timeouts; refusing writes meanwhile would turn
        every leader change into errors for users. The hub holds them and re-proposes
        once the new leader is known. A node without a leader for longer is cut off from
        the majority, and its users are told so (see the hub).
        """
        if self._core.leader_id is not None:
            self._leader_seen_at = self.clock.seconds()
            return True
        seen = self._leader_seen_at
        return seen is not None and self.clock.seconds() - seen < self.leaderless_grace

    # -- the loop ----------------------------------------------------------------------

    def receive(self, message: RaftMessage) -> None:
        if not self.decided or self.failure is not None:
            return  # stepping now could persist a term before we found a cluster
        if not self._core.admits(message):
            self._ignored_non_member(message.src)
            return
        self.last_contact[message.src] = self.clock.seconds()
        self._note_commit_known(message)
        if message.src not in self.transport.peers:
            # A leader adding us talks first; answer it before its config reaches us.
            self.transport.set_peer(message.src, self._peer_endpoint(message.src))
        self._core.step(message)
        self._schedule()

    def known_commit(self, member: str) -> int | None:
        """The commit index ``member`` is known to have learnt when we last heard from it;
        None if what we last heard carried none, or answered an earlier leadership of ours.

        A node applies committed entries, and hands out what they send, in the turn it
        learns of them, so this is how far a node that fell silent got (decision 0032): a
        follower says it in its answers to the leader, a leader in what it sends. A new
        leader knows nothing of a follower that died before answering it: None, not a
        stale figure from an earlier term that would replay too much."""
        known = self._known_commit.get(member)
        if known is None:
            return None
        commit, term, as_leader = known
        return commit if as_leader or term == self._core.term else None

    def led_us_last(self, member: str) -> bool:
        """Whether the last thing heard from ``member`` was entries it sent as our leader."""
        known = self._known_commit.get(member)
        return known is not None and known[2]

    def _note_commit_known(self, message: RaftMessage) -> None:
        if isinstance(message, AppendEntries):
            learnt, as_leader = message.leader_commit, True
        elif isinstance(message, AppendEntriesResponse) and message.success:
            learnt, as_leader = message.commit, False
        else:  # it said something else last (a vote request, say): we no longer know
            self._known_commit.pop(message.src, None)
            return
        earlier = self._known_commit.get(message.src)
        if earlier is not None and earlier[1:] == (message.term, as_leader):
            learnt = max(learnt, earlier[0])  # answers may arrive out of order
        self._known_commit[message.src] = (learnt, message.term, as_leader)

    def _ignored_non_member(self, src: str) -> None:
        """Count what non-members send (the core ignores it); say so once a minute."""
        self.ignored_from_non_members += 1
        if self._non_member_log.take(self.clock.seconds()) == 0:
            log.warn("ignoring raft messages from {src}, which is not a member of the "
                     "configuration ({count} so far)", src=src,
                     count=self.ignored_from_non_members)  # fmt: skip

    def _wall_clock(self) -> int:
        """Our clock, in ms, for the entries we append as leader (the log's clock)."""
        return int(self.clock.seconds() * 1000)

    def _peer_endpoint(self, member: str) -> str:
        """Dial ``member`` from our own address, so a peer sees us as who we say we are
        (and per-address network faults in tests cut exactly the links they mean to)."""
        host = self.node_id.rpartition(":")[0]
        if _is_ipv4_literal(host):
            return f"tcp:{member}:bindAddress={host}"
        return f"tcp:{member}"

    def _tick(self) -> None:
        if self._core.leader_id is not None:
            self._leader_seen_at = self.clock.seconds()
        self._core.tick()
        self._process()
        self._tick_call = self.clock.callLater(self.tick_seconds, self._tick)

    def _schedule(self) -> None:
        if self._process_call is None:
            self._process_call = self.clock.callLater(0, self._process)

    def _process_now(self) -> None:
        """Run the loop now, not in the next reactor turn, unless it is running already
        (an entry being applied proposes): each turn saved is latency on every hop."""
        if self._processing:
            self._schedule()
            return
        if self._process_call is not None and self._process_call.active():
            self._process_call.cancel()
        self._process()

    def _process(self) -> None:
        self._process_call = None
        if self.failure is not None or self._processing:
            return
        self._processing = True
        try:
            self._process_once()
        finally:
            self._processing = False
            self._applied_batch()

    def _process_once(self) -> None:
        try:
            config_changed = self._drain()
            self._maybe_snapshot()
        except ReplicaFailure as exc:
            self._halt(str(exc))
            return
        self._notice_leader()
        if self._proposed:
            self._time_commits()
        if config_changed:
            self._sync_peers()

    def _drain(self) -> bool:
        """Write, send, apply each Ready in turn; whether the configuration changed."""
        config_changed = False
        while self._core.has_ready():
            ready = self._core.ready()
            if ready.snapshot is not None:
                meta, data = ready.snapshot
                _must(f"install the snapshot at index {meta.index}",
                      self._restore_snapshot, meta.index, data)  # fmt: skip
                self._last_snapshot_index = meta.index
                self._taken = None  # of a state before the installed one
                log.info("installed the leader's snapshot at index {index}", index=meta.index)
                config_changed = True
            if ready.must_sync:
                what = "store the hard state"
                if ready.entries:
                    what = f"store entries {ready.entries[0].index}..{ready.entries[-1].index}"
                pending = _PendingWrite(ready, ready.after_persist)
                write = LogWrite(ready.hard_state, ready.entries, ready.snapshot)
                self._submit(what, write, pending)
            elif ready.after_persist:
                self._hold(ready.after_persist)
            config_changed |= any(e.kind == EntryKind.CONFIG for e in ready.entries)
            for message in ready.messages:
                self.transport.send(message)
            for entry in ready.committed:
                if entry.kind == EntryKind.COMMAND:
                    _must(f"apply entry {entry.index}", self._apply_command,
                          entry.index, entry.data, entry.time)  # fmt: skip
            self._core.advance(ready)
        return config_changed

    def _submit(self, what: str, write: StorageWrite, pending: _PendingWrite) -> None:
        self._pending.append(pending)
        _must(what, self.writer.submit, write, lambda: self._written(pending))

    def _hold(self, messages: list[RaftMessage]) -> None:
        """Messages that wait for writes under way (the last one; they finish in order)."""
        if self._pending:
            self._pending[-1].held.extend(messages)
        else:
            for message in messages:
                self.transport.send(message)

    def _written(self, pending: _PendingWrite) -> None:
        """The writer made ``pending`` durable (and all before it): let go what it held."""
        if self.failure is not None:
            return
        done = self._pending.popleft()
        assert done is pending, "storage writes completed out of order"
        if pending.ready is not None:
            self._core.persisted(pending.ready)
        for message in pending.held:
            self.transport.send(message)
        self._schedule()

    def storage_failed(self, reason: str) -> None:
        """The writer could not make a write durable: stop (see the module doc)."""
        if self.failure is None:
            self._halt(reason)

    def _halt(self, reason: str) -> None:
        """Stop for good: no more ticks, sends or applies, then tell the node."""
        self.failure = reason
        self.stop()
        self._fail_stop(reason)

    def _time_commits(self) -> None:
        """Report how long the proposals now committed took (a turn's batch is one)."""
        if not self.is_leader():
            self._proposed.clear()  # they commit under another leader, or never
            return
        commit, now, proposed = self._core.commit_index, self.clock.seconds(), self._proposed
        report = self.on_append_latency
        while proposed and proposed[0][0] <= commit:
            _, at = proposed.popleft()
            if report is not None:
                report(now - at)

    def _notice_leader(self) -> None:
        leader = self._core.leader_id
        if leader is not None and leader != self._known_leader:
            self.leader_changes += 1
            self._known_leader = leader
            self.on_new_leader()
        elif leader is None:
            self._known_leader = None

    def _maybe_snapshot(self) -> None:
        """Snapshot every ``snapshot_every`` entries, and compact to it only once
        ``trailing`` more are applied.

        The log thus always keeps at least the last ``trailing`` entries: a follower that
        a pause or a short partition left that far behind gets entries, not the whole
        state (InstallSnapshot), and its users need no replay of the gap (decision 0016).
        The snapshot is built by the snapshotter (in a forked child, off the reactor) and
        waits in memory meanwhile, as bytes: the state moves on.
        """
        applied = self._core.applied_index
        due = applied - self._last_snapshot_index >= self.snapshot_every
        if self._taken is None and not self._snapshotting and due:
            self._snapshotting = True
            self.snapshotter.take(
                self._take_snapshot,
                lambda data: self._snapshot_built(applied, data),
                lambda why: self._snapshot_failed(applied, why),
            )
        if self._taken is None or applied - self._taken[0] < self.trailing:
            return
        (index, data), self._taken = self._taken, None
        meta = self._core.compact(index, data)
        self._submit(f"compact the log to index {index}", Compaction(meta, data),
                     _PendingWrite(None))  # fmt: skip
        self._last_snapshot_index = index
        log.info("snapshot at index {index} ({size} bytes)", index=index, size=len(data))

    def _snapshot_built(self, index: int, data: bytes) -> None:
        self._snapshotting = False
        if self.failure is None and index > self._last_snapshot_index:  # else: a leader's
            self._taken = (index, data)  # snapshot was installed meanwhile
            self._schedule()

    def _snapshot_failed(self, index: int, why: str) -> None:
        self._snapshotting = False
        if self.failure is None:
            self._halt(f"cannot take a snapshot at index {index}: {why}")

    def _sync_peers(self) -> None:
        """Dial every member of the latest configuration (node ids are HOST:PORT)."""
        members = self._core.configuration.members()
        for member in members - {self.node_id}:
            self.transport.set_peer(member, self._peer_endpoint(member))
        for known in set(self.transport.peers) - members:
            self.transport.remove_peer(known)

    def snapshot_meta(self) -> SnapshotMeta | None:
        return self._core.snapshot_meta


def _must(what: str, step: Callable[..., T], *args: object) -> T:
    """Run a storage write or a step of the state machine: any failure of it (a full
    disk, a failed fsync, a bug in apply) is a :class:`ReplicaFailure`."""
    try:
        return step(*args)
    except Exception as exc:
        raise ReplicaFailure(f"cannot {what}: {type(exc).__name__}: {exc}") from exc


def _is_ipv4_literal(host: str) -> bool:
    """Whether ``host`` is a literal IPv4 address other than the wildcard."""
    try:
        return ipaddress.IPv4Address(host) != ipaddress.IPv4Address("0.0.0.0")
    except ValueError:
        return False
