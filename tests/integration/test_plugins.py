"""Plugins in a real 3-node cluster: a bot answers exactly once, across a leader kill."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.integration.harness import TWISTD, IRCClient, Node, leader_of, wait_for


def pongs(client: IRCClient, expected: int, seconds: float = 3.0) -> list[str]:
    """Every bot reply seen within ``seconds``, after ``expected`` of them arrived."""
    found: list[str] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            line = client.read_line(timeout=max(deadline - time.monotonic(), 0.05))
        except TimeoutError:
            break
        if line.startswith(":bot!bot@services."):
            found.append(line)
        if len(found) > expected:
            break
    return found


@pytest.mark.integration
def test_a_bot_answers_exactly_once_across_a_leader_kill(
    cluster_factory: Callable[..., list[Node]],
) -> None:
    nodes = cluster_factory(3, "--plugin", "bots", "--plugin", "chatlog")
    leader = leader_of(nodes)
    assert leader is not None
    others = [n for n in nodes if n is not leader]
    clients = {
        "alice": IRCClient(others[0].irc_port, "alice"),
        "bob": IRCClient(others[1].irc_port, "bob"),
        "carol": IRCClient(leader.irc_port, "carol"),
    }
    try:
        for client in clients.values():
            client.send("JOIN #bots")
            client.expect(" 366 ")
        clients["alice"].send("PRIVMSG #bots :!ping")
        for name, client in clients.items():
            assert pongs(client, 1) == [":bot!bot@services. PRIVMSG #bots :alice: pong"], name
        leader.kill()
        wait_for(lambda: leader_of(others), 30, "a new leader")
        clients["bob"].send("PRIVMSG #bots :!remind 2s stand up")
        clients["bob"].send("PRIVMSG #bots :!ping")
        for name in ("alice", "bob"):
            replies = pongs(clients[name], 3, seconds=6)
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
