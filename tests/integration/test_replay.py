"""Replay on reclaim on real nodes: kill the node a plain SASL client is on while someone
talks, and the client, logging in again on another node, sees every line once, in order.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest

from tests.integration.harness import IRCClient, Node, leader_of, sasl_client

LINES = 30
EVERY = 0.2  # 5 lines/s, flood control off (at its default 2 lines/s fakelag, the 30 lines
# took 10 s, not 6): lines still pass while alice is away and after she is back
KILL_AFTER = 8  # lines said before the kill


def talk(bob: IRCClient, done: threading.Event) -> None:
    """bob says LINES numbered lines at 5 lines/s (bounded), then stops."""
    for number in range(LINES):
        bob.send(f"PRIVMSG #r :line {number}")
        time.sleep(EVERY)
    done.set()


def lines_of(client: IRCClient) -> list[str]:
    """The numbers of bob's lines ``client`` was shown, in order (tags set aside)."""
    untagged = (line.split(" ", 1)[1] if line.startswith("@") else line for line in client.lines)
    return [
        line.rsplit(":line ", 1)[1]
        for line in untagged
        if " PRIVMSG #r :line " in line and line.startswith(":bob!")
    ]


def log_in_again(port: int, how: str) -> IRCClient:
    """alice back on another node: by SASL at connect, or registering under another nick
    (433 for hers) and then NickServ IDENTIFY."""
    if how == "sasl":
        again = sasl_client(port, "alice", "alice", "s3cret-enough")
        again.expect(" 001 alice ", timeout=15)
        return again
    again = IRCClient(port)
    again.send("NICK alice")
    again.send("USER alice 0 * :alice")
    again.expect(" 433 ")
    again.send("NICK alice_")
    again.expect(" 001 alice_ ")
    again.send("PRIVMSG NickServ :IDENTIFY alice s3cret-enough")
    again.expect(" NICK alice", timeout=15)
    return again


@pytest.mark.parametrize(
    ("victim", "how"), [("follower", "sasl"), ("leader", "sasl"), ("follower", "identify")]
)
def test_a_client_whose_node_died_gets_every_line_once_in_order(
    cluster_factory: Callable[..., list[Node]], victim: str, how: str
) -> None:
    nodes = cluster_factory(3, "--flood-rate", "0")
    leader = leader_of(nodes)
    assert leader is not None
    followers = [n for n in nodes if n is not leader]
    doomed = leader if victim == "leader" else followers[0]
    talker, rescuer = [n for n in nodes if n is not doomed][:2]
    alice = IRCClient(doomed.irc_port, "alice")
    alice.send("REGISTER * * s3cret-enough")
    alice.expect("REGISTER SUCCESS")
    alice.send("JOIN #r")
    alice.expect(" 366 ")
    bob = IRCClient(talker.irc_port, "bob")
    bob.send("JOIN #r")
    bob.expect(" 366 ")
    done = threading.Event()
    thread = threading.Thread(target=talk, args=(bob, done), daemon=True)
    thread.start()
    try:
        alice.expect(f":line {KILL_AFTER - 1}", timeout=10)
        doomed.kill()
        with pytest.raises((ConnectionError, TimeoutError, OSError)):
            while True:  # what the dying node still wrote
                alice.read_line(timeout=5)
        again = log_in_again(rescuer.irc_port, how)
        again.expect(f":line {LINES - 1}", timeout=LINES * EVERY + 15)
    finally:
        done.wait(LINES * EVERY + 10)
        thread.join(5)
    seen = lines_of(alice) + lines_of(again)
    assert seen == [str(n) for n in range(LINES)], seen
    notices = [line for line in again.lines if "*** Replaying" in line]
    assert len(notices) == 1, notices  # the reclaim waits for the down mark: lines pass
    alice.close()
    again.close()
    bob.close()


def test_an_always_on_user_with_no_client_gets_the_lines_at_the_next_login(
    cluster_factory: Callable[..., list[Node]],
) -> None:
    first, second, third = cluster_factory(3)
    alice = IRCClient(first.irc_port, "alice")
    alice.send("REGISTER * * s3cret-enough")
    alice.expect("REGISTER SUCCESS")
    alice.send("PRIVMSG NickServ :SET ALWAYS-ON ON")
    alice.expect("ALWAYS-ON is on")
    alice.send("JOIN #r")
    alice.expect(" 366 ")
    alice.send("QUIT :off to bed")
    alice.expect("ERROR")
    alice.close()
    bob = IRCClient(second.irc_port, "bob")
    bob.send("JOIN #r")
    assert "alice" in bob.expect(" 353 ")  # still there
    bob.send("WHOIS alice")
    assert "Not connected" in bob.expect(" 301 ")
    for number in range(5):
        bob.send(f"PRIVMSG #r :line {number}")
    bob.send("PRIVMSG alice :good morning")
    bob.send("PING :sent")
    bob.expect("PONG")
    again = sasl_client(third.irc_port, "alice", "alice", "s3cret-enough", caps=["server-time"])
    again.expect(" 001 alice ")
    again.expect("*** Replaying 6 lines")
    again.expect(":good morning")
    assert lines_of(again) == [str(n) for n in range(5)]
    assert all(line.startswith("@time=") for line in again.lines if " PRIVMSG " in line)
    again.close()
    bob.close()
