"""IRCv3 MONITOR: a watch list kept by the client's node, told of presence by the log."""

from __future__ import annotations

from tests.memorylog import MemoryLog, Server
from twistedchat.irc.isupport import MONITOR_TARGETS
from twistedchat.node.monitor import Monitors


def test_monitor_tells_of_nicks_coming_and_going() -> None:
    server = Server()
    alice = server.register("alice")
    alice.send("MONITOR + bob,Carol")
    assert alice.lines() == [":irc.test 731 alice bob,Carol"]
    alice.clear()
    bob = server.register("bob")
    assert alice.lines() == [":irc.test 730 alice bob!~bob@192.168.1.1"]
    alice.clear()
    bob.send("NICK carol")
    assert alice.lines() == [
        ":irc.test 731 alice bob",
        ":irc.test 730 alice carol!~bob@192.168.1.1",
    ]
    alice.clear()
    bob.send("QUIT :bye")
    assert alice.lines() == [":irc.test 731 alice carol"]


def test_monitor_lists_clears_and_reports_status() -> None:
    server = Server()
    alice, bob = server.register("alice"), server.register("bob")
    alice.send("MONITOR + bob,nobody", "MONITOR - nobody")
    alice.clear()
    alice.send("MONITOR L", "MONITOR S")
    assert alice.lines() == [
        ":irc.test 732 alice bob",
        ":irc.test 733 alice :End of MONITOR list",
        ":irc.test 730 alice bob!~bob@192.168.1.1",
    ]
    alice.clear()
    alice.send("MONITOR C", "MONITOR L")
    assert alice.lines() == [":irc.test 733 alice :End of MONITOR list"]
    bob.send("QUIT")
    assert alice.lines() == [":irc.test 733 alice :End of MONITOR list"]  # no longer watched


def test_a_full_list_says_so_and_keeps_what_fit() -> None:
    monitors = Monitors(limit=2)
    replies = monitors.command("s", "me", ("+", "a,b,c,d"), lambda nick: None)
    assert [m.params for m in replies] == [
        ("me", "a,b"),
        ("me", "2", "c,d", "Monitor list is full"),
    ]
    assert [m.command for m in replies] == ["731", "734"]
    assert MONITOR_TARGETS == 100


def test_a_watcher_on_another_node_is_told_and_a_closed_connection_forgets() -> None:
    log = MemoryLog()
    one = Server("n1", log=log)
    two = Server("n2", log=log, clock=one.clock)
    alice = one.register("alice")
    alice.send("MONITOR + bob")
    alice.clear()
    bob = two.register("bob")
    assert alice.lines() == [":irc.test 730 alice bob!~bob@192.168.1.1"]
    alice.connection_lost()
    assert one.hub.monitors.notices([("bob", None)], lambda s: "x") == []
    bob.send("QUIT")


def test_monitor_lines_fit_an_irc_line() -> None:
    monitors = Monitors()
    nicks = ",".join(f"somebody{i:03d}xxxxxxxxxxxxxxx" for i in range(100))
    replies = monitors.command("s", "me", ("+", nicks), lambda nick: None)
    assert len(replies) > 1 and all(len(",".join(m.params).encode()) < 450 for m in replies)
