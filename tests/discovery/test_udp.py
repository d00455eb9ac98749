"""Discovery over real UDP on loopback: a shared port, broadcast to 127.255.255.255."""

from __future__ import annotations

import socket
import time
from dataclasses import replace

import pytest_twisted
from twisted.internet import reactor, task
from twisted.logger import formatEvent, globalLogPublisher

from tests.discovery.test_wire import ANNOUNCEMENT
from twistedchat.discovery.udp import (
    QUERY_BURST,
    DiscoveryProtocol,
    default_broadcast,
    listen_discovery,
)
from twistedchat.discovery.wire import MAX_DATAGRAM, Decoder, Offer, Query, encode

SECRET = b"k" * 32


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def make(port: int, secret: bytes = SECRET, **callbacks: object) -> DiscoveryProtocol:
    return DiscoveryProtocol(
        Decoder(secret, "c1"), secret, [("127.255.255.255", port)], reactor, time.time,
        **callbacks,  # type: ignore[arg-type]
    )  # fmt: skip


async def until(condition: object, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        await task.deferLater(reactor, 0.02, lambda: None)


@pytest_twisted.ensureDeferred
async def test_nodes_sharing_a_port_hear_each_others_broadcasts() -> None:
    port = free_udp_port()
    heard: dict[int, set[str]] = {0: set(), 1: set(), 2: set()}
    protocols = [
        make(port, on_announcement=lambda a, i=i: heard[i].add(a.node_id)) for i in range(3)
    ]
    stranger = make(port, secret=b"z" * 32)
    ports = [listen_discovery(reactor, port, p) for p in [*protocols, stranger]]
    try:
        for i, protocol in enumerate(protocols):
            protocol.send(replace(ANNOUNCEMENT, node_id=f"n{i}"))
        stranger.send(replace(ANNOUNCEMENT, node_id="intruder"))
        await until(lambda: all(len(h) == 3 for h in heard.values()))
        await task.deferLater(reactor, 0.1, lambda: None)
        assert all(h == {"n0", "n1", "n2"} for h in heard.values())
        assert protocols[0].decoder.counters["bad-mac"] >= 1
    finally:
        for listening in ports:
            await listening.stopListening()


@pytest_twisted.ensureDeferred
async def test_a_query_gets_an_offer_back_by_unicast() -> None:
    port = free_udp_port()
    offer = Offer("c1", "", "n1", "127.0.0.1:6667", True)
    node = make(port, on_query=lambda q: replace(offer, nonce=q.nonce))
    offers: list[Offer] = []
    client = make(port, on_offer=offers.append)
    node_port = listen_discovery(reactor, port, node)
    client_port = reactor.listenUDP(0, client, interface="127.0.0.1")
    client_port.getHandle().setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
    try:
        client.send(Query("c1", "q-1"))
        await until(lambda: offers)
        assert offers == [replace(offer, nonce="q-1")]
    finally:
        await node_port.stopListening()
        await client_port.stopListening()


def test_default_broadcast_never_leaves_loopback_for_local_nodes() -> None:
    assert default_broadcast("127.0.0.1") == "127.255.255.255"
    assert default_broadcast("") == "127.255.255.255"
    assert default_broadcast("10.77.0.5").startswith("10.77.0.")


def test_a_source_flooding_queries_is_answered_only_up_to_its_rate() -> None:
    """Each answer is a datagram we send: a flood must not turn us into an amplifier."""
    clock = task.Clock()
    answered: list[Query] = []
    node = DiscoveryProtocol(Decoder(SECRET, "c1"), SECRET, [], clock, time.time,
                             on_query=lambda q: answered.append(q) or None)  # fmt: skip
    for i in range(QUERY_BURST + 30):
        node.datagramReceived(encode(Query("c1", f"q{i}"), SECRET, time.time()), ("10.0.0.9", 1))
    assert len(answered) == QUERY_BURST and node.rate_limited == 30
    node.datagramReceived(encode(Query("c1", "other"), SECRET, time.time()), ("10.0.0.8", 1))
    clock.advance(1.0)
    node.datagramReceived(encode(Query("c1", "later"), SECRET, time.time()), ("10.0.0.9", 1))
    assert [q.nonce for q in answered[-2:]] == ["other", "later"]


class Wire:
    """A datagram transport that records what the protocol writes."""

    def __init__(self) -> None:
        self.sent: list[tuple[bytes, tuple[str, int]]] = []

    def write(self, data: bytes, addr: tuple[str, int]) -> None:
        self.sent.append((data, addr))


def test_an_answer_too_big_for_a_datagram_is_dropped_and_logged_once() -> None:
    """A query near MAX_DATAGRAM whose nonce JSON escapes six bytes a character is valid,
    but the offer echoing that nonce beside the node's addresses is not: encoding it raised
    out of datagramReceived, and Twisted logged a traceback for every such query."""
    events: list[dict[str, object]] = []
    globalLogPublisher.addObserver(events.append)
    try:
        node = DiscoveryProtocol(
            Decoder(SECRET, "c1"), SECRET, [], task.Clock(), time.time,
            on_query=lambda q: Offer("c1", q.nonce, "127.0.0.1:7667", "127.0.0.1:6667", True),
        )  # fmt: skip
        node.transport = Wire()  # type: ignore[assignment]
        for _ in range(3):
            query = encode(Query("c1", "\x01" * 210), SECRET, time.time())
            assert len(query) <= MAX_DATAGRAM
            node.datagramReceived(query, ("127.0.0.1", 4000))
    finally:
        globalLogPublisher.removeObserver(events.append)
    assert node.transport.sent == []  # type: ignore[attr-defined]
    warnings = [e for e in events if "discovery: not sending" in str(e.get("log_format"))]
    assert len(warnings) == 1 and "exceeds" in formatEvent(warnings[0])
