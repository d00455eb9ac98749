"""The sending half of the peer transport: one outbound connection per peer, kept alive.

Each :class:`OutboundPeer` owns a bounded queue of encoded frames, at most one TCP
connection (used only to send), and the reconnect timer. Messages are written straight to
the connection while it takes them (Twisted coalesces the writes of one reactor turn into
one ``send``); they queue while we are disconnected or while TCP has paused us, and are
dropped, and counted, once the queue is full: Raft retransmits whatever matters, so
unbounded buffering would only turn a slow peer into an out-of-memory node.

With peer TLS (``LinkContext.tls``) the connection is wrapped in mutual TLS that checks
the cluster CA and the node id we dial; it counts as up, and gets our Hello and the queued
frames, only once the handshake has succeeded.

A peer writes on a connection we opened only to refuse it: it answers our Hello with its
own when their ``app`` strings differ, then closes. We log why, so both ends of a refused
link say so; once per peer and :data:`REFUSAL_LOG_EVERY` for both directions together
(when it dials us too, our refusal of its link says the same). We keep retrying: the
operator may restart the peer with matching settings.
"""

from __future__ import annotations

import random
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from twisted.internet import endpoints
from twisted.internet.defer import Deferred, succeed
from twisted.internet.interfaces import (
    IConsumer,
    IDelayedCall,
    IHandshakeListener,
    IPushProducer,
    ITCPTransport,
)
from twisted.internet.protocol import Factory, Protocol, connectionDone
from twisted.logger import Logger
from twisted.python.failure import Failure
from zope.interface import implementer

from twistedchat.raft.codec import MAX_HELLO_FRAME, FrameDecoder, FrameError, Hello
from twistedchat.ratelimit import KeyedBuckets
from twistedchat.security.peertls import error_text

if TYPE_CHECKING:
    from twistedchat.security.peertls import PeerTLS

log = Logger()

#: Frames handed to TCP per write when draining a queue, so a pause can stop the drain.
DRAIN_BATCH_BYTES = 256 * 1024
#: A refused link (or failed TLS handshake) is logged at most this often per peer or host:
#: the refused side retries forever, and every attempt is refused again.
REFUSAL_LOG_EVERY = 60.0


def refusal_key(node_id: str) -> str:
    """One key for both directions of a refused link: one log line says it all."""
    return f"app {node_id}"


def differing_app(app: str) -> str:
    """Why a peer whose Hello carries ``app`` cannot link with us, when the application
    gave no better words for it."""
    return f"its application settings differ from ours ({app!r})"


@dataclass(frozen=True)
class PeerSettings:
    """Timing and memory limits of the transport (tests shrink them)."""

    backoff_initial: float = 0.05
    backoff_max: float = 2.0
    #: A connection that stayed up this long was healthy: the next loss retries quickly.
    stable_after: float = 2.0
    connect_timeout: float = 5.0
    #: An inbound connection must introduce itself within this time.
    hello_timeout: float = 10.0
    queue_limit_bytes: int = 8 * 1024 * 1024
    #: How long :meth:`PeerTransport.stop` lets connections flush before aborting them.
    close_grace: float = 1.0


@dataclass
class LinkContext:
    """What the transport shares with its peers and connections."""

    reactor: Any  # IReactorTime and the reactor interfaces its endpoints need
    settings: PeerSettings
    rng: random.Random
    hello: bytes  # our encoded Hello frame, the first thing on every outbound connection
    stats: Counter[str] = field(default_factory=Counter)
    #: Every open connection, both directions, so stop() can close and await them all.
    connections: set[TrackedProtocol] = field(default_factory=set)
    #: Mutual TLS on every link, or None for plain TCP (``--insecure-peers``).
    tls: PeerTLS | None = None
    #: The ``app`` of our Hello; a peer's must be equal (see :class:`~.codec.Hello`).
    app: str = ""
    #: Why a peer with another ``app`` is refused, for the log line that says so.
    explain_app: Callable[[str], str] = differing_app
    _log_limit: KeyedBuckets = field(
        default_factory=lambda: KeyedBuckets(1, 1 / REFUSAL_LOG_EVERY, keys=1024),
        init=False,
        repr=False,
    )

    def should_log(self, key: str) -> bool:
        """Whether a refusal about ``key`` (a peer, a host) may be logged now."""
        return self._log_limit.allow(key, self.reactor.seconds())


