"""The plain reclaiming client: its registrations sans IO, and its reconnecting in turn."""

from __future__ import annotations

import base64
import random

from twisted.internet.address import IPv4Address
from twisted.internet.testing import MemoryReactorClock, StringTransport

from tests.chaos.checker import History
from tests.chaos.plain import PASSWORD, RECONNECT_DELAY, PlainClient, PlainSession
from twistedchat.wire.grammar import parse_line
from twistedchat.wire.message import Message


def lines(messages: list[Message]) -> list[str]:
    return [" ".join((m.command, *m.params)) for m in messages]


def feed(session: PlainSession, raw: str, now: float = 1.0) -> list[str]:
    return lines(session.feed(parse_line(raw.encode()), now))


def test_the_first_connection_registers_the_account_then_joins() -> None:
    session = PlainSession("p0", account_known=False)
    assert lines(session.start()) == ["NICK p0", "USER p0 0 * p0"]
    assert feed(session, ":srv 001 p0 :Welcome to the Internet Relay Network p0!p0@h") == [
        f"REGISTER * * {PASSWORD}"
    ]
    assert feed(session, ":srv REGISTER SUCCESS p0 :Registered") == ["JOIN #chaos"]
    assert feed(session, ":p0!p0@h JOIN #chaos", 1.5) == []
    assert feed(session, ":c1!c1@h PRIVMSG #chaos :c1-00001") == []
    assert feed(session, ":c1!c1@h PRIVMSG p0 :hello") == []  # not the channel's
    assert feed(session, "PING :x") == ["PONG x"]
    assert session.account_known and session.joined and session.failed is None
    assert session.events == [["welcome", 1.0, "new"], ["join", 1.5], ["line", "c1-00001"]]


def test_a_later_connection_logs_in_by_sasl_and_notes_a_reclaim_and_its_replay() -> None:
    session = PlainSession("p0", account_known=True)
    assert lines(session.start()) == ["CAP LS 302", "NICK p0", "USER p0 0 * p0", "CAP REQ sasl"]
    assert feed(session, ":srv CAP * LS :sasl multi-prefix") == []
    assert feed(session, ":srv CAP * ACK :sasl") == ["AUTHENTICATE PLAIN"]
    plain = base64.b64encode(f"\0p0\0{PASSWORD}".encode()).decode()
    assert feed(session, "AUTHENTICATE +") == [f"AUTHENTICATE {plain}"]
    assert feed(session, ":srv 903 p0 :SASL authentication successful") == ["CAP END"]
    assert feed(session, ":srv 001 p0 :Welcome back, p0", 2.0) == []  # its channels come
    feed(session, ":p0!p0@h JOIN #chaos", 2.0)
    feed(session, ":srv NOTICE p0 :*** Replaying the last 300 of the 412 lines you missed", 2.1)
    feed(session, ":srv NOTICE p0 :*** Replaying 12 lines you missed while ...", 2.2)
    assert session.events == [["welcome", 2.0, "back"], ["join", 2.0],
                              ["replay", 2.1, 300, 412], ["replay", 2.2, 12, 12]]  # fmt: skip


def test_a_refused_login_or_nick_fails_the_connection() -> None:
    for answer in (":srv 904 p0 :SASL authentication failed", ":srv 433 * p0 :in use",
                   ":srv CAP * NAK :sasl"):  # fmt: skip
        session = PlainSession("p0", account_known=True)
        session.start()
        feed(session, answer)
        assert session.failed is not None


class Cluster:
    """The client's reactor, and a way to play the node it connected to."""

    def __init__(self) -> None:
        self.reactor = MemoryReactorClock()
        self.history = History(seed=1)
        nodes = ["127.0.1.1:6667", "127.0.1.2:6667", "127.0.1.3:6667"]
        self.client = PlainClient("p0", self.reactor, nodes, 1, self.history,
                                  random.Random(1), 0.0)  # fmt: skip
        self.transport: StringTransport | None = None

    def accept(self) -> str:
        """Accept the client's latest connection; returns the address it dialled."""
        host, port, factory, _timeout, _bind = self.reactor.tcpClients[-1]
        protocol = factory.buildProtocol(IPv4Address("TCP", host, port))
        self.transport = StringTransport()
        protocol.makeConnection(self.transport)
        self.protocol = protocol
        return f"{host}:{port}"

    def say(self, *raw: str) -> list[str]:
        assert self.transport is not None
        self.transport.clear()
        self.protocol.dataReceived(b"".join(line.encode() + b"\r\n" for line in raw))
        return self.transport.value().decode().splitlines()

    def drop(self) -> None:
        self.protocol.connectionLost(None)  # type: ignore[arg-type]


def test_the_client_reconnects_to_the_next_node_and_logs_in_again() -> None:
    cluster = Cluster()
    cluster.client._connect()
    assert cluster.accept() == "127.0.1.2:6667"
    cluster.say(":s 001 p0 :Welcome to the Internet Relay Network", ":s REGISTER SUCCESS p0 x")
    cluster.say(":p0!p0@h JOIN #chaos")
    cluster.reactor.advance(1.0)
    cluster.drop()
    assert cluster.history.plain["p0"][-1][:1] == ["drop"]
    cluster.reactor.advance(RECONNECT_DELAY[1])
    assert cluster.accept() == "127.0.1.3:6667"  # the next one, in turn
    assert cluster.say(":s CAP * ACK :sasl") == ["AUTHENTICATE PLAIN"]
    cluster.drop()  # lost while registering: one more failed attempt, then the next node
    cluster.reactor.advance(RECONNECT_DELAY[1])
    assert cluster.accept() == "127.0.1.1:6667"
    cluster.say(":s CAP * ACK :sasl", "AUTHENTICATE +", ":s 903 p0 :ok")
    cluster.say(":s 001 p0 :Welcome back, p0", ":p0!p0@h JOIN #chaos", ":c1!c PRIVMSG #chaos :x")
    assert cluster.client.reclaims == 1 and cluster.client.seen() == {"x"}
    assert [e[0] for e in cluster.history.plain["p0"]] == [
        "welcome", "join", "drop", "welcome", "join", "line"
    ]  # fmt: skip
    cluster.client.close()
    assert not cluster.reactor.getDelayedCalls() or all(
        not call.active() for call in cluster.reactor.getDelayedCalls()
    )
