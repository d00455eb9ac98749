"""Operators on a real node: a hash from `chatnode oper-hash`, then OPER and KILL."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.integration.harness import IRCClient, Node, leader_of, new_node, wait_for

CHATNODE = str(Path(sys.executable).with_name("chatnode"))


@pytest.mark.integration
def test_an_operator_configured_by_hash_kills_a_user(tmp_path: Path) -> None:
    made = subprocess.run([CHATNODE, "oper-hash"], input="correct-horse\n", text=True,
                          capture_output=True, timeout=60, check=True)  # fmt: skip
    hashed = made.stdout.strip()
    assert hashed.startswith("scrypt$") and "correct-horse" not in hashed
    short = subprocess.run([CHATNODE, "oper-hash"], input="short\n", text=True,
                           capture_output=True, timeout=60)  # fmt: skip
    assert short.returncode == 1 and "at least 8" in short.stderr
    node = new_node(tmp_path, "solo", ["--oper", f"root:{hashed}"])
    node.start()
    try:
        wait_for(lambda: (node.status() or {}).get("role") == "leader", 30, "the node to lead")
        admin, victim = IRCClient(node.irc_port, "admin"), IRCClient(node.irc_port, "victim")
        admin.send("KILL victim :no")
        admin.expect(" 481 ")
        admin.send("OPER root wrong-horse")
        admin.expect(" 464 ")
        admin.send("OPER root correct-horse")
        admin.expect(" 381 ")
        admin.send("KILL victim :enough")
        assert "Killed (admin (enough))" in victim.expect("ERROR")
        admin.send("WHOIS victim")
        admin.expect(" 401 ")
    finally:
        node.stop()


@pytest.mark.integration
def test_an_operator_hands_leadership_to_another_node(
    cluster_factory: Callable[..., list[Node]], tmp_path: Path
) -> None:
    hashed = subprocess.run([CHATNODE, "oper-hash"], input="correct-horse\n", text=True,
                            capture_output=True, timeout=60, check=True).stdout.strip()  # fmt: skip
    nodes = cluster_factory(3, "--oper", f"root:{hashed}")
    leader = leader_of(nodes)
    assert leader is not None
    target = next(n for n in nodes if n is not leader)
    admin = IRCClient(target.irc_port, "admin")
    admin.send("OPER root correct-horse")
    admin.expect(" 381 ")
    admin.send(f"CLUSTER TRANSFER {target.node_id}")
    admin.expect("NOTE CLUSTER TRANSFER")
    wait_for(lambda: leader_of(nodes) is target, 10, "the target to lead")
    admin.send("CLUSTER")
    assert "3 nodes" in admin.expect("NOTE CLUSTER END")
