"""Handing applied records to local connections: only this node's, once per batch."""

from __future__ import annotations

from twisted.internet.testing import StringTransport

from tests.irc.test_operators import OPERATORS
from tests.memorylog import Client, MemoryLog, Server
from twistedchat.chat.delivery import Broadcast, Delivery
from twistedchat.irc.backend import SessionSink
from twistedchat.irc.rendering import Rendering
from twistedchat.node.router import Router
from twistedchat.wire.message import Message


class Sink:
    """Records what a connection would be handed."""

    def __init__(self) -> None:
        self.got: list[tuple[Message, bool]] = []
        self.flushes = 0

    def deliver(self, rendering: Rendering, echo: bool = False) -> bool:
        self.got.append((rendering.message, echo))
        return len(self.got) == 1

    def flush(self) -> None:
        self.flushes += 1

    def respond(self, label: str | None, deliveries: object) -> None: ...

    def end(self, reason: str) -> None: ...

    def adopt(self, session: str) -> None: ...


HELLO = Message("PRIVMSG", ("#c", "hello"), "al!~al@h")


def test_a_broadcast_reaches_only_the_local_members_and_the_origin_gets_its_answer() -> None:
    router = Router("irc.test")
    local = {f"s{i}": Sink() for i in range(0, 1000, 100)}  # 10 of 1,000 members are here
    for session, sink in local.items():
        router.attach(session, sink)
    audience = tuple(f"s{i}" for i in range(1000))
    replies, after = router.hand_out([Broadcast(audience, HELLO, skip="s100")], origin="s200")
    assert replies == [Delivery("s200", HELLO)] and after == []
    got = {session: sink.got for session, sink in local.items()}
    assert got.pop("s100") == [] and got.pop("s200") == []  # the sender, and the origin
    assert all(messages == [(HELLO, False)] for messages in got.values())
    router.flush()
    assert sum(sink.flushes for sink in local.values()) == 8  # those handed something


def test_single_deliveries_keep_echo_and_separate() -> None:
    router = Router("irc.test")
    sink = Sink()
    router.attach("me", sink)
    mail = Delivery("me", HELLO, separate=True)
    echo = Delivery("me", HELLO, echo=True)
    replies, after = router.hand_out([echo, mail, Delivery("gone", HELLO)], origin="me")
    assert replies == [echo] and after == [mail] and sink.got == []
    router.deliver(echo)
    assert sink.got == [(HELLO, True)]


class CountingTransport(StringTransport):
    def __init__(self) -> None:
        super().__init__()
        self.writes = 0

    def write(self, data: bytes) -> None:
        self.writes += 1
        super().write(data)


def counted(server: Server, nick: str) -> tuple[Client, CountingTransport]:
    client = server.register(nick)
    transport = CountingTransport()
    client.protocol.transport = transport
    client.transport = transport
    return client, transport


def test_a_batch_of_entries_is_one_write_per_receiver_in_log_order() -> None:
    server = Server(flood_rate=0.0)
    alice = server.register("alice")
    bob, transport = counted(server, "bob")
    alice.send("JOIN #c")
    bob.send("JOIN #c")
    transport.clear()
    transport.writes = 0
    lines = b"".join(b"PRIVMSG #c :line %d\r\n" % i for i in range(50))
    alice.protocol.dataReceived(lines)  # one reactor turn: one proposal batch
    bob.protocol.dataReceived(b"PRIVMSG #c :mine\r\nPING :x\r\n")
    server.clock.advance(0)
    got = bob.lines()
    # One write: the batch's deliveries, then the PONG, answered (behind bob's own write)
    # while the batch was being applied, after what was held before it.
    assert transport.writes == 1
    assert [line.rsplit(":", 1)[1] for line in got[:50]] == [f"line {i}" for i in range(50)]
    assert "PONG" in got[-1] and len(got) == 51  # its own line is not echoed to it


class CountingSink:
    """A connection's stand-in that counts what its node hands it, then passes it on."""

    def __init__(self, sink: SessionSink, counts: dict[str, int], node: str):
        self.sink, self.counts, self.node = sink, counts, node

    def deliver(self, rendering: Rendering, echo: bool = False) -> bool:
        self.counts[self.node] += 1
        return self.sink.deliver(rendering, echo)

    def __getattr__(self, name: str) -> object:
        return getattr(self.sink, name)


def test_nodes_hand_out_a_message_to_their_own_members_only() -> None:
    log = MemoryLog()
    one = Server("n1", log=log, flood_rate=0.0)
    two = Server("n2", log=log, clock=one.clock, flood_rate=0.0)
    here = [one.register(f"a{i}") for i in range(3)]
    there = [two.register(f"b{i}") for i in range(5)]
    for client in here + there:
        client.send("JOIN #c")
    handed: dict[str, int] = {"n1": 0, "n2": 0}
    for server in (one, two):
        sinks = server.hub.router.sinks
        for session, sink in sinks.items():
            sinks[session] = CountingSink(sink, handed, server.hub.node_id)
    here[0].send("PRIVMSG #c :to all")
    assert handed == {"n1": 2, "n2": 5}
    assert all(client.has("PRIVMSG #c :to all") for client in here[1:] + there)


def test_a_kill_writes_what_the_victim_was_sent_before_it_closes() -> None:
    server = Server(operators=OPERATORS, flood_rate=0.0)
    alice, carol = server.register("alice"), server.register("carol")
    alice.send("OPER root s3cret-pass")
    carol.send("JOIN #c")
    alice.send("JOIN #c")
    carol.clear()
    alice.protocol.dataReceived(b"PRIVMSG #c :before\r\nKILL carol :bye\r\n")
    server.clock.advance(0)
    lines = carol.lines()
    assert lines[0].endswith("PRIVMSG #c :before") and lines[-1].startswith("ERROR :Closing Link")
    assert carol.closed


def test_sendq_counts_what_is_held_for_a_client_that_does_not_read() -> None:
    server = Server(sendq_bytes=10_000, flood_rate=0.0)
    alice, bob = server.register("alice"), server.register("bob")
    alice.send("JOIN #c")
    bob.send("JOIN #c")
    bob.clear()
    bob.protocol.pauseProducing()
    alice.protocol.dataReceived(b"".join(b"PRIVMSG #c :%s\r\n" % (b"y" * 300) for _ in range(60)))
    server.clock.advance(0)
    assert bob.closed and bob.transport.value() == b""  # dropped: nothing half-written
    alice.send("PING :alive")
    assert alice.has("PONG")
