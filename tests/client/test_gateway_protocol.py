"""The gateway's side facing the IRC client: registration, CAP, labels, echoes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from twisted.internet.testing import StringTransport

from twistedchat.client.session import Event, Identity, Incoming, Reply
from twistedchat.gateway.protocol import OFFERED, GatewayConnection
from twistedchat.irc.message import Message


class Upstream:
    """What the gateway sees of a ChatClient: it records submits and fires events."""

    def __init__(self, identity: Identity, on_event: Callable[[Event], None]) -> None:
        self.identity = identity
        self.on_event = on_event
        self.submitted: list[Message] = []
        self.session = type("S", (), {"nick": identity.nick})()
        self.started = False
        self.closed: str | None = None

    def start(self) -> Any:
        self.started = True

    def submit(self, message: Message) -> str:
        self.submitted.append(message)
        return f"t{len(self.submitted)}"

    def close(self, reason: str) -> None:
        self.closed = reason


def connect() -> tuple[GatewayConnection, StringTransport, list[Upstream]]:
    made: list[Upstream] = []

    def make(identity: Identity, on_event: Callable[[Event], None]) -> Any:
        made.append(Upstream(identity, on_event))
        return made[-1]

    connection = GatewayConnection(make)
    transport = StringTransport()
    connection.makeConnection(transport)
    return connection, transport, made


def lines(transport: StringTransport) -> list[str]:
    return transport.value().decode().splitlines()


def test_registration_waits_for_cap_end_and_checks_its_parameters() -> None:
    connection, transport, made = connect()
    connection.dataReceived(b"CAP LS 302\r\nNICK\r\nUSER x\r\nNICK alice\r\nUSER al 0 * :Al\r\n")
    assert " 431 " in lines(transport)[1] and " 461 " in lines(transport)[2]
    assert "twistedchat.org/resume" not in lines(transport)[0] and "sasl" not in OFFERED
    assert made == []  # CAP negotiation is still open
    connection.dataReceived(b"CAP REQ :echo-message labeled-response\r\nCAP END\r\n")
    assert len(made) == 1 and made[0].started and made[0].identity == Identity("alice", "al", "Al")


def test_labels_are_mapped_and_echoes_hidden_without_echo_message() -> None:
    connection, transport, made = connect()
    connection.dataReceived(b"CAP REQ :labeled-response batch\r\nCAP END\r\n")
    connection.dataReceived(b"NICK alice\r\nUSER al 0 * :Al\r\n")
    upstream = made[0]
    transport.clear()
    connection.dataReceived(b"@label=mine PRIVMSG #a :hi\r\n")
    assert upstream.submitted[-1] == Message("PRIVMSG", ("#a", "hi"))  # our label upstream
    echo = Message("PRIVMSG", ("#a", "hi"), "alice!al@h", {"msgid": "1-1"})
    upstream.on_event(Reply("t1", (echo,)))
    assert lines(transport) == ["@label=mine :gateway ACK"]  # no echo-message: the echo is hidden
    transport.clear()
    upstream.on_event(Incoming(Message("PRIVMSG", ("#a", "yo"), "bob!b@h", {"msgid": "1-2"})))
    assert lines(transport) == [":bob!b@h PRIVMSG #a :yo"]  # tags the client did not ask for
    connection.connectionLost()
    assert upstream.closed == "Connection closed"
