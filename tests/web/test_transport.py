"""WebSocketLines between a TCP transport and an IRC connection, over wsproto, with
Twisted's StringTransport for the socket: what goes in and out, frame by frame."""

from __future__ import annotations

from twisted.internet.protocol import Protocol
from twisted.internet.testing import StringTransport
from twisted.python.failure import Failure
from wsproto import ConnectionType
from wsproto.connection import Connection
from wsproto.events import BytesMessage, CloseConnection, Event, Ping, Pong, TextMessage
from wsproto.frame_protocol import CloseReason

from twistedchat.web.transport import WebSocketLines, frame_lines


class Recorder(Protocol):
    """Stands for the IRC connection: keeps what it is given."""

    def __init__(self) -> None:
        self.received = b""
        self.lost = False

    def dataReceived(self, data: bytes) -> None:
        self.received += data

    def connectionLost(self, reason: Failure | None = None) -> None:  # type: ignore[override]
        self.lost = True


def pair(binary: bool = False) -> tuple[WebSocketLines, Recorder, StringTransport, Connection]:
    irc = Recorder()
    wire = WebSocketLines(Connection(ConnectionType.SERVER), irc, binary=binary)
    socket = StringTransport()
    wire.makeConnection(socket)
    return wire, irc, socket, Connection(ConnectionType.CLIENT)


def events_sent(socket: StringTransport, client: Connection) -> list[Event]:
    client.receive_data(socket.value())
    socket.clear()
    return list(client.events())


def test_each_line_written_is_one_message_without_its_line_end() -> None:
    wire, irc, socket, client = pair()
    assert irc.transport is wire
    wire.write(b":srv 001 me :Welcome\r\n:srv 002 me :Your host\r\n")
    sent = events_sent(socket, client)
    assert [e.data for e in sent if isinstance(e, TextMessage)] == [
        ":srv 001 me :Welcome",
        ":srv 002 me :Your host",
    ]
    binary_wire, _, binary_socket, binary_client = pair(binary=True)
    binary_wire.write(b"PING :x\r\n")
    (message,) = events_sent(binary_socket, binary_client)
    assert isinstance(message, BytesMessage) and message.data == b"PING :x"


def test_messages_reach_the_connection_as_they_arrive_each_ended_by_a_line_end() -> None:
    wire, irc, _, client = pair()
    wire.dataReceived(client.send(TextMessage("NICK a")) + client.send(BytesMessage(b"USER a")))
    assert irc.received == b"NICK a\r\nUSER a\r\n"
    irc.received = b""
    wire.dataReceived(client.send(TextMessage("PRIVMSG #c :one ", message_finished=False)))
    assert irc.received == b"PRIVMSG #c :one "  # fed at once, nothing held here
    wire.dataReceived(client.send(TextMessage("two")))
    assert irc.received == b"PRIVMSG #c :one two\r\n"


def test_pings_are_answered_and_closes_returned() -> None:
    wire, irc, socket, client = pair()
    wire.dataReceived(client.send(Ping(b"hb")))
    (pong,) = events_sent(socket, client)
    assert isinstance(pong, Pong) and pong.payload == b"hb"
    wire.dataReceived(client.send(CloseConnection(CloseReason.NORMAL_CLOSURE)))
    (close,) = events_sent(socket, client)
    assert isinstance(close, CloseConnection) and close.code == CloseReason.NORMAL_CLOSURE
    assert socket.disconnecting
    wire.connectionLost(Failure(ConnectionError()))
    assert irc.lost


def test_a_frame_wsproto_cannot_read_closes_with_its_code() -> None:
    wire, irc, socket, client = pair()
    wire.dataReceived(bytes([0x81, 0x84, 0, 0, 0, 0]) + b"\xff\xfe\xfd\xfc")  # bad UTF-8
    (close,) = events_sent(socket, client)
    assert isinstance(close, CloseConnection)
    assert close.code == CloseReason.INVALID_FRAME_PAYLOAD_DATA
    assert socket.disconnecting and irc.received == b""
    wire.dataReceived(bytes([0x81, 0x85, 0, 0, 0, 0]) + b"hello")
    assert irc.received == b""  # nothing is read once closing


def test_the_irc_connection_closing_sends_a_close_after_its_last_line() -> None:
    wire, _, socket, client = pair()
    wire.write(b"ERROR :Closing Link\r\n")
    wire.loseConnection()
    wire.write(b"late\r\n")  # dropped: the WebSocket is closing
    text, close = events_sent(socket, client)
    assert isinstance(text, TextMessage) and text.data == "ERROR :Closing Link"
    assert isinstance(close, CloseConnection) and socket.disconnecting


class Producer:
    """Stands for the IRC connection as a producer: records what it is told."""

    def __init__(self) -> None:
        self.told: list[str] = []

    def pauseProducing(self) -> None:
        self.told.append("pause")

    def resumeProducing(self) -> None:
        self.told.append("resume")

    def stopProducing(self) -> None:
        self.told.append("stop")


def test_the_irc_connection_is_the_sockets_producer() -> None:
    """So a browser that stops reading pauses it and its SendQ counts, as on TCP."""
    wire, _, socket, _ = pair()
    producer = Producer()
    wire.registerProducer(producer, True)  # type: ignore[arg-type]
    assert socket.producer is not None and socket.streaming
    socket.producer.pauseProducing()  # the socket's buffer is full
    socket.producer.resumeProducing()
    socket.producer.stopProducing()
    assert producer.told == ["pause", "resume", "stop"]
    wire.pauseProducing()  # the IRC connection stops reading the client, for a while
    assert socket.producerState == "paused"
    wire.resumeProducing()
    assert socket.producerState == "producing"
    wire.unregisterProducer()
    assert socket.producer is None


def test_a_client_that_pings_without_reading_gets_one_pong_once_it_reads() -> None:
    """Pongs would otherwise pile up in the node's memory, out of the SendQ's sight."""
    wire, _, socket, client = pair()
    wire.registerProducer(Producer(), True)  # type: ignore[arg-type]
    socket.producer.pauseProducing()
    for n in range(1000):
        wire.dataReceived(client.send(Ping(b"p%d" % n)))
    assert socket.value() == b""
    socket.producer.resumeProducing()
    (pong,) = events_sent(socket, client)
    assert isinstance(pong, Pong) and pong.payload == b"p999"  # the last one only


def test_frames_of_every_size_read_back_as_the_lines_they_carry() -> None:
    """Our own framing (the fan-out's inner loop) against wsproto's reading of it, at the
    length encodings' edges, in text and binary, and with a line that is not UTF-8."""
    lines = [b"a" * n for n in (1, 125, 126, 127, 65535, 65536, 70000)] + ["é€".encode()]
    for binary in (False, True):
        client = Connection(ConnectionType.CLIENT)
        client.receive_data(frame_lines(b"".join(line + b"\r\n" for line in lines), binary))
        got = [e.data for e in client.events()]
        if binary:
            assert got == lines
        else:
            assert got == [line.decode() for line in lines]
    client = Connection(ConnectionType.CLIENT)
    client.receive_data(frame_lines(b"PRIVMSG #c :\xff\r\n", binary=False))
    (mended,) = list(client.events())
    assert isinstance(mended, TextMessage) and mended.data == "PRIVMSG #c :\ufffd"
