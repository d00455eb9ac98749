"""Founding a cluster from discovery alone, with fake replicas and a shared fake clock."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

import pytest
from twisted.internet.task import Clock

from twistedchat.discovery.directory import Directory
from twistedchat.discovery.wire import Announcement
from twistedchat.node.cluster import Addresses, ClusterAgent
from twistedchat.node.membership import MembershipPolicy
from twistedchat.raft.messages import Configuration


@dataclass
class FakeCore:
    role: str = "follower"
    term: int = 0
    last_index: int = 0
    leader_id: str | None = None
    configuration: Configuration = field(default_factory=lambda: Configuration(frozenset()))


@dataclass
class FakeReplica:
    """Records the decision the agent makes; a founder's log holds one entry."""

    node_id: str
    decided: bool = False
    founded: frozenset[str] | None = None
    core: FakeCore = field(default_factory=FakeCore)

    def found_cluster(self, voters: frozenset[str]) -> None:
        assert not self.decided
        self.decided, self.founded = True, voters
        self.core = FakeCore(term=0, last_index=1, configuration=Configuration(voters))

    def await_invitation(self) -> None:
        self.decided = True


def run_agents(
    replicas: list[FakeReplica], expect: int, rng: random.Random, loss: float = 0.0
) -> None:
    """Start one agent per replica at slightly different moments; run 20 s of fake time."""
    clock = Clock()
    agents: list[ClusterAgent] = []

    def broadcast(announcement: Announcement) -> None:
        for agent in agents:
            if rng.random() >= loss:  # a lossy network
                agent.heard(announcement)

    for replica in replicas:
        agent = ClusterAgent(
            "c", Addresses(replica.node_id, "irc", "status"), replica,  # type: ignore[arg-type]
            Directory(expiry=5), clock, send_announcement=broadcast,
            client_count=lambda: 0, node_lost=lambda node: None, capacity=10,
            policy=MembershipPolicy(bootstrap_expect=expect),
        )  # fmt: skip
        agents.append(agent)
    for agent in agents:
        clock.advance(rng.random() * 0.5)
        agent.start()
    for _ in range(200):
        clock.advance(0.1)
    for agent in agents:
        agent.stop()


@pytest.mark.parametrize("seed", range(30))
@pytest.mark.parametrize(("size", "expect"), [(3, 3), (4, 3), (5, 3), (1, 1)])
def test_nodes_started_together_found_exactly_one_cluster(
    seed: int, size: int, expect: int
) -> None:
    rng = random.Random(seed)
    names = list(dict.fromkeys(f"127.0.0.1:{7000 + rng.randrange(1000)}" for _ in range(size)))
    replicas = [FakeReplica(name) for name in names]
    run_agents(replicas, min(expect, len(names)), rng, loss=0.1)
    assert all(r.decided for r in replicas), f"seed {seed}: someone never decided"
    founded = {r.founded for r in replicas if r.founded is not None}
    assert len(founded) == 1, f"seed {seed}: founded {founded}"
    (voters,) = founded
    # The smallest ids of the founder's view: a node that started late may be left out,
    # and joins later like any newcomer.
    assert len(voters) == min(expect, len(names)) and voters <= set(names)
    # The first founder's announcement (it now has state) makes the rest wait to be added,
    # which is safe: they receive the same founding entry from its leader.
    assert {r.node_id for r in replicas if r.founded} <= voters


def test_a_node_that_hears_an_existing_cluster_never_founds_one() -> None:
    replicas = [FakeReplica("a"), FakeReplica("b")]
    replicas[0].decided = True
    replicas[0].core = FakeCore(
        role="leader", term=3, last_index=10, configuration=Configuration(frozenset({"a"}))
    )
    run_agents(replicas, expect=1, rng=random.Random(1))
    assert replicas[1].decided and replicas[1].founded is None
