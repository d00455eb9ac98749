"""Tests of the peer transport: in memory for exact timing, over loopback TCP for the real thing."""

from __future__ import annotations

import random
import struct
from collections.abc import Callable
from typing import Any

import pytest
import pytest_twisted
from twisted.internet import reactor
from twisted.internet.address import IPv4Address
from twisted.internet.defer import Deferred
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol
from twisted.internet.error import ConnectionDone, ConnectionRefusedError
from twisted.internet.protocol import Protocol, connectionDone
from twisted.internet.task import deferLater
from twisted.internet.testing import MemoryReactorClock, StringTransport
from twisted.logger import LogEvent, formatEvent, globalLogPublisher
from twisted.python.failure import Failure

from twistedchat.raft import codec
from twistedchat.raft.codec import WIRE_VERSION, FrameDecoder, Hello
from twistedchat.raft.messages import AppendEntries, Entry, EntryKind, RaftMessage, TimeoutNow
from twistedchat.raft.peer import REFUSAL_LOG_EVERY, Backoff, OutboundProtocol, PeerSettings
from twistedchat.raft.transport import InboundProtocol, PeerTransport

LOOPBACK = "tcp:0:interface=127.0.0.1"
FAST = PeerSettings(
    backoff_initial=0.01, backoff_max=0.1, connect_timeout=2.0, hello_timeout=2.0, close_grace=0.5
)


def ping(src: str, dst: str, term: int) -> TimeoutNow:
    return TimeoutNow(src, dst, term)


def explain(app: str) -> str:
    """What the application says about a peer whose Hello carries ``app``."""
    return f"settings {app} are not ours"


class Logged(list[str]):
    """Log lines emitted while in the ``with`` block."""

    def __enter__(self) -> Logged:
        globalLogPublisher.addObserver(self)
        return self

    def __exit__(self, *exc: object) -> None:
        globalLogPublisher.removeObserver(self)

    def __call__(self, event: LogEvent) -> None:
        self.append(formatEvent(event) or "")

    def having(self, *needles: str) -> list[str]:
        return [line for line in self if all(n in line for n in needles)]


def terms(messages: list[RaftMessage]) -> list[int]:
    return [m.term for m in messages]


# -- backoff -----------------------------------------------------------------------------


def test_backoff_doubles_with_jitter_up_to_the_maximum() -> None:
    backoff = Backoff(0.05, 2.0, random.Random(3))
    steps = [0.05, 0.1, 0.2, 0.4, 0.8, 1.6, 2.0, 2.0]
    delays = [backoff.next_delay() for _ in steps]
    for step, delay in zip(steps, delays, strict=True):
        assert step / 2 <= delay <= step
    assert len(set(delays)) == len(delays)  # jittered
    backoff.reset()
    assert backoff.next_delay() <= 0.05


# -- outbound, in memory -----------------------------------------------------------------


class Memory:
    """A transport on a MemoryReactorClock whose outbound connections we complete by hand."""

    def __init__(self, settings: PeerSettings | None = None, app: str = "") -> None:
        self.reactor = MemoryReactorClock()
        self.transport = PeerTransport(
            "a", "c", "tcp:7000", reactor=self.reactor, rng=random.Random(1), settings=settings,
            app=app, explain_app=explain,
        )  # fmt: skip

    def connect(self, attempt: int = -1) -> tuple[Protocol, StringTransport]:
        host, port, factory, _, _ = self.reactor.tcpClients[attempt]
        protocol = factory.buildProtocol(IPv4Address("TCP", host, port))
        assert isinstance(protocol, Protocol)
        wire = StringTransport()
        protocol.makeConnection(wire)
        return protocol, wire

    def refuse(self, attempt: int = -1) -> None:
        _, _, factory, _, _ = self.reactor.tcpClients[attempt]
        factory.clientConnectionFailed(
            self.reactor.connectors[attempt], Failure(ConnectionRefusedError())
        )

    def pending_retry(self) -> float:
        (call,) = [c for c in self.reactor.getDelayedCalls() if c.active()]
        return call.getTime() - self.reactor.seconds()


