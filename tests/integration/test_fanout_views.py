"""One message, serialised once per kind of client, on real nodes: every client gets the
bytes its own capabilities ask for, whichever node it is on and whoever else receives the
same message (issue 20: a rendering is shared by clients of one view only)."""

from __future__ import annotations

from collections.abc import Callable

from tests.integration.harness import IRCClient, Node, sentinel

TAGGED = ("message-tags", "server-time")
SENDER_CAPS = ("message-tags", "server-time", "echo-message", "labeled-response", "batch")


def tags_of(line: str) -> dict[str, str]:
    if not line.startswith("@"):
        return {}
    return dict(tag.partition("=")[::2] for tag in line[1:].split(" ", 1)[0].split(";"))


def test_each_client_gets_its_own_view_of_one_message_on_every_node(
    cluster_factory: Callable[..., list[Node]],
) -> None:
    nodes = cluster_factory(3)
    sender = IRCClient(nodes[0].irc_port, "sender", caps=SENDER_CAPS)
    plain = [IRCClient(node.irc_port, f"plain{i}") for i, node in enumerate(nodes)]
    tagged = [IRCClient(node.irc_port, f"tagged{i}", caps=TAGGED) for i, node in enumerate(nodes)]
    for client in [sender, *plain, *tagged]:
        client.send("JOIN #views")
        client.expect(" 366 ")
    for client in [*plain, *tagged]:
        client.lines.clear()

    sender.send("@label=m1;+draft/react=wave PRIVMSG #views :hello views")
    sender.send("@+draft/typing=active TAGMSG #views")
    echo = sender.expect("PRIVMSG #views :hello views")
    msgid = tags_of(echo)["msgid"]
    assert tags_of(echo)["label"] == "m1"  # the echo is the labelled answer
    for client in plain:
        line = client.expect("PRIVMSG #views :hello views")
        assert line == ":sender!~sender@127.0.0.1 PRIVMSG #views :hello views"
    for client in tagged:
        line = client.expect("PRIVMSG #views :hello views")
        tags = tags_of(line)
        assert tags["msgid"] == msgid and tags["time"] and tags["+draft/react"] == "wave"
        assert "label" not in tags  # a label belongs to the sender's answer only
        typing = client.expect(" TAGMSG :#views", " TAGMSG #views")
        assert tags_of(typing)["+draft/typing"] == "active"
    sentinel(sender, "#views", *plain, *tagged)
    for client in plain:
        assert not any("TAGMSG" in line or line.startswith("@") for line in client.lines)
    for client in [sender, *plain, *tagged]:
        client.close()
