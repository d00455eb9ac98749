"""Partitions without root: every peer link goes through a proxy the run controls.

Outside a network namespace of its own, a run may not set ``tc`` filters. Each node then
listens for peers on a private port and is known to the cluster (``--node-id``) by a port
of this proxy on the node's own loopback address (any 127.0.0.0/8 address needs no root);
nodes dial each other from their own address, so the proxy knows which link a connection
belongs to, and dials on from that same address.

Cutting a link stops forwarding on its connections, both ways: nothing is read, so the
bytes wait in the kernel's buffers as the packets of a dropped-packet partition would
wait for TCP to retransmit them. A new connection across a cut is accepted and held the
same way. To the nodes it looks like a network that drops everything between them: heart
beats stop, links time out and are dialled again, into the same silence, until the
partition heals and every held connection flows again.
"""

from __future__ import annotations

from typing import Any

from twisted.internet.endpoints import TCP4ClientEndpoint, TCP4ServerEndpoint
from twisted.internet.interfaces import IListeningPort
from twisted.internet.protocol import Factory, Protocol
from twisted.python.failure import Failure


class _End(Protocol):
    """One end of a proxied connection: what it reads goes out of the other end."""

    def __init__(self, link: _Link) -> None:
        self.link = link

    def connectionMade(self) -> None:
        self.link.flow()  # the dialler waits until we are connected on

    def dataReceived(self, data: bytes) -> None:
        self.link.forward(self, data)

    def connectionLost(self, reason: Failure | None = None) -> None:
        self.link.close()


class _Link:
    """One connection from the node at ``source`` to the node at ``destination``."""

    def __init__(self, proxy: PeerProxy, source: str, destination: str) -> None:
        self.proxy, self.source, self.destination = proxy, source, destination
        self.dialler = _End(self)  # the connection the source node made to us
        self.listener: _End | None = None  # ours to the destination node
        self.early: list[bytes] = []  # read before we were connected on (then we pause)
        self.closed = False

    def forward(self, end: _End, data: bytes) -> None:
        other = self.listener if end is self.dialler else self.dialler
        if other is None:
            self.early.append(data)
        elif other.transport is not None:
            other.transport.write(data)

    def flow(self) -> None:
        """Read both ends, unless the link is cut (or the other end is not there yet)."""
        held = self.listener is None or self.proxy.is_cut(self.source, self.destination)
        for end in (self.dialler, self.listener):
            if end is not None and end.transport is not None:
                if held:
                    end.transport.pauseProducing()
                else:
                    end.transport.resumeProducing()

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self.proxy.links.discard(self)
        for end in (self.dialler, self.listener):
            if end is not None and end.transport is not None:
                end.transport.loseConnection()


class _Entrance(Factory):
    """The proxy's port for one node: a connection here is a link to that node."""

    def __init__(self, proxy: PeerProxy, host: str, private_port: int) -> None:
        self.proxy, self.host, self.private_port = proxy, host, private_port

    def buildProtocol(self, addr: Any) -> _End:
        link = _Link(self.proxy, addr.host, self.host)
        self.proxy.links.add(link)
        self.proxy.reactor.callLater(0, self._dial, link)  # once it has its transport
        return link.dialler

    def _dial(self, link: _Link) -> None:
        endpoint = TCP4ClientEndpoint(self.proxy.reactor, self.host, self.private_port,
                                      timeout=5, bindAddress=(link.source, 0))  # fmt: skip
        connecting = endpoint.connect(_Exit(link))
        connecting.addCallbacks(lambda end: self._connected(link, end), lambda _: link.close())

    @staticmethod
    def _connected(link: _Link, end: _End) -> None:
        if link.closed:
            if end.transport is not None:
                end.transport.loseConnection()
            return
        link.listener = end
        if end.transport is not None:
            end.transport.write(b"".join(link.early))
        link.early = []
        link.flow()


class _Exit(Factory):
    def __init__(self, link: _Link) -> None:
        self.link = link

    def buildProtocol(self, addr: Any) -> _End:
        return _End(self.link)


class PeerProxy:
    """Forwards peer links between nodes, and cuts the ones a partition names."""

    def __init__(self, reactor: Any) -> None:
        self.reactor = reactor
        self.links: set[_Link] = set()
        self._cut: set[tuple[str, str]] = set()
        self._ports: list[IListeningPort] = []

    async def listen(self, host: str, public_port: int, private_port: int) -> None:
        """Take links to the node listening on ``host:private_port`` at ``public_port``."""
        endpoint = TCP4ServerEndpoint(self.reactor, public_port, interface=host)
        self._ports.append(await endpoint.listen(_Entrance(self, host, private_port)))

    def is_cut(self, source: str, destination: str) -> bool:
        return (source, destination) in self._cut

    def cut(self, pairs: set[tuple[str, str]]) -> None:
        """Cut exactly these directed links (and heal every other)."""
        self._cut = set(pairs)
        for link in list(self.links):
            link.flow()

    def close(self) -> None:
        self.cut(set())
        for link in list(self.links):
            link.close()
        for port in self._ports:
            port.stopListening()
        self._ports = []
