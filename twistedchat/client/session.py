"""The client side of a resumable session, as a pure state machine (no sockets, no clock).

One :class:`ResumableSession` lives as long as the user's session, across any number of
connections to nodes. The caller feeds it what a node sends (:meth:`received`), tells it
when a connection starts or ends, and hands it the user's commands (:meth:`submit`); it
answers with lines to send (:attr:`outgoing`) and events for the user (:attr:`events`).

What it guarantees across a node's death (see ``chat.resume`` for the server side):

* every command is labelled and kept until its labelled reply arrives; after a failover
  the unanswered ones are sent again with the same labels, and the cluster applies a
  write it already applied only once;
* after a resume, whatever was said while the user was away is fetched with
  ``CHATHISTORY`` and delivered before anything newer, each message once (by msgid);
  so are the channel events (JOIN, PART, KICK, QUIT, NICK, TOPIC, MODE) of that time
  (``draft/event-playback``), as live lines: the user's view of who is in a channel
  and of its topic must not go stale.

With SASL credentials, each registration logs in first (``AUTHENTICATE PLAIN``) and sends
NICK, USER and ``CAP END`` only once the node answered; a failed login is reported
(:class:`LoginFailed`) and the registration goes on without an account. A resume needs no
login: the session kept its account.
"""

from __future__ import annotations

import itertools
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import Enum

from twistedchat.irc.sasl import Credentials, plain_response
from twistedchat.wire import numerics as N
from twistedchat.wire.casemap import casefold
from twistedchat.wire.message import EMPTY_TAGS, Message

RESUME_CAP = "twistedchat.org/resume"
#: What the session asks every node for; the user of the session may see less.
CAPS = (
    RESUME_CAP,
    "account-notify",
    "account-tag",
    "away-notify",
    "batch",
    "draft/chathistory",
    "draft/event-playback",
    "echo-message",
    "extended-join",
    "labeled-response",
    "message-tags",
    "multi-prefix",
    "server-time",
    "setname",
    "userhost-in-names",
)
HISTORY_PAGE = 100  # messages per CHATHISTORY request (the server's usual maximum)
#: Lines that belong to one channel's history (a QUIT or NICK belongs to several, and
#: cannot say which): their msgid is where that channel's catch-up resumes.
CONVERSATION_LINES = frozenset({"PRIVMSG", "NOTICE", "JOIN", "PART", "KICK", "TOPIC", "MODE"})
HISTORY_PAGES = 50  # pages per conversation at most after one failover
#: How far before the newest message seen to look for conversations we did not know of.
#: Generous: a message's time is when it was first sent, and a retry across a leader
#: change commits it later than messages sent after it.
HISTORY_SLACK = timedelta(seconds=60)
TARGETS_KEPT = 256  # conversations whose last msgid is remembered for the catch-up
SEEN_KEPT = 8192  # msgids remembered to drop what was already delivered
PENDING_MAX = 512  # commands awaiting an answer; more are refused (no node answers)
#: Other nicks tried, after a lost session, while the old session still holds ours.
ALTERNATIVE_NICKS = 9
NICK_BASE_MAX = 13  # so an alternative fits the 16 characters most networks allow
TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"
#: The numerics that end a SASL attempt unsuccessfully (IRCv3 SASL 3.1).
SASL_FAILURES = frozenset({N.ERR_NICKLOCKED, N.ERR_SASLFAIL, N.ERR_SASLTOOLONG, N.ERR_SASLABORTED})


class Phase(Enum):
    OFFLINE = "offline"
    AUTHENTICATING = "authenticating"  # AUTHENTICATE sent; NICK/USER wait for the answer
    AWAITING_IDENTITY = "awaiting identity"  # login answered; NICK/USER wait for introduce()
    REGISTERING = "registering"  # first connection: NICK/USER sent, waiting for 001
    RESUMING = "resuming"  # RESUME sent, the registration burst is skipped
    SYNCING = "syncing"  # fetching what was missed; live messages wait
    READY = "ready"


@dataclass(frozen=True, slots=True)
class Identity:
    """Who the user is; with ``sasl``, the account every registration logs in to."""

    nick: str
    username: str
    realname: str
    sasl: Credentials | None = field(default=None, repr=False)


@dataclass(frozen=True, slots=True)
class Incoming:
    """A message for the user: from others, a server notice, the registration burst."""

    message: Message


@dataclass(frozen=True, slots=True)
class Reply:
    """The answer to the command submitted under ``label`` (empty: acknowledged)."""

    label: str
    messages: tuple[Message, ...]


