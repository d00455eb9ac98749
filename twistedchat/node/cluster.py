"""The node's side of discovery: announce ourselves, found or join a cluster, steer membership.

Everything here reacts to what discovery hears and what the Raft core reports; the rules
themselves are pure (:mod:`twistedchat.node.membership`). Time comes from the reactor for
liveness and from ``wall`` only for the datagram timestamps that stop replays.

Announcements carry the sender's settings fingerprint. A node whose fingerprint differs
from ours would apply the log by other rules, so it is ignored: never added, never offered
to clients, never a co-founder (see docs/decisions/0014-settings-fingerprint.md).
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Set as AbstractSet
from dataclasses import dataclass

from twisted.internet.interfaces import IReactorTime
from twisted.internet.task import LoopingCall
from twisted.logger import Logger

from twistedchat.discovery.directory import Directory
from twistedchat.discovery.wire import Announcement, Offer, Query
from twistedchat.node import balance
from twistedchat.node.fingerprint import FIX
from twistedchat.node.membership import ClusterView, MembershipPolicy, bootstrap_voters
from twistedchat.node.replica import RaftReplica
from twistedchat.node.silence import SilenceWatch
from twistedchat.raft.core import ConfigChangeRefused, NotLeader
from twistedchat.ratelimit import KeyedBuckets

log = Logger()

#: Roles a node announces besides Raft's own: undecided (may found a cluster), waiting to
#: be added, and shutting down gracefully.
NEW, JOINING, LEAVING = "new", "joining", "leaving"

#: Roles of nodes that serve clients (fresh or leaving nodes are not offered to clients).
SERVING = frozenset({"leader", "follower", "candidate", "learner"})

ANNOUNCE_EVERY = 1.0
LEADER_ANNOUNCE_EVERY = 0.25
MEMBERSHIP_EVERY = 0.5
#: Seconds between two requests to move clients (they need time to land elsewhere).
REBALANCE_EVERY = 15.0
#: A node with other settings is logged at most this often (it announces every second).
MISMATCH_LOG_EVERY = 60.0


@dataclass(frozen=True, slots=True)
class Addresses:
    """Where others reach this node, as HOST:PORT (the node id is its peer address)."""

    peer: str
    irc: str
    status: str


class ClusterAgent:
    """Announces this node and turns what it hears into Raft membership decisions."""

    def __init__(
        self,
        cluster: str,
        addresses: Addresses,
        replica: RaftReplica,
        directory: Directory,
        clock: IReactorTime,
        *,
        send_announcement: Callable[[Announcement], None],
        client_count: Callable[[], int],
        node_lost: Callable[[str], None],
        capacity: int,
        policy: MembershipPolicy,
        settings: str,
        load_of: Callable[[str], int] = lambda node: 0,
        rebalance: Callable[[str, int], None] = lambda node, count: None,
        silence: float = 1.0,
        node_down: Callable[[str, int], None] = lambda node, handed_out: None,
        node_up: Callable[[str], None] = lambda node: None,
        is_down: Callable[[str], bool | None] = lambda node: None,
    ) -> None:
        self.cluster = cluster
        self.addresses = addresses
        self.replica = replica
        self.directory = directory
        self.clock = clock
        self._send = send_announcement
        self._client_count = client_count
        self._node_lost = node_lost
        self.capacity = capacity
        self.policy = policy
        self.settings = settings  # our settings fingerprint (digest)
        self._mismatch_log = KeyedBuckets(1, 1 / MISMATCH_LOG_EVERY, keys=1024)
        self._load_of = load_of
        self._rebalance = rebalance
        self._silence = SilenceWatch(silence)
        self._silence_checked = float("-inf")  # when we last looked (a pause shows as a gap)
        self._node_down, self._node_up, self._is_down = node_down, node_up, is_down
        self._last_rebalance = float("-inf")
        self.leaving = False
        self._fresh_view: frozenset[str] = frozenset()
        self._fresh_view_since = 0.0
        self._leader_since: float | None = None
        self._announce_loop = LoopingCall(self._announce_if_due)
        self._membership_loop = LoopingCall(self._steer)
        self._announce_loop.clock = self._membership_loop.clock = clock
        self._last_announce = float("-inf")

    @property
    def node_id(self) -> str:
        return self.replica.node_id

    def start(self) -> None:
        self._fresh_view_since = self.clock.seconds()  # nobody founds before a full settle
        self._announce_loop.start(LEADER_ANNOUNCE_EVERY, now=True)
        self._membership_loop.start(MEMBERSHIP_EVERY, now=False)

    def stop(self) -> None:
        for loop in (self._announce_loop, self._membership_loop):
            if loop.running:
                loop.stop()

    def leave(self) -> None:
        """Say we are going, so the leader removes us instead of waiting for a timeout."""
        self.leaving = True
        self._announce()

    # -- what we say -------------------------------------------------------------------

    def announcement(self) -> Announcement:
        replica = self.replica
        if self.leaving:
            role = LEAVING
        elif not replica.decided:
            role = NEW
        elif replica.last_index == 0 and replica.term == 0:
            role = JOINING
        else:
            role = str(replica.role)
        return Announcement(
            cluster=self.cluster,
            node_id=self.node_id,
            peer=self.addresses.peer,
            irc=self.addresses.irc,
            status=self.addresses.status,
            role=role,
            term=replica.term,
            leader=replica.leader_id,
            clients=self._client_count(),
            capacity=self.capacity,
            has_state=role not in (NEW, JOINING),
            voter=self.node_id in replica.configuration.voters,
            settings=self.settings,
        )

    def _announce_if_due(self) -> None:
        leading = self.replica.is_leader()
        interval = LEADER_ANNOUNCE_EVERY if leading else ANNOUNCE_EVERY
        if self.clock.seconds() - self._last_announce >= interval - 1e-6:
            self._announce()

    def _announce(self) -> None:
        self._last_announce = self.clock.seconds()
        own = self.announcement()
        self.directory.heard(own, self._last_announce)
        self._send(own)

    # -- what we hear ------------------------------------------------------------------

    def heard(self, announcement: Announcement) -> None:
        if announcement.cluster != self.cluster or announcement.node_id == self.node_id:
            return
        if announcement.settings != self.settings:
            self._ignore(announcement)
            return
        self.directory.heard(announcement, self.clock.seconds())
        if not self.replica.decided:
            self._consider_bootstrap()

    def _ignore(self, announcement: Announcement) -> None:
        """A node with other settings stays out of the directory, so it is never added
        or offered to clients; a member is removed as unheard. If it has state a cluster
        exists, though, and founding another beside it would split the cluster's name:
        an undecided node waits to be added instead (which needs the same settings)."""
        if announcement.has_state and not self.replica.decided:
            self.replica.await_invitation()
        if self._mismatch_log.allow(announcement.node_id, self.clock.seconds()):
            log.warn(
                "ignoring node {node}: its settings fingerprint {theirs} is not ours ({ours}), "
                "so it would apply the log differently; {fix}",
                node=announcement.node_id, theirs=announcement.settings, ours=self.settings,
                fix=FIX,
            )  # fmt: skip

    def answer(self, query: Query) -> Offer | None:
        """Client discovery: a full node stays silent; the leader names the node it assigns."""
        if self.leaving or self._client_count() >= self.capacity:
            return None
        if self.replica.is_leader():
            target = self.directory.least_loaded(self.clock.seconds(), SERVING)
            if target is not None:
                return Offer(self.cluster, query.nonce, target.node_id, target.irc, True)
        return Offer(self.cluster, query.nonce, self.node_id, self.addresses.irc, False)

    # -- founding or joining -----------------------------------------------------------

    def _consider_bootstrap(self) -> None:
        now = self.clock.seconds()
        alive = [a for a in self.directory.alive(now) if a.node_id != self.node_id]
        if any(a.has_state for a in alive):
            self.replica.await_invitation()  # a cluster exists: its leader adds us
            return
        fresh = frozenset(a.node_id for a in alive if a.role == NEW) | {self.node_id}
        if fresh != self._fresh_view:
            self._fresh_view, self._fresh_view_since = fresh, now
        if now - self._fresh_view_since < self.policy.bootstrap_settle:
            return
        voters = bootstrap_voters(self.node_id, fresh, self.policy.bootstrap_expect)
        if voters is None:
            return
        if voters:
            self.replica.found_cluster(voters)
        else:
            self.replica.await_invitation()
        self._announce()

    # -- the leader's membership duty --------------------------------------------------

    def _steer(self) -> None:
        now = self.clock.seconds()
        if not self.replica.decided:
            self._consider_bootstrap()
            return
        replica = self.replica
        if not replica.is_leader() or self.leaving:
            self._leader_since = None
            return
        if self._leader_since is None:
            self._leader_since = now  # give every member a fresh grace period
        config = replica.configuration
        self._report_silence(now, config.members() - {self.node_id})
        alive = self.directory.alive(now)
        change = self.policy.next_change(
            ClusterView(
                config=config,
                leader_id=self.node_id,
                last_index=replica.last_index,
                match={m: replica.match_index(m) for m in config.members()},
                last_heard={m: self._last_heard(m) for m in config.members()},
                candidates={a.node_id for a in alive if a.role not in (NEW, LEAVING)},
                leaving={a.node_id for a in alive if a.role == LEAVING},
                now=now,
            )
        )
        if change is None or change == config:
            try:
                self._consider_rebalance(now, alive)
            except Exception:  # balancing is an optimisation: never stop steering for it
                log.failure("rebalancing failed")
            return
        try:
            replica.change_membership(change)
        except (ConfigChangeRefused, NotLeader) as refused:
            log.debug("membership change postponed: {why}", why=refused)
            return
        log.info(
            "membership: voters {voters}, learners {learners}",
            voters=sorted(change.voters), learners=sorted(change.learners),
        )  # fmt: skip
        for removed in sorted(config.members() - change.members()):
            self._node_lost(removed)  # its users quit for everyone, nicks are free again

    def _report_silence(self, now: float, members: AbstractSet[str]) -> None:
        """Mark members we stopped hearing from over Raft down, and back up (decision
        0032). Raft contact only: discovery says a process lives, not that it applies."""
        assert self._leader_since is not None
        late, self._silence_checked = now - self._silence_checked > self._silence.silence, now
        if late:
            return  # this process was paused: everyone looks silent, and we may be deposed
        since, replica = self._leader_since, self.replica
        heard = {
            # a follower answers its leader only: count from when we lead; our old leader
            # (it sent us entries until it went quiet) from when we last heard it
            m: replica.last_contact.get(m, since)
            if replica.led_us_last(m)
            else max(since, replica.last_contact.get(m, since))
            for m in members
        }
        for report in self._silence.reports(
            sorted(members), now, heard, self.replica.known_commit, self._is_down
        ):
            if report.down:
                log.info("{node} is silent: marking it down (it handed out up to {index})",
                         node=report.node, index=report.handed_out)  # fmt: skip
                self._node_down(report.node, report.handed_out)
            else:
                log.info("{node} is heard again: marking it up", node=report.node)
                self._node_up(report.node)

    def _consider_rebalance(self, now: float, alive: list[Announcement]) -> None:
        """With membership settled, ask the busiest live member to shed a few clients."""
        if now - self._last_rebalance < REBALANCE_EVERY:
            return
        live = {a.node_id for a in alive} | {self.node_id}
        members = self.replica.configuration.members() & live
        move = balance.plan({member: self._load_of(member) for member in members})
        if move is not None:
            self._last_rebalance = now
            log.info("rebalancing: asking {node} to move {n} clients", node=move.node,
                     n=move.count)  # fmt: skip
            self._rebalance(move.node, move.count)

    def _last_heard(self, member: str) -> float:
        assert self._leader_since is not None
        heard = [self._leader_since, self.replica.last_contact.get(member, float("-inf"))]
        if (seen := self.directory.last_heard(member)) is not None:
            heard.append(seen)
        return max(heard)
