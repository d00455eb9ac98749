"""draft/metadata-3 through connections: subscriptions kept by the node, notifications."""

from __future__ import annotations

from tests.memorylog import MemoryLog, Server
from twistedchat.irc.capabilities import OUTPUT_CAPS, SUPPORTED
from twistedchat.node.metadata import Subscriptions

CAPS = ("draft/metadata-3", "batch")


def test_the_cap_advertises_its_limits() -> None:
    server = Server()
    client = server.connect()
    client.send("CAP LS 302")
    assert client.has(
        "draft/metadata-3=max-subs=50,max-keys=20,max-key-bytes=64,max-value-bytes=300"
    )
    assert "draft/metadata-3" in SUPPORTED and "draft/metadata-3" in OUTPUT_CAPS


def test_subscriptions_are_listed_removed_and_bounded() -> None:
    server = Server()
    alice = server.register("alice", caps=CAPS)
    alice.send("METADATA * SUB display-name BAD status")
    assert alice.lines() == [
        ":irc.test 770 alice display-name status",
        ":irc.test WARN METADATA INVALID_KEY BAD :Invalid key",
        ":irc.test BATCH +metadata metadata *ALL",
        ":irc.test BATCH -metadata",
    ]
    alice.clear()
    alice.send("METADATA alice SUBS")
    assert alice.lines() == [
        ":irc.test BATCH +metadata-subs metadata-subs",
        "@batch=metadata-subs :irc.test 772 alice display-name status",
        ":irc.test BATCH -metadata-subs",
    ]
    alice.clear()
    alice.send("METADATA * UNSUB status", "METADATA bob SUBS")
    assert alice.lines() == [
        ":irc.test 771 alice status",
        ":irc.test FAIL METADATA INVALID_TARGET bob :Invalid metadata target",
    ]
    subs = Subscriptions(limit=2)
    replies = subs.command("s", "me", ("*", "SUB", "a", "b", "c", "d"), lambda t, k: [])
    assert [(m.command, m.params[1:]) for m in replies] == [
        ("770", ("a", "b")),
        ("FAIL", ("LIMIT_REACHED", "SUB", "c", "2", "Too many subscriptions (at most 2)")),
    ]


def test_a_subscribed_peer_is_told_and_others_are_not() -> None:
    server = Server()
    setter = server.register("setter", caps=CAPS)
    subscriber = server.register("sub", caps=CAPS)
    unsubscribed = server.register("unsub", caps=CAPS)
    no_cap = server.register("nocap")
    stranger = server.register("stranger", caps=CAPS)  # subscribed, but shares no channel
    for client in (subscriber, no_cap, stranger):
        client.send("METADATA * SUB status")
    for client in (setter, subscriber, unsubscribed, no_cap):
        client.send("JOIN #a")
    for client in (setter, subscriber, unsubscribed, no_cap, stranger):
        client.clear()
    setter.send("METADATA * SET status :away for lunch")
    assert setter.lines() == [":irc.test 761 setter setter status * :away for lunch"]
    assert subscriber.lines() == [":irc.test 761 sub setter status * :away for lunch"]
    assert unsubscribed.lines() == [] and no_cap.lines() == [] and stranger.lines() == []
    subscriber.clear()
    setter.send("METADATA * SET status")
    assert subscriber.lines() == [":irc.test 766 sub setter status :Key deleted"]
    subscriber.clear()
    setter.send("METADATA #a SET status :channel status")  # the first member is its operator
    assert subscriber.lines() == [":irc.test 761 sub #a status * :channel status"]


def test_a_joiner_gets_the_channel_and_its_members_subscribed_keys() -> None:
    server = Server()
    op = server.register("op", caps=CAPS)
    op.send("JOIN #a", "METADATA #a SET url :https://a.example", "METADATA * SET status :here")
    joiner = server.register("joiner", caps=CAPS)
    joiner.send("METADATA * SUB url status")
    joiner.clear()
    joiner.send("JOIN #a")
    lines = joiner.lines()
    at = lines.index(":irc.test BATCH +metadata metadata #a")
    assert lines[at:] == [
        ":irc.test BATCH +metadata metadata #a",
        "@batch=metadata :irc.test 761 joiner #a url * https://a.example",
        "@batch=metadata :irc.test 761 joiner op status * here",
        ":irc.test BATCH -metadata",
    ]
    joiner.clear()
    joiner.send("METADATA #a SYNC")
    assert len(joiner.lines()) == 4
    plain = server.register("plain")
    plain.send("METADATA * SUB url", "JOIN #a")
    assert not plain.has("761")


def test_a_subscriber_on_another_node_is_told() -> None:
    log = MemoryLog()
    one = Server("n1", log=log)
    two = Server("n2", log=log, clock=one.clock)
    setter = one.register("setter", caps=CAPS)
    watcher = two.register("watcher", caps=CAPS)
    watcher.send("METADATA * SUB status", "MONITOR + setter")  # no shared channel: MONITOR
    watcher.clear()
    setter.send("METADATA * SET status :hi")
    assert watcher.lines() == [":irc.test 761 watcher setter status * hi"]
    watcher.connection_lost()
    assert two.hub.metadata.keys(watcher.protocol.session) == {}
