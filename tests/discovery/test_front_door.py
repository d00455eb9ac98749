"""The IRC port's front door: queries answered without an IRC connection, IRC untouched."""

from __future__ import annotations

from twisted.internet.address import IPv4Address
from twisted.internet.protocol import Factory, Protocol
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.python.failure import Failure

from twistedchat.discovery.front_door import QUERY_BURST, FrontDoor, FrontDoorFactory
from twistedchat.discovery.public import Answer, AnswerReader, NodeEntry
from twistedchat.wire.grammar import parse_line

ANSWER = Answer((NodeEntry("127.0.0.1:6667", None, True, "leader"),), "leader", 2, 0, 0)


class Recording(Protocol):
    def __init__(self) -> None:
        self.made = 0
        self.data = b""
        self.lost = 0

    def connectionMade(self) -> None:
        self.made += 1

    def dataReceived(self, data: bytes) -> None:
        self.data += data

    def connectionLost(self, reason: Failure | None = None) -> None:
        self.lost += 1


def door(answer: object = None) -> tuple[FrontDoorFactory, Clock, list[frozenset[str]]]:
    clock = Clock()
    asked: list[frozenset[str]] = []

    def answerer(excluded: frozenset[str]) -> Answer:
        asked.append(excluded)
        if isinstance(answer, Exception):
            raise answer
        return ANSWER

    return FrontDoorFactory(Factory.forProtocol(Recording), answerer, "node", clock), clock, asked


def connect(factory: FrontDoorFactory) -> tuple[FrontDoor, Recording, StringTransport]:
    protocol = factory.buildProtocol(IPv4Address("TCP", "127.0.0.1", 5000))
    assert isinstance(protocol, FrontDoor) and isinstance(protocol.inner, Recording)
    transport = StringTransport(peerAddress=IPv4Address("TCP", "127.0.0.1", 5000))
    protocol.makeConnection(transport)
    return protocol, protocol.inner, transport


def lines(transport: StringTransport) -> list[bytes]:
    return transport.value().splitlines()


def test_a_query_is_answered_and_closed_without_an_irc_connection() -> None:
    factory, _, asked = door()
    protocol, inner, transport = connect(factory)
    for byte in b"NODES abcdefgh12 127.0.0.1:9\r\n":  # byte by byte: still one query
        protocol.dataReceived(bytes([byte]))
    reader = AnswerReader("abcdefgh12")
    answers = [reader.feed(parse_line(line)) for line in lines(transport)]
    assert answers[-1] == ANSWER and transport.disconnecting
    assert asked == [frozenset({"127.0.0.1:9"})]
    protocol.dataReceived(b"NICK more\r\n")  # after the answer: ignored
    protocol.connectionLost(None)
    assert (inner.made, inner.data, inner.lost) == (0, b"", 0)
    assert factory.counters["answered"] == 1


def test_an_irc_client_gets_every_byte_on_the_same_transport() -> None:
    factory, _, _ = door()
    protocol, inner, transport = connect(factory)
    protocol.dataReceived(b"NO")  # could still be a query
    assert inner.made == 0
    protocol.dataReceived(b"TICE x\r\n")
    protocol.dataReceived(b"NICK alice\r\n")
    assert inner.made == 1 and inner.transport is transport
    assert inner.data == b"NOTICE x\r\nNICK alice\r\n"
    protocol.connectionLost(None)
    assert inner.lost == 1


def test_a_silent_client_becomes_an_irc_connection_after_the_wait() -> None:
    factory, clock, _ = door()
    protocol, inner, _ = connect(factory)
    clock.advance(factory.wait - 0.1)
    assert inner.made == 0
    clock.advance(0.2)
    assert inner.made == 1
    protocol.dataReceived(b"NODES abcdefgh12\r\n")  # too late: IRC's to answer
    assert inner.data == b"NODES abcdefgh12\r\n"


def test_bad_queries_are_refused_with_one_line_and_nothing_breaks() -> None:
    for query in [b"NODES !\r\n", b"NODES abcdefgh12 nowhere\r\n", b"NODES \xff\xfe\r\n"]:
        factory, _, asked = door()
        protocol, inner, transport = connect(factory)
        protocol.dataReceived(query)
        assert lines(transport)[0].startswith(b":node FAIL NODES INVALID_PARAMS"), query
        assert transport.disconnecting and asked == [] and inner.made == 0
        assert factory.counters["garbage"] == 1


def test_an_endless_query_line_is_refused() -> None:
    factory, _, _ = door()
    protocol, inner, transport = connect(factory)
    protocol.dataReceived(b"NODES " + b"a" * 600)
    assert b"INPUT_TOO_LONG" in transport.value() and transport.disconnecting
    assert inner.made == 0


def test_a_broken_answer_is_a_fail_line_not_a_traceback() -> None:
    factory, _, _ = door(RuntimeError("no replica yet"))
    protocol, _, transport = connect(factory)
    protocol.dataReceived(b"NODES abcdefgh12\r\n")
    assert b"TEMPORARILY_UNAVAILABLE" in transport.value() and transport.disconnecting


def test_queries_are_rate_limited_per_address() -> None:
    factory, clock, asked = door()
    for _ in range(QUERY_BURST + 3):
        protocol, _, transport = connect(factory)
        protocol.dataReceived(b"NODES abcdefgh12\r\n")
    assert b"RATE_LIMITED" in transport.value()
    assert len(asked) == QUERY_BURST and factory.counters["rate-limited"] == 3
    clock.advance(1)
    protocol, _, transport = connect(factory)
    protocol.dataReceived(b"NODES abcdefgh12\r\n")
    assert b"END" in transport.value()
