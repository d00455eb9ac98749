"""A blocking IRC-over-WebSocket client for tests, built on wsproto's client side.

:class:`WebSocketIRCClient` is an :class:`~tests.integration.harness.IRCClient` whose
lines travel as WebSocket messages, so the integration tests' ``expect``/``register``
work unchanged. ``send_frame`` and ``send_raw`` let a test send what no client should.
"""

from __future__ import annotations

import socket
import time
from collections import deque
from collections.abc import Iterable

from wsproto import ConnectionType, WSConnection
from wsproto.events import (
    AcceptConnection,
    BytesMessage,
    CloseConnection,
    Event,
    Message,
    Ping,
    RejectConnection,
    RejectData,
    Request,
    TextMessage,
)

from tests.integration.harness import IRCClient


class Refused(Exception):
    """The server answered the upgrade with an HTTP error."""

    def __init__(self, status: int, body: bytes):
        super().__init__(f"HTTP {status}: {body.decode(errors='replace').strip()}")
        self.status = status
        self.body = body


class WebSocketIRCClient(IRCClient):
    """Connects to ``ws://127.0.0.1:PORT/`` offering ``subprotocols``; ``origin`` is sent
    as the Origin header when given; ``receive_buffer`` shrinks the socket's receive
    buffer (a client that stops reading then stops the server soon). Raises
    :class:`Refused` if the upgrade is refused."""

    def __init__(
        self,
        port: int,
        nick: str | None = None,
        *,
        caps: Iterable[str] = (),
        subprotocols: Iterable[str] = ("text.ircv3.net",),
        origin: str | None = None,
        path: str = "/",
        receive_buffer: int | None = None,
    ):
        self.sock = socket.socket()
        if receive_buffer is not None:  # before connecting, so the window stays small
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
        self.sock.settimeout(10)
        self.sock.connect(("127.0.0.1", port))
        self.buffer = b""
        self.lines: list[str] = []
        self.nick = nick
        self.ws = WSConnection(ConnectionType.CLIENT)
        self.messages: deque[str | bytes] = deque()
        self.closed: CloseConnection | None = None
        self._pending: deque[Event] = deque()  # read with the handshake's answer
        headers = [(b"origin", origin.encode())] if origin is not None else []
        request = Request(
            host=f"127.0.0.1:{port}",
            target=path,
            subprotocols=list(subprotocols),
            extra_headers=headers,
        )
        self.sock.sendall(self.ws.send(request))
        self.subprotocol = self._handshake()
        if nick is not None:
            self.register(nick, caps)

    def _handshake(self) -> str | None:
        rejected: int | None = None
        body = b""
        while True:
            events = self._receive(10.0)
            for index, event in enumerate(events):
                if isinstance(event, AcceptConnection):
                    self._pending.extend(events[index + 1 :])
                    return event.subprotocol
                if isinstance(event, RejectConnection):
                    rejected = event.status_code
                    if not event.has_body:
                        raise Refused(rejected, b"")
                elif isinstance(event, RejectData):
                    body += event.data
                    if event.body_finished:
                        raise Refused(rejected or 0, body)

    def _receive(self, timeout: float) -> list[Event]:
        if self._pending:
            events = list(self._pending)
            self._pending.clear()
            return events
        self.sock.settimeout(timeout)
        data = self.sock.recv(65536)
        self.ws.receive_data(data or None)
        events = list(self.ws.events())
        if not data and not events:
            raise ConnectionError("connection closed")
        return events

    def send(self, line: str) -> None:
        self.send_frame(line)

    def send_frame(self, payload: str | bytes) -> None:
        message: Message[str] | Message[bytes] = (
            TextMessage(payload) if isinstance(payload, str) else BytesMessage(payload)
        )
        self.sock.sendall(self.ws.send(message))

    def send_raw(self, data: bytes) -> None:
        self.sock.sendall(data)

    def next_message(self, timeout: float = 10.0) -> str | bytes:
        """The next whole message the server sent (its payload, as sent)."""
        deadline = time.monotonic() + timeout
        partial: list[str | bytes] = []
        while not self.messages:
            if self.closed is not None:
                raise ConnectionError(f"closed: {self.closed.code} {self.closed.reason}")
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"no message within {timeout}s; so far: {self.lines[-5:]}")
            for event in self._receive(remaining):
                if isinstance(event, TextMessage | BytesMessage):
                    partial.append(event.data)
                    if event.message_finished:
                        joined = (
                            "".join(partial) if isinstance(event.data, str) else b"".join(partial)
                        )  # type: ignore[arg-type]
                        self.messages.append(joined)
                        partial = []
                elif isinstance(event, Ping):
                    self.sock.sendall(self.ws.send(event.response()))
                elif isinstance(event, CloseConnection):
                    self.closed = event
        return self.messages.popleft()

    def read_line(self, timeout: float = 10.0) -> str:
        payload = self.next_message(timeout)
        line = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else payload
        self.lines.append(line)
        if line.startswith("PING "):
            self.send("PONG " + line[5:])
        return line

    def wait_closed(self, timeout: float = 10.0) -> CloseConnection:
        """Read (and keep) what comes until the server closes; returns its close."""
        deadline = time.monotonic() + timeout
        while self.closed is None:
            try:
                self.read_line(max(deadline - time.monotonic(), 0.01))
            except ConnectionError:
                break
        if self.closed is None:
            raise ConnectionError("the socket closed without a WebSocket close")
        return self.closed
