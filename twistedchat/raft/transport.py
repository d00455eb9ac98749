"""Raft peer messages over TCP: a listening port for inbound links, one outbound link per peer.

Connections are one-way. We send only on the connection we opened to a peer
(:mod:`twistedchat.raft.peer`) and only receive on the connections peers opened to us, so
neither side ever has to decide which of two simultaneous dials wins, and a slow reader
cannot block the other direction. Every connection starts with a :class:`~.codec.Hello`;
an inbound link from another cluster or wire version is refused with one log line. So is
one whose Hello carries another ``app`` (the application's settings, opaque here), once
per peer and :data:`~.peer.REFUSAL_LOG_EVERY` for both directions of the link; that
refusal is answered with our own Hello before we close, so the dialler can say why too.

With peer TLS (``tls=`` a :class:`~twistedchat.security.peertls.PeerTLS`) every link is
mutual TLS with the cluster CA. The dialler checks the node id it dials during the
handshake (:mod:`twistedchat.raft.peer`); the listener learns who dials from the Hello and
refuses the link, with one log line, unless the certificate is that node's. From then on
the link speaks for that node only: a message whose ``src`` names anyone else is a forgery
(a certificate proves one id, not the right to speak for the others), so it is dropped,
counted as ``spoofed_src`` and the link closed.

Failures stay local: a peer sending garbage loses that one connection, a peer that is down
costs a bounded queue and a reconnect timer, and :meth:`PeerTransport.send` never raises,
because Raft treats the network as lossy anyway and retransmits.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from OpenSSL import SSL
from twisted.internet import endpoints
from twisted.internet.address import IPv4Address, IPv6Address
from twisted.internet.defer import Deferred, DeferredList, maybeDeferred
from twisted.internet.interfaces import IDelayedCall, IListeningPort
from twisted.internet.protocol import Factory, connectionDone
from twisted.logger import Logger
from twisted.protocols.tls import TLSMemoryBIOFactory
from twisted.python.failure import Failure

from twistedchat.raft import codec
from twistedchat.raft.codec import MAX_HELLO_FRAME, WIRE_VERSION, FrameDecoder, FrameError, Hello
from twistedchat.raft.messages import RaftMessage
from twistedchat.raft.peer import (
    LinkContext,
    OutboundPeer,
    PeerSettings,
    TrackedProtocol,
    differing_app,
    refusal_key,
)
from twistedchat.security.peertls import error_text

if TYPE_CHECKING:
    from twistedchat.security.peertls import PeerTLS

log = Logger()

STAT_NAMES = ("frames_sent", "frames_received", "bytes_sent", "bytes_received", "dropped",
              "bad_frames", "connects", "rejected_hello", "spoofed_src")  # fmt: skip


def _discard(message: RaftMessage) -> None:
    """Until the replica installs its handler, messages have nowhere to go."""


class InboundProtocol(TrackedProtocol):
    """A connection a peer opened to us: a Hello, then Raft messages for us.

    Nothing goes back, except our own Hello when we refuse the peer's ``app``.
    """

    def __init__(self, owner: PeerTransport):
        super().__init__(owner.context)
        self.owner = owner
        self.decoder = FrameDecoder(max_first_frame=MAX_HELLO_FRAME)
        self.peer_id: str | None = None  # from its Hello
        self._timer: IDelayedCall | None = None  # the Hello deadline, then a refusal's
        self._refused = False  # we refused its Hello and are closing: ignore what follows

    def connectionMade(self) -> None:
        super().connectionMade()
        timeout = self.context.settings.hello_timeout
        self._timer = self.context.reactor.callLater(timeout, self._no_hello)

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        self._cancel_timer()
        if self.peer_id is None and reason.check(SSL.Error):
            self.context.stats["rejected_hello"] += 1
            if self.context.should_log(f"tls {self._peer_host()}"):
                log.warn("closing peer connection from {peer}: TLS handshake failed ({why})",
                         peer=self._peer_name(), why=error_text(reason))  # fmt: skip
        self.owner.inbound_lost(self)
        super().connectionLost(reason)

    def _cancel_timer(self) -> None:
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        self._timer = None

    def _no_hello(self) -> None:
        self._timer = None
        self._refuse("no hello", f"sent no hello within {self.context.settings.hello_timeout}s")

    def _peer_name(self) -> str:
        if self.peer_id is not None:
            return self.peer_id
        return str(self.transport.getPeer()) if self.transport is not None else "?"

    def _peer_host(self) -> str:
        peer = self.transport.getPeer() if self.transport is not None else None
        return str(getattr(peer, "host", peer))

    def _refuse(self, cause: str, why: str, counter: str = "rejected_hello") -> None:
        """Close the link; say ``why`` at most once a minute per host and ``cause`` (a
        fixed name of the kind of refusal): anyone who reaches the port could otherwise
        fill the log."""
        self.context.stats[counter] += 1
        if self.context.should_log(f"{cause} {self._peer_host()}"):
            log.warn("closing peer connection from {peer}: {why}", peer=self._peer_name(),
                     why=why)  # fmt: skip
        self.abort()  # nothing of ours to flush

    def dataReceived(self, data: bytes) -> None:
        stats = self.context.stats
        stats["bytes_received"] += len(data)
        if self._refused:
            return
        try:
            frames = self.decoder.feed(data)
        except codec.UnsupportedVersion as exc:
            self._refuse("version", str(exc),
                         "rejected_hello" if self.peer_id is None else "bad_frames")  # fmt: skip
            return
        except FrameError as exc:
            self._refuse("bad frame", f"bad frame: {exc}", "bad_frames")
            return
        for frame in frames:
            stats["frames_received"] += 1
            if self.peer_id is None:
                if not self._accept_hello(frame):
                    return
            elif isinstance(frame, RaftMessage):
                if not self._deliver(frame):
                    return
            else:
                self._refuse("unexpected", f"unexpected {type(frame).__name__} frame",
                             "bad_frames")  # fmt: skip
                return
        if frames and self.peer_id is not None:
            self.owner.on_received()

    def _accept_hello(self, frame: object) -> bool:
        if not isinstance(frame, Hello):
            self._refuse("not a hello", f"first frame is a {type(frame).__name__}, not a Hello")
            return False
        ours = self.owner.cluster
        if frame.cluster != ours:
            why = f"node {frame.node_id!r} is in cluster {frame.cluster!r}, not {ours!r}"
            self._refuse("cluster", why)
            return False
        if frame.version != WIRE_VERSION:
            self._refuse("hello version", f"node {frame.node_id!r} speaks version {frame.version}")
            return False
        tls = self.context.tls
        if tls is not None:
            mismatch = tls.inbound_mismatch(self.transport, frame.node_id)
            if mismatch is not None:
                self._refuse("identity", mismatch)
                return False
        if frame.app != self.context.app:  # checked last: only a proven node hears ours
            self._refuse_app(frame)
            return False
        self._cancel_timer()
        self.peer_id = frame.node_id
        self.owner.inbound_accepted(self)
        return True

    def _refuse_app(self, hello: Hello) -> None:
        """Answer with our Hello, so the dialler learns why, then close once it is sent
        (or abort after ``close_grace``, should TLS wait for a peer that never answers)."""
        self._cancel_timer()
        self._refused = True
        self.context.stats["rejected_hello"] += 1
        if self.context.should_log(refusal_key(hello.node_id)):
            log.warn("closing peer connection from {peer}: {why}", peer=hello.node_id,
                     why=self.context.explain_app(hello.app))  # fmt: skip
        assert self.transport is not None
        self.transport.write(self.context.hello)
        self.close()
        self._timer = self.context.reactor.callLater(self.context.settings.close_grace,
                                                     self.abort)  # fmt: skip

    def _deliver(self, message: RaftMessage) -> bool:
        """Hand ``message`` on; False if it is forged and the link is being closed."""
        if message.src != self.peer_id:
            self.context.stats["spoofed_src"] += 1
            if self.context.should_log(f"spoof {self.peer_id}"):
                log.warn("closing peer connection from {peer}: a {type} claims to come from "
                         "{src!r}", peer=self.peer_id, type=type(message).__name__,
                         src=message.src)  # fmt: skip
            self._refused = True  # the link is going; what the peer sent after is not read
            self.abort()
            return False
        if message.dst != self.owner.node_id:
            self.context.stats["dropped"] += 1  # meant for whoever had our address before
            return True
        try:
            self.owner.on_message(message)
        except Exception:  # a bug upstream must not cost the link or the rest of the batch
            log.failure("handling {type} from {peer} failed", type=type(message).__name__,
                        peer=self.peer_id)  # fmt: skip
        return True


class _InboundFactory(Factory):
    def __init__(self, owner: PeerTransport):
        self.owner = owner

    def buildProtocol(self, addr: Any) -> InboundProtocol:
        return InboundProtocol(self.owner)


class PeerTransport:
    """Sends each Raft message to ``message.dst`` and hands received ones to ``on_message``."""

    def __init__(
        self,
        node_id: str,
        cluster: str,
        endpoint: str,
        *,
        reactor: Any,
        rng: random.Random | None = None,
        settings: PeerSettings | None = None,
        tls: PeerTLS | None = None,
        app: str = "",
        explain_app: Callable[[str], str] = differing_app,
    ) -> None:
        """``app`` goes in our Hello; peers whose Hello carries another are refused, and
        ``explain_app(theirs)`` says why in the log line (see :class:`~.codec.Hello`)."""
        self.node_id = node_id
        self.cluster = cluster
        self.endpoint = endpoint
        hello = codec.encode(Hello(cluster, node_id, WIRE_VERSION, app))
        self.context = LinkContext(reactor, settings or PeerSettings(), rng or random.Random(),
                                   hello, tls=tls, app=app, explain_app=explain_app)  # fmt: skip
        self.on_message: Callable[[RaftMessage], None] = _discard
        #: Called once all messages of one received chunk went to ``on_message``, so the
        #: receiver can act on them as one batch without waiting for another reactor turn.
        self.on_received: Callable[[], None] = lambda: None
        self._peers: dict[str, OutboundPeer] = {}
        self._inbound_by_peer: dict[str, InboundProtocol] = {}
        self._port: IListeningPort | None = None
        self._stopped = False

    @property
    def peers(self) -> Mapping[str, OutboundPeer]:
        """Node id to its outbound state; read-only (use set_peer and remove_peer)."""
        return MappingProxyType(self._peers)

    # -- lifecycle ---------------------------------------------------------------------

    def start(self) -> Deferred[None]:
        """Listen for peers; fires once the port is open (fails if it cannot be)."""
        server = endpoints.serverFromString(self.context.reactor, self.endpoint)
        factory: Any = _InboundFactory(self)
        tls = self.context.tls
        if tls is not None:
            factory = TLSMemoryBIOFactory(tls.server_options, False, factory)
        listening: Deferred[IListeningPort] = server.listen(factory)

        def listening_on(port: IListeningPort) -> None:
            self._port = port
            log.info("raft peers: listening on {address} ({security})", address=port.getHost(),
                     security="mutual TLS" if tls is not None else "plain TCP")  # fmt: skip

        return listening.addCallback(listening_on)

    def listening_port(self) -> int:
        """The TCP port we listen on (useful when started on port 0)."""
        if self._port is None:
            raise RuntimeError("the transport is not listening")
        address = self._port.getHost()
        assert isinstance(address, IPv4Address | IPv6Address), address
        return address.port

    def stop(self) -> Deferred[None]:
        """Stop listening, drop every peer and close every connection.

        Fires when the port and all connections are closed. Connections get
        ``settings.close_grace`` seconds to flush what TCP holds, then are aborted.
        """
        self._stopped = True
        waits: list[Deferred[Any]] = []
        if self._port is not None:
            waits.append(maybeDeferred(self._port.stopListening))
            self._port = None
        for peer in self._peers.values():
            peer.close(graceful=True)
        self._peers.clear()
        connections = list(self.context.connections)
        for connection in connections:
            connection.close()
            waits.append(connection.when_lost())
        reactor = self.context.reactor
        deadline = reactor.callLater(self.context.settings.close_grace, self._abort_all)
        done = DeferredList(waits, consumeErrors=True)

        def finished(_: object) -> None:
            if deadline.active():
                deadline.cancel()

        return done.addCallback(finished)

    def _abort_all(self) -> None:
        for connection in list(self.context.connections):
            connection.abort()

    # -- peers -------------------------------------------------------------------------

    def set_peer(self, node_id: str, endpoint: str) -> None:
        """Dial ``node_id`` at a client endpoint description; a new endpoint redials."""
        if self._stopped:
            return
        peer = self._peers.get(node_id)
        if peer is None:
            peer = self._peers[node_id] = OutboundPeer(node_id, endpoint, self.context)
            peer.start()
        else:
            peer.set_endpoint(endpoint)

    def remove_peer(self, node_id: str) -> None:
        peer = self._peers.pop(node_id, None)
        if peer is not None:
            log.info("raft peers: removed {peer}", peer=node_id)
            peer.close(graceful=False)

    def inbound_accepted(self, connection: InboundProtocol) -> None:
        """A peer that reconnects replaces its old inbound link, which may be half-open."""
        assert connection.peer_id is not None
        old = self._inbound_by_peer.get(connection.peer_id)
        self._inbound_by_peer[connection.peer_id] = connection
        if old is not None and old is not connection:
            old.abort()

    def inbound_lost(self, connection: InboundProtocol) -> None:
        peer_id = connection.peer_id
        if peer_id is not None and self._inbound_by_peer.get(peer_id) is connection:
            del self._inbound_by_peer[peer_id]

    # -- sending -----------------------------------------------------------------------

    def send(self, message: RaftMessage) -> None:
        """Queue ``message`` for ``message.dst``; drops (and counts) what cannot go."""
        peer = self._peers.get(message.dst)
        if peer is None:
            self.context.stats["dropped"] += 1
            return
        try:
            frame = codec.encode(message)
        except (TypeError, ValueError) as exc:
            self.context.stats["dropped"] += 1
            log.error("cannot send {type} to {peer}: {error}", type=type(message).__name__,
                      peer=message.dst, error=exc)  # fmt: skip
            return
        peer.send(frame)

    def stats(self) -> dict[str, int]:
        """Counters since start: frames and bytes each way, drops, bad frames, connects."""
        counts = self.context.stats
        return {name: counts[name] for name in STAT_NAMES}
