"""Membership on real processes: nodes join as learners, get promoted, and dead ones go."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from tests.integration.harness import IRCClient, Node, leader_of, new_node, wait_for


def config_of(node: Node) -> tuple[list[str], list[str]] | None:
    status = node.status()
    return None if status is None else (status["voters"], status["learners"])


def members_of(node: Node) -> set[str] | None:
    config = config_of(node)
    return None if config is None else {*config[0], *config[1]}


def test_nodes_started_together_form_one_cluster_and_a_fourth_joins(
    cluster_factory: Callable[..., list[Node]], tmp_path: Path
) -> None:
    nodes = cluster_factory(3, "--dead-node-timeout", "4")
    leader = leader_of(nodes)
    assert leader is not None
    assert config_of(leader) == (sorted(n.node_id for n in nodes), [])
    fourth = new_node(tmp_path, "late", ["--dead-node-timeout", "4"])
    fourth.start()
    try:
        wait_for(
            lambda: fourth.node_id in (config_of(leader) or ([], []))[0],
            30,
            "the fourth node to be added and promoted to voter",
        )
        target = leader.status()["commit_index"]  # type: ignore[index]
        wait_for(
            lambda: (fourth.status() or {}).get("applied_index", 0) >= target,
            20,
            "the fourth node to catch up",
        )
        status = fourth.status()
        assert status is not None and status["role"] == "follower"
        assert status["leader"] == leader.node_id
        # A killed follower is removed after the dead-node timeout (voters stay >= 3).
        victim = next(n for n in nodes if n is not leader)
        carol = IRCClient(victim.irc_port, "carol")
        bob = IRCClient(leader.irc_port, "bob")
        for client in (carol, bob):
            client.send("JOIN #lost")
            client.expect(" 366 ")
        victim.kill()
        wait_for(
            lambda: victim.node_id not in (config_of(leader) or ([victim.node_id], []))[0],
            30,
            "the dead node to be removed",
        )
        voters, _ = config_of(leader)  # type: ignore[misc]
        assert len(voters) == 3
        # The dead node's users quit for everyone, and their nicks are free again.
        assert bob.expect("QUIT").startswith(":carol!")
        bob.send("NICK carol")
        bob.expect("NICK")
        bob.close()
        # Chat still works through the newcomer.
        alice = IRCClient(fourth.irc_port, "alice")
        alice.send("JOIN #late")
        alice.expect(" 366 ")
        alice.close()
    finally:
        fourth.stop()


def test_graceful_stop_removes_the_node_at_once(
    cluster_factory: Callable[..., list[Node]],
) -> None:
    nodes = cluster_factory(4, "--bootstrap-expect", "3")
    leader = wait_for(lambda: leader_of(nodes), 20, "a leader")
    wait_for(lambda: len((config_of(leader) or ([], []))[0]) == 4, 30, "four voters")
    follower = next(n for n in nodes if n is not leader)
    follower.stop()
    wait_for(
        lambda: follower.node_id not in (members_of(leader) or {follower.node_id}),
        10,
        "the stopped node to leave the configuration",
    )