def frames(wire: StringTransport) -> list[object]:
    return FrameDecoder().feed(wire.value())


def test_hello_first_then_queued_messages_in_order() -> None:
    m = Memory()
    m.transport.set_peer("b", "tcp:127.0.0.1:7001")
    m.transport.set_peer("b", "tcp:127.0.0.1:7001")  # idempotent: no second dial
    assert len(m.reactor.tcpClients) == 1
    for term in (1, 2):
        m.transport.send(ping("a", "b", term))
    _, wire = m.connect()
    m.transport.send(ping("a", "b", 3))
    assert frames(wire) == [Hello("c", "a", WIRE_VERSION)] + [ping("a", "b", t) for t in (1, 2, 3)]
    assert m.transport.peers["b"].connected
    assert m.reactor.getDelayedCalls() == []  # the connect timeout went with the attempt
    stats = m.transport.stats()
    assert stats["frames_sent"] == 4 and stats["bytes_sent"] == len(wire.value())
    assert stats["connects"] == 1 and stats["dropped"] == 0


def test_messages_to_unknown_peers_and_unencodable_messages_are_dropped() -> None:
    m = Memory()
    m.transport.send(ping("a", "nobody", 1))
    m.transport.set_peer("b", "tcp:127.0.0.1:7001")
    m.transport.send(ping("a", "b", 2**70))  # not a 64-bit term: logged, not raised
    assert m.transport.stats()["dropped"] == 2


