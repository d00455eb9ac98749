"""One IRC connection carried over WebSocket messages.

:class:`WebSocketLines` sits between the TCP transport (after the HTTP upgrade) and an
ordinary :class:`~twistedchat.irc.protocol.IRCConnection`, which cannot tell it from a
TCP client: the connection's flood control, SendQ, registration timeout, keepalive,
line-length limit and the factory's client and per-address caps all apply unchanged.

- **In:** each message's payload is fed to the IRC connection as it arrives, and a line
  end after its last piece. Nothing is reassembled here, so a huge or never-finished
  message costs no memory: the connection's line framer drops a line past the limit
  with ``417 Input line was too long``, as it does for TCP. A message holding several
  lines (the specification says one) is read as those lines, each counted by flood
  control; text messages wsproto has checked to be UTF-8, binary ones the connection
  checks itself (``FAIL * INVALID_UTF8``).
- **Out:** each line the connection writes becomes one message, without its ``\\r\\n``,
  text or binary as negotiated (our lines are UTF-8: the server refuses others), framed
  by :func:`frame_lines`.
- **Back-pressure:** the connection registers itself as the TCP transport's producer, so
  a browser that stops reading pauses it and its SendQ counts, as for TCP.

wsproto answers pings, and closes on a protocol error with the code the RFC gives (1002
bad frame, 1007 bad UTF-8); the IRC connection then sees its transport go.
"""

from __future__ import annotations

from typing import Any

from twisted.internet.interfaces import IAddress, IProtocol, IPushProducer, ITransport
from twisted.internet.protocol import Protocol
from twisted.logger import Logger
from twisted.python.failure import Failure
from wsproto.connection import Connection, ConnectionState
from wsproto.events import (
    BytesMessage,
    CloseConnection,
    Ping,
    TextMessage,
)
from wsproto.frame_protocol import CloseReason
from zope.interface import implementer

log = Logger()

LINE_END = b"\r\n"


TEXT_FRAME = 0x81  # FIN and the opcode of a text message: each line is one whole frame
BINARY_FRAME = 0x82


def frame_lines(data: bytes, binary: bool) -> bytes:
    """Server frames (never masked, RFC 6455 5.1) of the ``\\r\\n``-ended lines in ``data``.

    Built here rather than by wsproto, which serialises a frame in some 3 us of Python:
    this is the fan-out's inner loop for every WebSocket recipient, and a data frame of
    a whole message needs nothing of the connection's state. A text frame must be UTF-8:
    our lines are (the server relays no other), and a line that is not is mended rather
    than sent as a frame the browser would close the connection for.
    """
    first = BINARY_FRAME if binary else TEXT_FRAME
    frames = []
    for line in data.split(LINE_END):
        if not line:
            continue
        if not binary and not line.isascii():
            line = line.decode("utf-8", "replace").encode()
        size = len(line)
        if size < 126:
            frames.append(bytes((first, size)))
        elif size < 65536:
            frames.append(bytes((first, 126)) + size.to_bytes(2, "big"))
        else:
            frames.append(bytes((first, 127)) + size.to_bytes(8, "big"))
        frames.append(line)
    return b"".join(frames)


