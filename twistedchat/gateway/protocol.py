"""One IRC client of the gateway, relayed to the cluster through a :class:`ChatClient`.

The gateway terminates the client's registration and capability negotiation itself (it
offers what the cluster offers, except resume and SASL, which it cannot relay), then
starts a resumable session upstream with the client's nick. From then on every line goes
upstream with a label of the session's own and every reply comes back with the client's
label, if it used one. When the node dies, the session resumes elsewhere and the client
sees nothing but, perhaps, a short pause.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence

from twisted.internet.protocol import Factory, Protocol
from twisted.internet.ssl import Certificate
from twisted.logger import Logger
from twisted.python.failure import Failure

from twistedchat.client.api import ChatClient, Locator
from twistedchat.client.session import (
    RESUME_CAP,
    Event,
    Identity,
    Incoming,
    Reply,
    SessionLost,
)
from twistedchat.irc import numerics as N
from twistedchat.irc.capabilities import SUPPORTED, for_client
from twistedchat.irc.capneg import CapNegotiation
from twistedchat.irc.casemap import casefold
from twistedchat.irc.framing import FrameTooLong, LineFramer
from twistedchat.irc.grammar import ParseError, parse_line, serialize
from twistedchat.irc.labels import labeled
from twistedchat.irc.message import Message

log = Logger()

GATEWAY_NAME = "gateway"
#: What the gateway offers its clients: the cluster's capabilities minus the two it uses
#: or cannot relay.
OFFERED = {name: value for name, value in SUPPORTED.items() if name not in (RESUME_CAP, "sasl")}
ECHOED = frozenset({"PRIVMSG", "NOTICE", "TAGMSG"})
ClientFactory = Callable[[Identity, Callable[[Event], None]], ChatClient]


class GatewayConnection(Protocol):
    """See the module docstring."""

    def __init__(self, make_client: ClientFactory) -> None:
        self.make_client = make_client
        self.client: ChatClient | None = None
        self._capneg = CapNegotiation(OFFERED)
        self.caps = self._capneg.caps  # the same set, kept up to date by CAP REQ
        self._nick: str | None = None
        self._user: tuple[str, str] | None = None
        self._labels: dict[str, str | None] = {}  # our label -> the client's
        self._framer = LineFramer()
        self._batch_refs = (f"gw{n}" for n in itertools.count(1))

    # -- from the IRC client -----------------------------------------------------------

    def dataReceived(self, data: bytes) -> None:
        try:
            lines = self._framer.feed(data)
        except FrameTooLong:
            self._numeric(N.ERR_INPUTTOOLONG, "Input line was too long")
            lines = self._framer.feed(b"")
        for raw in lines:
            if not raw.strip():
                continue
            try:
                message = parse_line(raw)
            except ParseError as error:
                self._numeric(N.ERR_UNKNOWNERROR, f"Malformed line: {error}")
                continue
            self._handle(message)

    def connectionLost(self, reason: Failure | None = None) -> None:
        if self.client is not None:
            self.client.close("Connection closed")

    def _handle(self, message: Message) -> None:
        command = message.command
        if command == "CAP":
            self._cap(message)
        elif command == "PING":
            self._write(Message("PONG", (GATEWAY_NAME, *message.params[:1])))
        elif command == "PONG":
            pass  # the gateway answers the nodes' PINGs itself
        elif command == "QUIT":
            if self.client is not None:
                self.client.close(f"Quit: {message.params[0]}" if message.params else "Quit")
                self.client = None
            self.transport.loseConnection()  # type: ignore[union-attr]
        elif self.client is None:
            self._register(message)
        else:
            label = message.tags.get("label") if "labeled-response" in self.caps else None
            tags = {k: v for k, v in message.tags.items() if k != "label"}
            ours = self.client.submit(Message(command, message.params, None, tags))
            self._labels[ours] = label

    def _register(self, message: Message) -> None:
        """NICK and USER are kept for the upstream session; the node judges the nick."""
        command, params = message.command, message.params
        if command == "NICK" and not (params and params[0]):
            self._numeric(N.ERR_NONICKNAMEGIVEN, "No nickname given")
        elif command == "NICK":
            self._nick = params[0]
        elif command == "USER" and len(params) < 4:
            self._numeric(N.ERR_NEEDMOREPARAMS, "USER", "Not enough parameters")
        elif command == "USER":
            self._user = (params[0], params[3])
        elif command != "PASS":
            self._numeric(N.ERR_NOTREGISTERED, "You have not registered")
        self._start_when_ready()

    def _start_when_ready(self) -> None:
        """Open the upstream session once NICK, USER and any CAP negotiation are done."""
        if self._nick is None or self._user is None or self._capneg.negotiating:
            return
        self.client = self.make_client(Identity(self._nick, *self._user), self._event)
        self.client.start()

    def _cap(self, message: Message) -> None:
        registered = self.client is not None
        for reply in self._capneg.handle(message.params, self._nick or "*", registered):
            self._write(reply)
        if not registered:
            self._start_when_ready()

    # -- from the cluster --------------------------------------------------------------

    def _event(self, event: Event) -> None:
        if isinstance(event, Incoming):
            for message in self._visible([event.message]):
                self._write(message)
        elif isinstance(event, Reply):
            self._reply(self._labels.pop(event.label, None), self._visible(event.messages))
        elif isinstance(event, SessionLost):
            text = "*** Your session ended while the gateway was failing over; rejoin channels"
            self._write(Message("NOTICE", (self._own_nick(), text)))

    def _visible(self, messages: Sequence[Message]) -> list[Message]:
        """What the client may see: its own echoes only with echo-message, tags by caps."""
        own = casefold(self._own_nick())
        shown = []
        for message in messages:
            sender = casefold((message.source or "").partition("!")[0])
            if message.command in ECHOED and sender == own and "echo-message" not in self.caps:
                continue
            visible = for_client(message, self.caps)
            if visible is not None:
                shown.append(visible)
        return shown

    def _reply(self, label: str | None, messages: list[Message]) -> None:
        """Replies to one command, labelled the way the client asked."""
        refs = self._batch_refs if "batch" in self.caps else None
        for message in labeled(label, messages, refs):
            self._write(message)

    # -- output ------------------------------------------------------------------------

    def _own_nick(self) -> str:
        if self.client is not None:
            return self.client.session.nick
        return self._nick or "*"

    def _numeric(self, code: str, *params: str) -> None:
        self._write(Message(code, (self._own_nick(), *params)))

    def _write(self, message: Message) -> None:
        if self.transport is not None:
            self.transport.write(serialize(message, GATEWAY_NAME))


class GatewayFactory(Factory):
    """Builds a :class:`GatewayConnection` per IRC client, each with its own session."""

    def __init__(
        self,
        reactor: object,
        locate: Locator,
        keepalive: float = 5.0,
        tls_trust: Certificate | None = None,
    ) -> None:
        self.reactor = reactor
        self.locate = locate
        self.keepalive = keepalive
        self.tls_trust = tls_trust

    def buildProtocol(self, addr: object) -> GatewayConnection:
        def make_client(identity: Identity, on_event: Callable[[Event], None]) -> ChatClient:
            return ChatClient(
                self.reactor,
                self.locate,
                identity,
                on_event,
                keepalive=self.keepalive,
                tls_trust=self.tls_trust,
            )

        return GatewayConnection(make_client)
