"""The node's IRC port answers the public directory before it is an IRC connection.

Twisted edge of :mod:`twistedchat.discovery.public`. The node wraps its IRC factory in a
:class:`FrontDoorFactory`: each connection first looks at what the client sends. If the
first line is a ``NODES`` query it is answered and the connection closed, without the IRC
connection ever starting (so a full node answers too: that is when a client most needs
to hear of the others, and a query is no client). At the first byte that cannot begin a
query, or when the client stays silent for :data:`FIRST_BYTE_WAIT` seconds, the IRC
connection is started on the same transport and given what was read: for IRC clients
nothing changes but that the connection's admission checks run at their first byte.

The wrapper stays in the path (it forwards ``dataReceived`` and ``connectionLost``), so
it works under TLS as well: an ``ssl:`` endpoint wraps this factory like any other.
"""

from __future__ import annotations

from collections.abc import Callable

from twisted.internet.interfaces import IAddress, IDelayedCall, IReactorTime
from twisted.internet.protocol import Factory, Protocol
from twisted.logger import Logger
from twisted.python.failure import Failure

from twistedchat.discovery.public import (
    COMMAND,
    MAX_QUERY,
    Answer,
    Refused,
    answer_lines,
    parse_query,
)
from twistedchat.ratelimit import KeyedBuckets
from twistedchat.wire.grammar import ParseError, parse_line, serialize
from twistedchat.wire.message import Message

log = Logger()

#: Seconds a silent connection waits before it becomes an IRC connection anyway.
FIRST_BYTE_WAIT = 3.0
#: Queries one address may have answered: a burst, then this many per second. Each is a
#: TCP (or TLS) connection the client had to open, so this only stops a loop.
QUERY_BURST, QUERY_RATE = 20, 5.0
#: At most one log line per reason per this many seconds.
LOG_EVERY = 60.0
_PREFIX = (COMMAND + " ").encode()

#: ``answer(excluded)``: the node's current answer, for clients that failed those nodes.
Answerer = Callable[[frozenset[str]], Answer]


class FrontDoorFactory(Factory):
    """Wraps ``inner`` (the node's IRC factory); see the module docstring."""

    def __init__(
        self,
        inner: Factory,
        answer: Answerer,
        server_name: str,
        clock: IReactorTime,
        wait: float = FIRST_BYTE_WAIT,
    ) -> None:
        self.inner = inner
        self.answer = answer
        self.server_name = server_name
        self.clock = clock
        self.wait = wait
        self.buckets = KeyedBuckets(QUERY_BURST, QUERY_RATE)
        self.counters: dict[str, int] = {"answered": 0, "rate-limited": 0, "garbage": 0}
        self._last_logged: dict[str, float] = {}

    def buildProtocol(self, addr: IAddress | None) -> Protocol | None:
        inner = self.inner.buildProtocol(addr)
        if not isinstance(inner, Protocol):
            return None
        door = FrontDoor(self, inner)
        door.factory = self
        return door

    def doStart(self) -> None:
        self.inner.doStart()

    def doStop(self) -> None:
        self.inner.doStop()

    def log_once(self, key: str, fmt: str, **fields: object) -> None:
        now = self.clock.seconds()
        if now - self._last_logged.get(key, float("-inf")) >= LOG_EVERY:
            self._last_logged[key] = now
            log.warn(fmt, **fields)


class FrontDoor(Protocol):
    """One connection until it is known to be a query or an IRC client."""

    def __init__(self, door: FrontDoorFactory, inner: Protocol) -> None:
        self.door = door
        self.inner = inner
        self._buffer = b""
        self._handed_over = False
        self._done = False  # a query was answered (or refused): the rest is ignored
        self._timer: IDelayedCall | None = None

    def connectionMade(self) -> None:
        self._timer = self.door.clock.callLater(self.door.wait, self._hand_over)

    def dataReceived(self, data: bytes) -> None:
        if self._handed_over:
            self.inner.dataReceived(data)
            return
        if self._done:
            return
        self._buffer += data
        head = self._buffer[: len(_PREFIX)].upper()
        if not _PREFIX.startswith(head):
            self._hand_over()
        elif len(head) == len(_PREFIX):
            line, found, _ = self._buffer.partition(b"\n")
            if found:
                self._query(line.rstrip(b"\r"))
            elif len(self._buffer) > MAX_QUERY:
                self._refuse("garbage", "INPUT_TOO_LONG", "Query line too long")

    def connectionLost(self, reason: Failure | None = None) -> None:
        self._cancel_timer()
        if self._handed_over:
            self.inner.connectionLost(reason)  # type: ignore[arg-type]

    def _hand_over(self) -> None:
        """Become the IRC connection: start it on our transport, give it what we read."""
        self._cancel_timer()
        if self._handed_over or self._done or self.transport is None:
            return
        self._handed_over = True
        buffered, self._buffer = self._buffer, b""
        self.inner.makeConnection(self.transport)
        if buffered:
            self.inner.dataReceived(buffered)

    def _query(self, line: bytes) -> None:
        self._cancel_timer()
        peer = getattr(self.transport.getPeer(), "host", "unknown")  # type: ignore[union-attr]
        if not self.door.buckets.allow(peer, self.door.clock.seconds()):
            self.door.counters["rate-limited"] += 1
            self.door.log_once("rate", "public directory: too many queries from {peer}",
                               peer=peer)  # fmt: skip
            self._refuse(None, "RATE_LIMITED", "Too many queries; try again shortly")
            return
        try:
            nonce, excluded = parse_query(parse_line(line))
        except (ParseError, Refused) as error:
            self._refuse("garbage", "INVALID_PARAMS", f"Usage: NODES <nonce> [excluded]: {error}",
                         peer=peer)  # fmt: skip
            return
        try:
            answer = self.door.answer(excluded)
        except Exception:  # never a traceback per query: say so once a minute
            self.door.log_once("answer", "public directory: cannot build an answer")
            self._refuse(None, "TEMPORARILY_UNAVAILABLE", "The node cannot answer now")
            return
        self.door.counters["answered"] += 1
        self._send_and_close(answer_lines(nonce, answer))

    def _refuse(self, reason: str | None, code: str, text: str, peer: str = "") -> None:
        if reason is not None:
            self.door.counters[reason] += 1
            self.door.log_once(reason, "public directory: refused a query from {peer}: {text}",
                               peer=peer or "?", text=text[:200])  # fmt: skip
        self._send_and_close([Message("FAIL", (COMMAND, code, text))])

    def _send_and_close(self, lines: list[Message]) -> None:
        self._done = True
        self._buffer = b""
        if self.transport is not None:
            name = self.door.server_name
            self.transport.write(b"".join(serialize(m, name) for m in lines))
            self.transport.loseConnection()

    def _cancel_timer(self) -> None:
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        self._timer = None
