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


def test_extended_monitor_tells_watchers_who_share_no_channel_each_once() -> None:
    server = Server()
    extended = ("extended-monitor", "away-notify", "setname", "account-notify")
    far = server.register("far", caps=extended)  # watches bob, shares no channel
    near = server.register("near", caps=extended)  # watches bob and shares #a
    basic = server.register("basic", caps=("away-notify", "setname"))  # no extended-monitor
    no_away = server.register("noaway", caps=("extended-monitor",))  # no away-notify
    bob = server.register("bob")
    for watcher in (far, near, basic, no_away):
        watcher.send("MONITOR + bob")
    near.send("JOIN #a")
    bob.send("JOIN #a")
    for client in (far, near, basic, no_away):
        client.clear()
    bob.send("AWAY :lunch", "SETNAME :Bob B")
    expected = [
        ":bob!~bob@192.168.1.1 AWAY :lunch",
        ":bob!~bob@192.168.1.1 SETNAME :Bob B",
    ]
    assert far.lines() == expected
    assert near.lines() == expected  # once, as a channel peer
    assert basic.lines() == [] and no_away.lines() == []
    bob.send("REGISTER * * long-enough-pw")
    assert far.has(":bob!~bob@192.168.1.1 ACCOUNT bob")
    bob.send("MONITOR + far", "AWAY")
    assert far.has(":bob!~bob@192.168.1.1 AWAY") and not bob.has(" AWAY")  # not to oneself
