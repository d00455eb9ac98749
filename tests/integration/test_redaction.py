"""draft/message-redaction on a real node: a REDACT reaches the members that asked for it,
and the message is gone from CHATHISTORY."""

from __future__ import annotations

from tests.integration.harness import IRCClient, Node, sentinel

CAPS = ("draft/message-redaction", "message-tags", "echo-message")


def msgid_of(line: str) -> str:
    tags = line[1:].split(" ")[0].split(";")
    return next(tag.partition("=")[2] for tag in tags if tag.startswith("msgid="))


def test_a_redacted_message_is_told_to_members_with_the_cap_and_leaves_history(
    single_node: Node,
) -> None:
    alice = IRCClient(single_node.irc_port, "alice", caps=(*CAPS, "labeled-response"))
    bob = IRCClient(single_node.irc_port, "bob", caps=(*CAPS, "batch", "draft/chathistory"))
    plain = IRCClient(single_node.irc_port, "plain")
    for client in (alice, bob, plain):
        client.send("JOIN #redact")
        client.expect(" 366 ")
    alice.send("PRIVMSG #redact :kept")
    alice.expect(" PRIVMSG #redact :kept")
    alice.send("PRIVMSG #redact :regretted")
    msgid = msgid_of(alice.expect(" PRIVMSG #redact :regretted"))
    bob.expect(" PRIVMSG #redact :regretted")
    plain.expect(" PRIVMSG #redact :regretted")
    alice.send(f"@label=x1 REDACT #redact {msgid} :never mind")
    echo = alice.expect(" REDACT ")
    assert "label=x1" in echo.split(" ")[0]
    assert echo.endswith(f":alice!~alice@127.0.0.1 REDACT #redact {msgid} :never mind")
    seen = bob.expect(" REDACT ")
    assert seen.endswith(f":alice!~alice@127.0.0.1 REDACT #redact {msgid} :never mind")
    plain.lines.clear()
    sentinel(alice, "#redact", plain)
    assert not any(" REDACT " in line for line in plain.lines)
    bob.send("CHATHISTORY LATEST #redact * 10")
    bob.expect(" BATCH +")
    texts = []
    while " BATCH -" not in (line := bob.read_line()):
        texts.append(line.rpartition(" :")[2])
    assert "kept" in texts and "regretted" not in texts
    bob.send(f"REDACT #redact {msgid}")  # already gone
    assert " FAIL REDACT UNKNOWN_MSGID #redact " in bob.expect(" FAIL ")
    for client in (alice, bob, plain):
        client.close()
