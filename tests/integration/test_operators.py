"""Operators on a real node: a hash from `chatnode oper-hash`, then OPER and KILL."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.harness import IRCClient, new_node, wait_for

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
