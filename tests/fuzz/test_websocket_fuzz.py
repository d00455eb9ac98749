"""Fuzzing IRC over WebSocket: whatever bytes a client sends after the upgrade, the node's
side never raises, hands the IRC connection only bytes that came in frames (each message
ended by one line end), and, once it closed, reads nothing more.

Streams are built from real frames (text, binary, continuation, ping, pong, close; masked
or not; reserved bits and opcodes), some cut or corrupted, cut at arbitrary points into
the reads a socket would give."""

from __future__ import annotations

import struct

from hypothesis import given
from hypothesis import strategies as st
from twisted.internet.protocol import Protocol
from twisted.internet.testing import StringTransport
from wsproto import ConnectionType
from wsproto.connection import Connection

from tests.fuzz.budget import FUZZ_HEAVY
from twistedchat.web.transport import WebSocketLines


class Recorder(Protocol):
    def __init__(self) -> None:
        self.received = b""

    def dataReceived(self, data: bytes) -> None:
        self.received += data


def frame(first: int, payload: bytes, masked: bool, declared: int | None) -> bytes:
    """One frame; ``declared`` lies about the payload length when given."""
    size = len(payload) if declared is None else declared
    if size < 126:
        head = struct.pack("!BB", first, (0x80 if masked else 0) | size)
    elif size < 65536:
        head = struct.pack("!BBH", first, (0x80 if masked else 0) | 126, size)
    else:
        head = struct.pack("!BBQ", first, (0x80 if masked else 0) | 127, size)
    return head + (b"\0\0\0\0" if masked else b"") + payload


_first = st.sampled_from([0x81, 0x82, 0x01, 0x02, 0x80, 0x00, 0x89, 0x8A, 0x88, 0xC1, 0x83, 0x09])
_payload = st.binary(max_size=300) | st.sampled_from(
    [b"NICK a", b"USER a 0 * :a", b"PRIVMSG #c :\xff", b"\x03\xe8ok", b"", b"PING :x\r\nPONG"]
)
_frame = st.builds(
    frame,
    _first,
    _payload,
    st.booleans() | st.just(True),
    st.none() | st.none() | st.integers(0, 2**63 - 1),
)
_stream = st.lists(_frame | st.binary(max_size=20), max_size=12).map(b"".join)


@FUZZ_HEAVY
@given(_stream, st.lists(st.integers(1, 64), max_size=8))
def test_any_stream_is_read_or_refused_without_raising(stream: bytes, cuts: list[int]) -> None:
    irc = Recorder()
    wire = WebSocketLines(Connection(ConnectionType.SERVER), irc, binary=False)
    socket = StringTransport()
    wire.makeConnection(socket)
    at = 0
    for size in [*cuts, len(stream)]:
        wire.dataReceived(stream[at : at + size])
        at += size
        if at >= len(stream):
            break
    # Every message handed on was ended by exactly the line end we add; nothing more
    # than the stream itself came out (no buffering beyond what was received).
    assert len(irc.received) <= len(stream) + 2 * (len(stream) // 2 + 1)
    if socket.disconnecting:
        before = irc.received
        wire.dataReceived(frame(0x81, b"after the close", True, None))
        assert irc.received == before
