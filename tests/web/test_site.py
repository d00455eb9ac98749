"""The web endpoint in process: a real Site, HTTP channel and IRC factory (the hub on a
memory log), over StringTransports, so limits that loopback exempts on real processes
can be held to here: a WebSocket client and a TCP client from one address share the
per-address cap."""

from __future__ import annotations

from typing import Any

import pytest
from twisted.internet.address import IPv4Address
from twisted.internet.testing import StringTransport
from twisted.logger import LogLevel, globalLogPublisher
from wsproto import ConnectionType, WSConnection
from wsproto.events import AcceptConnection, Event, Request, TextMessage

from tests.memorylog import Server
from twistedchat.web.handshake import OriginPolicy
from twistedchat.web.site import SPARE_CONNECTIONS, web_site

PEER = IPv4Address("TCP", "203.0.113.7", 40000)


def open_websocket(server: Server) -> tuple[WSConnection, StringTransport, list[Event], Any]:
    """Upgrade a new HTTP connection from :data:`PEER`; the client, its socket, what the
    server answered (the accept, then the IRC connection's first lines) and the channel
    (whose ``dataReceived`` now takes WebSocket frames)."""
    site = web_site(server.factory, OriginPolicy((), set), lambda: {"nodes": []}, files={})
    channel = site.buildProtocol(PEER)
    assert channel is not None
    socket = StringTransport(peerAddress=PEER)
    channel.makeConnection(socket)
    client = WSConnection(ConnectionType.CLIENT)
    request = Request(host="node.example", target="/", subprotocols=["text.ircv3.net"])
    channel.dataReceived(client.send(request))
    server.clock.advance(0)
    client.receive_data(socket.value())
    socket.clear()
    return client, socket, list(client.events()), channel


def test_a_websocket_client_is_an_irc_connection_of_the_node() -> None:
    server = Server()
    client, socket, events, channel = open_websocket(server)
    assert isinstance(events[0], AcceptConnection)
    assert events[0].subprotocol == "text.ircv3.net"
    for line in ("NICK webby", "USER webby 0 * :Web"):
        channel.dataReceived(client.send(TextMessage(line)))
    server.clock.advance(0)
    client.receive_data(socket.value())
    lines = [e.data for e in client.events() if isinstance(e, TextMessage)]
    assert any(" 001 webby " in line for line in lines), lines
    assert server.hub.local_client_count() == 1


def test_the_per_address_cap_counts_websocket_and_tcp_clients_together() -> None:
    server = Server(max_per_address=2, limits_exempt=())
    tcp = server.factory.buildProtocol(PEER)
    tcp.makeConnection(StringTransport(peerAddress=PEER))
    _, _, first, _ = open_websocket(server)
    assert not any("Too many connections" in getattr(e, "data", "") for e in first)
    _, socket, third, _ = open_websocket(server)
    refusals = [e.data for e in third if isinstance(e, TextMessage)]
    assert refusals and "Too many connections from your address (at most 2)" in refusals[0]
    assert socket.disconnecting


def answer(server: Server, request: bytes) -> bytes:
    """What the web endpoint answers one raw HTTP request with."""
    site = web_site(server.factory, OriginPolicy((), lambda: {"http://node:1"}), dict, files={})
    protocol = site.buildProtocol(PEER)
    assert protocol is not None
    socket = StringTransport(peerAddress=PEER)
    protocol.makeConnection(socket)
    protocol.dataReceived(request)
    server.clock.advance(0)
    return socket.value()


UPGRADE = (
    b"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
)


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"GET / HTTP/1.1\r\n" + UPGRADE + b"\r\n",  # no Host, which h11 insists on
        b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n" + UPGRADE + b"\r\n",
        b"GET / HTTP/1.1\r\nHost: [::1\r\nOrigin: http://[::1\r\n" + UPGRADE + b"\r\n",
        b"GET / HTTP/1.1\r\nHost: a:99999\r\nOrigin: http://a:99999\r\n" + UPGRADE + b"\r\n",
        b"GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
    ],
)
def test_a_malformed_upgrade_is_a_400_or_403_never_an_error(request_bytes: bytes) -> None:
    caught: list[object] = []
    observer = caught.append
    globalLogPublisher.addObserver(observer)
    try:
        status = answer(Server(), request_bytes).split(b"\r\n", 1)[0]
    finally:
        globalLogPublisher.removeObserver(observer)
    assert status in (b"HTTP/1.1 400 Bad Request", b"HTTP/1.1 403 Forbidden"), status
    assert not [e for e in caught if e.get("log_level") in (LogLevel.error, LogLevel.critical)]  # type: ignore[attr-defined]


def test_a_head_request_is_never_upgraded() -> None:
    reply = answer(Server(), b"HEAD / HTTP/1.1\r\nHost: node:1\r\n" + UPGRADE + b"\r\n")
    assert not reply.startswith(b"HTTP/1.1 101")


def test_the_node_list_is_readable_only_by_the_clusters_pages() -> None:
    request = b"GET /nodes.json HTTP/1.1\r\nHost: a:99999\r\nOrigin: %s\r\n\r\n"
    mine = answer(Server(), request % b"http://node:1")
    assert b"Access-Control-Allow-Origin: http://node:1" in mine
    assert mine.startswith(b"HTTP/1.1 200")
    theirs = answer(Server(), request % b"http://a:99999")  # the Host it sent is no proof
    assert b"Access-Control-Allow-Origin" not in theirs and theirs.startswith(b"HTTP/1.1 200")


def test_connections_before_the_upgrade_are_capped_per_address() -> None:
    """A client that sends its request a byte at a time holds a socket; per address, and
    in all, there are only so many."""
    server = Server(max_per_address=2, limits_exempt=(), max_clients=1)
    site = web_site(server.factory, OriginPolicy((), set), dict, files={})
    held = [site.buildProtocol(PEER) for _ in range(2)]
    assert all(held) and site.buildProtocol(PEER) is None  # the third from that address
    for protocol in held:
        protocol.makeConnection(StringTransport(peerAddress=PEER))
    held[0].connectionLost(None)  # type: ignore[arg-type]
    assert site.buildProtocol(PEER) is not None  # its place is free again
    others = [site.buildProtocol(IPv4Address("TCP", f"198.51.100.{n}", 1)) for n in range(70)]
    total = 1 + SPARE_CONNECTIONS  # --max-clients and the spare ones, two of them held
    assert sum(p is not None for p in others) == total - 2
