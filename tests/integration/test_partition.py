"""A node cut off from the majority: its users are told, writes are refused, reads work."""

from __future__ import annotations

import signal
from collections.abc import Callable

from tests.integration.harness import IRCClient, Node, leader_of


def test_cut_off_node_refuses_writes_and_recovers(
    cluster_factory: Callable[..., list[Node]],
) -> None:
    nodes = cluster_factory(3)
    leader = leader_of(nodes)
    assert leader is not None
    lonely = next(n for n in nodes if n is not leader)
    others = [n for n in nodes if n is not lonely]
    alice = IRCClient(lonely.irc_port, "alice")
    alice.send("JOIN #cut")
    alice.expect(" 366 ")
    try:
        for node in others:  # freeze the majority: to `lonely` it is a partition
            node.signal(signal.SIGSTOP)
        alice.expect("lost contact with the cluster majority", timeout=15)
        alice.send("PRIVMSG #cut :can this commit?")
        assert "Cluster has no quorum" in alice.expect(" 400 ")
        alice.send("NAMES #cut")
        assert "alice" in alice.expect(" 353 ")  # reads from the local replica still work
    finally:
        for node in others:
            node.signal(signal.SIGCONT)
    alice.expect("back in contact with the cluster", timeout=15)
    alice.send("TOPIC #cut :healed")
    alice.expect("TOPIC #cut")
    alice.close()
