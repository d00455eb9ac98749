"""The Twisted edge of the IRC front end: one connection, from bytes to backend calls.

Parsing, framing and flood accounting are pure helpers (:mod:`~twistedchat.wire.grammar`,
:mod:`~twistedchat.wire.framing`, :mod:`~twistedchat.ratelimit`); the chat itself is the
backend's. What stays here is what only makes sense per socket: registration progress,
negotiated capabilities, labels, timers and the send queue. Every timer uses the injected
clock so the tests drive it with ``twisted.internet.task.Clock``.
"""

from __future__ import annotations

import hmac
import itertools
import secrets
from collections import deque
from collections.abc import Callable, Sequence
from typing import TypeVar

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import (
    IAddress,
    IDelayedCall,
    IPushProducer,
    IReactorTime,
    ISSLTransport,
)
from twisted.internet.protocol import Factory, Protocol
from twisted.logger import Logger
from twisted.python.failure import Failure
from zope.interface import implementer

from twistedchat.chat.command import CONNECT, OPER, REHASH, RESUME
from twistedchat.chat.commands import Answer
from twistedchat.chat.delivery import Delivery, given
from twistedchat.chat.resume import RESUME_TAG, token_hash
from twistedchat.irc import sasl
from twistedchat.irc.account_commands import (
    BUSY,
    Identification,
    Outcome,
    Registration,
    Request,
    is_service_message,
    register_command,
    service_command,
)
from twistedchat.irc.admission import Admission
from twistedchat.irc.backend import ChatBackend
from twistedchat.irc.capabilities import (
    READ_MARKER_CAP,
    RESUME_CAP,
    SUPPORTED,
    for_client,
    history_query,
    shown,
)
from twistedchat.irc.capneg import CAP_302, CapNegotiation
from twistedchat.irc.greeting import (
    info_lines,
    motd_lines,
    time_line,
    version_lines,
    welcome_burst,
)
from twistedchat.irc.help import help_lines
from twistedchat.irc.labels import labeled
from twistedchat.irc.login_throttle import LoginThrottle
from twistedchat.irc.multiline import MULTILINE_CAP, Collector, MultilineError
from twistedchat.irc.rendering import Rendering, view_for
from twistedchat.irc.settings import ConnectionSettings
from twistedchat.ratelimit import TokenBucket
from twistedchat.security.hashing import Check, HasherBusy, ImmediateHasher, PasswordHasher
from twistedchat.wire import numerics as N
from twistedchat.wire.casemap import casefold
from twistedchat.wire.framing import FrameTooLong, LineFramer
from twistedchat.wire.grammar import InvalidUtf8, ParseError, parse_line, serialize
from twistedchat.wire.message import Message
from twistedchat.wire.names import valid_nick

log = Logger()
T = TypeVar("T")