def test_queue_is_bounded_in_bytes() -> None:
    size = len(codec.encode(ping("a", "b", 1)))
    m = Memory(PeerSettings(queue_limit_bytes=size * 3 + size // 2))
    m.transport.set_peer("b", "tcp:127.0.0.1:7001")
    for term in range(1, 6):
        m.transport.send(ping("a", "b", term))
    assert m.transport.peers["b"].queued_bytes == size * 3
    assert m.transport.stats()["dropped"] == 2
    _, wire = m.connect()
    assert terms(frames(wire)[1:]) == [1, 2, 3]  # type: ignore[arg-type]
    assert m.transport.peers["b"].queued_bytes == 0


def test_paused_by_tcp_queues_and_resume_drains() -> None:
    m = Memory()
    m.transport.set_peer("b", "tcp:127.0.0.1:7001")
    _, wire = m.connect()
    producer = wire.producer
    assert isinstance(producer, OutboundProtocol) and wire.streaming
    producer.pauseProducing()
    m.transport.send(ping("a", "b", 1))
    m.transport.send(ping("a", "b", 2))
    assert len(frames(wire)) == 1  # just the hello
    producer.resumeProducing()
    m.transport.send(ping("a", "b", 3))
    assert terms(frames(wire)[1:]) == [1, 2, 3]  # type: ignore[arg-type]


def test_refused_connections_back_off_exponentially() -> None:
    m = Memory()
    m.transport.set_peer("b", "tcp:127.0.0.1:7001")
    delays = []
    for attempt in range(8):
        m.refuse()
        delays.append(m.pending_retry())
        m.reactor.advance(delays[-1])
        assert len(m.reactor.tcpClients) == attempt + 2
    steps = [0.05, 0.1, 0.2, 0.4, 0.8, 1.6, 2.0, 2.0]
    for step, delay in zip(steps, delays, strict=True):
        assert step / 2 <= delay <= step


def test_quick_loss_keeps_backing_off_but_a_stable_link_retries_fast() -> None:
    m = Memory()
    m.transport.set_peer("b", "tcp:127.0.0.1:7001")
    for _ in range(4):  # the peer accepts and hangs up at once (say, a rejected hello)
        protocol, _ = m.connect()
        protocol.connectionLost(Failure(ConnectionDone()))
        delay = m.pending_retry()
        m.reactor.advance(delay)
    assert delay > 0.2  # fourth loss: step 0.4
    protocol, _ = m.connect()
    m.reactor.advance(5)  # stable
    protocol.connectionLost(Failure(ConnectionDone()))
    assert m.pending_retry() <= 0.05


def test_new_endpoint_redials_and_old_link_is_aborted() -> None:
    m = Memory()
    m.transport.set_peer("b", "tcp:127.0.0.1:7001")
    old, old_wire = m.connect()
    m.transport.set_peer("b", "tcp:127.0.0.1:7002")
    assert old_wire.disconnected
    assert m.reactor.tcpClients[-1][1] == 7002
    _, wire = m.connect()
    old.connectionLost(Failure(ConnectionDone()))  # a late loss of the old link changes nothing
    m.transport.send(ping("a", "b", 9))
    assert terms(frames(wire)[1:]) == [9]  # type: ignore[arg-type]
    assert [c for c in m.reactor.getDelayedCalls() if c.active()] == []


def test_endpoint_change_cancels_a_pending_attempt() -> None:
    m = Memory()
    m.transport.set_peer("b", "tcp:127.0.0.1:7001")
    m.transport.set_peer("b", "tcp:127.0.0.1:7002")
    assert m.reactor.connectors[0].stoppedConnecting
    assert len([c for c in m.reactor.getDelayedCalls() if c.active()]) == 1  # 7002's timeout


def test_remove_peer_cancels_retry_and_drops_queue() -> None:
    m = Memory()
    m.transport.set_peer("b", "tcp:127.0.0.1:7001")
    m.refuse()
    m.transport.send(ping("a", "b", 1))
    m.transport.remove_peer("b")
    assert "b" not in m.transport.peers
    assert [c for c in m.reactor.getDelayedCalls() if c.active()] == []
    m.transport.send(ping("a", "b", 2))
    assert m.transport.stats()["dropped"] == 2


def test_connect_timeout_retries() -> None:
    m = Memory(PeerSettings(connect_timeout=3.0))
    m.transport.set_peer("b", "tcp:127.0.0.1:7001")
    m.reactor.advance(3.0)
    assert m.reactor.connectors[0].stoppedConnecting
    m.reactor.advance(m.pending_retry())
    assert len(m.reactor.tcpClients) == 2


def test_a_peer_refusing_our_app_is_logged_once_and_retried_quietly() -> None:
    m = Memory(app="s1")
    m.transport.set_peer("b", "tcp:127.0.0.1:7001")
    refusal = codec.encode(Hello("c", "b", WIRE_VERSION, "s2"))
    with Logged() as logged:
        for _ in range(3):
            protocol, wire = m.connect()
            assert frames(wire)[0] == Hello("c", "a", WIRE_VERSION, "s1")
            protocol.dataReceived(refusal[:5])
            protocol.dataReceived(refusal[5:])
            protocol.connectionLost(Failure(ConnectionDone()))
            m.reactor.advance(m.pending_retry())
        assert logged.having("peer b refuses our link: settings s2 are not ours")
        assert len(logged) == 2  # "connected" the first time, then the refusal only
        protocol, _ = m.connect()  # accepted now (b was fixed)
        protocol.connectionLost(Failure(ConnectionDone()))
        assert logged[-1].startswith("lost connection to peer b")
    assert len(m.reactor.tcpClients) == 4  # it kept dialling


def test_a_hello_with_our_own_app_or_other_frames_refuse_nothing() -> None:
    m = Memory(app="s1")
    m.transport.set_peer("b", "tcp:127.0.0.1:7001")
    protocol, wire = m.connect()
    with Logged() as logged:
        protocol.dataReceived(codec.encode(Hello("c", "b", WIRE_VERSION, "s1")) +
                              codec.encode(ping("b", "a", 1)))  # fmt: skip
        assert logged == [] and not wire.disconnecting
        protocol.dataReceived(b"GET / HTTP/1.1\r\n\r\n")  # garbage costs the link
    assert wire.disconnected


# -- inbound, in memory ------------------------------------------------------------------


class Inbound:
    def __init__(self, cluster: str = "c", app: str = "") -> None:
        self.reactor = MemoryReactorClock()
        self.transport = PeerTransport(
            "b", cluster, "tcp:7001", reactor=self.reactor, settings=PeerSettings(), app=app,
            explain_app=explain,
        )  # fmt: skip
        self.received: list[RaftMessage] = []
        self.transport.on_message = self.received.append

    def connection(self) -> tuple[InboundProtocol, StringTransport]:
        protocol = InboundProtocol(self.transport)
        wire = StringTransport()
        protocol.makeConnection(wire)
        return protocol, wire


HELLO = codec.encode(Hello("c", "a", WIRE_VERSION))
#: A frame of our wire version with the unknown tag 99.
UNKNOWN_TAG = b"\x00\x00\x00\x02" + bytes([WIRE_VERSION, 99])


def test_inbound_delivers_messages_after_hello() -> None:
    node = Inbound()
    protocol, wire = node.connection()
    stream = HELLO + b"".join(codec.encode(ping("a", "b", t)) for t in (1, 2, 3))
    for i in range(0, len(stream), 5):
        protocol.dataReceived(stream[i : i + 5])
    assert terms(node.received) == [1, 2, 3]
    assert not wire.disconnecting and wire.value() == b""  # inbound links never answer
    stats = node.transport.stats()
    assert stats["frames_received"] == 4 and stats["bytes_received"] == len(stream)
    assert node.reactor.getDelayedCalls() == []  # the hello timer is gone


@pytest.mark.parametrize(
    ("first", "why"),
    [
        (codec.encode(Hello("other", "a", WIRE_VERSION)), "rejected_hello"),
        (codec.encode(Hello("c", "a", WIRE_VERSION + 1)), "rejected_hello"),
        (b"\x00\x00\x00\x02\x09\x1e", "rejected_hello"),  # a frame of wire version 9
        (codec.encode(ping("a", "b", 1)), "rejected_hello"),  # no hello first
        (b"GET / HTTP/1.1\r\n\r\n", "bad_frames"),  # length prefix far beyond MAX_FRAME
        (HELLO + UNKNOWN_TAG, "bad_frames"),
        (HELLO + HELLO, "bad_frames"),  # a second hello
        (HELLO + codec.encode(Entry(1, 1, EntryKind.NOOP)), "bad_frames"),  # not a message
    ],
    ids=["cluster", "hello-version", "wire-version", "no-hello", "http", "tag", "hello2", "entry"],
)
def test_inbound_refusals_close_that_connection(first: bytes, why: str) -> None:
    node = Inbound()
    protocol, wire = node.connection()
    protocol.dataReceived(first + codec.encode(ping("a", "b", 5)))
    assert wire.disconnected
    assert node.received == []
    stats = node.transport.stats()
    assert stats[why] == 1
    assert stats["bad_frames"] + stats["rejected_hello"] == 1


def test_a_message_in_anothers_name_closes_the_link() -> None:
    """A link speaks for the node its Hello (and certificate) proved, nobody else."""
    node = Inbound()
    protocol, wire = node.connection()
    forged = codec.encode(ping("c", "b", 7))  # "from" a third node, on a's link
    protocol.dataReceived(HELLO + codec.encode(ping("a", "b", 1)) + forged + codec.encode(
        ping("a", "b", 2)))  # fmt: skip
    assert terms(node.received) == [1]  # nothing from the forgery on, not even a's own
    assert wire.disconnected
    assert node.transport.stats()["spoofed_src"] == 1


def test_a_first_frame_larger_than_a_hello_is_refused_before_it_is_buffered() -> None:
    node = Inbound()
    protocol, wire = node.connection()
    protocol.dataReceived(struct.pack(">I", codec.MAX_HELLO_FRAME + 1) + bytes(1000))
    assert wire.disconnected and node.transport.stats()["bad_frames"] == 1
    node = Inbound()  # after the Hello, frames may be as large as MAX_FRAME
    protocol, wire = node.connection()
    big = AppendEntries("a", "b", 1, 0, 0, (Entry(1, 1, EntryKind.COMMAND, bytes(200_000)),), 0)
    protocol.dataReceived(HELLO + codec.encode(big))
    assert not wire.disconnected and node.received == [big]


def test_inbound_without_hello_times_out() -> None:
    node = Inbound()
    _, wire = node.connection()
    node.reactor.advance(PeerSettings().hello_timeout)
    assert wire.disconnected
    assert node.transport.stats()["rejected_hello"] == 1


def test_misaddressed_messages_are_dropped_and_handler_errors_contained() -> None:
    node = Inbound()
    protocol, wire = node.connection()
    seen: list[int] = []

    def handler(message: RaftMessage) -> None:
        seen.append(message.term)
        if message.term == 2:
            raise RuntimeError("bug upstream")

    node.transport.on_message = handler
    stream = HELLO + b"".join(codec.encode(ping("a", dst, t)) for dst, t in
                              [("b", 1), ("x", 9), ("b", 2), ("b", 3)])  # fmt: skip
    protocol.dataReceived(stream)
    assert seen == [1, 2, 3]
    assert not wire.disconnecting
    assert node.transport.stats()["dropped"] == 1
    assert len(node.transport.context.connections) == 1


def test_reconnecting_peer_replaces_its_old_inbound_link() -> None:
    node = Inbound()
    old, old_wire = node.connection()
    old.dataReceived(HELLO)
    new, new_wire = node.connection()
    new.dataReceived(HELLO)
    assert old_wire.disconnected and not new_wire.disconnecting


def test_inbound_accepts_a_peer_with_the_same_app() -> None:
    node = Inbound(app="s1")
    protocol, wire = node.connection()
    protocol.dataReceived(codec.encode(Hello("c", "a", WIRE_VERSION, "s1")) +
                          codec.encode(ping("a", "b", 1)))  # fmt: skip
    assert terms(node.received) == [1]
    assert not wire.disconnecting and wire.value() == b""


def test_inbound_refuses_another_app_answers_with_its_hello_and_logs_once_a_while() -> None:
    node = Inbound(app="s1")
    theirs = codec.encode(Hello("c", "a", WIRE_VERSION, "s2")) + codec.encode(ping("a", "b", 1))
    with Logged() as logged:
        for attempt in range(3):
            protocol, wire = node.connection()
            protocol.dataReceived(theirs)
            protocol.dataReceived(codec.encode(ping("a", "b", 2)))  # ignored while closing
            assert frames(wire) == [Hello("c", "b", WIRE_VERSION, "s1")]  # ours, to say why
            assert wire.disconnecting and not wire.disconnected  # flushed, not aborted
            node.reactor.advance(PeerSettings().close_grace)
            assert wire.disconnected  # a peer that never closes its side is aborted
            protocol.connectionLost(Failure(ConnectionDone()))
            node.reactor.advance(REFUSAL_LOG_EVERY / 2 if attempt == 0 else REFUSAL_LOG_EVERY)
    assert node.received == []
    assert node.transport.stats()["rejected_hello"] == 3
    assert node.reactor.getDelayedCalls() == []
    refusals = logged.having("closing peer connection from a: settings s2 are not ours")
    assert len(refusals) == 2  # the second attempt came within the interval
    assert len(logged) == 2


# -- over loopback TCP -------------------------------------------------------------------


async def until(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = reactor.seconds() + timeout
    while not predicate():
        if reactor.seconds() > deadline:
            raise AssertionError("timed out waiting")
        await deferLater(reactor, 0.005)


class Node:
    def __init__(
        self, node_id: str, cluster: str, endpoint: str, settings: PeerSettings, app: str = ""
    ) -> None:
        self.node_id = node_id
        self.received: list[RaftMessage] = []
        self.transport = PeerTransport(
            node_id, cluster, endpoint, reactor=reactor, rng=random.Random(7), settings=settings,
            app=app, explain_app=explain,
        )  # fmt: skip
        self.transport.on_message = self.received.append

    @property
    def port(self) -> int:
        return self.transport.listening_port()

    @property
    def address(self) -> str:
        return f"tcp:127.0.0.1:{self.port}"

    def stats(self) -> dict[str, int]:
        return self.transport.stats()


class Net:
    """Starts nodes; on exit stops them and checks that nothing of theirs is left behind."""

    def __init__(self) -> None:
        self.nodes: list[Node] = []
        self._before: set[Any] = set()

    async def __aenter__(self) -> Net:
        self._before = set(reactor.getDelayedCalls())
        return self

    async def start(
        self,
        node_id: str,
        cluster: str = "test",
        endpoint: str = LOOPBACK,
        settings: PeerSettings = FAST,
        app: str = "",
    ) -> Node:
        node = Node(node_id, cluster, endpoint, settings, app)
        await node.transport.start()
        self.nodes.append(node)
        return node

    async def stop(self, node: Node) -> None:
        self.nodes.remove(node)
        await node.transport.stop()
        assert node.transport.context.connections == set()

    async def __aexit__(self, *exc: object) -> None:
        for node in list(self.nodes):
            await self.stop(node)
        await deferLater(reactor, 0)  # let Twisted finish its own close bookkeeping
        leftover = [c for c in reactor.getDelayedCalls() if c not in self._before and c.active()]
        assert leftover == []


async def linked(net: Net) -> tuple[Node, Node]:
    a = await net.start("a")
    b = await net.start("b")
    a.transport.set_peer("b", b.address)
    b.transport.set_peer("a", a.address)
    return a, b


@pytest_twisted.ensureDeferred
async def test_two_transports_exchange_messages_both_ways_in_order() -> None:
    async with Net() as net:
        a, b = await linked(net)
        entries = tuple(Entry(1, i, EntryKind.COMMAND, bytes(200)) for i in range(1, 51))
        for term in range(1, 201):
            a.transport.send(AppendEntries("a", "b", term, 0, 0, entries[: term % 50], 0))
            b.transport.send(ping("b", "a", term))
        await until(lambda: len(a.received) == 200 and len(b.received) == 200)
        assert terms(a.received) == terms(b.received) == list(range(1, 201))
        assert b.received[49] == AppendEntries("a", "b", 50, 0, 0, (), 0)
        assert b.received[48] == AppendEntries("a", "b", 49, 0, 0, entries[:49], 0)
        for node in (a, b):
            stats = node.stats()
            assert stats["connects"] == 1 and stats["frames_received"] == 201
            assert stats["dropped"] == stats["bad_frames"] == stats["rejected_hello"] == 0
        assert a.stats()["bytes_sent"] == b.stats()["bytes_received"]


@pytest_twisted.ensureDeferred
async def test_wrong_cluster_is_rejected() -> None:
    async with Net() as net:
        a = await net.start("a", cluster="one")
        b = await net.start("b", cluster="two")
        a.transport.set_peer("b", b.address)
        a.transport.send(ping("a", "b", 1))
        await until(lambda: b.stats()["rejected_hello"] >= 2)  # a retries, still refused
        assert b.received == []
        assert a.stats()["connects"] >= 2


@pytest_twisted.ensureDeferred
async def test_other_settings_are_refused_and_both_ends_say_why_once() -> None:
    async with Net() as net:
        a = await net.start("a", app="s1")
        b = await net.start("b", app="s2")
        with Logged() as logged:
            a.transport.set_peer("b", b.address)
            b.transport.set_peer("a", a.address)
            a.transport.send(ping("a", "b", 1))
            b.transport.send(ping("b", "a", 1))
            await until(lambda: a.stats()["rejected_hello"] >= 2 <= b.stats()["rejected_hello"])
        assert a.received == b.received == []
        # Each side says it once: that it refused the peer's link, or that the peer refused
        # ours (both happen; whichever comes first speaks for the link both ways).
        about_a = logged.having("connection from a: settings s1") + logged.having(
            "peer a refuses our link: settings s1"
        )
        about_b = logged.having("connection from b: settings s2") + logged.having(
            "peer b refuses our link: settings s2"
        )
        assert len(about_a) == len(about_b) == 1
        assert logged.having("lost connection to peer") == []  # the refusal said it all


@pytest_twisted.ensureDeferred
async def test_peer_down_then_up_gets_queued_and_later_messages() -> None:
    async with Net() as net:
        probe = await net.start("b")
        port = probe.port
        await net.stop(probe)
        here = f"tcp:{port}:interface=127.0.0.1"
        a = await net.start("a")
        a.transport.set_peer("b", f"tcp:127.0.0.1:{port}")
        a.transport.send(ping("a", "b", 1))
        await deferLater(reactor, 0.15)  # several refused attempts
        assert a.stats()["connects"] == 0
        b = await net.start("b", endpoint=here)
        await until(lambda: terms(b.received) == [1])

        await net.stop(b)  # down again, after a working link
        await until(lambda: not a.transport.peers["b"].connected)
        for term in (2, 3, 4):
            a.transport.send(ping("a", "b", term))
        b = await net.start("b", endpoint=here)
        await until(lambda: terms(b.received) == [2, 3, 4])
        a.transport.send(ping("a", "b", 5))
        await until(lambda: terms(b.received) == [2, 3, 4, 5])
        assert a.stats()["connects"] == 2 and a.stats()["dropped"] == 0


class Garbage(Protocol):
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.lost: Deferred[None] = Deferred()

    def connectionMade(self) -> None:
        assert self.transport is not None
        self.transport.write(self.data)

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        self.lost.callback(None)


@pytest_twisted.ensureDeferred
async def test_garbage_closes_only_that_connection() -> None:
    async with Net() as net:
        a, b = await linked(net)
        a.transport.send(ping("a", "b", 1))
        await until(lambda: len(b.received) == 1)
        endpoint = TCP4ClientEndpoint(reactor, "127.0.0.1", b.port)
        for garbage in (b"GET / HTTP/1.1\r\n\r\n", HELLO + UNKNOWN_TAG):
            intruder = await connectProtocol(endpoint, Garbage(garbage))
            await intruder.lost
        assert b.stats()["bad_frames"] == 2
        a.transport.send(ping("a", "b", 2))
        await until(lambda: terms(b.received) == [1, 2])
        assert a.stats()["connects"] == 1


@pytest_twisted.ensureDeferred
async def test_full_queue_drops_and_counts_then_delivers_what_fit() -> None:
    size = len(codec.encode(ping("a", "b", 1)))
    small = PeerSettings(backoff_initial=0.01, backoff_max=0.05, queue_limit_bytes=10 * size)
    async with Net() as net:
        probe = await net.start("b")
        port = probe.port
        await net.stop(probe)
        a = await net.start("a", settings=small)
        a.transport.set_peer("b", f"tcp:127.0.0.1:{port}")
        for term in range(1, 26):
            a.transport.send(ping("a", "b", term))
        assert a.stats()["dropped"] == 15
        b = await net.start("b", endpoint=f"tcp:{port}:interface=127.0.0.1")
        await until(lambda: len(b.received) == 10)
        assert terms(b.received) == list(range(1, 11))


@pytest_twisted.ensureDeferred
async def test_stop_leaves_nothing_behind() -> None:
    async with Net() as net:
        a, b = await linked(net)
        a.transport.set_peer("c", "tcp:127.0.0.1:1")  # refused: a retry timer is pending
        a.transport.set_peer("d", "tcp:10.255.255.1:7667")  # likely still connecting
        a.transport.send(ping("a", "b", 1))
        b.transport.send(ping("b", "a", 1))
        await until(lambda: len(a.received) == len(b.received) == 1)
        await deferLater(reactor, 0.05)
        # Net's exit stops both and asserts: no connections, no delayed calls of ours.
    with pytest.raises(RuntimeError):
        a.transport.listening_port()
    a.transport.set_peer("b", "tcp:127.0.0.1:1")  # ignored once stopped
    assert a.transport.peers == {}
