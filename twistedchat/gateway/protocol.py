"""One IRC client of the gateway, relayed to the cluster through a :class:`ChatClient`.

The gateway terminates the client's registration and capability negotiation itself (it
offers what the cluster offers, except resume, which it uses itself), then starts a
resumable session upstream with the client's nick. From then on every line goes upstream
with a label of the session's own and every reply comes back with the client's label, if
it used one. When the node dies, the session resumes elsewhere and the client sees
nothing but, perhaps, a short pause, then what happened meanwhile: messages and channel
events (joins, parts, ...) alike, as live lines, whatever capabilities it negotiated.

The upstream session negotiates ``draft/event-playback``, so answers to the client's own
CHATHISTORY commands hold events; a client that did not negotiate it gets them without
(:func:`~twistedchat.irc.capabilities.without_events`).

SASL PLAIN is answered here but checked by the cluster: once the client's credentials are
complete, the upstream session starts with them alone and logs in, and its 900/903 (or
904) go back to the client, which waits for them before ``CAP END``; NICK and USER, which
irssi sends only after ``CAP END``, are given to the session when they come (see
``docs/decisions/0009-session-resume-and-gateway.md``).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence

from twisted.internet.protocol import Factory, Protocol
from twisted.internet.ssl import Certificate
from twisted.logger import Logger
from twisted.python.failure import Failure

from twistedchat.chat.commands import lookup
from twistedchat.client.api import ChatClient, Locator
from twistedchat.client.session import (
    RESUME_CAP,
    SASL_FAILURES,
    Event,
    Identity,
    Incoming,
    LoginFailed,
    Registered,
    Reply,
    SessionLost,
)
from twistedchat.irc import sasl
from twistedchat.irc.capabilities import SUPPORTED, for_client, without_events
from twistedchat.irc.capneg import CapNegotiation
from twistedchat.irc.labels import labeled
from twistedchat.wire import numerics as N
from twistedchat.wire.casemap import casefold
from twistedchat.wire.framing import FrameTooLong, LineFramer
from twistedchat.wire.grammar import ParseError, parse_line, serialize
from twistedchat.wire.message import Message

log = Logger()

GATEWAY_NAME = "gateway"
#: Capabilities the gateway does not offer: the one it uses itself, and those that change
#: what its upstream session would be sent, which is the same for all its clients:
#: invite-notify (a relay cannot tell its notices from invitations, see
#: chat.delivery.Delivery.needs); draft/message-redaction, extended-monitor,
#: draft/no-implicit-names, draft/metadata-3, draft/channel-rename, draft/multiline and
#: draft/read-marker (the upstream session does not ask for them, nor does the gateway
#: gather client batches); chghost and channel-rename are told to it in the quit-and-rejoin or
#: part-and-join form, which serves every client.
NOT_RELAYED = frozenset(
    {RESUME_CAP, "invite-notify", "draft/message-redaction", "extended-monitor",
     "draft/no-implicit-names", "chghost", "draft/multiline", "draft/metadata-3",
     "draft/channel-rename", "draft/read-marker"}
)  # fmt: skip
#: What the gateway offers its clients.
OFFERED = {name: value for name, value in SUPPORTED.items() if name not in NOT_RELAYED}
ECHOED = frozenset({"PRIVMSG", "NOTICE", "TAGMSG"})
#: The cluster's answers to a SASL login, which the gateway relays once.
SASL_REPLIES = SASL_FAILURES | {N.RPL_LOGGEDIN, N.RPL_SASLSUCCESS}
ClientFactory = Callable[[Identity | sasl.Credentials, Callable[[Event], None]], ChatClient]


class GatewayConnection(Protocol):
    """See the module docstring."""

    def __init__(self, make_client: ClientFactory) -> None:
        self.make_client = make_client
        self.client: ChatClient | None = None
        self._capneg = CapNegotiation(OFFERED)
        self.caps = self._capneg.caps  # the same set, kept up to date by CAP REQ
        self._nick: str | None = None
        self._user: tuple[str, str] | None = None
        self._introduced = False  # the upstream session knows the nick: we are registered
        self._sasl = sasl.PlainExchange()
        self._login: sasl.Credentials | None = None  # handed to the upstream session
        self._login_accepted = False  # the client was told 903
        self._known_nick: str | None = None  # after a lost session: the nick the client knows
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
        elif command == "AUTHENTICATE" and not self._introduced:
            self._authenticate(message)
        elif not self._introduced:
            self._register(message)
        elif self.client is not None:  # None after QUIT: what followed it is dropped
            self._relay(self.client, message)

    def _relay(self, client: ChatClient, message: Message) -> None:
        """Upstream under a label of the session's own, mapped back to the client's."""
        label = message.tags.get("label") if "labeled-response" in self.caps else None
        tags = {k: v for k, v in message.tags.items() if k != "label"}
        ours = client.submit(Message(message.command, message.params, None, tags))
        self._labels[ours] = label

    def _register(self, message: Message) -> None:
        """NICK and USER are kept for the upstream session; the node judges the nick.

        What else the command table lets a client send before registration (PASS, and
        RESUME: the gateway resumes its upstream session itself) has no use here and is
        ignored; anything more is a 451, as a node would answer it.
        """
        command, params = message.command, message.params
        if command == "NICK" and not (params and params[0]):
            self._numeric(N.ERR_NONICKNAMEGIVEN, "No nickname given")
        elif command == "NICK":
            self._nick = params[0]
        elif command == "USER" and len(params) < 4:
            self._numeric(N.ERR_NEEDMOREPARAMS, "USER", "Not enough parameters")
        elif command == "USER":
            self._user = (params[0], params[3])
        elif (spec := lookup(command)) is None or not spec.before_registration:
            self._numeric(N.ERR_NOTREGISTERED, "You have not registered")
        self._start_when_ready()

    def _start_when_ready(self) -> None:
        """Open the upstream session once NICK, USER and any CAP negotiation are done, or
        as soon as a login is complete (only the cluster can check it, and the client
        waits for the answer before ``CAP END``); such a session is told who the user is
        once the rest is there."""
        identity = self._identity()
        aborted = None if identity is None else self._sasl.interrupt()
        if aborted is not None:  # registering mid-exchange ends it (IRCv3 SASL)
            self._sasl_step(aborted)
        if self.client is None:
            start = identity if identity is not None else self._login
            if start is not None:
                self._introduced = identity is not None
                self._open_upstream(start)
        elif identity is not None and not self._introduced:
            self._introduced = True
            self.client.introduce(identity)

    def _identity(self) -> Identity | None:
        if self._nick is None or self._user is None or self._capneg.negotiating:
            return None
        return Identity(self._nick, *self._user, self._login)

    def _open_upstream(self, start: Identity | sasl.Credentials) -> None:
        """A new upstream session; events of one dropped meanwhile (a refused login) are
        ignored, so its closing never reaches the client."""

        def on_event(event: Event) -> None:
            if self.client is client:
                self._event(event)

        client = self.make_client(start, on_event)
        self.client = client
        client.start()

    def _cap(self, message: Message) -> None:
        registered = self._introduced
        for reply in self._capneg.handle(message.params, self._nick or "*", registered):
            self._write(reply)
        if not registered:
            self._start_when_ready()

    def _authenticate(self, message: Message) -> None:
        """SASL PLAIN before registration: the exchange is answered here, the credentials
        are checked upstream; one login at a time."""
        if "sasl" not in self.caps or not message.params:
            self._numeric(N.ERR_SASLFAIL, "SASL authentication failed")
        elif message.params[0] == "*" and self._login is not None and not self._login_accepted:
            self._abort_login()
        elif self._login is not None:
            self._numeric(N.ERR_SASLALREADY, "You have already authenticated")
        else:
            self._sasl_step(self._sasl.step(message.params[0]))

    def _abort_login(self) -> None:
        """The client gave up while the cluster checks its login: forget it (906)."""
        self._login = None
        if not self._introduced and self.client is not None:
            self.client.close("SASL authentication aborted")
            self.client = None
        self._numeric(N.ERR_SASLABORTED, "SASL authentication aborted")

    def _sasl_step(self, step: sasl.Step) -> None:
        for line in sasl.server_lines(step, self._own_nick()):
            self._write(line)
        if isinstance(step, sasl.Credentials):
            self._login = step
            self._start_when_ready()

    # -- from the cluster --------------------------------------------------------------

    def _event(self, event: Event) -> None:
        if isinstance(event, Incoming):
            self._incoming(event.message)
        elif isinstance(event, LoginFailed):
            self._login_failed()
        elif isinstance(event, Reply):
            label = self._labels.pop(event.label, None)
            self._reply(label, self._visible(without_events(event.messages, self.caps)))
        elif isinstance(event, SessionLost):
            self._known_nick = self._own_nick()
            text = "*** Your session ended while the gateway was failing over; rejoin channels"
            self._write(Message("NOTICE", (self._known_nick, text)))
        elif isinstance(event, Registered) and self._known_nick is not None:
            self._registered_again(event.nick)

    def _registered_again(self, nick: str) -> None:
        """The session was lost and a new one registered: the client, which never left,
        is told only of a new nick (its old one may still have been held)."""
        if casefold(nick) != casefold(self._known_nick or nick):
            self._write(
                Message("NICK", (nick,), f"{self._known_nick}!{GATEWAY_NAME}@{GATEWAY_NAME}")
            )

    def _incoming(self, message: Message) -> None:
        """The cluster's answer to the client's login goes through once: after a failover
        the upstream session logs in again, which the client must not see. Neither may it
        see a second registration after a lost session (433s, the welcome burst)."""
        if self._known_nick is not None and message.command.isdigit():
            if message.command in (N.RPL_ENDOFMOTD, N.ERR_NOMOTD):
                self._known_nick = None  # the burst is over
            return
        if self._login is not None and message.command in SASL_REPLIES:
            if self._login_accepted:
                return
            self._login_accepted = message.command == N.RPL_SASLSUCCESS
        for visible in self._visible([message]):
            self._write(visible)

    def _login_failed(self) -> None:
        """A refused login. The client may try again or register without an account, so
        an upstream session that has not registered yet is dropped. Refused after a 903
        (logging in again after a failover), the user must hear that the account is gone.
        """
        if self._login_accepted:
            text = "*** Logging in again after a failover was refused: you are not logged in"
            self._write(Message("NOTICE", (self._own_nick(), text)))
            return
        self._login = None
        if not self._introduced and self.client is not None:
            self.client.close("SASL authentication failed")
            self.client = None

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
        if self.client is not None and self._introduced:
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
        server_password: str | None = None,
    ) -> None:
        self.reactor = reactor
        self.locate = locate
        self.keepalive = keepalive
        self.tls_trust = tls_trust
        self.server_password = server_password

    def buildProtocol(self, addr: object) -> GatewayConnection:
        def make_client(
            identity: Identity | sasl.Credentials, on_event: Callable[[Event], None]
        ) -> ChatClient:
            return ChatClient(
                self.reactor,
                self.locate,
                identity,
                on_event,
                keepalive=self.keepalive,
                tls_trust=self.tls_trust,
                server_password=self.server_password,
            )

        return GatewayConnection(make_client)
