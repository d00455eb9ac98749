"""CHATHISTORY over a connection: channel events only for clients with event-playback."""

from __future__ import annotations

from tests.memorylog import Client, Server
from twistedchat.wire.grammar import parse_line
from twistedchat.wire.message import Message

BASE = ("batch", "labeled-response", "message-tags", "server-time", "draft/chathistory")


def room(server: Server) -> None:
    """#room: alice's JOIN, a message, bob's JOIN and PART, a topic, another message."""
    alice = server.register("alice")
    bob = server.register("bob")
    alice.send("JOIN #room", "PRIVMSG #room :one")
    bob.send("JOIN #room", "PART #room :later")
    alice.send("TOPIC #room :news", "PRIVMSG #room :two")


def history(client: Client, request: str) -> list[Message]:
    client.clear()
    client.send(request)
    return [parse_line(line.encode()) for line in client.lines()]


def well_formed(lines: list[Message], label: str) -> list[Message]:
    """Checks the labelled batch around one chathistory batch; returns what it holds."""
    outer, inner = lines[0], lines[1]
    assert outer.command == "BATCH" and outer.tags == {"label": label}
    assert outer.params[1] == "labeled-response"
    assert inner.command == "BATCH" and inner.params[1:] == ("chathistory", "#room")
    assert inner.tags["batch"] == outer.params[0][1:]
    outer_ref, inner_ref = outer.params[0][1:], inner.params[0][1:]
    assert lines[-2] == Message("BATCH", (f"-{inner_ref}",), "irc.test", {"batch": outer_ref})
    assert lines[-1] == Message("BATCH", (f"-{outer_ref}",), "irc.test", {})
    body = lines[2:-2]
    assert all(m.tags["batch"] == inner_ref for m in body)
    return body


def test_cap_is_offered() -> None:
    client = Server().connect()
    client.send("CAP LS 302")
    assert "draft/event-playback" in client.lines()[0]


def test_a_client_with_the_cap_gets_events_in_the_batch() -> None:
    server = Server()
    room(server)
    carol = server.register("carol", (*BASE, "draft/event-playback"))
    carol.send("JOIN #room")
    body = well_formed(history(carol, "@label=h1 CHATHISTORY LATEST #room * 100"), "h1")
    assert [(m.command, m.params[-1]) for m in body] == [
        ("JOIN", "#room"),
        ("PRIVMSG", "one"),
        ("JOIN", "#room"),
        ("PART", "later"),
        ("TOPIC", "news"),
        ("PRIVMSG", "two"),
        ("JOIN", "#room"),  # carol's own
    ]
    assert all("msgid" in m.tags and "time" in m.tags for m in body)
    assert body[2].source is not None and body[2].source.startswith("bob!")
    limited = well_formed(history(carol, "@label=h2 CHATHISTORY LATEST #room * 2"), "h2")
    assert [m.command for m in limited] == ["PRIVMSG", "JOIN"]


def test_a_client_without_the_cap_gets_only_messages_even_if_it_sends_the_tag() -> None:
    server = Server()
    room(server)
    dave = server.register("dave", BASE)
    dave.send("JOIN #room")
    request = "@label=h1;twistedchat.org/event-playback CHATHISTORY LATEST #room * 2"
    body = well_formed(history(dave, request), "h1")
    assert [(m.command, m.params[-1]) for m in body] == [("PRIVMSG", "one"), ("PRIVMSG", "two")]


def test_targets_follow_the_cap() -> None:
    server = Server()
    alice = server.register("alice")
    alice.send("JOIN #quiet")
    request = (
        "CHATHISTORY TARGETS timestamp=2000-01-01T00:00:00.000Z "
        "timestamp=2100-01-01T00:00:00.000Z 10"
    )
    with_cap = server.register("carol", (*BASE, "draft/event-playback"))
    without = server.register("dave", BASE)
    for client in (with_cap, without):
        client.send("JOIN #quiet")
    listed = [m.params[1] for m in history(with_cap, request) if m.command == "CHATHISTORY"]
    assert listed == ["#quiet"]
    assert [m for m in history(without, request) if m.command == "CHATHISTORY"] == []
