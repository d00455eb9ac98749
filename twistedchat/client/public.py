"""Find nodes without the cluster secret: ask any node's IRC port (the public directory).

The Twisted edge of :mod:`twistedchat.discovery.public` for clients: :func:`ask` opens a
connection to one node's IRC port (TLS checked against ``tls_trust`` when given, as
:class:`~twistedchat.client.api.ChatClient` does), sends ``NODES``, reads the answer
with :class:`~twistedchat.discovery.public.AnswerReader` under a deadline and a size
bound, and closes. :func:`public_locator` is a ``ChatClient`` locator built on it and on
the pure :class:`~twistedchat.client.known_nodes.KnownNodes`: a gateway given one node's
address learns the others, connects where the leader assigns, and fails over to them.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence

from twisted.internet.defer import Deferred
from twisted.internet.endpoints import TCP4ClientEndpoint, wrapClientTLS
from twisted.internet.error import TimeoutError as ConnectTimeout
from twisted.internet.interfaces import IDelayedCall, IReactorTime, IStreamClientEndpoint
from twisted.internet.protocol import Factory, Protocol
from twisted.internet.ssl import Certificate, optionsForClientTLS
from twisted.logger import Logger
from twisted.python.failure import Failure

from twistedchat.client.api import Locator
from twistedchat.client.known_nodes import KnownNodes, first_usable
from twistedchat.discovery.public import (
    MAX_ANSWER_BYTES,
    Answer,
    AnswerReader,
    Refused,
    query_line,
)
from twistedchat.wire.framing import FrameTooLong, LineFramer
from twistedchat.wire.grammar import ParseError, parse_line, serialize

log = Logger()

#: Seconds one question may take, connection and TLS handshake included.
ASK_TIMEOUT = 2.0
#: Nodes one search asks at most before it gives up (and the client retries later).
MAX_ASKS = 6
#: Longest answer line read (a node's lines are short; this is far more than enough).
MAX_LINE = 1024
LOG_EVERY = 60.0


class NoNodeAnswered(ConnectionError):
    """No node told us where to go, and no seed is left to try."""


class _Asker(Protocol):
    """One question: send the query, feed the reader, fire ``done`` once."""

    def __init__(self, nonce: str, excluded: frozenset[str], done: Deferred[Answer]) -> None:
        self.reader = AnswerReader(nonce)
        self.query = query_line(nonce, excluded)
        self.done = done
        self._framer = LineFramer(MAX_LINE)
        self._read = 0

    def connectionMade(self) -> None:
        self.transport.write(serialize(self.query, None))  # type: ignore[union-attr]

    def dataReceived(self, data: bytes) -> None:
        if self.done.called:
            return
        self._read += len(data)
        try:
            if self._read > MAX_ANSWER_BYTES:
                raise Refused("too-big", f"more than {MAX_ANSWER_BYTES} bytes")
            try:
                lines = self._framer.feed(data)
            except FrameTooLong:
                raise Refused("too-big", f"a line longer than {MAX_LINE} bytes") from None
            for raw in lines:
                try:
                    message = parse_line(raw)
                except ParseError:
                    raise Refused("garbage", "an unparsable line") from None
                answer = self.reader.feed(message)
                if answer is not None:
                    self._finish(answer)
                    return
        except Refused as refused:
            self._finish(Failure(refused))

    def connectionLost(self, reason: Failure | None = None) -> None:
        if not self.done.called:
            why = reason.getErrorMessage() if reason is not None else "closed"
            self.done.errback(ConnectionError(f"closed before the answer ended ({why})"))

    def _finish(self, result: Answer | Failure) -> None:
        if isinstance(result, Failure):
            self.done.errback(result)
        else:
            self.done.callback(result)
        if self.transport is not None:
            self.transport.loseConnection()


def node_endpoint(
    reactor: object, address: str, tls_trust: Certificate | None, timeout: float
) -> IStreamClientEndpoint:
    """TCP to ``host:port``, in TLS checked against ``tls_trust`` (for ``host``) if given."""
    host, _, port = address.rpartition(":")
    host = host.strip("[]")
    tcp = TCP4ClientEndpoint(reactor, host, int(port), timeout=max(1, int(timeout)))
    if tls_trust is None:
        return tcp
    return wrapClientTLS(optionsForClientTLS(host, trustRoot=tls_trust), tcp)


async def ask(
    reactor: object,
    address: str,
    *,
    tls_trust: Certificate | None = None,
    excluded: frozenset[str] = frozenset(),
    timeout: float = ASK_TIMEOUT,
) -> Answer:
    """Ask the node at ``address`` for the directory; raises :class:`Refused`,
    ``ConnectionError`` or a TLS error, and Twisted's ``TimeoutError`` after ``timeout``."""
    clock: IReactorTime = reactor  # type: ignore[assignment]
    done: Deferred[Answer] = Deferred()
    asker = _Asker(secrets.token_hex(8), excluded, done)
    endpoint = node_endpoint(reactor, address, tls_trust, timeout)
    factory = Factory.forProtocol(lambda: asker)
    factory.noisy = False  # a question per failover: no "Starting factory" lines
    connecting = endpoint.connect(factory)
    connecting.addErrback(lambda failure: done.errback(failure) if not done.called else None)

    def give_up() -> None:
        if not done.called:
            done.errback(ConnectTimeout(string=f"no answer within {timeout}s"))
            if asker.transport is not None:
                asker.transport.abortConnection()  # type: ignore[attr-defined]
            else:
                connecting.cancel()

    deadline: IDelayedCall = clock.callLater(timeout, give_up)
    try:
        return await done
    finally:
        if deadline.active():
            deadline.cancel()


