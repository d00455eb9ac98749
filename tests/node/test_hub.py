"""The session hub's own node session, which outlives every user session."""

from __future__ import annotations

from tests.memorylog import Server
from twistedchat.chat.command import NODE_LOST, Command


def test_node_lost_reports_go_out_long_after_start() -> None:
    server = Server()
    alice = server.register("alice")
    alice.send("JOIN #x")
    for round_ in range(3):
        server.clock.advance(30)
        server.hub.report_node_lost(f"gone{round_}")
        server.clock.advance(0)
    reports = [Command.decode(data, 0) for data in server.log.entries]
    lost = [c for c in reports if c.message.command == NODE_LOST]
    assert [c.message.params for c in lost] == [("gone0",), ("gone1",), ("gone2",)]
    assert len({c.session for c in lost}) == 1  # one node session, sequence numbers in order
    assert [c.seq for c in lost] == sorted(c.seq for c in lost)


def test_a_new_leader_gets_the_lost_proposals_at_once() -> None:
    server = Server()
    alice = server.register("alice", caps=("echo-message",))
    alice.send("JOIN #x")
    alice.clear()
    server.log.losing = True  # the old leader loses what it is sent
    alice.send("PRIVMSG #x :during the election")
    assert not alice.has("during the election")
    server.log.losing = False
    server.hub.new_leader()
    server.clock.advance(0)  # no retry timer: just the next reactor turn
    assert alice.has("PRIVMSG #x :during the election")