@implementer(IPushProducer)
class IRCConnection(Protocol):
    """One IRC client connection."""

    factory: IRCFactory

    # Slots: a node holds thousands of idle connections, and an instance dict with this
    # many attributes costs about 1.5 KiB each (the base Protocol still has a dict, for
    # what Twisted sets: transport, connected, factory).
    __slots__ = (
        "_admitted",
        "_awaiting_pong",
        "_batch_refs",
        "_bucket",
        "_bytes_while_paused",
        "_capneg",
        "_checking",
        "_closing",
        "_connect_in_flight",
        "_drain_call",
        "_draining",
        "_framer",
        "_inbox",
        "_last_seen",
        "_multiline",
        "_output",
        "_parsed_head",
        "_password",
        "_quitting",
        "_reading_paused",
        "_resume_token",
        "_resuming",
        "_sasl",
        "_sasl_account",
        "_sasl_rehash",
        "_send_paused",
        "_timers",
        "_user",
        "_view",
        "_writes_in_flight",
        "backend",
        "caps",
        "clock",
        "host",
        "nick",
        "registered",
        "session",
        "settings",
    )

    def __init__(self, backend: ChatBackend, settings: ConnectionSettings, clock: IReactorTime):
        self.backend = backend
        self.settings = settings
        self.clock = clock
        self.session = ""
        self.host = "unknown"
        self.nick = "*"
        self.registered = False
        self._capneg = CapNegotiation({**SUPPORTED, **dict.fromkeys(settings.extra_caps, "")})
        self.caps = self._capneg.caps  # the same set, kept up to date by CAP REQ
        self._view = view_for(self.caps)  # what the caps change in our bytes; CAP updates it
        self._user: tuple[str, str] | None = None  # (username, realname)
        self._password: str | None = None  # PASS, checked against --password-file
        self._sasl = sasl.PlainExchange()
        self._sasl_account: str | None = None  # verified by SASL, applied with CONNECT
        self._sasl_rehash: Message | None = None  # its @REHASH, proposed once registered
        self._checking = False  # a password is being hashed or checked: later lines wait
        self._connect_in_flight = False  # a CONNECT or a RESUME, until it is applied
        self._resuming = False
        self._resume_token: str | None = None  # our next token, once the state has its hash
        self._quitting = False
        self._closing = False
        self._framer = LineFramer()
        self._inbox: deque[bytes] = deque()
        self._parsed_head: tuple[bytes, Message] | None = None  # the inbox's first, parsed
        self._bucket = TokenBucket(settings.flood_burst, settings.flood_rate)
        self._drain_call: IDelayedCall | None = None
        self._draining = False
        self._timers: dict[str, IDelayedCall] = {}
        self._writes_in_flight = 0
        self._reading_paused = False
        self._last_seen = 0.0
        self._multiline: Collector | None = None  # an open draft/multiline batch
        self._awaiting_pong = False
        self._send_paused = False
        self._bytes_while_paused = 0
        self._output: list[bytes] = []  # deliveries of this turn, for one write (flush)
        self._batch_refs = (f"L{n}" for n in itertools.count(1))
        self._admitted = False  # counted by the factory's per-address limits

    # -- Twisted callbacks -------------------------------------------------------------

    def connectionMade(self) -> None:
        peer = self.transport.getPeer()  # type: ignore[union-attr]
        self.host = getattr(peer, "host", "unknown")
        self.transport.registerProducer(self, True)  # type: ignore[union-attr]
        if hasattr(self.transport, "setTcpNoDelay"):  # a chat line should not wait for Nagle
            self.transport.setTcpNoDelay(True)  # type: ignore[union-attr]
        if self.backend.local_client_count() >= self.settings.max_clients:
            log.info("refusing {host}: node full", host=self.host)
            self._close(f"Server full ({self.settings.max_clients} clients)")
            return
        refusal = self.factory.admission.admit(self.host, self.clock.seconds())
        if refusal is not None:
            log.info("refusing {host}: {why}", host=self.host, why=refusal)
            self._close(refusal)
            return
        self._admitted = True
        self.session = self.backend.open_session(self, self.host)
        self._last_seen = self.clock.seconds()
        self._timers["register"] = self.clock.callLater(
            self.settings.registration_timeout, self._registration_timed_out
        )
        self._timers["keepalive"] = self.clock.callLater(
            self.settings.ping_interval, self._check_keepalive
        )

    def dataReceived(self, data: bytes) -> None:
        if self._closing:
            return
        self._last_seen = self.clock.seconds()
        self._awaiting_pong = False
        try:
            lines = self._framer.feed(data)
        except FrameTooLong:
            self._send_numeric(N.ERR_INPUTTOOLONG, "Input line was too long")
            lines = self._framer.feed(b"")
        self._inbox.extend(lines)
        self._drain()
        flood_waiting = self._drain_call is not None and self._drain_call.active()
        # Lines held behind flood control or a password check are bounded alike.
        if (flood_waiting or self._checking) and len(self._inbox) > self.settings.flood_backlog:
            self.factory.flood_kills += 1
            self._close("Excess Flood")

    def connectionLost(self, reason: Failure | None = None) -> None:
        self._closing = True
        if self._admitted:
            self._admitted = False
            self.factory.admission.left(self.host)
        for call in [*self._timers.values(), self._drain_call]:
            if call is not None and call.active():
                call.cancel()
        self._timers.clear()
        if self.session:
            if not self._quitting:
                self.backend.close_session(self.session, "Connection closed")
            else:
                self.backend.close_session(self.session, "")
            self.session = ""

    def _follow_own_nick(self, message: Message) -> None:
        """Keep the nick used in our own numerics in step with the replicated state."""
        if message.command != "NICK" or not message.params or message.source is None:
            return
        if casefold(message.source.partition("!")[0]) == casefold(self.nick):
            self.nick = message.params[0]

    # -- IPushProducer: the transport tells us when the client stops reading -----------

    def pauseProducing(self) -> None:
        self._send_paused = True

    def resumeProducing(self) -> None:
        self._send_paused = False
        self._bytes_while_paused = 0

    def stopProducing(self) -> None:
        self._closing = True

    # -- SessionSink: called by the backend --------------------------------------------

    def deliver(self, rendering: Rendering, echo: bool = False) -> bool:
        message = rendering.message
        command = message.command
        if command == "ERROR":  # the log ended this session (a KILL)
            self._send(message)
            self._quitting = True
            self._hang_up()
            return False
        if command == "NICK":
            self._follow_own_nick(message)
        if echo and not self._view.echo:
            return False
        data = rendering.bytes_for(self._view)
        if data is None or self._closing:
            return False
        held = bool(self._output)
        self._output.append(data)
        self._count_while_paused(len(data))
        return not held

    def flush(self) -> None:
        """Write the deliveries held since the last flush, in one transport write."""
        if self._output:
            data = b"".join(self._output)
            self._output.clear()
            if not self._closing and self.transport is not None:
                self.transport.write(data)

    def respond(self, label: str | None, deliveries: Sequence[Delivery]) -> None:
        self._writes_in_flight -= 1
        for delivery in deliveries:
            self._follow_own_nick(delivery.message)
        messages = [
            m
            for d in deliveries
            if not (d.echo and "echo-message" not in self.caps) and given(d.needs, self.caps)
            for m in shown(d.message, self.caps)
        ]
        if self._connect_in_flight and not self.registered:
            self._connect_in_flight = False
            if self._resuming or any(m.command == "RESUME" for m in messages):
                self._resuming = False  # a RESUME, or a CONNECT that reclaimed a session
                self._finish_resume(messages)
                return
            welcome = next((m for m in messages if m.command == N.RPL_WELCOME), None)
            if welcome is not None:
                self._complete_registration(welcome)
                return
        self._reply(label, messages)
        if self._quitting and self._writes_in_flight == 0:
            self._close("Quit")
        self._drain()

    def end(self, reason: str) -> None:
        self._quitting = True  # the backend has already ended the session
        self.session = ""
        self._close(reason)

    def adopt(self, session: str) -> None:
        self.session = session

    # -- input processing --------------------------------------------------------------

    def _drain(self) -> None:
        """Process queued lines in order, as fast as flood control and writes allow.

        Not re-entrant: a line whose handling ends in a call back here (a password check
        answered at once) leaves the rest of the inbox to the loop already running.
        """
        if self._draining or (self._drain_call is not None and self._drain_call.active()):
            return
        self._drain_call = None
        self._draining = True
        try:
            while self._inbox and not self._closing:
                if self._checking or self._must_wait_for_writes():
                    self._pause_reading()
                    return
                if self._in_open_batch(self._inbox[0]):
                    delay = 0.0
                else:
                    delay = self._bucket.take(self.clock.seconds())
                if delay > 0:
                    self._drain_call = self.clock.callLater(delay, self._drain)
                    return
                self._handle_line(self._inbox.popleft())
        finally:
            self._draining = False
        self._resume_reading()

    def _in_open_batch(self, raw: bytes) -> bool:
        """Whether a queued line belongs to the open multiline batch, which takes no flood
        token: its lines are one message, bounded by the batch's own limits, and the
        BATCH lines around them pay for it. A batch that broke a rule or is full pays
        per line again."""
        collector = self._multiline
        if collector is None or collector.refused or collector.full:
            return False
        try:
            message = parse_line(raw)
        except ParseError:
            return False
        self._parsed_head = (raw, message)
        return message.tags.get("batch") == collector.ref

    def _must_wait_for_writes(self) -> bool:
        """Hold the next line while writes are in flight, if it would overtake them."""
        if self._writes_in_flight == 0:
            return False
        if self._connect_in_flight:
            return True  # lines pipelined behind NICK/USER wait until we know who they are
        if self._writes_in_flight >= self.settings.max_writes_in_flight:
            return True
        # A query must see the effects of this client's earlier writes.
        return not self._looks_like_write(self._inbox[0])

    def _looks_like_write(self, raw: bytes) -> bool:
        """Whether a queued line is a write (so it may pipeline behind others); the parsed
        line is kept for :meth:`_handle_line`, which would otherwise parse it again."""
        try:
            message = parse_line(raw)
        except ParseError:
            return False
        self._parsed_head = (raw, message)
        spec = self.backend.command(message.command)
        return spec is not None and spec.is_write(message.params)

    def _parse(self, raw: bytes) -> Message:
        head, self._parsed_head = self._parsed_head, None
        if head is not None and head[0] is raw:
            return head[1]
        return parse_line(raw)

    def _pause_reading(self) -> None:
        if not self._reading_paused and self.transport is not None:
            self._reading_paused = True
            self.transport.pauseProducing()  # type: ignore[attr-defined]

    def _resume_reading(self) -> None:
        if self._reading_paused and self.transport is not None and not self._closing:
            self._reading_paused = False
            self.transport.resumeProducing()  # type: ignore[attr-defined]

    def _handle_line(self, raw: bytes) -> None:
        if not raw.strip():
            return
        try:
            message = self._parse(raw)
        except InvalidUtf8:
            text = "Message rejected, your IRC software MUST use UTF-8 encoding on this network"
            self._send(Message("FAIL", (_command_of(raw), "INVALID_UTF8", text)))
            return
        except ParseError as error:
            code = N.ERR_INPUTTOOLONG if "long" in str(error).lower() else N.ERR_UNKNOWNERROR
            self._send_numeric(code, f"Malformed line: {error}")
            return
        label = message.tags.get("label") if "labeled-response" in self.caps else None
        self._dispatch(message, label)

    def _dispatch(self, message: Message, label: str | None) -> None:
        """Route a command by the command table (:mod:`twistedchat.chat.commands`).

        Before registration the connection answers every command it takes itself. After
        it, the table says who answers; each answerer checks the parameter count (the
        chat state does for writes, so a 461 comes in log order like its other errors).
        """
        collector = self._multiline
        if collector is not None and message.tags.get("batch") == collector.ref:
            self._add_to_batch(collector, message)
            return
        if self.registered and is_service_message(message):
            self._handle_account(message, label)
            return
        spec = self.backend.command(message.command)
        if spec is None:
            if not self.registered:
                self._send_numeric(N.ERR_NOTREGISTERED, "You have not registered")
            else:
                unknown = self._numeric(N.ERR_UNKNOWNCOMMAND, message.command, "Unknown command")
                self._reply(label, [unknown])
        elif not self.registered and not spec.before_registration:
            if spec.name == "REGISTER":  # draft/account-registration without before-connect
                text = "Complete connection registration (NICK and USER) before REGISTER"
                fail = ("REGISTER", "COMPLETE_CONNECTION_REQUIRED", "*", text)
                self._send(Message("FAIL", fail))
            else:
                self._send_numeric(N.ERR_NOTREGISTERED, "You have not registered")
        elif spec.answer in CONNECTION_ANSWERS or not self.registered:
            if spec.lacks_params(message.params):
                reply = self._numeric(N.ERR_NEEDMOREPARAMS, spec.name, "Not enough parameters")
                self._reply(label, [reply])
            else:
                _OWN_COMMANDS[spec.name](self, message, label)
        elif spec.is_write(message.params):
            self._submit_write(message, spec.name, label)
        else:
            replies = self.backend.query(self.session, history_query(message, self.caps))
            self._reply(label, [m for r in replies for m in shown(r, self.caps)])

    def _nick_before_registration(self, message: Message, _label: str | None) -> None:
        if not message.params or not message.params[0]:
            self._send_numeric(N.ERR_NONICKNAMEGIVEN, "No nickname given")
            return
        nick = message.params[0]
        if not valid_nick(nick, self.backend_nicklen()):
            self._send_numeric(N.ERR_ERRONEUSNICKNAME, nick, "Erroneous nickname")
            return
        if self.backend.nick_in_use(nick) and not self.backend.nick_reclaimable(nick):
            self._send_numeric(N.ERR_NICKNAMEINUSE, nick, "Nickname is already in use")
            return
        self.nick = nick
        self._try_register()

    def _user_command(self, message: Message, label: str | None) -> None:
        if self.registered:
            self._reply(label, [self._numeric(N.ERR_ALREADYREGISTERED, "You may not reregister")])
            return
        self._user = (message.params[0][:16], message.params[3])
        self._try_register()

    def _authenticate_command(self, message: Message, label: str | None) -> None:
        """SASL before registration; after it, 462 or 907 (SASL 3.1: no reauthentication)."""
        if not self.registered:
            self._authenticate(message)
        elif self._sasl_account is not None:
            self._reply(label, [self._numeric(N.ERR_SASLALREADY, "You have already authenticated")])
        else:
            text = "You may not reregister; to log in now, use NickServ IDENTIFY"
            self._reply(label, [self._numeric(N.ERR_ALREADYREGISTERED, text)])

    def _batch(self, message: Message, label: str | None) -> None:
        """A client batch: only ``draft/multiline`` (``BATCH +ref draft/multiline target``
        ... ``BATCH -ref``), gathered into one message for the log (:mod:`.multiline`)."""
        params = message.params
        ref, sign = params[0][1:], params[0][:1]
        try:
            if MULTILINE_CAP not in self.caps or "batch" not in self.caps:
                raise MultilineError("MULTILINE_INVALID", text="Negotiate draft/multiline first")
            if sign == "+":
                if len(params) < 3 or params[1] != MULTILINE_CAP or not ref:
                    raise MultilineError("MULTILINE_INVALID", text="Give a reference and target")
                if self._multiline is not None:
                    self._multiline = None
                    raise MultilineError("MULTILINE_INVALID", text="A batch is already open")
                tags = {k: v for k, v in message.tags.items() if k.startswith("+")}
                if label is not None:
                    tags["label"] = label
                self._multiline = Collector(ref, params[2], tags)
                return
            collector = self._multiline
            if sign != "-" or collector is None or collector.ref != ref:
                raise MultilineError("MULTILINE_INVALID", text="No such batch open")
            self._multiline = None
            if collector.refused:
                return  # already answered with FAIL
            whole = collector.message()
        except MultilineError as error:
            self._reply(label, [error.fail()])
            return
        label = whole.tags.get("label")
        tags = {k: v for k, v in whole.tags.items() if k != "label"}
        write = Message(whole.command, whole.params, None, tags)
        self._submit_write(write, whole.command, label)

    def _add_to_batch(self, collector: Collector, message: Message) -> None:
        if collector.refused:
            return
        try:
            collector.add(message)
        except MultilineError as error:
            collector.refused = True  # the whole batch: its other lines are dropped too
            self._send(error.fail())

    def _monitor(self, message: Message, label: str | None) -> None:
        self._reply(label, self.backend.monitor(self.session, message))

    def _resume(self, message: Message, label: str | None) -> None:
        """Ask the log to move a session whose token we were given onto this connection."""
        if self.registered:
            text = "Registration is already complete"
            self._reply(label, [Message("FAIL", ("RESUME", "REGISTRATION_IS_COMPLETED", text))])
            return
        if RESUME_CAP not in self.caps or not message.params or not message.params[0]:
            text = f"RESUME needs the {RESUME_CAP} capability and a token"
            self._send(Message("FAIL", ("RESUME", "INVALID_TOKEN", text)))
            return
        if self._connect_in_flight:
            text = "Registration is already in progress"
            self._send(Message("FAIL", ("RESUME", "REGISTRATION_IS_COMPLETED", text)))
            return
        self._resume_token = secrets.token_urlsafe(24)
        self._resuming = True
        self._connect_in_flight = True
        self._writes_in_flight += 1
        hashes = (token_hash(message.params[0]), token_hash(self._resume_token))
        self.backend.submit(self.session, Message(RESUME, hashes), None)

    def _finish_resume(self, messages: Sequence[Message]) -> None:
        """Resumed: greet like a registration, then replay the channels we are in.

        ``RESUME SUCCESS`` comes last, so a client (the gateway) that already knows all
        this can skip everything up to it. A plain client that reclaimed its session by
        logging in gets the same greeting without the RESUME lines.
        """
        success = next((m for m in messages if m.command == "RESUME"), None)
        if success is None:  # FAIL RESUME: carry on with a normal registration
            for message in messages:
                self._send(message)
            self._resume_token = None
            self._try_register()
            self._drain()
            return
        self.nick = success.params[1]
        self._send_welcome(self._numeric(N.RPL_WELCOME, f"Welcome back, {self.nick}"))
        for join in (m for m in messages if m.command == "JOIN"):
            self._send(join)
            channel = join.params[0]
            queries = [Message("TOPIC", (channel,)), Message("NAMES", (channel,))]
            if READ_MARKER_CAP in self.caps:  # as after a JOIN: the marker first
                queries.insert(0, Message("MARKREAD", (channel,)))
            for query in queries:
                for reply in self.backend.query(self.session, query):
                    if reply.command != N.RPL_NOTOPIC:
                        self._send(for_client(reply, self.caps) or reply)
        if RESUME_CAP in self.caps:
            self._send(Message("RESUME", ("TOKEN", self._resume_token or "")))
            self._send(success)
        log.info("{nick} resumed from {host}", nick=self.nick, host=self.host)
        self._drain()

    def _authenticate(self, message: Message) -> None:
        """SASL PLAIN before registration; the account rides on the CONNECT entry."""
        if "sasl" not in self.caps or not message.params:
            self._send_numeric(N.ERR_SASLFAIL, "SASL authentication failed")
            return
        if self._sasl_account is not None:
            self._send_numeric(N.ERR_SASLALREADY, "You have already authenticated")
            return
        step = self._sasl.step(message.params[0])
        for line in sasl.server_lines(step, self.nick):
            self._send(line)
        if isinstance(step, sasl.Credentials):
            account = step.account
            stored = self.backend.password_hash(account)

            def succeeded(rehash: str | None) -> None:
                self._sasl_account = account
                if rehash is not None and stored is not None:
                    self._sasl_rehash = Message(REHASH, (account, stored, rehash))
                mask = f"{self.nick}!*@{self.host}"
                self._send_numeric(
                    N.RPL_LOGGEDIN, mask, account, f"You are now logged in as {account}"
                )
                self._send_numeric(N.RPL_SASLSUCCESS, "SASL authentication successful")

            def failed(reason: str | None) -> None:
                self._send_numeric(N.ERR_SASLFAIL, reason or "SASL authentication failed")

            self._check_login(_account_key(account), stored, step.password, succeeded, failed)

    def _check_login(
        self,
        key: str,
        stored: str | None,
        password: str,
        succeeded: Callable[[str | None], None],
        failed: Callable[[str | None], None],
    ) -> None:
        """Check ``password`` against ``stored`` off the reactor thread, throttled.

        ``key`` names what is logged in to (``account:NAME``, ``oper:NAME``) for the
        throttle; ``stored`` None means there is no such thing (a failure, counted against
        the address only). ``succeeded`` gets the upgraded hash, if one is due; ``failed``
        gets None for wrong credentials, or the reason the password was not checked. Lines
        the client sends meanwhile wait until the answer is out (:meth:`_drain`).
        """
        throttle = self.factory.throttle
        refusal = throttle.check(key, self.host, self.clock.seconds())
        if refusal is not None:
            failed(refusal.text())
            return
        if stored is None:
            throttle.failed(None, self.host, self.clock.seconds())
            failed(None)
            return

        def checked(check: Check) -> None:
            if check.ok:
                succeeded(check.rehash)
            else:
                throttle.failed(key, self.host, self.clock.seconds())
                failed(None)

        self._await_password(self.factory.hasher.check(password, stored), checked,
                             lambda: failed(BUSY))  # fmt: skip

    def _await_password(
        self, job: Deferred[T], done: Callable[[T], None], busy: Callable[[], None]
    ) -> None:
        """Hold this connection's later lines until ``job`` (a hash or a check) is done,
        then hand its result to ``done``, or call ``busy`` if the hasher refused it."""
        self._checking = True

        def finish(result: T | Failure) -> None:
            self._checking = False
            if self._closing:
                return
            if isinstance(result, Failure):
                if not result.check(HasherBusy):
                    log.failure("password hashing failed", result)
                busy()
            else:
                done(result)
            self._drain()

        job.addBoth(finish)

    def backend_nicklen(self) -> int:
        return self.factory.nicklen

    def _try_register(self) -> None:
        if self.registered or self._connect_in_flight or self._capneg.negotiating:
            return
        if self.nick == "*" or self._user is None:
            return
        expected = self.settings.server_password
        if expected is not None and not hmac.compare_digest(
            (self._password or "").encode(), expected.encode()
        ):
            log.info("refusing {host}: wrong or missing server password", host=self.host)
            self._send_numeric(N.ERR_PASSWDMISMATCH, "Password incorrect")
            self._close("Bad password")
            return
        aborted = self._sasl.interrupt()
        if aborted is not None:
            for line in sasl.server_lines(aborted, self.nick):
                self._send(line)
        user, realname = self._user
        self._connect_in_flight = True
        self._writes_in_flight += 1
        params: tuple[str, ...] = (self.nick, "~" + user, self.host, realname)
        if self._sasl_account is not None:
            params += (self._sasl_account,)
        tags = {}
        if RESUME_CAP in self.caps:
            self._resume_token = secrets.token_urlsafe(24)
            tags[RESUME_TAG] = token_hash(self._resume_token)
        self.backend.submit(self.session, Message(CONNECT, params, None, tags), None)

    def _submit_write(self, write: Message, command: str, label: str | None) -> None:
        """Send a write to the log, or refuse it at once when it could not be committed."""
        if not self.backend.writable():
            self._reply(label, [self._numeric(N.ERR_UNKNOWNERROR, command, N.NO_QUORUM)])
            return
        self._writes_in_flight += 1
        self.backend.submit(self.session, write, label)

    def _propose_rehash(self, rehash: Message) -> None:
        """Upgrade an account's hash (``@REHASH``), unasked and unanswered: when the log
        cannot take it now, it is dropped, and the next login proposes it again."""
        if self.backend.writable():
            self._writes_in_flight += 1
            self.backend.submit(self.session, rehash, None)

    def _oper(self, message: Message, label: str | None) -> None:
        """Check OPER against this node's operator list; only the name goes to the log.

        Throttled like logins (by operator name and address); a refusal is 464 with the
        reason in its text.
        """
        operators = dict(self.settings.operators)
        if len(message.params) < 2:
            reply = self._numeric(N.ERR_NEEDMOREPARAMS, "OPER", "Not enough parameters")
        elif not operators:
            reply = self._numeric(N.ERR_NOOPERHOST, "No O-lines for your host")
        else:
            name = message.params[0]

            def succeeded(rehash: str | None) -> None:
                if rehash is not None:
                    log.info("operator {name}'s hash has an old format or cost; print a new "
                             "one with `chatnode oper-hash` for --oper", name=name)  # fmt: skip
                self._submit_write(Message(OPER, (name,)), "OPER", label)

            def failed(reason: str | None) -> None:
                if reason is None:
                    log.info("failed OPER as {name} from {host}", name=name, host=self.host)
                reply = self._numeric(N.ERR_PASSWDMISMATCH, reason or "Password incorrect")
                self._reply(label, [reply])

            key = "oper:" + name
            self._check_login(key, operators.get(name), message.params[1], succeeded, failed)
            return
        self._reply(label, [reply])

    def _handle_account(self, message: Message, label: str | None) -> None:
        """Passwords are hashed or checked here, off the reactor thread; only the outcome
        goes to the log."""
        command = message.command
        request: Request
        if command == "REGISTER":
            request = register_command(self.nick, message.params, self.settings.min_password)
        else:
            request = service_command(self.nick, message, self.settings.min_password)
        if isinstance(request, Outcome):
            self._outcome(request, command, label)
        elif isinstance(request, Registration):
            registration = request
            self._await_password(
                self.factory.hasher.hash(registration.password),
                lambda hashed: self._submit_write(registration.write(hashed), command, label),
                lambda: self._outcome(registration.busy(), command, label),
            )
        else:
            self._identify(request, command, label)

    def _identify(self, request: Identification, command: str, label: str | None) -> None:
        stored = self.backend.password_hash(request.account)

        def succeeded(rehash: str | None) -> None:
            self._submit_write(request.write(), command, label)
            if rehash is not None and stored is not None:
                self._propose_rehash(Message(REHASH, (request.account, stored, rehash)))

        def failed(reason: str | None) -> None:
            self._outcome(request.refused(reason), command, label)

        key = _account_key(request.account)
        self._check_login(key, stored, request.password, succeeded, failed)

    def _outcome(self, outcome: Outcome, command: str, label: str | None) -> None:
        if outcome.write is None:
            self._reply(label, outcome.replies)
        else:
            self._submit_write(outcome.write, command, label)

    def _ping(self, message: Message, label: str | None) -> None:
        if not message.params:
            self._reply(label, [self._numeric(N.ERR_NOORIGIN, "No origin specified")])
        else:
            pong = Message("PONG", (self.settings.server_name, message.params[0]))
            self._reply(label, [pong])

    def _pong(self, _message: Message, _label: str | None) -> None:
        self._awaiting_pong = False

    def _quit(self, message: Message, label: str | None) -> None:
        params = message.params
        reason = f"Quit: {params[0]}" if params and params[0] else "Quit"
        if not self.registered:
            self._close(reason)
            return
        self._quitting = True
        self._writes_in_flight += 1
        self.backend.submit(self.session, Message("QUIT", (reason,)), label)

    def _pass(self, message: Message, label: str | None) -> None:
        if self.registered:
            self._reply(label, [self._numeric(N.ERR_ALREADYREGISTERED, "You may not reregister")])
        else:
            self._password = message.params[0]

    def _version(self, _message: Message, label: str | None) -> None:
        self._reply(label, version_lines(self.nick, self.settings))

    def _help(self, message: Message, label: str | None) -> None:
        self._reply(label, help_lines(self.nick, message.params[0] if message.params else ""))

    def _info(self, _message: Message, label: str | None) -> None:
        self._reply(label, info_lines(self.nick, self.settings))

    def _time(self, _message: Message, label: str | None) -> None:
        self._reply(label, [time_line(self.nick, self.settings, self.clock.seconds())])

    def _motd(self, _message: Message, label: str | None) -> None:
        self._reply(label, motd_lines(self.nick, self.settings))

    def _cap(self, message: Message, label: str | None) -> None:
        self._reply(
            label,
            self._capneg.handle(message.params, self.nick, self.registered, self._sts_tokens),
        )
        self._view = view_for(self.caps)
        if not self._capneg.negotiating:
            self._try_register()

    def _sts_tokens(self, cap_version: int) -> list[str]:
        """IRCv3 ``sts`` when IRC over TLS is configured: on a plain connection it names
        the TLS port, on a TLS one it sets the policy's duration."""
        port = self.settings.sts_port
        if port is None or cap_version < CAP_302:
            return []
        if ISSLTransport.providedBy(self.transport):
            return [f"sts=duration={self.settings.sts_duration}"]
        return [f"sts=port={port}"]

    # -- registration ------------------------------------------------------------------

    def _complete_registration(self, welcome: Message) -> None:
        self.nick = welcome.params[0]
        self._send_welcome(welcome)
        if self._resume_token is not None:
            self._send(Message("RESUME", ("TOKEN", self._resume_token)))
        log.info("{nick} registered from {host}", nick=self.nick, host=self.host)
        self._drain()

    def _send_welcome(self, welcome: Message) -> None:
        """The registration burst: 001-005, LUSERS and the MOTD."""
        self.registered = True
        timer = self._timers.pop("register", None)
        if timer is not None and timer.active():
            timer.cancel()
        if self._sasl_rehash is not None:  # a session can propose it only now
            self._propose_rehash(self._sasl_rehash)
            self._sasl_rehash = None
        lusers = [
            for_client(m, self.caps) or m
            for m in self.backend.query(self.session, Message("LUSERS"))
        ]
        for message in welcome_burst(welcome, self.settings, lusers):
            self._send(message)

    # -- timers ------------------------------------------------------------------------

    def _registration_timed_out(self) -> None:
        self._timers.pop("register", None)
        if not self.registered:
            self._close("Registration timed out")

    def _check_keepalive(self) -> None:
        """Ping an idle client, and drop it if it stays silent (half-open connections)."""
        s = self.settings
        idle = self.clock.seconds() - self._last_seen
        if self._awaiting_pong and idle >= s.ping_interval + s.ping_timeout:
            self._close(f"Ping timeout: {int(idle)} seconds")
            return
        if idle >= s.ping_interval and not self._awaiting_pong:
            self._awaiting_pong = True
            self._send(Message("PING", (s.server_name,)))
            wait = s.ping_timeout
        elif self._awaiting_pong:
            wait = s.ping_interval + s.ping_timeout - idle
        else:
            wait = s.ping_interval - idle
        self._timers["keepalive"] = self.clock.callLater(max(wait, 0.001), self._check_keepalive)

    # -- output ------------------------------------------------------------------------

    def _numeric(self, code: str, *params: str) -> Message:
        return Message(code, (self.nick, *params))

    def _send_numeric(self, code: str, *params: str) -> None:
        self._send(self._numeric(code, *params))

    def _reply(self, label: str | None, messages: Sequence[Message]) -> None:
        """Send the replies to one command, labelled as labeled-response asks."""
        refs = self._batch_refs if "batch" in self.caps else None
        for message in labeled(label, messages, refs):
            self._send(message)

    def _send(self, message: Message) -> None:
        """Send one line now, or after the deliveries held for this turn (order kept)."""
        if self._closing or self.transport is None:
            return
        data = serialize(message, self.settings.server_name)
        if self._output:
            self._output.append(data)
            self._count_while_paused(len(data))
            return
        if self._count_while_paused(len(data)):
            self.transport.write(data)

    def _count_while_paused(self, size: int) -> bool:
        """Count bytes the client is not reading; past the SendQ, drop it. Returns
        whether the connection is still open."""
        if not self._send_paused:
            return True
        self._bytes_while_paused += size
        if self._bytes_while_paused <= self.settings.sendq_bytes:
            return True
        log.info("{nick}: SendQ exceeded", nick=self.nick)
        self.factory.sendq_drops += 1
        self._closing = True
        self._output.clear()
        if self.transport is not None:
            self.transport.abortConnection()  # type: ignore[attr-defined]
        return False

    def _close(self, reason: str) -> None:
        """Say why, then close. Nothing else is processed for this client afterwards."""
        if self._closing:
            return
        self._send(Message("ERROR", (f"Closing Link: {self.host} ({reason})",)))
        self._hang_up()

    def _hang_up(self) -> None:
        """Write what is held, then close once the transport has sent it."""
        self.flush()
        self._closing = True
        if self.transport is not None:
            self.transport.loseConnection()


