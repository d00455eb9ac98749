"""Plugins in a real 3-node cluster: a bot answers exactly once, across a leader kill."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.integration.harness import TWISTD, IRCClient, Node, leader_of, sentinel, wait_for

BOT = ":bot!bot@services."


def pongs(clients: dict[str, IRCClient], expected: int, sender: str) -> dict[str, list[str]]:
    """Every bot reply each client got from now on: once each has ``expected`` of them,
    a sentinel from ``sender`` shows that no further (duplicate) reply came before it."""
    marks = {name: len(client.lines) for name, client in clients.items()}

    def replies(name: str) -> list[str]:
        return [line for line in clients[name].lines[marks[name] :] if line.startswith(BOT)]

    deadline = time.monotonic() + 30
    for name, client in clients.items():
        while len(replies(name)) < expected:
            client.read_line(timeout=max(deadline - time.monotonic(), 0.05))
    sentinel(clients[sender], "#bots", *clients.values())
    return {name: replies(name) for name in clients}


@pytest.mark.integration
def test_a_bot_answers_exactly_once_across_a_leader_kill(
    cluster_factory: Callable[..., list[Node]],
) -> None:
    nodes = cluster_factory(3, "--plugin", "bots", "--plugin", "chatlog")
    leader = leader_of(nodes)
    assert leader is not None
    others = [n for n in nodes if n is not leader]
    echo = ["echo-message"]  # each gets its own sentinel
    clients = {
        "alice": IRCClient(others[0].irc_port, "alice", caps=echo),
        "bob": IRCClient(others[1].irc_port, "bob", caps=echo),
        "carol": IRCClient(leader.irc_port, "carol", caps=echo),
    }
    try:
        for client in clients.values():
            client.send("JOIN #bots")
            client.expect(" 366 ")
        clients["alice"].send("PRIVMSG #bots :!ping")
        for name, replies in pongs(clients, 1, "carol").items():
            assert replies == [":bot!bot@services. PRIVMSG #bots :alice: pong"], name
        leader.kill()
        wait_for(lambda: leader_of(others), 30, "a new leader")
        clients["bob"].send("PRIVMSG #bots :!remind 2s stand up")
        clients["bob"].send("PRIVMSG #bots :!ping")
        survivors = {name: clients[name] for name in ("alice", "bob")}
        for name, replies in pongs(survivors, 3, "alice").items():
            assert replies == [
                ":bot!bot@services. PRIVMSG #bots :bob: I will remind you in 2s",
                ":bot!bot@services. PRIVMSG #bots :bob: pong",
                ":bot!bot@services. PRIVMSG #bots :bob: reminder: stand up",
            ], name
        logs = [sorted((n.data_dir / "chatlog").rglob("*.log")) for n in others]
        texts = [[p.read_text() for p in paths] for paths in logs]
        assert texts[0] == texts[1] and "<alice> !ping" in texts[0][0]
    finally:
        for client in clients.values():
            client.close()


def test_list_plugins_and_a_missing_plugin(tmp_path: Path) -> None:
    listing = subprocess.run(
        [TWISTD, "chatnode", "--list-plugins"], capture_output=True, text=True, timeout=60
    )
    assert listing.returncode == 0 and "bots  (twistedchat_bots:plugin)" in listing.stdout
    missing = subprocess.run(
        [TWISTD, "-n", "--pidfile=", "chatnode", "--data-dir", str(tmp_path), "--plugin", "nope"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert missing.returncode != 0
    assert "--plugin: no plugin named 'nope' is installed" in missing.stderr + missing.stdout
