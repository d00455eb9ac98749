"""Deterministic simulation of a Raft cluster: sans-IO cores over a seeded, hostile network.

Everything (network faults, partitions, crashes, client load, timing) is drawn from one
``random.Random(seed)``, so a seed replays exactly. Time is a global tick counter; each
tick every live node ticks (sometimes not: clocks drift), then due messages are delivered
in random order. Messages can be dropped, duplicated and delayed (which reorders them).

A node's "disk" is what it was handed in ``Ready.hard_state/entries/snapshot`` and
persisted. Storage is asynchronous in most seeds, as in the replica: a write may complete
ticks after its Ready was taken, while the node goes on sending, applying and taking more
Readies; writes complete in order, and only then do their ``after_persist`` messages leave
and the core hear ``persisted``. A crash can strike between taking a Ready and persisting
it (the Ready is lost, its held messages never leave), with writes still pending (all lost),
or between persisting and sending. A restart builds a new core from that disk, and a new
state machine from the stored snapshot.

:class:`SafetyChecker` checks the five properties of the paper's Figure 3 after every
step (every tick and every delivered message, once its Ready is processed); the
simulation then heals everything and checks liveness.
"""

from __future__ import annotations

import hashlib
import random
from collections import defaultdict, deque
from collections.abc import Iterable
from dataclasses import dataclass, field, replace

from twistedchat.raft.core import (
    ConfigChangeRefused,
    HardState,
    NotLeader,
    RaftConfig,
    RaftNode,
    Ready,
    Role,
)
from twistedchat.raft.log import SnapshotMeta
from twistedchat.raft.messages import Configuration, Entry, RaftMessage

ELECTION_TICKS = 10
#: Ticks of alternating storms (faults, partitions, crashes) and calm spells (load only).
CHAOS_TICKS = 600
SPELL_TICKS = (30, 90)
#: After healing: ticks allowed to elect a leader, then to commit a probe entry everywhere
#: (plus catch-up time: a round trip of a few ticks per append for the most lagging node).
ELECTION_BOUND = 12 * ELECTION_TICKS
COMMIT_BOUND = 8 * ELECTION_TICKS
TICKS_PER_APPEND = 3


class SimulationFailure(AssertionError):
    pass


# -- one node's disk and state machine ------------------------------------------------------


@dataclass
class Disk:
    """What survives a crash: exactly what was persisted from Ready (and compactions)."""

    hard_state: HardState = field(default_factory=lambda: HardState(0, None, 0))
    snapshot: SnapshotMeta | None = None
    snapshot_data: bytes = b""
    entries: list[Entry] = field(default_factory=list)

    def persist(self, ready: Ready) -> None:
        if ready.snapshot is not None:
            self.snapshot, self.snapshot_data = ready.snapshot
            self.entries = []
        if ready.entries:
            first = ready.entries[0].index
            self.entries = [e for e in self.entries if e.index < first] + ready.entries
        if ready.hard_state is not None:
            self.hard_state = replace(ready.hard_state)

    def compact(self, meta: SnapshotMeta, data: bytes) -> None:
        self.snapshot, self.snapshot_data = meta, data
        self.entries = [e for e in self.entries if e.index > meta.index]


class Machine:
    """A state machine whose whole state is a hash chain over the applied entries."""

    PADDING = bytes(range(97))  # makes snapshots span several chunks

    def __init__(self) -> None:
        self.index = 0
        self.digest = b""

    def apply(self, entry: Entry) -> None:
        assert entry.index == self.index + 1, f"applied {entry.index} after {self.index}"
        header = f"{entry.index}:{entry.term}:{entry.kind}:".encode()
        self.digest = hashlib.sha256(self.digest + header + entry.data).digest()
        self.index = entry.index

    def snapshot(self) -> bytes:
        return self.index.to_bytes(8, "big") + self.digest + self.PADDING

    def restore(self, data: bytes) -> None:
        assert data.endswith(self.PADDING), "snapshot bytes garbled in transfer"
        self.index = int.from_bytes(data[:8], "big")
        self.digest = data[8:40]


# -- the checker ----------------------------------------------------------------------------