@dataclass(frozen=True, slots=True)
class Registered:
    nick: str


@dataclass(frozen=True, slots=True)
class Resumed:
    """Moved to another node; ``missed`` messages were fetched from history."""

    nick: str
    missed: int


@dataclass(frozen=True, slots=True)
class LoginFailed:
    """The node refused the SASL login (``message`` is its numeric, also delivered as
    :class:`Incoming`); the registration goes on without an account."""

    message: Message


@dataclass(frozen=True, slots=True)
class SessionLost:
    """The cluster no longer knew the session (it ended); a new one was registered."""

    reason: str


Event = Incoming | Reply | Registered | Resumed | LoginFailed | SessionLost


class ResumableSession:
    """See the module docstring."""

    def __init__(
        self, identity: Identity | Credentials, server_password: str | None = None
    ) -> None:
        """``identity`` is who the user is. A caller that learns the nick only after the
        login (the gateway: irssi sends NICK and USER after its SASL exchange) gives just
        the credentials, and the rest with :meth:`introduce`. ``server_password`` is
        sent as PASS on every connection, for nodes with a ``--password-file``."""
        self.server_password = server_password
        self.identity = identity if isinstance(identity, Identity) else None
        self.nick = "*" if self.identity is None else self.identity.nick
        self._login = identity if isinstance(identity, Credentials) else identity.sasl
        self.phase = Phase.OFFLINE
        self._cap_open = False  # this connection's CAP END is still to be sent
        self.outgoing: list[Message] = []
        self.events: list[Event] = []
        self.token: str | None = None
        self.last_time: str | None = None  # server-time of the newest message seen
        self.pending: dict[str, Message] = {}  # label -> command awaiting its reply
        self.refused: list[str] = []  # labels the node refused for want of a quorum
        self.asked_to_move = False  # the node is going away: resume on another one
        self._labels = itertools.count(1)
        self._seen: set[str] = set()
        self._seen_order: deque[str] = deque()
        self._batch_owner: dict[str, str] = {}  # open batch ref -> label collecting it
        self._answer_refs: set[str] = set()  # refs of the labelled batches themselves
        self._collected: dict[str, list[Message]] = {}
        self._history: dict[str, tuple[str, int, bool]] = {}  # label -> (target, page, by msgid)
        self._last_msgid: dict[str, tuple[str, str]] = {}  # folded conversation -> (name, msgid)
        self._missed: list[Message] = []
        self._held: list[Message] = []
        self._interrupted: list[Message] = []  # caught up, not yet delivered, then cut off
        self._early: list[Message] = []  # commands given before the first connection
        self._since = ""
        self._nick_attempts = 0  # after a lost session: alternatives tried so far

    # -- the caller's side -------------------------------------------------------------

    def take(self) -> tuple[list[Message], list[Event]]:
        """What to send and what happened since the last call."""
        outgoing, self.outgoing = self.outgoing, []
        events, self.events = self.events, []
        return outgoing, events

    def introduce(self, identity: Identity) -> None:
        """Who the user is, for a session started from credentials alone; the login is
        the one given then. A registration waiting for it goes on."""
        self.identity = identity
        self._login = identity.sasl
        self.nick = identity.nick
        if self.phase is Phase.AWAITING_IDENTITY:
            self._introduce()

    def connected(self) -> None:
        """A new connection to a node: resume if we have a session, else register.

        ``sasl`` is asked for whenever we have credentials, resuming or not: a resume
        that fails registers anew, and logs in again on the same connection.
        """
        self._batch_owner.clear()
        self._answer_refs.clear()
        self._collected.clear()
        self._history.clear()
        self._cap_open = True
        if self.server_password is not None:  # the node's --password-file
            self._send(Message("PASS", (self.server_password,)))
        caps = CAPS if self._login is None else (*CAPS, "sasl")
        self._send(Message("CAP", ("LS", "302")))
        self._send(Message("CAP", ("REQ", " ".join(caps))))
        if self.token is not None:
            self.phase = Phase.RESUMING
            self._send(Message("RESUME", (self.token,)))
            self._end_cap()
        else:
            self._register()

    def disconnected(self) -> None:
        """The connection ended; commands stay pending until a node answers them.

        A catch-up cut short keeps what it gathered (already counted as seen, so no node
        will send it again) for the next one to deliver first: each conversation's pages
        run on from its last msgid, so what they brought has no gap. The lines that came
        live meanwhile are dropped, not kept: a page not yet answered may lie before them,
        and had they counted, the next catch-up would have started after them and never
        fetched that page (a gateway moved twice in a row lost lines so). The next
        catch-up fetches them again, in their place. Live lines without a msgid cannot be
        fetched again: those are kept.
        """
        if self.phase is Phase.SYNCING:
            unfetchable = [m for m in self._held if "msgid" not in m.tags]
            self._interrupted += self._missed + unfetchable
            self._missed, self._held = [], []
        self.phase = Phase.OFFLINE
        self.asked_to_move = False
        self.refused.clear()  # all pending commands go out again after the resume

    def retry_refused(self) -> None:
        """Send again the commands refused for want of a quorum (the caller waited)."""
        refused, self.refused = self.refused, []
        if self.phase is Phase.READY:
            for label in refused:
                if label in self.pending:
                    self._send(self.pending[label])

    def submit(self, message: Message) -> str:
        """Send a command of the user; returns the label its :class:`Reply` will carry.

        Before the first registration completes, commands go out as they are (another NICK
        after a 433; a bot's JOIN pipelined behind its USER, which the node holds until the
        registration is done) and get no reply event; before the first connection, and
        while NICK and USER wait for a login, they wait too, bounded like the pending ones.
        """
        label = f"t{next(self._labels)}"
        if self.token is None and self.phase is not Phase.READY:
            if self.phase is Phase.REGISTERING:
                self._send(message)
            elif len(self._early) < PENDING_MAX:
                self._early.append(message)
            return label
        if len(self.pending) >= PENDING_MAX:
            text = "Too many commands are waiting for the cluster; try again shortly"
            refusal = Message("FAIL", (message.command, "TEMPORARILY_UNAVAILABLE", text))
            self.events.append(Reply(label, (refusal,)))
            return label
        labelled = message.with_tags(label=label)
        self.pending[label] = labelled
        if self.phase is Phase.READY:
            self._send(labelled)
        return label

    # -- what a node sends -------------------------------------------------------------

    def received(self, message: Message) -> None:
        command, params = message.command, message.params
        if command == "PING":
            self._send(Message("PONG", params[:1]))
        elif command == "CAP":
            pass  # answers to our own negotiation
        elif command == "RESUME" and params[:1] == ("TOKEN",) and len(params) > 1:
            self.token = params[1]
        elif command == "RESUME" and params[:1] == ("MOVE",):
            self.asked_to_move = True
        elif self.phase is Phase.RESUMING:
            self._while_resuming(message)
        elif command == "RESUME" and params[:1] == ("SUCCESS",):
            pass  # after a 001: our login reclaimed the session that held our nick
        elif self.phase is Phase.AUTHENTICATING:
            self._while_authenticating(message)
        elif self.phase in (Phase.REGISTERING, Phase.AWAITING_IDENTITY):
            self._while_registering(message)
        elif self.phase in (Phase.SYNCING, Phase.READY):
            self._while_registered(message)

    def _while_resuming(self, message: Message) -> None:
        """Skip the burst a resumed connection gets; it ends with RESUME SUCCESS."""
        params = message.params
        if message.command == "RESUME" and params[:1] == ("SUCCESS",) and len(params) > 1:
            self.nick = params[1]
            self._start_sync()
        elif message.command == "FAIL" and params[:1] == ("RESUME",):
            self.token = None
            self.events.append(SessionLost(params[-1]))
            self._nick_attempts = 1
            self._register()

    def _while_authenticating(self, message: Message) -> None:
        """Answer the PLAIN challenge; the node's verdict lets the registration go on."""
        challenge = message.command == "AUTHENTICATE" and message.params[:1] == ("+",)
        if challenge and self._login is not None:
            for chunk in plain_response(self._login):
                self._send(Message("AUTHENTICATE", (chunk,)))
            return
        self.events.append(Incoming(message))
        if message.command in SASL_FAILURES:  # not worth trying again at the next registration
            self.events.append(LoginFailed(message))
            self._login = None
        if message.command in SASL_FAILURES or message.command == N.RPL_SASLSUCCESS:
            self._introduce()

    def _while_registering(self, message: Message) -> None:
        if message.command == N.ERR_NICKNAMEINUSE and self._nick_attempts > 0:
            self._try_another_nick()
        if message.command == "001" and message.params:
            self.nick = message.params[0]
            self._nick_attempts = 0
            self.phase = Phase.READY
            self.events.append(Incoming(message))
            self.events.append(Registered(self.nick))
            self._resend_pending()
        else:
            self.events.append(Incoming(message))

    def _while_registered(self, message: Message) -> None:
        label = message.tags.get("label")
        batch = message.tags.get("batch")
        if message.command == "BATCH" and message.params:
            if self._batch_line(message, label, batch):
                return
        elif batch is not None and batch in self._batch_owner:
            self._collect(batch, message)
            return
        if label is not None:
            self._answered(label, [] if message.command == "ACK" else [message])
        else:
            self._live(message)

    def _batch_line(self, message: Message, label: str | None, parent: str | None) -> bool:
        """Track batches that answer one of our labels; returns whether it was one."""
        opening, ref = message.params[0][:1], message.params[0][1:]
        if opening == "+":
            if label is not None:  # the labelled batch itself: its lines are the answer
                self._batch_owner[ref] = label
                self._answer_refs.add(ref)
                self._collected[label] = []
                return True
            if parent is not None and parent in self._batch_owner:
                self._batch_owner[ref] = self._batch_owner[parent]
                self._collect(parent, message)
                return True
            return False
        if ref not in self._batch_owner:
            return False
        if parent is not None:  # a nested batch closes inside the answer
            self._collect(parent, message)
            del self._batch_owner[ref]
        else:
            self._answer_refs.discard(ref)
            label = self._batch_owner.pop(ref)
            self._answered(label, self._collected.pop(label, []))
        return True

    def _collect(self, batch: str, message: Message) -> None:
        """Keep a line of an answer; lines directly in the labelled batch lose its ref."""
        if batch in self._answer_refs:
            message = _without(message, "batch")
        self._collected[self._batch_owner[batch]].append(message)

    # -- answers -----------------------------------------------------------------------

    def _answered(self, label: str, messages: list[Message]) -> None:
        if label in self._history:
            self._history_page(label, messages)
            return
        if label not in self.pending:
            return  # an answer to a command of an earlier, superseded send
        if _no_quorum(messages):
            self.refused.append(label)  # still pending: the caller retries it later
            return
        del self.pending[label]
        for message in messages:
            self._note(message)
        self.events.append(Reply(label, tuple(_without(m, "label") for m in messages)))

    def _live(self, message: Message) -> None:
        if self.phase is Phase.SYNCING:
            self._held.append(message)  # counted as seen only once the catch-up is done
        elif self._note(message):
            self.events.append(Incoming(message))

    def _note(self, message: Message) -> bool:
        """Remember a message's msgid and time; False if it was delivered before."""
        msgid = message.tags.get("msgid")
        time = message.tags.get("time")
        if time is not None and (self.last_time is None or time > self.last_time):
            self.last_time = time
        if msgid is None:
            return True
        if msgid in self._seen:
            return False
        self._seen.add(msgid)
        self._seen_order.append(msgid)
        if len(self._seen_order) > SEEN_KEPT:
            self._seen.discard(self._seen_order.popleft())
        self._note_conversation(message, msgid)
        return True

    def _note_conversation(self, message: Message, msgid: str) -> None:
        """The last msgid per conversation: where the catch-up resumes, in log order.

        Channel events count: a channel nobody spoke in since we joined it is known by
        our JOIN. A MODE on a nick is a user mode, in no conversation.
        """
        if message.command not in CONVERSATION_LINES or not message.params:
            return
        target = message.params[0]
        if message.command not in ("PRIVMSG", "NOTICE") and target[:1] not in "#&":
            return
        sender = (message.source or "").partition("!")[0]
        if target[:1] not in "#&":  # a private conversation is named after the other party
            target = target if casefold(sender) == casefold(self.nick) else sender
        if not target:
            return
        key = casefold(target)
        self._last_msgid.pop(key, None)
        self._last_msgid[key] = (target, msgid)
        if len(self._last_msgid) > TARGETS_KEPT:
            del self._last_msgid[next(iter(self._last_msgid))]

    # -- catching up after a resume ----------------------------------------------------

    def _start_sync(self) -> None:
        """Ask for what each conversation got since its last message we saw (by msgid),
        and for conversations that started meanwhile (by time, with slack)."""
        self.phase = Phase.SYNCING
        self._missed = []
        self._held = []
        if self.last_time is None:
            self._finish_sync()
            return
        for name, msgid in self._last_msgid.values():
            self._request_after(name, 1, f"msgid={msgid}")
        since = datetime.strptime(self.last_time, TIME_FORMAT).replace(tzinfo=UTC)
        self._since = _timestamp(since - HISTORY_SLACK)
        until = "timestamp=9999-12-31T23:59:59.999Z"
        self._request_history("", 0, False, ("TARGETS", self._since, until, str(HISTORY_PAGE)))

    def _request_after(self, target: str, page: int, reference: str) -> None:
        params = ("AFTER", target, reference, str(HISTORY_PAGE))
        self._request_history(target, page, reference.startswith("msgid="), params)

    def _request_history(
        self, target: str, page: int, by_msgid: bool, params: tuple[str, ...]
    ) -> None:
        label = f"h{next(self._labels)}"
        self._history[label] = (target, page, by_msgid)
        self._send(Message("CHATHISTORY", params, None, {"label": label}))

    def _history_page(self, label: str, messages: list[Message]) -> None:
        target, page, by_msgid = self._history.pop(label)
        inside = [m for m in messages if m.command != "BATCH"]
        if not target:  # the TARGETS answer: conversations we knew nothing of
            for line in inside:
                if line.command == "CHATHISTORY" and len(line.params) >= 2:
                    name = line.params[1]
                    if casefold(name) not in self._last_msgid:
                        self._request_after(name, 1, self._since)
        elif any(m.command == "FAIL" for m in inside) and by_msgid:
            self._request_after(target, page, self._since)  # that msgid aged out: by time
        else:
            fetched = [m for m in inside if m.command != "FAIL"]
            self._missed += [m for m in fetched if self._note(m)]
            last = fetched[-1].tags.get("msgid") if fetched else None
            if len(fetched) >= HISTORY_PAGE and last is not None and page < HISTORY_PAGES:
                self._request_after(target, page + 1, f"msgid={last}")
        if not self._history:
            self._finish_sync()

    def _finish_sync(self) -> None:
        """Deliver the catch-up (each conversation in log order), then what came live."""
        missed = self._missed
        for message in self._interrupted + missed:
            self.events.append(Incoming(_without(message, "batch")))
        for message in self._held:
            if self._note(message):  # a line both fetched and live is shown once
                self.events.append(Incoming(message))
        self._interrupted, self._missed, self._held = [], [], []
        self.phase = Phase.READY
        self.events.append(Resumed(self.nick, len(missed)))
        self._resend_pending()

    # -- sending -----------------------------------------------------------------------

    def _register(self) -> None:
        """Log in first, if we can: a node registers us as soon as it has NICK, USER and
        ``CAP END`` (after a failed resume it already had the ``CAP END``), and a login
        counts only if it came before."""
        if self._login is None:
            self._introduce()
            return
        self.phase = Phase.AUTHENTICATING
        self._send(Message("AUTHENTICATE", ("PLAIN",)))

    def _introduce(self) -> None:
        """NICK, USER and CAP END, then what the user sent before the first connection
        (the node holds it until we are registered)."""
        identity = self.identity
        if identity is None:
            self.phase = Phase.AWAITING_IDENTITY
            return
        self.phase = Phase.REGISTERING
        self._send(Message("NICK", (self.nick,)))
        self._send(Message("USER", (identity.username, "0", "*", identity.realname)))
        self._end_cap()
        for message in self._early:
            self._send(message)
        self._early = []

    def _end_cap(self) -> None:
        if self._cap_open:
            self._cap_open = False
            self._send(Message("CAP", ("END",)))

    def _try_another_nick(self) -> None:
        """Registering again after a lost session, whose remains may still hold our nick
        until the cluster ends them: take another one as IRC clients do (``nick_``,
        ``nick_2``...). A caller that chose the nick itself, at the first registration,
        handles the 433 itself instead."""
        if self.identity is None or self._nick_attempts > ALTERNATIVE_NICKS:
            return  # the 433 reaches the user, who may send NICK
        suffix = "_" if self._nick_attempts == 1 else f"_{self._nick_attempts}"
        self._nick_attempts += 1
        self.nick = self.identity.nick[:NICK_BASE_MAX] + suffix
        self._send(Message("NICK", (self.nick,)))

    def _resend_pending(self) -> None:
        for message in self.pending.values():
            self._send(message)

    def _send(self, message: Message) -> None:
        self.outgoing.append(message)


def _no_quorum(messages: list[Message]) -> bool:
    """Whether a node refused a write because it cannot commit anything now."""
    return (
        len(messages) == 1
        and messages[0].command == N.ERR_UNKNOWNERROR
        and messages[0].params[-1:] == (N.NO_QUORUM,)
    )


def _without(message: Message, tag: str) -> Message:
    if tag not in message.tags:
        return message
    tags = {k: v for k, v in message.tags.items() if k != tag}
    return Message(message.command, message.params, message.source, tags or EMPTY_TAGS)


def _timestamp(moment: datetime) -> str:
    return "timestamp=" + moment.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
