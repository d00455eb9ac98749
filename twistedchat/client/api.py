"""A Twisted client for twistedchat clusters, for bots, scripts and the gateway.

:class:`ChatClient` keeps one chat session alive across node failures: it finds a node
(by discovery or from a list), registers, and when the node dies or stops answering it
connects to another one and resumes, using the pure :class:`ResumableSession` for
everything the IRC conversation decides. Commands return Deferreds that fire with their
replies once the cluster has committed them, so ``await client.say("#chan", "hi")`` is
an acknowledged send. An :class:`Identity` with SASL credentials logs in to its account
at every registration. See ``docs/client.md`` for an example.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from twisted.internet.defer import Deferred, ensureDeferred
from twisted.internet.endpoints import TCP4ClientEndpoint, wrapClientTLS
from twisted.internet.interfaces import IDelayedCall, IReactorTime, IStreamClientEndpoint
from twisted.internet.protocol import Factory, Protocol
from twisted.internet.ssl import Certificate, optionsForClientTLS
from twisted.logger import Logger
from twisted.python.failure import Failure

from twistedchat.client.session import (
    Event,
    Identity,
    LoginFailed,
    Phase,
    Registered,
    Reply,
    ResumableSession,
    Resumed,
    SessionLost,
)
from twistedchat.irc.sasl import Credentials
from twistedchat.wire.framing import FrameTooLong, LineFramer
from twistedchat.wire.grammar import ParseError, parse_line, serialize
from twistedchat.wire.message import Message

log = Logger()

#: Servers may send up to 8191 bytes of tags before a 512-byte body.
SERVER_LINE_MAX = 8191 + 512
#: Rounds of refused writes (a second apart) before a node is given up as cut off.
REFUSAL_ROUNDS = 3
#: ``locate(excluded)`` returns the ``host:port`` of a node to use, avoiding ``excluded``.
Locator = Callable[[frozenset[str]], Awaitable[str]]


def fixed_nodes(addresses: list[str]) -> Locator:
    """A locator that walks a fixed list of ``host:port`` addresses (no discovery)."""

    async def locate(excluded: frozenset[str]) -> str:
        usable = [a for a in addresses if a not in excluded]
        if not usable:
            raise ConnectionError("every configured node failed recently")
        return usable[0]

    return locate


class NodeLink(Protocol):
    """One connection to a node: lines in and out, and a keepalive that notices a hang."""

    def __init__(self, client: ChatClient) -> None:
        self.client = client
        self._framer = LineFramer(SERVER_LINE_MAX)
        self._last_heard = 0.0
        self._keepalive: IDelayedCall | None = None

    def connectionMade(self) -> None:
        self._last_heard = self.client.clock.seconds()
        self._schedule_keepalive()
        self.client.link_made(self)

    def dataReceived(self, data: bytes) -> None:
        self._last_heard = self.client.clock.seconds()
        try:
            lines = self._framer.feed(data)
        except FrameTooLong:
            lines = self._framer.feed(b"")
        for raw in lines:
            try:
                message = parse_line(raw)
            except ParseError:
                log.warn("unparsable line from node: {raw!r}", raw=raw[:200])
                continue
            self.client.line_received(self, message)

    def connectionLost(self, reason: Failure | None = None) -> None:
        if self._keepalive is not None and self._keepalive.active():
            self._keepalive.cancel()
        self.client.link_lost(self, reason)

    def send(self, message: Message) -> None:
        if self.transport is not None:
            self.transport.write(serialize(message, None))

    def _schedule_keepalive(self) -> None:
        self._keepalive = self.client.clock.callLater(self.client.keepalive, self._check)

    def _check(self) -> None:
        """Ping when quiet; give up on a node silent for three intervals (SIGSTOP, cut)."""
        silent = self.client.clock.seconds() - self._last_heard
        if silent >= 3 * self.client.keepalive:
            log.info("node silent for {s:.1f}s, leaving it", s=silent)
            self.transport.abortConnection()  # type: ignore[union-attr]
            return
        if silent >= self.client.keepalive:
            self.send(Message("PING", ("keepalive",)))
        self._schedule_keepalive()


class ChatClient:
    """A failover-proof chat session; see the module docstring.

    ``on_event`` receives every :mod:`~twistedchat.client.session` event (incoming
    messages, replies, resumes). Replies also fire the Deferred of the command.
    ``identity`` may be just the SASL credentials, with the rest given by
    :meth:`introduce` once known (the gateway verifies a login before its IRC client says
    who it is).
    """

    def __init__(
        self,
        reactor: Any,
        locate: Locator,
        identity: Identity | Credentials,
        on_event: Callable[[Event], None] = lambda event: None,
        *,
        keepalive: float = 5.0,
        retry_delay: float = 0.2,
        refusal_retry: float = 1.0,
        tls_trust: Certificate | None = None,
        server_password: str | None = None,
    ) -> None:
        self.reactor = reactor
        self.clock: IReactorTime = reactor
        self.locate = locate
        self.session = ResumableSession(identity, server_password)
        self.on_event = on_event
        self.keepalive = keepalive
        self.retry_delay = retry_delay
        self.refusal_retry = refusal_retry
        self.tls_trust = tls_trust  # CA of the nodes' IRC certificates: connect over TLS
        self._retry_call: IDelayedCall | None = None
        self._refusal_rounds = 0
        self.node: str | None = None
        self.registered: Deferred[str] = Deferred()
        self._link: NodeLink | None = None
        self._waiting: dict[str, Deferred[tuple[Message, ...]]] = {}
        self._failed: dict[str, float] = {}  # node -> when we last lost it
        self._closing = False
        self._connecting = False

    # -- the public surface ------------------------------------------------------------

    def start(self) -> Deferred[str]:
        """Connect; the Deferred fires with the nick once registered."""
        self._connect_soon(0)
        return self.registered

    def introduce(self, identity: Identity) -> None:
        """Say who the user is, for a client created from credentials alone; the
        registration waiting for it goes on."""
        self.session.introduce(identity)
        self._flush()

    def submit(self, message: Message) -> str:
        """Send any IRC command; its :class:`Reply` event will carry the returned label."""
        label = self.session.submit(message)
        self._flush()
        return label

    def command(self, message: Message) -> Deferred[tuple[Message, ...]]:
        """Send any IRC command; fires with its replies once the cluster answered it."""
        label = self.session.submit(message)
        done: Deferred[tuple[Message, ...]] = Deferred()
        if label in self.session.pending:
            self._waiting[label] = done
        else:
            done.callback(())
        self._flush()
        return done

    def join(self, channel: str) -> Deferred[tuple[Message, ...]]:
        return self.command(Message("JOIN", (channel,)))

    def say(self, target: str, text: str) -> Deferred[tuple[Message, ...]]:
        return self.command(Message("PRIVMSG", (target, text)))

    def close(self, reason: str = "Bye") -> None:
        """End the session for good (QUIT) and stop reconnecting."""
        self._closing = True
        if self._link is not None:
            self._link.send(Message("QUIT", (reason,)))
            self._link.transport.loseConnection()  # type: ignore[union-attr]

    @property
    def ready(self) -> bool:
        return self.session.phase is Phase.READY

    # -- connections -------------------------------------------------------------------

    def _connect_soon(self, delay: float) -> None:
        if not self._closing and not self._connecting:
            self._connecting = True
            self.clock.callLater(delay, lambda: ensureDeferred(self._connect()))

    async def _connect(self) -> None:
        try:
            now = self.clock.seconds()
            recent = frozenset(n for n, t in self._failed.items() if now - t < 10 * self.keepalive)
            address = await self.locate(recent)
            self.node = address
            endpoint = self._endpoint(address)
            await endpoint.connect(Factory.forProtocol(lambda: NodeLink(self)))
        except Exception as error:  # any failure means: try another node
            log.info("cannot reach a node ({error}); retrying", error=error)
            if self.node is not None:
                self._failed[self.node] = self.clock.seconds()
            self._connecting = False
            self._connect_soon(max(self.retry_delay, 0.5))
            return
        self._connecting = False

    def _endpoint(self, address: str) -> IStreamClientEndpoint:
        """TCP to ``host:port``; with a trust root, TLS whose certificate must be for that
        host (checked by service-identity, via Twisted's ``optionsForClientTLS``)."""
        host, _, port = address.rpartition(":")
        tcp = TCP4ClientEndpoint(self.reactor, host, int(port), timeout=5)
        if self.tls_trust is None:
            return tcp
        return wrapClientTLS(optionsForClientTLS(host, trustRoot=self.tls_trust), tcp)

    def link_made(self, link: NodeLink) -> None:
        log.info("connected to node {node}", node=self.node)
        self._link = link
        self.session.connected()
        self._flush()

    def link_lost(self, link: NodeLink, reason: Failure | None = None) -> None:
        if link is not self._link:
            return
        self._link = None
        self.session.disconnected()
        if self._closing:
            return
        why = reason.getErrorMessage() if reason is not None else "closed"
        log.info("lost node {node} ({why}); failing over", node=self.node, why=why)
        if self.node is not None:
            self._failed[self.node] = self.clock.seconds()
        self._connect_soon(self.retry_delay)

    def line_received(self, link: NodeLink, message: Message) -> None:
        if link is self._link:
            self.session.received(message)
            self._flush()

    def _flush(self) -> None:
        outgoing, events = self.session.take()
        if self._link is not None:
            for message in outgoing:
                self._link.send(message)
        for event in events:
            self._dispatch(event)
            if isinstance(event, Reply):
                self._refusal_rounds = 0  # the node answers writes again
        if self.session.asked_to_move and self._link is not None:
            log.info("node {node} asked us to move", node=self.node)
            self._link.transport.abortConnection()  # type: ignore[union-attr]
            return
        if self.session.refused and (self._retry_call is None or not self._retry_call.active()):
            self._retry_call = self.clock.callLater(self.refusal_retry, self._retry_refused)

    def _retry_refused(self) -> None:
        """A node without quorum refused some writes: try them again, or leave the node.

        After :data:`REFUSAL_ROUNDS` rounds the node is taken to be cut off from the
        majority, and the session moves to another node, where the writes go out again.
        """
        self._refusal_rounds += 1
        if self._refusal_rounds >= REFUSAL_ROUNDS and self._link is not None:
            log.info("node {node} keeps refusing writes; leaving it", node=self.node)
            self._refusal_rounds = 0
            self._link.transport.abortConnection()  # type: ignore[union-attr]
            return
        self.session.retry_refused()
        self._flush()

    def _dispatch(self, event: Event) -> None:
        if isinstance(event, Registered) and not self.registered.called:
            self.registered.callback(event.nick)
        elif isinstance(event, Resumed):
            log.info("resumed as {nick} on {node}, {n} missed", nick=event.nick,
                     node=self.node, n=event.missed)  # fmt: skip
        elif isinstance(event, SessionLost):
            log.warn("session lost ({reason}); registered again", reason=event.reason)
        elif isinstance(event, LoginFailed):
            code = event.message.command
            log.warn("SASL login refused ({code}); registering without an account", code=code)
        elif isinstance(event, Reply):
            waiting = self._waiting.pop(event.label, None)
            if waiting is not None:
                waiting.callback(event.messages)
        self.on_event(event)