class Backoff:
    """Exponential reconnect delays with jitter, so restarted peers are not hit in lockstep."""

    def __init__(self, initial: float, maximum: float, rng: random.Random):
        self.initial = initial
        self.maximum = maximum
        self.rng = rng
        self._next = initial

    def reset(self) -> None:
        self._next = self.initial

    def next_delay(self) -> float:
        """A delay between half and all of the current step; the step doubles up to max."""
        step = self._next
        self._next = min(step * 2, self.maximum)
        return step * (0.5 + self.rng.random() / 2)


class TrackedProtocol(Protocol):
    """A connection registered in the context while open, whose closing can be awaited."""

    def __init__(self, context: LinkContext):
        self.context = context
        self._lost = False
        self._lost_waiters: list[Deferred[None]] = []

    def connectionMade(self) -> None:
        self.context.connections.add(self)
        if ITCPTransport.providedBy(self.transport):
            self.transport.setTcpNoDelay(True)  # Raft messages are latency-bound
            self.transport.setTcpKeepAlive(True)  # notice peers that vanished without a FIN

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        self._lost = True
        self.context.connections.discard(self)
        waiters, self._lost_waiters = self._lost_waiters, []
        for waiter in waiters:
            waiter.callback(None)

    def when_lost(self) -> Deferred[None]:
        """Fires once the connection is closed (at once if it already is)."""
        if self._lost:
            return succeed(None)
        waiter: Deferred[None] = Deferred()
        self._lost_waiters.append(waiter)
        return waiter

    def close(self) -> None:
        if self.transport is not None and not self._lost:
            self.transport.loseConnection()

    def abort(self) -> None:
        """Close without flushing: for peers we refuse, or that may have stopped reading."""
        if self.transport is not None and not self._lost:
            getattr(self.transport, "abortConnection", self.transport.loseConnection)()


@implementer(IPushProducer, IHandshakeListener)
class OutboundProtocol(TrackedProtocol):
    """Our sending connection to one peer; TCP pauses it when the peer reads too slowly."""

    def __init__(self, context: LinkContext, peer: OutboundPeer):
        super().__init__(context)
        self.peer = peer
        self.paused = False
        self.up = False  # plain TCP: once connected; TLS: once the handshake succeeded
        self.refused = False  # the peer answered our Hello with its own: it refuses us
        self._handshake_timer: IDelayedCall | None = None
        self._decoder: FrameDecoder | None = None

    def connectionMade(self) -> None:
        super().connectionMade()
        if self.context.tls is None:
            self._link_up()
            return
        self.peer.handshake_started(self)
        timeout = self.context.settings.connect_timeout
        self._handshake_timer = self.context.reactor.callLater(timeout, self.abort)

    def handshakeCompleted(self) -> None:
        """TLS is up and the peer is the node we dialled (checked during the handshake)."""
        self._cancel_handshake_timer()
        if not self.up and not self._lost:
            self._link_up()

    def _link_up(self) -> None:
        assert self.transport is not None
        self.up = True
        IConsumer(self.transport).registerProducer(self, True)
        self.write([self.context.hello])
        self.peer.connection_made(self)

    def _cancel_handshake_timer(self) -> None:
        if self._handshake_timer is not None and self._handshake_timer.active():
            self._handshake_timer.cancel()
        self._handshake_timer = None

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        self._cancel_handshake_timer()
        super().connectionLost(reason)
        if self.up:
            self.peer.connection_lost(self, reason)
        else:
            self.peer.handshake_failed(self, reason)

    def dataReceived(self, data: bytes) -> None:
        """A peer writes on the connection we opened only to refuse it, with its Hello."""
        if self._decoder is None:
            self._decoder = FrameDecoder(max_frame=MAX_HELLO_FRAME)  # only its Hello comes
        try:
            frames = self._decoder.feed(data)
        except FrameError:
            self.abort()
            return
        for frame in frames:
            if isinstance(frame, Hello) and frame.app != self.context.app and not self.refused:
                self.refused = True
                self.peer.refused_by(frame)

    def write(self, frames: list[bytes]) -> None:
        assert self.transport is not None
        self.transport.writeSequence(frames)
        stats = self.context.stats
        stats["frames_sent"] += len(frames)
        stats["bytes_sent"] += sum(map(len, frames))

    # IPushProducer: TCP's write buffer went above / back below its high-water mark.

    def pauseProducing(self) -> None:
        self.paused = True

    def resumeProducing(self) -> None:
        self.paused = False
        self.peer.flush()

    def stopProducing(self) -> None:
        self.paused = True


