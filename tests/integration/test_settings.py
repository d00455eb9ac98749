"""Real processes: a node that would apply the log by other rules is kept out, and says why."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from tests.integration.harness import IRCClient, Node, leader_of, new_node, wait_for


def members_of(node: Node) -> set[str]:
    status = node.status() or {}
    return {*status.get("voters", []), *status.get("learners", [])}


def lines_of(node: Node, *needles: str, since: int = 0) -> list[str]:
    """Lines of ``node``'s log file (from offset ``since``) that contain every needle."""
    text = node.log_text()[since:]
    return [line for line in text.splitlines() if all(n in line for n in needles)]


def wait_line(node: Node, *needles: str, since: int = 0) -> list[str]:
    """Waits for a line with every needle; returns all such lines."""
    wait_for(lambda: lines_of(node, *needles, since=since), 30, f"{needles} in {node.node_id}")
    return lines_of(node, *needles, since=since)


def about(peer: Node) -> tuple[str, str]:
    """What both refusal lines about a link with ``peer`` contain: whichever end of the
    link refused first, ``closing peer connection from PEER: it applies the log ...`` or
    ``peer PEER refuses our link: it applies the log ...``."""
    return peer.node_id, "it applies the log with other settings"


def fingerprint_of(node: Node) -> str:
    status = wait_for(node.status, 20, f"{node.node_id} to serve /status")
    return str(status["settings_fingerprint"])


def chat_works(nodes: list[Node], channel: str) -> None:
    alice = IRCClient(nodes[0].irc_port, "alice")
    bob = IRCClient(nodes[1].irc_port, "bob")
    for client in (alice, bob):
        client.send(f"JOIN {channel}")
        client.expect(" 366 ")
    alice.send(f"PRIVMSG {channel} :still here")
    assert bob.expect(f"PRIVMSG {channel}").endswith(":still here")
    alice.close()
    bob.close()


def test_a_node_with_other_history_days_never_joins_and_says_why(
    cluster_factory: Callable[..., list[Node]], tmp_path: Path
) -> None:
    nodes = cluster_factory(2)
    leader = wait_for(lambda: leader_of(nodes), 20, "a leader")
    odd = new_node(tmp_path, "odd", ["--history-days", "3"])
    odd.start()
    try:
        ours, theirs = fingerprint_of(leader), fingerprint_of(odd)
        assert ours != theirs and fingerprint_of(nodes[0]) == fingerprint_of(nodes[1])
        for node in nodes:
            wait_line(odd, f"ignoring node {node.node_id}")
            wait_line(node, f"ignoring node {odd.node_id}")
        time.sleep(4)  # many announcements and membership rounds later...
        assert odd.alive()
        for node in nodes:
            assert members_of(node) == {n.node_id for n in nodes}  # ...it was never added
            (why,) = lines_of(odd, f"ignoring node {node.node_id}")  # one line per peer
            assert f"settings fingerprint {ours} is not ours ({theirs})" in why
            assert "--history-days" in why and "/status" in why
            assert len(lines_of(node, f"ignoring node {odd.node_id}")) == 1
        status = odd.status()
        assert status is not None and status["applied_index"] == status["commit_index"] == 0
        assert status["settings"]["history_days"] == 3 and status["members"] == []
        assert not lines_of(odd, "connected to peer")  # no Raft link either way
        chat_works(nodes, "#fine")
    finally:
        odd.stop()


def test_a_member_restarted_with_other_settings_is_refused_on_its_links_and_removed(
    cluster_factory: Callable[..., list[Node]],
) -> None:
    nodes = cluster_factory(3, "--bootstrap-expect", "2", "--dead-node-timeout", "4")
    leader = wait_for(lambda: leader_of(nodes), 20, "a leader")
    # Three voters, not two and a learner: with the odd one down, two voters of three can
    # still remove it; one of two could not.
    voters = {n.node_id for n in nodes}
    wait_for(lambda: set((leader.status() or {}).get("voters", [])) == voters, 30,
             "three voters")  # fmt: skip
    odd = next(n for n in nodes if n is not leader)
    others = [n for n in nodes if n is not odd]
    odd.kill()
    since = len(odd.log_text())
    odd.extra += ["--history-days", "3"]  # same data dir and ports: it still has its state
    odd.start()
    wait_for(lambda: odd.node_id not in members_of(leader), 30, "the leader to remove it")
    for node in others:
        # Links go both ways, and each is refused; each end says so once for the pair.
        (why,) = wait_line(node, *about(odd))
        assert "history_days: 3 there, 30 here" in why
        (refused,) = wait_line(odd, *about(node), since=since)
        assert "history_days: 30 there, 3 here" in refused
        assert f"fingerprint {fingerprint_of(node)}, ours {fingerprint_of(odd)}" in refused
    assert odd.alive() and (odd.status() or {}).get("commit_index", 0) > 0  # its old state
    chat_works(others, "#after")
