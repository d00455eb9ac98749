"""Founding a cluster from discovery alone, with fake replicas and a shared fake clock."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

import pytest
from twisted.internet.task import Clock
from twisted.logger import LogEvent, formatEvent, globalLogPublisher

from twistedchat.discovery.directory import Directory
from twistedchat.discovery.wire import Announcement
from twistedchat.node.cluster import Addresses, ClusterAgent
from twistedchat.node.fingerprint import FIX
from twistedchat.node.membership import MembershipPolicy
from twistedchat.raft.messages import Configuration


@dataclass
class FakeReplica:
    """Records the decision the agent makes; a founder's log holds one entry."""

    node_id: str
    decided: bool = False
    founded: frozenset[str] | None = None
    role: str = "follower"
    term: int = 0
    last_index: int = 0
    leader_id: str | None = None
    configuration: Configuration = field(default_factory=lambda: Configuration(frozenset()))

    def is_leader(self) -> bool:
        return self.role == "leader"

    def found_cluster(self, voters: frozenset[str]) -> None:
        assert not self.decided
        self.decided, self.founded = True, voters
        self.last_index, self.configuration = 1, Configuration(voters)

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
            policy=MembershipPolicy(bootstrap_expect=expect), settings="s",
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
    replicas[0].role, replicas[0].term, replicas[0].last_index = "leader", 3, 10
    replicas[0].configuration = Configuration(frozenset({"a"}))
    run_agents(replicas, expect=1, rng=random.Random(1))
    assert replicas[1].decided and replicas[1].founded is None


def heard_from(node_id: str, settings: str, *, role: str = "new") -> Announcement:
    has_state = role not in ("new", "joining")
    return Announcement(
        cluster="c", node_id=node_id, peer=node_id, irc="irc", status="status", role=role,
        term=3 if has_state else 0, leader=node_id if role == "leader" else None, clients=0,
        capacity=10, has_state=has_state, voter=has_state, settings=settings,
    )  # fmt: skip


class Logged(list[str]):
    def __call__(self, event: LogEvent) -> None:
        self.append(formatEvent(event) or "")


def test_a_node_with_other_settings_is_ignored_and_named_once_a_minute() -> None:
    clock = Clock()
    replica, directory = FakeReplica("a"), Directory(expiry=5)
    agent = ClusterAgent(
        "c", Addresses("a", "irc", "status"), replica, directory,  # type: ignore[arg-type]
        clock, send_announcement=lambda announcement: None, client_count=lambda: 0,
        node_lost=lambda node: None, capacity=10, policy=MembershipPolicy(bootstrap_expect=2),
        settings="ours",
    )  # fmt: skip
    assert agent.announcement().settings == "ours"
    logged = Logged()
    globalLogPublisher.addObserver(logged)
    try:
        agent.start()
        for _ in range(90):  # a fresh node with other settings announces every second...
            clock.advance(1)
            agent.heard(heard_from("b", "theirs"))
        # ...and is no co-founder: we would have founded with it (bootstrap_expect=2).
        assert not replica.decided and directory.get("b") is None
        agent.heard(heard_from("c", "ours"))
        assert directory.get("c") is not None  # the same settings are heard as before
        agent.heard(heard_from("d", "other", role="leader"))
        # A cluster exists beside us: wait to be added rather than found a second one.
        assert replica.decided and replica.founded is None
        assert directory.get("d") is None
        agent.stop()
    finally:
        globalLogPublisher.removeObserver(logged)
    about_b = [line for line in logged if "ignoring node b" in line]
    assert len(about_b) == 2  # at 1 s and at 61 s
    assert "settings fingerprint theirs is not ours (ours)" in about_b[0]
    assert FIX in about_b[0]
    assert len([line for line in logged if "ignoring node d" in line]) == 1


@dataclass
class SilentReplica(FakeReplica):
    """What the silence reports read: last contacts, commits known, who led us."""

    last_contact: dict[str, float] = field(default_factory=dict)
    commits: dict[str, int] = field(default_factory=dict)
    leaders: frozenset[str] = frozenset()

    def known_commit(self, member: str) -> int | None:
        return self.commits.get(member)

    def led_us_last(self, member: str) -> bool:
        return member in self.leaders


def test_the_leader_marks_silent_members_down_but_not_right_after_a_pause() -> None:
    replica = SilentReplica("a", role="leader", last_contact={"old": 10.0}, commits={"old": 42},
                            leaders=frozenset({"old"}))  # fmt: skip
    reports: list[tuple[str, int]] = []
    agent = ClusterAgent(
        "c", Addresses("a", "irc", "status"), replica,  # type: ignore[arg-type]
        Directory(expiry=5), Clock(), send_announcement=lambda a: None,
        client_count=lambda: 0, node_lost=lambda node: None, capacity=10,
        policy=MembershipPolicy(bootstrap_expect=1), settings="s", silence=0.8,
        node_down=lambda node, at: reports.append((node, at)), is_down=lambda node: False,
    )  # fmt: skip
    agent._leader_since = 10.5  # we won the election after the old leader went quiet
    agent._report_silence(11.0, {"old", "follower"})
    assert reports == []  # the first look after a gap (or a pause of ours) says nothing
    agent._report_silence(11.2, {"old", "follower"})
    assert reports == [("old", 42)]  # counted from its last entries, not from our election
    agent._report_silence(11.4, {"old", "follower"})
    assert reports == [("old", 42), ("follower", 0)]  # never answered us: where is unknown