class IRCFactory(Factory):
    """Builds connections for one listening endpoint."""

    protocol = IRCConnection  # type: ignore[assignment]

    def __init__(
        self,
        backend: ChatBackend,
        settings: ConnectionSettings,
        clock: IReactorTime,
        nicklen: int,
        hasher: PasswordHasher | None = None,
    ):
        self.backend = backend
        self.settings = settings
        self.clock = clock
        self.nicklen = nicklen
        #: Hashes and checks passwords. The node passes its thread pool; the default
        #: hashes on the calling thread, for tests and tools only.
        self.hasher: PasswordHasher = hasher or ImmediateHasher()
        #: Failed logins of every connection of this node (one factory per node).
        self.throttle = LoginThrottle(exempt=settings.limits_exempt)
        self.admission = Admission(
            settings.max_per_address,
            settings.connect_burst,
            settings.connect_rate,
            settings.limits_exempt,
        )
        #: Connections closed for flooding and for not reading (SendQ), for /metrics.
        self.flood_kills = 0
        self.sendq_drops = 0

    def buildProtocol(self, addr: IAddress) -> IRCConnection:  # type: ignore[override]
        connection = IRCConnection(self.backend, self.settings, self.clock)
        connection.factory = self
        return connection


def _account_key(account: str) -> str:
    """The throttle key of an account: by casemapping, so ALICE and alice count as one."""
    return "account:" + casefold(account)