def public_locator(
    reactor: object,
    seeds: Sequence[str],
    tls_trust: Certificate | None = None,
    *,
    timeout: float = ASK_TIMEOUT,
) -> Locator:
    """A :class:`~twistedchat.client.api.ChatClient` locator that needs no secret: each
    call asks the leader it knows, the nodes it heard of and the seeds, in that order,
    for the directory, and returns the leader's assignment, or failing that a node with
    room. A seed that does not answer the directory (an older node) is used as is, as
    ``--join`` always did."""
    known = KnownNodes(seeds, tls=tls_trust is not None)
    clock: IReactorTime = reactor  # type: ignore[assignment]
    last_logged: dict[str, float] = {}

    def note(address: str, error: BaseException) -> None:
        known.failed(address)
        reason = error.reason if isinstance(error, Refused) else type(error).__name__
        key = f"{address} {reason}"
        if clock.seconds() - last_logged.get(key, float("-inf")) >= LOG_EVERY:
            last_logged[key] = clock.seconds()
            log.warn("public directory: no answer from {address}: {error}", address=address,
                     error=error)  # fmt: skip

    async def question(address: str, excluded: frozenset[str]) -> Answer:
        answer = await ask(reactor, address, tls_trust=tls_trust, excluded=excluded,
                           timeout=timeout)  # fmt: skip
        return known.check(address, answer)

    async def locate(excluded: frozenset[str]) -> str:
        legacy: list[str] = []  # seeds that answered with IRC instead of a directory
        last: BaseException | None = None
        # Everything excluded: ask them anyway, a node the client failed with may be back.
        candidates = known.to_ask(excluded) or known.to_ask()
        for address in candidates[:MAX_ASKS]:
            try:
                answer = await question(address, excluded)
            except Refused as refused:
                note(address, refused)
                if refused.reason == "no-directory" and address in known.seeds:
                    legacy.append(address)
                last = refused
                continue
            except Exception as error:  # unreachable, TLS refused, timed out: the next one
                note(address, error)
                last = error
                continue
            known.learn(address, answer)
            chosen = known.assigned(answer, excluded)
            leader = known.leader_to_ask(address, answer, excluded)
            if chosen is None and leader is not None:
                try:
                    from_leader = await question(leader, excluded)
                    known.learn(leader, from_leader)
                    chosen = known.assigned(from_leader, excluded)
                except Exception as error:
                    note(leader, error)
            chosen = chosen or known.fallback(address, answer, excluded)
            if chosen is not None:
                return chosen
        fallback = first_usable(legacy, excluded)
        if fallback is not None:
            return fallback
        raise NoNodeAnswered(f"no node told us where to go (last: {last})")

    return locate
