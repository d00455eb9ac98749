"""REDACT through connections: the capability is offered, the REDACT reaches only clients
that negotiated it, and the redactor's own copy is an echo that carries its label."""

from __future__ import annotations

from tests.memorylog import Client, Server

CAP = "draft/message-redaction"
ECHOING = (CAP, "message-tags", "echo-message", "labeled-response")


def msgid_of(line: str) -> str:
    tags = line[1:].split(" ")[0].split(";")
    return next(tag.partition("=")[2] for tag in tags if tag.startswith("msgid="))


def channel(server: Server, *clients: Client) -> None:
    for client in clients:
        client.send("JOIN #r")
    for client in clients:
        client.clear()


def test_the_capability_is_offered() -> None:
    client = Server().connect()
    client.send("CAP LS 302")
    offered = " ".join(x.partition(" :")[2] for x in client.lines() if " CAP * LS " in x)
    assert CAP in offered.split(" ")


def test_only_clients_with_the_capability_get_the_redact_and_the_echo_is_labelled() -> None:
    server = Server()
    alice = server.register("alice", ECHOING)
    told = server.register("told", (CAP,))
    plain = server.register("plain", ("message-tags",))
    channel(server, alice, told, plain)
    alice.send("PRIVMSG #r :oops")
    msgid = msgid_of(alice.lines()[-1])
    for client in (alice, told, plain):
        client.clear()
    alice.send(f"@label=r1 REDACT #r {msgid} :typo")
    (echo,) = alice.lines()
    assert echo.startswith("@") and "label=r1" in echo.split(" ")[0]
    assert echo.endswith(f":alice!~alice@192.168.1.1 REDACT #r {msgid} typo")
    assert told.lines() == [f":alice!~alice@192.168.1.1 REDACT #r {msgid} typo"]
    assert plain.lines() == []
    alice.clear()
    alice.send("@label=r2 REDACT #r nonesuch")
    assert alice.lines() == [
        "@label=r2 :irc.test FAIL REDACT UNKNOWN_MSGID #r nonesuch "
        ":This message does not exist or is too old"
    ]


def test_without_echo_message_the_redactor_gets_an_ack() -> None:
    server = Server()
    bob = server.register("bob", (CAP, "message-tags", "labeled-response"))
    carol = server.register("carol", (CAP,))
    channel(server, bob, carol)
    bob.send("PRIVMSG #r :hi")  # no echo: bob finds its msgid in the history
    bob.send("CHATHISTORY LATEST #r * 1")
    msgid = msgid_of(next(x for x in bob.lines() if " PRIVMSG #r :hi" in x))
    bob.clear()
    carol.clear()
    bob.send(f"@label=q REDACT #r {msgid}")
    assert bob.lines() == ["@label=q :irc.test ACK"]
    assert carol.lines() == [f":bob!~bob@192.168.1.1 REDACT #r {msgid}"]