def _command_of(raw: bytes) -> str:
    """The command of a line that is not UTF-8 (``*`` if even that cannot be read), for
    ``FAIL <command> INVALID_UTF8`` (IRCv3 UTF8ONLY)."""
    try:
        return parse_line(raw.decode("utf-8", "replace").encode()).command
    except ParseError:
        return "*"


#: Who answers after registration, when the connection handles it itself.
CONNECTION_ANSWERS = frozenset({Answer.CONNECTION, Answer.CREDENTIALS, Answer.NODE})

_Handler = Callable[[IRCConnection, Message, "str | None"], None]

#: The connection's handlers: of each command it answers (see :data:`CONNECTION_ANSWERS`)
#: and of each it takes before registration. The command table says which those are;
#: ``tests/irc/test_command_table.py`` holds this to it.
_OWN_COMMANDS: dict[str, _Handler] = {
    "CAP": IRCConnection._cap,
    "PING": IRCConnection._ping,
    "PONG": IRCConnection._pong,
    "QUIT": IRCConnection._quit,
    "PASS": IRCConnection._pass,
    "USER": IRCConnection._user_command,
    "NICK": IRCConnection._nick_before_registration,
    "AUTHENTICATE": IRCConnection._authenticate_command,
    "RESUME": IRCConnection._resume,
    "VERSION": IRCConnection._version,
    "TIME": IRCConnection._time,
    "MOTD": IRCConnection._motd,
    "INFO": IRCConnection._info,
    "HELP": IRCConnection._help,
    "HELPOP": IRCConnection._help,
    "OPER": IRCConnection._oper,
    "REGISTER": IRCConnection._handle_account,
    "MONITOR": IRCConnection._monitor,
    "BATCH": IRCConnection._batch,
}
