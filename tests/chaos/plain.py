"""The chaos workload's plain client: no gateway, no resume, only SASL, straight to a node.

That is how most users connect (irssi, WeeChat): a client that knows the nodes' addresses,
logs in by SASL PLAIN, and when its connection drops connects to the next node after a
short delay and logs in again. Logging in as the account that holds its nick takes its
old session back (a *reclaim*, ``Welcome back``), and the server then owes it the lines
said while it was away (replayed after a ``*** Replaying`` notice), or, when the session
had ended meanwhile (``Welcome to ...``), it rejoins and is owed the lines from there on.

:class:`PlainSession` is one connection's conversation, sans IO (feed it parsed lines, it
answers the lines to write and notes what happened); :class:`PlainClient` drives them
over TCP with the reactor: timeouts, keepalive, reconnecting to the next node, a few
lines of its own. Everything it sees goes to ``History.plain[name]`` as events, which
:func:`tests.chaos.checker.plain_violations` checks (the rules are there).
"""

from __future__ import annotations

import base64
import random
import re
from typing import Any

from twisted.internet.defer import Deferred
from twisted.internet.endpoints import TCP4ClientEndpoint
from twisted.internet.interfaces import IDelayedCall
from twisted.internet.protocol import Factory, Protocol, connectionDone
from twisted.logger import Logger
from twisted.python.failure import Failure

from tests.chaos.checker import History
from tests.chaos.workload import CHANNEL
from twistedchat.wire.framing import FrameTooLong, LineFramer
from twistedchat.wire.grammar import ParseError, parse_line, serialize
from twistedchat.wire.message import Message

PASSWORD = "chaos-plain-password"
REPLAY_NOTICE = "*** Replaying"
#: "*** Replaying the last 300 of the 412 lines ..." (cut) or "*** Replaying 12 lines ...".
_REPLAY_COUNTS = re.compile(r"the last (\d+) of the (\d+) lines|(\d+) lines")
SASL_FAILED = {"902", "904", "905", "906", "908"}

CONNECT_TIMEOUT = 3.0  # seconds for TCP to connect
REGISTRATION_TIMEOUT = 15.0  # from connected to 001 (a reclaim may wait 5 s for a node down)
RECONNECT_DELAY = (0.2, 0.8)  # seconds before the next attempt, uniformly
KEEPALIVE = 3.0  # a PING this often once registered...
SILENCE = 20.0  # ...and a connection that said nothing for this long is given up
MAX_ATTEMPTS = 200  # failed attempts in a row before it gives up (a liveness violation)
SEND_EVERY = (3.0, 7.0)  # seconds between its own lines, uniformly

log = Logger()


class PlainSession:
    """One connection of the plain client: registration (SASL, or REGISTER on the very
    first one), the channel, and what it sees. ``now`` is given with every line.

    ``events`` collects what the checker needs, in order: ``["welcome", t, "back"|"new"]``,
    ``["join", t]`` (its JOIN of the channel came back), ``["line", text]`` (a PRIVMSG to
    the channel), ``["replay", t, shown, total]`` (the replay notice; cut if shown <
    total). ``failed`` says why the connection is no use (then close it).
    """

    def __init__(self, nick: str, account_known: bool) -> None:
        self.nick = nick
        self.account_known = account_known  # else this connection registers the account
        self.registered = False
        self.joined = False
        self.failed: str | None = None
        self.events: list[list[Any]] = []

    def start(self) -> list[Message]:
        nick = Message("NICK", (self.nick,))
        user = Message("USER", (self.nick, "0", "*", self.nick))
        if not self.account_known:
            return [nick, user]
        return [Message("CAP", ("LS", "302")), nick, user, Message("CAP", ("REQ", "sasl"))]

    def feed(self, message: Message, now: float) -> list[Message]:
        command, params = message.command, message.params
        if command == "PING":
            return [Message("PONG", params[:1])]
        if not self.registered:
            return self._registering(message, now)
        if command == "PRIVMSG" and params[:1] == (CHANNEL,) and len(params) == 2:
            self.events.append(["line", params[1]])
        elif command == "NOTICE" and params[-1:] and params[-1].startswith(REPLAY_NOTICE):
            shown, total = _replay_counts(params[-1])
            self.events.append(["replay", now, shown, total])
        elif command == "JOIN" and params[:1] == (CHANNEL,) and self._mine(message):
            self.joined = True
            self.events.append(["join", now])
        elif command == "REGISTER" and params[:1] == ("SUCCESS",):
            self.account_known = True
            return [Message("JOIN", (CHANNEL,))]
        elif command == "FAIL" and params[:2] == ("REGISTER", "ACCOUNT_EXISTS"):
            self.account_known = True  # registered by an earlier connection: log in next time
            self.failed = "the account exists but this session is not logged in"
        return []

    def _registering(self, message: Message, now: float) -> list[Message]:
        command, params = message.command, message.params
        if command == "CAP" and params[1:2] == ("ACK",):
            return [Message("AUTHENTICATE", ("PLAIN",))]
        if command == "CAP" and params[1:2] == ("NAK",):
            self.failed = "sasl refused"
        elif command == "AUTHENTICATE" and params[:1] == ("+",):
            plain = f"\0{self.nick}\0{PASSWORD}".encode()
            return [Message("AUTHENTICATE", (base64.b64encode(plain).decode(),))]
        elif command == "903":
            return [Message("CAP", ("END",))]
        elif command in SASL_FAILED:
            self.failed = f"SASL failed ({command})"
        elif command in ("432", "433"):
            self.failed = f"nick refused ({command})"
        elif command == "001":
            self.registered = True
            back = bool(params[1:]) and params[-1].startswith("Welcome back")
            self.events.append(["welcome", now, "back" if back else "new"])
            if not self.account_known:
                return [Message("REGISTER", ("*", "*", PASSWORD))]
            return [] if back else [Message("JOIN", (CHANNEL,))]
        return []

    def _mine(self, message: Message) -> bool:
        return (message.source or "").split("!")[0].casefold() == self.nick.casefold()