@implementer(ITransport, IPushProducer)
class WebSocketLines(Protocol):
    """Carries ``irc``'s lines over the WebSocket ``connection`` (already accepted).

    It is the TCP transport's protocol (once the HTTP channel hands the socket over) and
    the IRC connection's transport.
    """

    def __init__(self, connection: Connection, irc: IProtocol, binary: bool) -> None:
        self._ws = connection
        self._irc = irc
        self._binary = binary
        self._closed = False
        self._writes_paused = False  # the socket's buffer is full: the client is not reading
        self._late_ping: Ping | None = None  # the last ping that came meanwhile

    # -- the TCP side --------------------------------------------------------------------

    def connectionMade(self) -> None:
        self._irc.makeConnection(self)

    def dataReceived(self, data: bytes) -> None:
        if self._closed:
            return
        self._ws.receive_data(data)
        for event in self._ws.events():
            if isinstance(event, TextMessage):
                self._irc_receives(event.data.encode(), event.message_finished)
            elif isinstance(event, BytesMessage):
                self._irc_receives(bytes(event.data), event.message_finished)
            elif isinstance(event, Ping):
                self._answer(event)
            elif isinstance(event, CloseConnection):
                self._closed_by_peer(event)
                return
            if self._closed:
                return

    def connectionLost(self, reason: Failure | None = None) -> None:
        self._closed = True
        self._irc.connectionLost(reason)  # type: ignore[arg-type]  # IRCConnection takes None

    def _irc_receives(self, data: bytes, finished: bool) -> None:
        if data:
            self._irc.dataReceived(data)
        if finished and not self._closed:
            self._irc.dataReceived(LINE_END)

    def _answer(self, ping: Ping) -> None:
        """Pong, unless the client is not reading: then only its last ping is answered,
        once it reads again (RFC 6455 5.5.3 allows it). A client that pings without
        reading would otherwise fill the node's memory with pongs, none of which the
        IRC connection's SendQ sees."""
        if self._writes_paused:
            self._late_ping = ping
        else:
            self._send(self._ws.send(ping.response()))

    def _closed_by_peer(self, event: CloseConnection) -> None:
        """The client closed, or sent what wsproto could not read (``event`` then has
        the RFC's code for it): answer with a close of our own and hang up."""
        if self._ws.state is ConnectionState.REMOTE_CLOSING:
            self._send(self._ws.send(event.response()))
        elif self._ws.state is ConnectionState.OPEN:
            log.info("closing a WebSocket client: {reason} ({code})", reason=event.reason,
                     code=event.code)  # fmt: skip
            self._send(self._ws.send(CloseConnection(event.code, (event.reason or "")[:100])))
        self._hang_up()

    # -- ITransport, for the IRC connection ------------------------------------------------

    def write(self, data: bytes) -> None:
        """Each ``\\r\\n``-ended line ``data`` holds goes out as one message."""
        if self._closed or self._ws.state is not ConnectionState.OPEN:
            return
        self._send(frame_lines(data, self._binary))

    def writeSequence(self, data: Any) -> None:
        self.write(b"".join(data))

    def loseConnection(self) -> None:
        """Close politely: a close message after what is written, then the socket."""
        if self._ws.state is ConnectionState.OPEN:
            self._send(self._ws.send(CloseConnection(CloseReason.NORMAL_CLOSURE)))
        self._hang_up()

    def abortConnection(self) -> None:
        self._closed = True
        if self.transport is not None:
            self.transport.abortConnection()  # type: ignore[attr-defined]

    def getPeer(self) -> IAddress:
        assert self.transport is not None
        return self.transport.getPeer()

    def getHost(self) -> IAddress:
        assert self.transport is not None
        return self.transport.getHost()

    def registerProducer(self, producer: IPushProducer, streaming: bool) -> None:
        """The IRC connection becomes the socket's producer, through a :class:`_Gate`
        that lets us see the pauses too."""
        assert self.transport is not None
        gate = _Gate(self, producer)
        self.transport.registerProducer(gate, streaming)  # type: ignore[attr-defined]

    def unregisterProducer(self) -> None:
        if self.transport is not None:
            self.transport.unregisterProducer()  # type: ignore[attr-defined]

    # -- as the IRC connection's transport, it pauses our reading while it is busy ----------

    def pauseProducing(self) -> None:
        if self.transport is not None:
            self.transport.pauseProducing()  # type: ignore[attr-defined]

    def resumeProducing(self) -> None:
        if self.transport is not None and not self._closed:
            self.transport.resumeProducing()  # type: ignore[attr-defined]

    def stopProducing(self) -> None:
        self.abortConnection()

    def _writes_pause(self, paused: bool) -> None:
        self._writes_paused = paused
        if not paused and self._late_ping is not None:
            ping, self._late_ping = self._late_ping, None
            self._answer(ping)

    # -- the socket ----------------------------------------------------------------------

    def _send(self, data: bytes) -> None:
        if data and self.transport is not None:
            self.transport.write(data)

    def _hang_up(self) -> None:
        self._closed = True
        if self.transport is not None:
            self.transport.loseConnection()


@implementer(IPushProducer)
class _Gate:
    """The socket's producer for the IRC connection: passes the socket's pauses (its
    buffer full) on to the connection, whose SendQ then counts, and tells the WebSocket
    side, whose pongs then wait."""

    def __init__(self, lines: WebSocketLines, producer: IPushProducer) -> None:
        self._lines = lines
        self._producer = producer

    def pauseProducing(self) -> None:
        self._lines._writes_pause(True)
        self._producer.pauseProducing()

    def resumeProducing(self) -> None:
        self._lines._writes_pause(False)
        self._producer.resumeProducing()

    def stopProducing(self) -> None:
        self._producer.stopProducing()
