"""A single-process command log for unit tests: commits on the next reactor turn.

It is the degenerate one-node case of the Raft log (append, then apply in order), so the
connection and the hub are exercised end to end without sockets or processes.
"""

from __future__ import annotations

import base64

from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport

from twistedchat.chat.command import Command
from twistedchat.chat.limits import ChatLimits
from twistedchat.chat.state import ChatState
from twistedchat.irc.isupport import isupport_tokens
from twistedchat.irc.protocol import IRCConnection, IRCFactory
from twistedchat.irc.settings import ConnectionSettings
from twistedchat.node.hub import SessionHub
from twistedchat.plugins import PluginHost


class MemoryLog:
    """Applies every proposal at once, in order, on each hub attached to it."""

    def __init__(self) -> None:
        self.hubs: list[SessionHub] = []
        self.entries: list[bytes] = []
        self.times: list[int] = []  # the log's clock, stamped as a leader would
        self.accepting = True  # False: cut off from the majority (writes refused)
        self.losing = False  # True: proposals vanish, as with a leader that just died

    def propose(self, entries: list[bytes]) -> None:
        if not self.accepting or self.losing:
            return
        now = int(self.hubs[0].clock.seconds() * 1000) if self.hubs else 0
        for data in entries:
            self.entries.append(data)
            self.times.append(max(self.times[-1] if self.times else 0, now))
            for hub in self.hubs:
                hub.apply(len(self.entries), data, self.times[-1])
        for hub in self.hubs:
            hub.flush()

    def writable(self) -> bool:
        return self.accepting


class Server:
    """A hub on a memory log, and helpers to connect clients over StringTransports.

    Servers built with the same ``log`` and ``clock`` are nodes of one cluster.
    """

    def __init__(
        self,
        node_id: str = "n1",
        log: MemoryLog | None = None,
        clock: Clock | None = None,
        plugins: PluginHost | None = None,
        **settings: object,
    ):
        if clock is None:
            clock = Clock()
            clock.advance(1_700_000_000)
        self.clock = clock
        limits = ChatLimits()
        self.settings = ConnectionSettings(
            server_name="irc.test",
            isupport=isupport_tokens(limits, "TestNet"),
            **settings,  # type: ignore[arg-type]
        )
        self.hub = SessionHub(
            node_id,
            ChatState(limits, plugins),
            self.clock,
            "irc.test",
            plugins=plugins,
            is_leader=lambda: True,
        )
        self.log = MemoryLog() if log is None else log
        for index, (data, time) in enumerate(zip(self.log.entries, self.log.times, strict=True), 1):
            self.hub.state.apply(index, Command.decode(data, time))  # a node starts from its log
        self.log.hubs.append(self.hub)
        self.hub.start(self.log, ("127.0.0.1:6667",))
        self.clock.advance(0)
        self.factory = IRCFactory(self.hub, self.settings, self.clock, limits.nicklen)

    def connect(self) -> Client:
        protocol = self.factory.buildProtocol(None)
        transport = StringTransport()
        protocol.makeConnection(transport)
        return Client(self, protocol, transport)

    def sasl_login(self, nick: str, password: str, caps: str = "sasl") -> Client:
        """A client registering as ``nick`` that logs in by SASL PLAIN as the account of
        that name, asking for ``caps``."""
        client = self.connect()
        client.send("CAP LS 302", f"CAP REQ :{caps}", f"NICK {nick}", f"USER {nick} 0 * :{nick}")
        client.send("AUTHENTICATE PLAIN")
        plain = base64.b64encode(f"\0{nick}\0{password}".encode()).decode()
        client.send(f"AUTHENTICATE {plain}", "CAP END")
        return client

    def register(self, nick: str, caps: tuple[str, ...] = ()) -> Client:
        client = self.connect()
        if caps:
            client.send("CAP LS 302", f"CAP REQ :{' '.join(caps)}")
        client.send(f"NICK {nick}", f"USER {nick} 0 * :Real {nick}")
        if caps:
            client.send("CAP END")
        assert client.has(" 001 "), client.lines()
        client.clear()
        return client


class Client:
    def __init__(self, server: Server, protocol: IRCConnection, transport: StringTransport):
        self.server = server
        self.protocol = protocol
        self.transport = transport

    def send(self, *lines: str) -> None:
        for line in lines:
            self.protocol.dataReceived(line.encode() + b"\r\n")
        self.server.clock.advance(0)

    def send_raw(self, data: bytes) -> None:
        self.protocol.dataReceived(data)
        self.server.clock.advance(0)

    def lines(self) -> list[str]:
        return self.transport.value().decode("utf-8", "replace").splitlines()

    def has(self, needle: str) -> bool:
        return any(needle in line for line in self.lines())

    def clear(self) -> None:
        self.transport.clear()

    def connection_lost(self) -> None:
        """What the reactor does once a closed transport has flushed."""
        self.protocol.connectionLost()
        self.server.clock.advance(0)

    @property
    def closed(self) -> bool:
        return self.transport.disconnecting