class _OutboundFactory(Factory):
    def __init__(self, context: LinkContext, peer: OutboundPeer):
        self.context = context
        self.peer = peer

    def buildProtocol(self, addr: Any) -> OutboundProtocol:
        return OutboundProtocol(self.context, self.peer)


class OutboundPeer:
    """One peer's endpoint, queue, connection and reconnect schedule."""

    def __init__(self, node_id: str, endpoint: str, context: LinkContext):
        self.node_id = node_id
        self.endpoint = endpoint
        self.context = context
        self._queue: deque[bytes] = deque()
        self.queued_bytes = 0
        self._connection: OutboundProtocol | None = None
        self._handshaking: OutboundProtocol | None = None  # TLS: connected, not yet up
        self._connected_at = 0.0
        self._connecting: Deferred[Any] | None = None
        self._retry: IDelayedCall | None = None
        self._closed = False
        self._reported_down = False
        self._refused = False  # the last connection was refused (see refused_by)
        settings = context.settings
        self._backoff = Backoff(settings.backoff_initial, settings.backoff_max, context.rng)

    def __repr__(self) -> str:
        state = "connected" if self.connected else "disconnected"
        return f"<OutboundPeer {self.node_id} {self.endpoint} {state}>"

    @property
    def connected(self) -> bool:
        return self._connection is not None

    # -- sending -----------------------------------------------------------------------

    def send(self, frame: bytes) -> None:
        """Write now if the connection takes it; else queue it, or drop it if full."""
        connection = self._connection
        if connection is not None and not connection.paused and not self._queue:
            connection.write([frame])
            return
        if self.queued_bytes + len(frame) > self.context.settings.queue_limit_bytes:
            self.context.stats["dropped"] += 1
            return
        self._queue.append(frame)
        self.queued_bytes += len(frame)
        if connection is not None and not connection.paused:
            self.flush()  # keep order: what is queued goes first

    def flush(self) -> None:
        """Hand queued frames to TCP in batches until the queue is empty or TCP pauses us."""
        queue = self._queue
        while queue and self._connection is not None and not self._connection.paused:
            batch: list[bytes] = []
            size = 0
            while queue and size < DRAIN_BATCH_BYTES:
                frame = queue.popleft()
                batch.append(frame)
                size += len(frame)
            self.queued_bytes -= size
            self._connection.write(batch)

    # -- connection lifecycle ----------------------------------------------------------

    def start(self) -> None:
        self._connect()

    def _connect(self) -> None:
        self._retry = None
        if self._closed:
            return
        reactor = self.context.reactor
        try:
            endpoint = endpoints.clientFromString(reactor, self.endpoint)
        except Exception as exc:  # a bad description will not heal: say so once, stay idle
            log.error("peer {peer}: bad endpoint {endpoint!r}: {error}",
                      peer=self.node_id, endpoint=self.endpoint, error=exc)  # fmt: skip
            return
        if self.context.tls is not None:
            endpoint = endpoints.wrapClientTLS(self.context.tls.client_creator(self.node_id),
                                               endpoint)  # fmt: skip
        attempt: Deferred[Any] = endpoint.connect(_OutboundFactory(self.context, self))
        self._connecting = attempt
        attempt.addTimeout(self.context.settings.connect_timeout, reactor)
        attempt.addCallbacks(self._connect_done, self._connect_failed,
                             callbackArgs=(attempt,), errbackArgs=(attempt,))  # fmt: skip

    def _connect_done(self, protocol: OutboundProtocol, attempt: Deferred[Any]) -> None:
        if attempt is self._connecting:
            self._connecting = None

    def _connect_failed(self, failure: Failure, attempt: Deferred[Any]) -> None:
        if attempt is not self._connecting:
            return None  # cancelled on purpose (endpoint change or close)
        self._connecting = None
        if not self._reported_down:
            self._reported_down = True
            log.info("peer {peer} at {endpoint} unreachable ({error}); retrying",
                     peer=self.node_id, endpoint=self.endpoint,
                     error=failure.getErrorMessage())  # fmt: skip
        self._schedule_retry()
        return None

    def handshake_started(self, connection: OutboundProtocol) -> None:
        if self._closed:
            connection.abort()
            return
        self._handshaking = connection

    def handshake_failed(self, connection: OutboundProtocol, reason: Failure) -> None:
        """The TLS handshake failed (another CA, another node id, a timeout): retry later."""
        if connection is not self._handshaking:
            return  # one we abandoned ourselves
        self._handshaking = None
        if self._closed:
            return
        if not self._reported_down:
            self._reported_down = True
            log.warn("peer {peer} at {endpoint}: TLS link failed ({error}); retrying",
                     peer=self.node_id, endpoint=self.endpoint,
                     error=error_text(reason))  # fmt: skip
        self._schedule_retry()

    def connection_made(self, connection: OutboundProtocol) -> None:
        if self.context.tls is not None:
            if connection is not self._handshaking:  # superseded while it shook hands
                connection.abort()
                return
            self._handshaking = None
        if self._closed:  # connected just as we were removed
            connection.close()
            return
        self._connection = connection
        self._connected_at = self.context.reactor.seconds()
        self._reported_down = False
        self.context.stats["connects"] += 1
        if not self._refused:  # after a refusal, the refusal line speaks for every retry
            log.info("connected to peer {peer} at {endpoint}", peer=self.node_id,
                     endpoint=self.endpoint)  # fmt: skip
        self.flush()

    def refused_by(self, hello: Hello) -> None:
        """The peer answered our Hello with its own: it will not take our messages."""
        if self.context.should_log(refusal_key(self.node_id)):
            log.warn("peer {peer} refuses our link: {why}", peer=self.node_id,
                     why=self.context.explain_app(hello.app))  # fmt: skip

    def connection_lost(self, connection: OutboundProtocol, reason: Failure) -> None:
        if connection is not self._connection:
            return  # an old connection we replaced or closed ourselves
        self._connection = None
        if self._closed:
            return
        up_for = self.context.reactor.seconds() - self._connected_at
        if up_for >= self.context.settings.stable_after:
            self._backoff.reset()  # a quick loss again (a rejected hello) keeps backing off
        self._refused = connection.refused
        if not connection.refused:
            log.info("lost connection to peer {peer}: {reason}", peer=self.node_id,
                     reason=reason.getErrorMessage())  # fmt: skip
        self._reported_down = True
        self._schedule_retry()

    def _schedule_retry(self) -> None:
        if not self._closed and self._retry is None:
            delay = self._backoff.next_delay()
            self._retry = self.context.reactor.callLater(delay, self._connect)

    def set_endpoint(self, endpoint: str) -> None:
        """Dial the new address at once; frames still queued go there."""
        if endpoint == self.endpoint:
            return
        log.info("peer {peer} moved from {old} to {new}", peer=self.node_id,
                 old=self.endpoint, new=endpoint)  # fmt: skip
        self.endpoint = endpoint
        self._disconnect(graceful=False)
        self._backoff.reset()
        self._reported_down = False
        self._connect()

    def close(self, *, graceful: bool) -> None:
        """Stop for good: no more connections or retries; queued frames count as dropped.

        ``graceful`` lets TCP flush what it holds (on shutdown, with a deadline enforced by
        the transport); a removed peer's connection is aborted, as it may not read anymore.
        """
        self._closed = True
        self._disconnect(graceful=graceful)
        self.context.stats["dropped"] += len(self._queue)
        self._queue.clear()
        self.queued_bytes = 0

    def _disconnect(self, *, graceful: bool) -> None:
        if self._retry is not None:
            if self._retry.active():
                self._retry.cancel()
            self._retry = None
        attempt, self._connecting = self._connecting, None
        if attempt is not None:
            attempt.cancel()
        handshaking, self._handshaking = self._handshaking, None
        if handshaking is not None:
            handshaking.abort()
        connection, self._connection = self._connection, None
        if connection is None:
            return
        if graceful:  # either way it stays in context.connections until it is really gone
            connection.close()
        else:
            connection.abort()
