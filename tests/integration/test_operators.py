"""Operators on a real node: a hash from `chatnode oper-hash`, then OPER and KILL."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.integration.harness import (
    IRCClient,
    Node,
    leader_of,
    make_cluster,
    new_node,
    wait_for,
)

CHATNODE = str(Path(sys.executable).with_name("chatnode"))


@pytest.mark.integration
def test_an_operator_configured_by_hash_kills_a_user(tmp_path: Path) -> None:
    made = subprocess.run([CHATNODE, "oper-hash"], input="correct-horse\n", text=True,
                          capture_output=True, timeout=60, check=True)  # fmt: skip
    hashed = made.stdout.strip()
    assert hashed.startswith("$scrypt$ln=14,r=8,p=1$") and "correct-horse" not in hashed
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


@pytest.mark.integration
def test_the_status_endpoint_wants_its_token_and_takes_admin_requests(tmp_path: Path) -> None:
    token_file = tmp_path / "status.token"
    token_file.write_text("a-long-enough-status-token\n")
    nodes = make_cluster(tmp_path, 3, ["--status-token-file", str(token_file)])
    for node in nodes:
        node.start()
    try:
        wait_for(lambda: leader_of_authorized(nodes), 30, "a leader")
        leader = leader_of_authorized(nodes)
        target = next(n for n in nodes if n is not leader)
        url = f"http://127.0.0.1:{target.status_port}"
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(f"{url}/status", timeout=5)
        assert refused.value.code == 401
        auth = {"Authorization": "Bearer a-long-enough-status-token"}
        bad = urllib.request.Request(f"{url}/admin/explode?node=x", method="POST", headers=auth)
        with pytest.raises(urllib.error.HTTPError) as rejected:
            urllib.request.urlopen(bad, timeout=5)
        assert rejected.value.code == 400
        move = urllib.request.Request(
            f"{url}/admin/transfer?node={target.node_id}", method="POST", headers=auth
        )
        with urllib.request.urlopen(move, timeout=5) as response:
            assert response.status == 202
        wait_for(lambda: leader_of_authorized(nodes) is target, 10, "the target to lead")
    finally:
        for node in nodes:
            node.stop()


def leader_of_authorized(nodes: list[Node]) -> Node | None:
    """leader_of, for nodes whose /status wants the test's bearer token."""
    auth = {"Authorization": "Bearer a-long-enough-status-token"}
    leaders = set()
    for node in nodes:
        request = urllib.request.Request(f"http://127.0.0.1:{node.status_port}/status",
                                         headers=auth)  # fmt: skip
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                leaders.add(json.load(response)["leader"])
        except OSError:
            return None  # not listening yet
    (leader,) = leaders if len(leaders) == 1 else (None,)
    return next((n for n in nodes if n.node_id == leader), None)
