"""The peer-link proxy of non-root chaos runs, over real loopback sockets.

A node is an echo server on 127.0.1.1; another node dials the proxy from 127.0.1.2. A cut
must stop everything both ways without losing a byte, and healing must let it through.
"""

from __future__ import annotations

import pytest_twisted
from twisted.internet import reactor
from twisted.internet.defer import Deferred
from twisted.internet.endpoints import TCP4ClientEndpoint, TCP4ServerEndpoint, connectProtocol
from twisted.internet.interfaces import IListeningPort
from twisted.internet.protocol import Factory, Protocol
from twisted.internet.task import deferLater

from tests.chaos.proxy import PeerProxy
from tests.integration.harness import free_ports

NODE, OTHER = "127.0.1.1", "127.0.1.2"


class Echo(Protocol):
    def dataReceived(self, data: bytes) -> None:
        assert self.transport is not None
        self.transport.write(data)


class Recorder(Protocol):
    def __init__(self) -> None:
        self.received = b""

    def dataReceived(self, data: bytes) -> None:
        self.received += data


async def _pause(seconds: float) -> None:
    await deferLater(reactor, seconds, lambda: None)


async def _until(client: Recorder, expected: bytes) -> None:
    for _ in range(100):
        if client.received == expected:
            return
        await _pause(0.02)
    raise AssertionError(f"got {client.received!r}, expected {expected!r}")


async def _echo_node_behind_proxy() -> tuple[IListeningPort, PeerProxy, int]:
    """The echo node, and the proxy in front of it; returns the proxy's port for it."""
    private, public = free_ports(2)
    echo = Factory.forProtocol(Echo)
    node = await TCP4ServerEndpoint(reactor, private, interface=NODE).listen(echo)
    proxy = PeerProxy(reactor)
    await proxy.listen(NODE, public, private)
    return node, proxy, public


async def _dial(port: int) -> Recorder:
    """Connect to the proxy from the other node's address."""
    client = Recorder()
    await connectProtocol(TCP4ClientEndpoint(reactor, NODE, port, bindAddress=(OTHER, 0)), client)
    assert client.transport is not None
    return client


@pytest_twisted.ensureDeferred
async def test_a_cut_link_holds_every_byte_until_it_heals() -> None:
    node, proxy, port = await _echo_node_behind_proxy()
    client = await _dial(port)
    assert client.transport is not None
    try:
        client.transport.write(b"early ")  # before the proxy is connected on
        await _until(client, b"early ")
        proxy.cut({(OTHER, NODE), (NODE, OTHER)})
        client.transport.write(b"held")
        await _pause(0.3)
        assert client.received == b"early "
        proxy.cut(set())
        await _until(client, b"early held")
        proxy.cut({("127.0.1.3", NODE)})  # another link: ours flows
        client.transport.write(b"!")
        await _until(client, b"early held!")
    finally:
        client.transport.loseConnection()
        proxy.close()
        await node.stopListening()


@pytest_twisted.ensureDeferred
async def test_a_connection_across_a_cut_is_held_and_flows_after_healing() -> None:
    node, proxy, port = await _echo_node_behind_proxy()
    proxy.cut({(OTHER, NODE), (NODE, OTHER)})
    client = await _dial(port)
    assert client.transport is not None
    try:
        client.transport.write(b"hello")
        await _pause(0.3)
        assert client.received == b""
        proxy.cut(set())
        await _until(client, b"hello")
        lost: Deferred[None] = Deferred()
        client.connectionLost = lambda reason: lost.callback(None)  # type: ignore[method-assign]
        proxy.close()  # closing the proxy closes its links
        await lost
    finally:
        client.transport.loseConnection()
        await node.stopListening()
