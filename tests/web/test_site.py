"""The web endpoint in process: a real Site, HTTP channel and IRC factory (the hub on a
memory log), over StringTransports, so limits that loopback exempts on real processes
can be held to here: a WebSocket client and a TCP client from one address share the
per-address cap."""

from __future__ import annotations

from typing import Any

from twisted.internet.address import IPv4Address
from twisted.internet.testing import StringTransport
from wsproto import ConnectionType, WSConnection
from wsproto.events import AcceptConnection, Event, Request, TextMessage

from tests.memorylog import Server
from twistedchat.web.handshake import OriginPolicy
from twistedchat.web.site import web_site

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