class SafetyChecker:
    """Figure 3's guarantees, checked incrementally so that it can run after every step."""

    def __init__(self) -> None:
        self.leader_of_term: dict[int, str] = {}  # Election Safety
        self.leader_tail: dict[str, tuple[int, int, Entry | None]] = {}  # Append-Only
        self.entry_at: dict[tuple[int, int], tuple[Entry, int]] = {}  # Log Matching
        # Leader Completeness: index -> (entry, term in which it was committed). A leader
        # commits before anyone else learns of it, so the first report names its term.
        self.committed: dict[int, tuple[Entry, int]] = {}
        self.applied: dict[int, Entry] = {}  # State Machine Safety
        self.digests: dict[int, bytes] = {}
        self.max_commit = 0

    def check_leader(self, node: RaftNode) -> None:
        if node.role is not Role.LEADER:
            self.leader_tail.pop(node.id, None)
            return
        first = self.leader_of_term.setdefault(node.term, node.id)
        if first != node.id:
            raise SimulationFailure(f"Election Safety: {first} and {node.id} lead term {node.term}")
        tail = self.leader_tail.get(node.id)
        log = node.log
        if tail is None or tail[0] != node.term:  # a new leader: Leader Completeness
            for index, (entry, term) in self.committed.items():
                if term < node.term and not self.holds(node, index, entry):
                    raise SimulationFailure(
                        f"Leader Completeness: leader {node.id} of term {node.term} lacks "
                        f"committed {entry}"
                    )
        elif tail[1] > log.last_index or (
            tail[2] is not None and tail[1] > log.snapshot.index and log.entry(tail[1]) != tail[2]
        ):
            raise SimulationFailure(f"Leader Append-Only: {node.id} rewrote its log")
        last = log.entry(log.last_index) if log.last_index > log.snapshot.index else None
        self.leader_tail[node.id] = (node.term, log.last_index, last)

    def check_entries(self, node: RaftNode, entries: Iterable[Entry]) -> None:
        """Log Matching by induction: an (index, term) pair always names the same entry and
        the same previous term, so equal pairs imply equal prefixes."""
        for entry in entries:
            prev_term = node.log.term(entry.index - 1)  # handed-out entries follow the snapshot
            assert prev_term is not None
            seen = self.entry_at.setdefault((entry.index, entry.term), (entry, prev_term))
            if seen != (entry, prev_term):
                raise SimulationFailure(
                    f"Log Matching: {node.id} has {entry} after term {prev_term}, "
                    f"elsewhere {seen[0]} after term {seen[1]}"
                )

    @staticmethod
    def holds(node: RaftNode, index: int, entry: Entry) -> bool:
        """Does ``node``'s log hold ``entry`` (or a snapshot covering it)?"""
        log = node.log
        return index <= log.snapshot.index or (
            index <= log.last_index and log.entry(index) == entry
        )

    def check_commit(self, node: RaftNode, since: int, leaders: Iterable[RaftNode]) -> None:
        log = node.log
        self.max_commit = max(self.max_commit, log.commit)
        for index in range(max(since, log.snapshot.index) + 1, log.commit + 1):
            entry = log.entry(index)
            seen, term = self.committed.setdefault(index, (entry, node.term))
            if seen != entry:
                raise SimulationFailure(
                    f"State Machine Safety: {node.id} committed {entry}, elsewhere {seen}"
                )
            for leader in leaders:
                if leader.term > term and not self.holds(leader, index, entry):
                    raise SimulationFailure(
                        f"Leader Completeness: {leader.id} of term {leader.term} lacks {entry}"
                        f" committed in term {term}"
                    )

    def check_apply(self, node_id: str, entry: Entry, digest: bytes) -> None:
        if self.applied.setdefault(entry.index, entry) != entry:
            raise SimulationFailure(
                f"State Machine Safety: {node_id} applied {entry}, "
                f"elsewhere {self.applied[entry.index]}"
            )
        if self.digests.setdefault(entry.index, digest) != digest:
            raise SimulationFailure(f"State Machine Safety: {node_id} diverged at {entry.index}")

    def check_restore(self, node_id: str, machine: Machine) -> None:
        expected = self.digests.get(machine.index)
        if expected is not None and expected != machine.digest:
            raise SimulationFailure(f"{node_id} restored a wrong snapshot at {machine.index}")


# -- nodes and the network ------------------------------------------------------------------


