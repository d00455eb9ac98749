"""Who should be in the cluster: the leader's membership policy and the bootstrap rule.

Both are pure functions of what the node has heard, so every choice is testable without a
network. Changes are proposed one server at a time through the Raft log (dissertation 4.1;
see docs/decisions/0005-membership.md for why not joint consensus).
"""

from __future__ import annotations

from collections.abc import Mapping, Set
from dataclasses import dataclass

from twistedchat.raft.messages import Configuration


@dataclass(frozen=True, slots=True)
class ClusterView:
    """What the leader knows when it considers a membership change."""

    config: Configuration
    leader_id: str
    last_index: int
    match: Mapping[str, int]  # per member: highest log index known replicated there
    last_heard: Mapping[str, float]  # per node: when we last heard of it (any channel)
    candidates: Set[str]  # live nodes of our cluster that want to be members
    leaving: Set[str]  # members that announced a graceful shutdown
    now: float


@dataclass(frozen=True, slots=True)
class MembershipPolicy:
    """The leader's rules, applied one change at a time, most urgent first.

    1. A member leaving gracefully is removed.
    2. A member unheard for ``dead_timeout`` is removed, one at a time, but voters never
       drop below ``bootstrap_expect`` (so the quorum a user asked for stays).
    3. A learner that has caught up is promoted while voters are fewer than ``max_voters``,
       or one beyond that to replace a dead voter (which rule 2 then removes).
    4. A live node heard by discovery is added as a learner (it catches up by log or
       snapshot before it may vote, so adding it cannot stall commits).
    """

    max_voters: int = 5
    bootstrap_expect: int = 1
    dead_timeout: float = 30.0
    #: Seconds the set of fresh nodes must stay the same before a cluster is founded
    #: from it (``--bootstrap-settle``; the tests' clusters use less).
    bootstrap_settle: float = 1.5
    catch_up_lag: int = 64

    def next_change(self, view: ClusterView) -> Configuration | None:
        return (
            self._remove_leaving(view)
            or self._remove_dead(view)
            or self._promote(view)
            or self._add_learner(view)
        )

    def _remove_leaving(self, view: ClusterView) -> Configuration | None:
        config = view.config
        for node in sorted(view.leaving & config.members() - {view.leader_id}):
            if node in config.learners:
                return Configuration(config.voters, config.learners - {node})
            if len(config.voters) > 1:
                return Configuration(config.voters - {node}, config.learners)
        return None

    def _dead(self, view: ClusterView) -> list[str]:
        return sorted(
            node
            for node in view.config.members() - {view.leader_id}
            if view.now - view.last_heard.get(node, float("-inf")) > self.dead_timeout
        )

    def _remove_dead(self, view: ClusterView) -> Configuration | None:
        config = view.config
        for node in self._dead(view):
            if node in config.learners:
                return Configuration(config.voters, config.learners - {node})
            if len(config.voters) > max(self.bootstrap_expect, 1):
                return Configuration(config.voters - {node}, config.learners)
        return None

    def _promote(self, view: ClusterView) -> Configuration | None:
        config = view.config
        room = self.max_voters + (1 if set(self._dead(view)) & config.voters else 0)
        if len(config.voters) >= room:
            return None
        dead = set(self._dead(view))
        for node in sorted(config.learners - dead):
            caught_up = view.match.get(node, 0) >= view.last_index - self.catch_up_lag
            if caught_up and view.match.get(node, 0) > 0:
                return Configuration(config.voters | {node}, config.learners - {node})
        return None

    def _add_learner(self, view: ClusterView) -> Configuration | None:
        config = view.config
        for node in sorted(view.candidates - config.members() - view.leaving):
            return Configuration(config.voters, config.learners | {node})
        return None


def bootstrap_voters(me: str, fresh_nodes: Set[str], expect: int) -> frozenset[str] | None:
    """The initial voters of a new cluster; None while too early, empty if we are not one.

    ``fresh_nodes`` are the nodes of our cluster heard with no Raft state (ourselves
    included). Once ``expect`` of them are known, the ``expect`` smallest ids form the
    cluster, so nodes with the same view choose the same configuration; the caller waits
    for that view to be stable before using it, and never bootstraps once it has heard a
    node with state (an existing cluster adds us instead). A node left out waits, like a
    latecomer, for the leader to add it as a learner.
    """
    everyone = set(fresh_nodes) | {me}
    if len(everyone) < expect:
        return None
    chosen = frozenset(sorted(everyone)[:expect])
    return chosen if me in chosen else frozenset()