def _replay_counts(text: str) -> tuple[int, int]:
    found = _REPLAY_COUNTS.search(text)
    if found is None:
        return 0, 0
    if found.group(3) is not None:
        return int(found.group(3)), int(found.group(3))
    return int(found.group(1)), int(found.group(2))


class _Lines(Protocol):
    def __init__(self, client: PlainClient) -> None:
        self.client = client
        self.framer = LineFramer()

    def connectionMade(self) -> None:
        self.client.connected(self)

    def dataReceived(self, data: bytes) -> None:
        try:
            lines = self.framer.feed(data)
        except FrameTooLong:
            lines = self.framer.feed(b"")
        for raw in lines:
            try:
                message = parse_line(raw)
            except ParseError:
                continue
            self.client.received(self, message)

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        self.client.lost(self)


class PlainClient:
    """The plain reclaiming client: ``nodes`` are IRC addresses (``host:port``) tried in
    turn, from ``first``. Records into ``history.plain[name]`` (see :class:`PlainSession`
    for the events; the client adds ``["drop", t, why]`` when a registered connection
    ended, ``["gave-up", t, attempts]``) and its own lines into ``history.sent``."""

    def __init__(self, name: str, reactor: Any, nodes: list[str], first: int, history: History,
                 rng: random.Random, start: float) -> None:  # fmt: skip
        self.name = name
        self.reactor = reactor
        self.nodes = nodes
        self.index = first % len(nodes)
        self.history = history
        self.rng = rng
        self.start = start
        self.events: list[list[Any]] = history.plain.setdefault(name, [])
        self.account_known = False
        self.sending = False
        self.closing = False
        self.count = 0
        self.attempts = 0  # failed ones in a row
        self.reclaims = 0
        self.session: PlainSession | None = None
        self.protocol: _Lines | None = None
        self.last_heard = 0.0
        self._joined: Deferred[None] | None = None  # fired at the first join
        self._timers: dict[str, IDelayedCall] = {}

    @property
    def in_flight(self) -> dict[str, str]:
        return {}  # its lines are never acknowledged (no echo-message): nothing to wait for

    def now(self) -> float:
        return float(self.reactor.seconds()) - self.start

    async def join(self) -> None:
        self._joined = Deferred()
        self._connect()
        await self._joined

    def begin(self, _period: float) -> None:
        self.sending = True
        self._later("send", self.rng.uniform(*SEND_EVERY), self._send)

    def halt(self) -> None:
        self.sending = False
        self._cancel("send")

    def close(self) -> None:
        self.closing = True
        self.halt()
        for name in list(self._timers):
            self._cancel(name)
        if self.protocol is not None and self.protocol.transport is not None:
            self.protocol.transport.loseConnection()

    def seen(self) -> set[str]:
        return {event[1] for event in self.events if event[0] == "line"}

    # -- connections -------------------------------------------------------------------

    def _connect(self) -> None:
        if self.closing:
            return
        host, port = self.nodes[self.index].rsplit(":", 1)
        endpoint = TCP4ClientEndpoint(self.reactor, host, int(port), timeout=CONNECT_TIMEOUT)
        attempt = endpoint.connect(Factory.forProtocol(lambda: _Lines(self)))
        attempt.addErrback(lambda _failure: self._failed(None, "connect failed"))

    def connected(self, protocol: _Lines) -> None:
        if self.closing:
            protocol.transport.loseConnection()  # type: ignore[union-attr]
            return
        self.protocol = protocol
        self.session = PlainSession(self.name, self.account_known)
        self.last_heard = self.now()
        self._later("register", REGISTRATION_TIMEOUT, self._abort, "registration timed out")
        self._write(*self.session.start())

    def received(self, protocol: _Lines, message: Message) -> None:
        session = self.session
        if protocol is not self.protocol or session is None:
            return
        self.last_heard = self.now()
        was_registered, was_joined = session.registered, session.joined
        replies = session.feed(message, self.now())
        self.account_known = session.account_known
        new, session.events = session.events, []
        self.events += new
        for event in new:
            if event[0] != "line":
                log.info("plain {name} on {node}: {event}", name=self.name,
                         node=self.nodes[self.index], event=event)  # fmt: skip
        self._write(*replies)
        if session.failed is not None:
            self._abort(session.failed)
            return
        if session.registered and not was_registered:
            self._cancel("register")
            self.attempts = 0
            self._later("keepalive", KEEPALIVE, self._keepalive)
            self.reclaims += any(e[0] == "welcome" and e[2] == "back" for e in new)
        first_join = self._joined is not None and not self._joined.called
        if session.joined and not was_joined and first_join:
            assert self._joined is not None
            self._joined.callback(None)

    def lost(self, protocol: _Lines) -> None:
        if protocol is not self.protocol or self.closing:
            return
        session, self.protocol, self.session = self.session, None, None
        self._cancel("keepalive")
        self._cancel("register")
        if session is not None and session.registered:
            self.events.append(["drop", self.now(), session.failed or "connection lost"])
            log.info("plain {name} on {node}: {event}", name=self.name,
                     node=self.nodes[self.index], event=self.events[-1])  # fmt: skip
            self._next_attempt()
        else:
            self._failed(None, session.failed if session else "lost while registering")

    def _failed(self, _protocol: _Lines | None, why: str | None) -> None:
        log.info("plain {name}: attempt on {node} failed: {why}", name=self.name,
                 node=self.nodes[self.index], why=why)  # fmt: skip
        self.attempts += 1
        if self.attempts >= MAX_ATTEMPTS:
            self.events.append(["gave-up", self.now(), self.attempts])
            return
        self._next_attempt()

    def _next_attempt(self) -> None:
        if self.closing:
            return
        self.index = (self.index + 1) % len(self.nodes)  # another node, in turn
        self._later("connect", self.rng.uniform(*RECONNECT_DELAY), self._connect)

    def _abort(self, why: str) -> None:
        if self.session is not None and self.session.failed is None:
            self.session.failed = why
        if self.protocol is not None and self.protocol.transport is not None:
            self.protocol.transport.abortConnection()  # type: ignore[attr-defined]

    def _keepalive(self) -> None:
        if self.protocol is None:
            return
        if self.now() - self.last_heard > SILENCE:
            self._abort(f"nothing heard for {SILENCE:.0f}s")
            return
        self._write(Message("PING", ("keepalive",)))
        self._later("keepalive", KEEPALIVE, self._keepalive)

    def _send(self) -> None:
        if not self.sending:
            return
        if self.session is not None and self.session.joined:
            self.count += 1
            text = f"{self.name}-{self.count:05d}"
            self.history.sent[text] = self.now()
            self._write(Message("PRIVMSG", (CHANNEL, text)))
        self._later("send", self.rng.uniform(*SEND_EVERY), self._send)

    def _write(self, *messages: Message) -> None:
        if self.protocol is not None and self.protocol.transport is not None:
            for message in messages:
                self.protocol.transport.write(serialize(message, None))

    def _later(self, name: str, delay: float, what: Any, *args: Any) -> None:
        self._cancel(name)
        self._timers[name] = self.reactor.callLater(delay, what, *args)

    def _cancel(self, name: str) -> None:
        timer = self._timers.pop(name, None)
        if timer is not None and timer.active():
            timer.cancel()