@dataclass
class PendingWrite:
    """A write under way: a Ready's (with the messages held until it is durable) or a
    compaction's; they reach the disk in order."""

    ready: Ready | None
    held: list[RaftMessage] = field(default_factory=list)
    compaction: tuple[SnapshotMeta, bytes] | None = None


@dataclass
class SimNode:
    id: str
    disk: Disk
    machine: Machine
    core: RaftNode | None  # None while crashed
    seen_commit: int = 0
    crash_point: str | None = None  # "before-persist" / "before-send": crash in next Ready
    writes: deque[PendingWrite] = field(default_factory=deque)


@dataclass(frozen=True)
class Faults:
    drop: float
    duplicate: float
    max_delay: int


class Simulation:
    """One seeded run: the cluster's shape, its configuration and every fault come from
    ``seed``. 3 or 5 founding voters; in membership runs also 1-2 empty spare servers
    that the leader adds as learners, promotes, and demotes or removes voters for."""

    def __init__(self, seed: int, *, trace: bool = False, core: type[RaftNode] = RaftNode) -> None:
        """``core`` is the Raft implementation under test: :class:`RaftNode`, or (for the
        checker's negative controls, tests/raft/broken.py) a deliberately broken one."""
        self.seed = seed
        self.core_class = core
        self.rng = random.Random(seed)
        rng = self.rng
        self.trace_all = trace
        self.trace: deque[tuple[object, ...]] = deque(maxlen=80)
        self.membership = rng.random() < 0.3
        relaxed = not self.membership and rng.random() < 0.25
        self.cfg = RaftConfig(
            election_ticks=ELECTION_TICKS,
            heartbeat_ticks=rng.choice([1, 2, 3]),
            max_entries_per_append=rng.choice([1, 3, 8, 64]),
            max_inflight_appends=rng.choice([1, 2, 4]),
            snapshot_chunk_bytes=rng.choice([16, 50, 4096]),
            check_quorum=rng.random() < 0.5 if relaxed else True,
            pre_vote=rng.random() < 0.5 if relaxed else True,
        )
        self.storm_faults = Faults(
            drop=rng.choice([0.0, 0.02, 0.1, 0.25]),
            duplicate=rng.choice([0.0, 0.05, 0.15]),
            max_delay=rng.choice([0, 1, 3, 6]),
        )
        self.calm_faults = Faults(drop=0.0, duplicate=0.0, max_delay=rng.choice([0, 1, 2]))
        self.faults = self.calm_faults
        self.stormy = False
        self.compact_every = rng.choice([0, 3, 10, 30])
        # How often a write stays pending when its Ready is taken (0: storage is synchronous),
        # and how likely the oldest pending write is to complete in a given tick.
        self.async_writes = rng.choice([0.0, 0.3, 0.7, 1.0])
        self.write_speed = rng.choice([0.2, 0.5, 0.9])
        # Some seeds crash and restart nodes often, to hit crashes in the middle of elections.
        self.crash_rate, self.restart_rate = rng.choice([(0.02, 0.05), (0.1, 0.3)])
        voters = [f"n{i}" for i in range(1, rng.choice([3, 5]) + 1)]
        spares = [f"s{i}" for i in range(1, rng.choice([2, 3]))] if self.membership else []
        self.checker = SafetyChecker()
        self.nodes: dict[str, SimNode] = {}
        founders = Configuration(frozenset(voters))
        for node_id in voters + spares:
            disk = Disk()
            core = (
                core.bootstrap(node_id, self.cfg, self._node_rng(), founders)
                if node_id in voters
                else self._restart_core(node_id, disk)  # joins empty, never bootstraps
            )
            self.nodes[node_id] = SimNode(node_id, disk, Machine(), core)
        self.time = 0
        self.in_flight: defaultdict[int, list[RaftMessage]] = defaultdict(list)
        self.group: dict[str, int] = dict.fromkeys(self.nodes, 0)
        self.proposals = 0
        self.reads = 0
        self.read_requests: dict[int, int] = {}  # request id -> max commit when requested

    def _node_rng(self) -> random.Random:
        return random.Random(self.rng.getrandbits(64))

    def _restart_core(self, node_id: str, disk: Disk) -> RaftNode:
        data = disk.snapshot_data
        return self.core_class(
            node_id,
            self.cfg,
            self._node_rng(),
            hard_state=replace(disk.hard_state),
            snapshot=disk.snapshot,
            entries=list(disk.entries),
            snapshot_data=(lambda: data) if disk.snapshot is not None else None,
        )

    def describe(self) -> str:
        return (
            f"{self.core_class.__name__}, "
            f"{len([n for n in self.nodes if n.startswith('n')])} voters, "
            f"membership={self.membership}, {self.cfg}, storms: {self.storm_faults}, "
            f"compact_every={self.compact_every}, async writes {self.async_writes} "
            f"(speed {self.write_speed}), crash/restart rates "
            f"{self.crash_rate}/{self.restart_rate}"
        )

    def log(self, *event: object) -> None:
        self.trace.append((self.time, *event))
        if self.trace_all:
            print(self.time, *event)

    # -- running ----------------------------------------------------------------------------

    def run(self) -> None:
        while self.time < CHAOS_TICKS:
            self.stormy = not self.stormy
            self.faults = self.storm_faults if self.stormy else self.calm_faults
            self.log("storm" if self.stormy else "calm")
            for _ in range(self.rng.randint(*SPELL_TICKS)):
                self.chaos()
                self.tick()
        self.heal()
        self.check_liveness()

    def tick(self) -> None:
        self.time += 1
        for node in self.live_nodes():
            while node.writes and node.core is not None and self.rng.random() < self.write_speed:
                self.complete_write(node)
            if node.core is not None and self.rng.random() < 0.95:  # clocks drift
                node.core.tick()
                self.process(node)
        self.deliver()

    def deliver(self) -> None:
        for _ in range(3):  # messages sent with no delay arrive in the same tick
            due = self.in_flight.pop(self.time, [])
            if not due:
                return
            self.rng.shuffle(due)
            for message in due:
                node = self.nodes[message.dst]
                if node.core is None or self.group[message.src] != self.group[message.dst]:
                    continue
                node.core.step(message)
                self.process(node)
        self.in_flight[self.time + 1].extend(self.in_flight.pop(self.time, []))

    def send(self, message: RaftMessage) -> None:
        faults = self.faults
        if self.rng.random() < faults.drop:
            return
        copies = 2 if self.rng.random() < faults.duplicate else 1
        for _ in range(copies):
            self.in_flight[self.time + self.rng.randint(0, faults.max_delay)].append(message)

    def process(self, node: SimNode) -> None:
        """The caller's loop: start the write, send, apply, advance (then maybe compact);
        the held messages leave when the write completes (now, or in a later tick)."""
        core = node.core
        assert core is not None
        while core.has_ready():
            ready = core.ready()
            self.checker.check_entries(core, ready.entries)
            if node.crash_point == "before-persist":
                return self.crash(node)
            if node.writes or (ready.must_sync and self.rng.random() < self.async_writes):
                if ready.must_sync:
                    node.writes.append(PendingWrite(ready, list(ready.after_persist)))
                else:  # held behind the writes under way (they complete in order)
                    node.writes[-1].held.extend(ready.after_persist)
            else:
                node.disk.persist(ready)
                core.persisted(ready)
                if node.crash_point == "before-send":
                    return self.crash(node)
                for message in ready.after_persist:
                    self.send(message)
            if ready.snapshot is not None:
                node.machine.restore(ready.snapshot[1])
                self.checker.check_restore(node.id, node.machine)
            for message in ready.messages:
                self.send(message)
            for entry in ready.committed:
                node.machine.apply(entry)
                self.checker.check_apply(node.id, entry, node.machine.digest)
            for request_id, index in ready.read_states:
                self.check_read(node, request_id, index)
            core.advance(ready)
            self.maybe_compact(node)
        self.check_step(node)

    def complete_write(self, node: SimNode) -> None:
        """The oldest pending write reaches the disk; then its held messages leave."""
        write = node.writes.popleft()
        core = node.core
        assert core is not None
        if write.compaction is not None:
            node.disk.compact(*write.compaction)
            return
        assert write.ready is not None
        node.disk.persist(write.ready)
        if node.crash_point == "before-send":
            return self.crash(node)
        core.persisted(write.ready)
        for message in write.held:
            self.send(message)
        self.process(node)

    def check_step(self, node: SimNode) -> None:
        core = node.core
        assert core is not None
        checker = self.checker
        checker.check_leader(core)
        if core.commit_index < node.seen_commit:
            raise SimulationFailure(f"{node.id} commit index went back")
        if core.commit_index > node.seen_commit:
            leaders = [c for c in self.live_cores() if c.role is Role.LEADER]
            checker.check_commit(core, node.seen_commit, leaders)
            node.seen_commit = core.commit_index

    def maybe_compact(self, node: SimNode) -> None:
        core = node.core
        assert core is not None
        snapshot_index = core.log.snapshot.index
        if self.compact_every and core.applied_index - snapshot_index >= self.compact_every:
            data = node.machine.snapshot()
            meta = core.compact(core.applied_index, data)
            if node.writes:  # after the writes under way, as the replica's writer does
                node.writes.append(PendingWrite(None, compaction=(meta, data)))
            else:
                node.disk.compact(meta, data)
            self.log("compact", node.id, meta.index)

    def check_read(self, node: SimNode, request_id: int, index: int) -> None:
        """ReadIndex: the read sees every entry committed anywhere before it was asked."""
        floor = self.read_requests.pop(request_id)
        if index < floor:
            raise SimulationFailure(
                f"ReadIndex: {node.id} answered read {request_id} at {index}, "
                f"but {floor} was committed before it was asked"
            )

    # -- faults and load --------------------------------------------------------------------

    def live_nodes(self) -> list[SimNode]:
        return [n for n in self.nodes.values() if n.core is not None]

    def live_cores(self) -> list[RaftNode]:
        return [n.core for n in self.nodes.values() if n.core is not None]

    def leader(self) -> SimNode | None:
        leaders = [n for n in self.live_nodes() if n.core and n.core.role is Role.LEADER]
        return max(leaders, key=lambda n: n.core.term if n.core else 0, default=None)

    def chaos(self) -> None:
        """This tick's events: client load always; partitions and crashes only in storms."""
        rng = self.rng
        if rng.random() < 0.4:
            self.propose(rng.randint(1, 4))
        if rng.random() < 0.06:
            self.read()
        if rng.random() < 0.02:
            self.transfer()
        if self.membership and rng.random() < 0.04:
            self.change_membership()
        if rng.random() < self.restart_rate:
            self.restart_some()
        if not self.stormy:
            if rng.random() < 0.05:
                self.group = dict.fromkeys(self.nodes, 0)
                self.log("heal partition")
            return
        if rng.random() < 0.03:
            self.partition()
        if rng.random() < self.crash_rate:
            self.crash_some()

    def propose(self, count: int) -> None:
        node = self.rng.choice(self.live_nodes() or [None])
        if node is None or node.core is None:
            return
        batch = [f"{self.seed}:{self.proposals + i}".encode() for i in range(count)]
        self.proposals += count
        try:
            node.core.propose(batch if count > 1 else batch[0])
        except NotLeader:
            return
        self.log("propose", node.id, count)
        self.process(node)

    def read(self) -> None:
        leader = self.leader()
        if leader is None or leader.core is None:
            return
        self.reads += 1
        request_id = self.reads
        self.read_requests[request_id] = self.checker.max_commit
        leader.core.read_index(request_id)
        self.log("read", leader.id, request_id)
        self.process(leader)

    def partition(self) -> None:
        leader = self.leader()
        ids = list(self.nodes)
        if leader is not None and self.rng.random() < 0.4:
            isolated = {leader.id}  # leader isolation
        else:
            isolated = set(self.rng.sample(ids, self.rng.randint(1, len(ids) // 2)))
        self.group = {n: int(n in isolated) for n in ids}
        self.log("partition", sorted(isolated))

    def crash_some(self) -> None:
        node = self.rng.choice(self.live_nodes() or [None])
        if node is None:
            return
        point = self.rng.choice(["now", "before-persist", "before-send"])
        self.log("crash", node.id, point)
        if point == "now":
            self.crash(node)
        else:
            node.crash_point = point

    def crash(self, node: SimNode) -> None:
        node.core = None
        node.crash_point = None
        node.writes.clear()  # never reached the disk
        self.log("crashed", node.id)

    def restart_some(self) -> None:
        for node in self.nodes.values():
            if node.core is None and self.rng.random() < 0.5:
                self.restart(node)

    def restart(self, node: SimNode) -> None:
        node.core = self._restart_core(node.id, node.disk)
        node.machine = Machine()
        if node.disk.snapshot is not None:
            node.machine.restore(node.disk.snapshot_data)
            self.checker.check_restore(node.id, node.machine)
        node.seen_commit = node.core.commit_index
        self.log("restart", node.id, node.disk.hard_state, node.core.last_index)
        self.process(node)

    def transfer(self) -> None:
        leader = self.leader()
        if leader is None or leader.core is None:
            return
        voters = sorted(leader.core.configuration.voters - {leader.id})
        if voters:
            target = self.rng.choice(voters)
            leader.core.transfer_leadership(target)
            self.log("transfer", leader.id, target)
            self.process(leader)

    def change_membership(self) -> None:
        """Add a learner, promote a caught-up learner, demote or remove a voter."""
        leader = self.leader()
        if leader is None or leader.core is None:
            return
        core = leader.core
        old = core.configuration
        outsiders = sorted(set(self.nodes) - old.members())
        learners = sorted(old.learners)
        choice = self.rng.random()
        if outsiders and choice < 0.4:
            new = Configuration(old.voters, old.learners | {self.rng.choice(outsiders)})
        elif learners and choice < 0.7:
            learner = self.rng.choice(learners)
            if core.match_index(learner) < core.commit_index:
                return  # dissertation 4.2.1: catch up before voting
            new = Configuration(old.voters | {learner}, old.learners - {learner})
        elif len(old.voters) > 3:
            voter = self.rng.choice(sorted(old.voters))
            demote = self.rng.random() < 0.5
            new = Configuration(old.voters - {voter}, old.learners | ({voter} if demote else set()))
        else:
            return
        try:
            core.propose_config(new)
        except ConfigChangeRefused as refused:
            self.log("config refused", leader.id, str(refused))
            return
        self.log("config", leader.id, sorted(new.voters), sorted(new.learners))
        self.process(leader)

    # -- liveness ---------------------------------------------------------------------------

    def heal(self) -> None:
        self.log("heal all")
        self.faults = Faults(drop=0.0, duplicate=0.0, max_delay=1)
        self.write_speed = 1.0  # a slow disk is a fault too: writes now finish by next tick
        self.group = dict.fromkeys(self.nodes, 0)
        for node in self.nodes.values():
            node.crash_point = None
            if node.core is None:
                self.restart(node)

    def check_liveness(self) -> None:
        """After healing, a leader emerges and a new entry reaches every member."""
        cores = self.live_cores()
        lag = max(c.last_index for c in cores) - min(c.applied_index for c in cores)
        commit_bound = COMMIT_BOUND + TICKS_PER_APPEND * lag // self.cfg.max_entries_per_append
        for _ in range(ELECTION_BOUND):
            if self.leader() is not None:
                break
            self.tick()
        else:
            raise SimulationFailure(f"no leader within {ELECTION_BOUND} ticks of healing")
        probe = f"{self.seed}:probe".encode()
        proposed_to: tuple[str, int] | None = None
        for _ in range(commit_bound):
            leader = self.leader()
            if leader is not None and leader.core is not None:
                key = (leader.id, leader.core.term)
                if proposed_to != key:
                    try:
                        leader.core.propose(probe)
                        proposed_to = key
                        self.process(leader)
                    except NotLeader:
                        pass
                members = leader.core.configuration.members()
                if all(self.applied_probe(self.nodes[m], probe) for m in members):
                    return
            self.tick()
        raise SimulationFailure(f"probe entry not applied everywhere in {commit_bound} ticks")

    def applied_probe(self, node: SimNode, probe: bytes) -> bool:
        index = next((i for i, e in self.checker.applied.items() if e.data == probe), None)
        return index is not None and node.machine.index >= index

    def failure_report(self) -> str:
        lines = [f"seed {self.seed}: {self.describe()}", "last events:"]
        lines += [f"  t={t} {' '.join(map(str, rest))}" for t, *rest in self.trace]
        for node in self.nodes.values():
            core = node.core
            state = (
                "crashed"
                if core is None
                else f"{core.role} term={core.term} leader={core.leader_id} "
                f"last={core.last_index} commit={core.commit_index} "
                f"applied={core.applied_index} config={sorted(core.configuration.voters)}"
                f"+{sorted(core.configuration.learners)}"
            )
            lines.append(f"  {node.id}: {state}")
        return "\n".join(lines)
