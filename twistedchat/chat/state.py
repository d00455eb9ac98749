"""The deterministic chat state machine every node applies the replicated log to.

``apply`` reads no clock and no randomness and iterates nothing whose order depends on
the process (see :mod:`twistedchat.chat.model`), so nodes applying the same commands in
the same order hold the same state and produce the same deliveries, msgids included.

Exactly-once (Raft dissertation 6.3): each session's commands carry ``seq`` 1, 2, 3...;
a command is applied only if its ``seq`` is the session's last applied one plus one. A
lower ``seq`` is a duplicate (a retry of something applied); a higher one means an earlier
command was lost, and it is skipped without advancing so the node re-proposes in order.
A user's commands count only when they come from the node the user is on: after a resume
moved the session, late commands of its old node are ignored (see ``chat.resume``).
Live users keep their last ``seq``; ended sessions (quit, ended by a node restart, or
not registered yet because CONNECT failed) keep it in a bounded record, oldest dropped
first, so a delayed duplicate of their CONNECT cannot bring a ghost user back.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from twistedchat.chat import (
    accounts,
    channels,
    messaging,
    modes,
    nickguard,
    operators,
    queries,
    resume,
    snapshot,
    users,
)
from twistedchat.chat.command import (
    CONNECT,
    MOVE,
    NODE_LOST,
    NODE_RESET,
    PLUGIN_SAY,
    TICK,
    Command,
)
from twistedchat.chat.context import Context
from twistedchat.chat.delivery import Sending
from twistedchat.chat.limits import ChatLimits
from twistedchat.chat.model import User, World
from twistedchat.chat.outbox import Outbox, numeric
from twistedchat.chat.plugin_api import ChatEvent, PluginRunner, distinct_messages, event_for
from twistedchat.chat.skipped import Gap
from twistedchat.irc import numerics as N
from twistedchat.irc.casemap import casefold
from twistedchat.irc.message import Message

#: Commands that always change state (or are answered in log order, like PRIVMSG errors).
WRITE_COMMANDS = frozenset(
    {CONNECT, NODE_RESET, NODE_LOST, TICK, PLUGIN_SAY, MOVE, resume.RESUME, resume.ORPHAN_QUIT,
     operators.OPER, operators.ADMIN, "KILL", accounts.REGISTER,
     accounts.LOGIN, accounts.REHASH, "NICK", "JOIN", "PART", "PRIVMSG", "NOTICE", "TAGMSG",
     "KICK", "INVITE", "AWAY", "SETNAME", "QUIT"}
)  # fmt: skip


def is_write(message: Message) -> bool:
    """Whether ``message`` must go through the log, rather than be answered locally.

    TOPIC and MODE are writes only with something to set: ``TOPIC #c``, ``MODE #c``,
    ``MODE nick`` and the ban list request ``MODE #c b`` / ``MODE #c +b`` are queries.
    """
    command = message.command.upper()
    params = message.params
    if command in WRITE_COMMANDS:
        return True
    if command == "TOPIC":
        return len(params) >= 2
    if command == "CLUSTER":
        return operators.is_admin_request(message)
    if command == "MODE":
        if len(params) < 2 or not params[0] or not params[1]:
            return False
        ban_list = len(params) == 2 and params[1] in ("b", "+b")
        return not (ban_list and params[0][0] in channels.CHANTYPES)
    return False


def _reregister(ctx: Context) -> None:
    ctx.reply(N.ERR_ALREADYREGISTERED, "You may not reregister")


_WRITES: dict[str, Callable[[Context], None]] = {
    CONNECT: _reregister,
    "NICK": users.nick,
    "AWAY": users.away,
    "SETNAME": users.setname,
    "QUIT": users.quit_,
    "JOIN": channels.join,
    "PART": channels.part,
    "KICK": channels.kick,
    "INVITE": channels.invite,
    "TOPIC": channels.set_topic,
    "MODE": modes.mode,
    "PRIVMSG": messaging.send_message,
    "NOTICE": messaging.send_message,
    "TAGMSG": messaging.send_message,
    accounts.REGISTER: accounts.register,
    accounts.LOGIN: accounts.login,
    accounts.REHASH: accounts.rehash,
    operators.OPER: operators.oper,
    "KILL": operators.kill,
}


DEFAULT_LIMITS = ChatLimits()


@dataclass(frozen=True, slots=True)
class Applied:
    """What applying one log entry did, for the node that applied it.

    ``deliveries`` are what to send, to whom. ``event`` is the user or node-plugin
    command it applied, for per-node and leader plugin hooks (None if it applied
    nothing). ``moved`` is the session a resume moved onto the entry's connection.
    ``admin`` is an accepted operator request, ``(verb, node)``, for the nodes to carry
    out (a drain, a leadership transfer, a removal). ``presence`` are the nicks it
    brought online (with their ``nick!user@host``) or took offline (None), in order, for
    the nodes' MONITOR lists.
    """

    deliveries: Sequence[Sending]
    event: ChatEvent | None = None
    moved: str | None = None
    admin: tuple[str, str] | None = None
    presence: tuple[tuple[str, str | None], ...] = ()


NOTHING = Applied(())


class ChatState:
    """Users, channels and their history; see the module docstring for the guarantees."""

    def __init__(self, limits: ChatLimits = DEFAULT_LIMITS, plugins: PluginRunner | None = None):
        self.limits = limits
        self.plugins = plugins
        self._world = World(limits)
        self._ended: dict[str, int] = {}  # session -> last seq, least recently ended first

    def is_write(self, message: Message) -> bool:
        """:func:`is_write`, plus the commands plugins add (they always go through the log)."""
        plugins = self.plugins
        return is_write(message) or (
            plugins is not None and plugins.handles(message.command.upper())
        )

    # -- the log -----------------------------------------------------------------------

    def apply(self, index: int, command: Command) -> Applied:
        """Apply the log entry at ``index``; returns what it did (see :class:`Applied`)."""
        session, seq = command.session, command.seq
        world = self._world
        world.presence.clear()
        if command.time < world.log_time:  # a new leader's clock a little behind (0020)
            command = replace(command, time=world.log_time)
        world.log_time = command.time
        if seq != self.last_applied_seq(session) + 1:
            return NOTHING  # a duplicate, or an earlier command of this session is missing
        out = Outbox(index, command.time)
        user = world.users.get(session)
        message = command.message
        name = message.command.upper()
        if user is not None and user.node != command.node:
            return NOTHING  # proposed by the node the session was resumed away from
        if user is not None and resume.seen_before(user, command.ref):
            user.seq = seq
            return NOTHING  # the client re-sent a write it had no acknowledgement for
        if user is not None:
            user.seq = seq
            if name != message.command:  # handlers relay the command name as they get it
                message = Message(name, message.params, message.source, message.tags)
            return self._apply_user_command(index, command, user, message, out)
        self._end(session, seq)
        moved: str | None = None
        admin: tuple[str, str] | None = None
        event: ChatEvent | None = None
        if name == CONNECT and self._reserved(message):
            text = "Nickname is reserved for a service"
            out.send(session, numeric("*", N.ERR_NICKNAMEINUSE, message.params[0], text))
        elif name == CONNECT:
            reclaimed = users.connect(world, out, command)
            if reclaimed is not None:
                moved = reclaimed.session
            elif session in world.users:
                del self._ended[session]
                nickguard.review(world, out, world.users[session], command.time)
        elif name == NODE_RESET:
            for gone in users.node_reset(world, out, command):
                self._end(gone.session, gone.seq)
        elif name == NODE_LOST:
            for gone in users.node_lost(world, out, command):
                self._end(gone.session, gone.seq)
        elif name == resume.RESUME:
            resumed = resume.resume(world, out, command)
            moved = None if resumed is None else resumed.session
        elif name == resume.ORPHAN_QUIT:
            orphan = resume.orphan_quit(world, command)
            if orphan is not None:
                users.leave(world, out, orphan, users.NODE_RESTARTED, command.time)
                self._end(orphan.session, orphan.seq)
        elif name in (TICK, PLUGIN_SAY):
            event = self._node_plugin_entry(out, index, command)
        elif name == MOVE:
            pass  # for the named node's hub only: the chat does not change
        elif name == operators.ADMIN and len(message.params) == 2:
            verb, node = message.params
            if verb in operators.ADMIN_VERBS and node in world.nodes:
                admin = (verb, node)
        elif name != "QUIT":
            out.send(session, numeric("*", N.ERR_NOTREGISTERED, "You have not registered"))
        return Applied(out.deliveries, event, moved, admin, tuple(world.presence))

    def _apply_user_command(
        self, index: int, command: Command, user: User, message: Message, out: Outbox
    ) -> Applied:
        """A registered user's command, through the plugins if there are any."""
        world, session = self._world, command.session
        event: ChatEvent | None = None
        if self.plugins is None:  # no plugin to show the event to: skip building it
            admin = self._apply_core(out, user, message, command.time)
        else:
            event = event_for(user, world, index, command.time, command.node, message)
            admin = None
            if not self._by_plugin(out, event, session):
                admin = self._apply_core(out, user, message, command.time)
            self.plugins.applied(
                world, out, replace(event, messages=distinct_messages(out.deliveries))
            )
            event = replace(event, messages=distinct_messages(out.deliveries))
        if session not in world.users:
            self._end(session, command.seq)
        else:
            resume.remember(user, command.ref)
            nickguard.review(world, out, user, command.time)
        nickguard.enforce(world, out, command.time, index)
        return Applied(out.deliveries, event, None, admin, tuple(world.presence))

    def _apply_core(
        self, out: Outbox, user: User, message: Message, time: int
    ) -> tuple[str, str] | None:
        """Apply a user's write (or answer a query in log order); returns the operator
        request it accepted, if it was one."""
        ctx = Context(self._world, out, user, message, time)
        if message.command == "CLUSTER" and is_write(message):
            return operators.cluster(ctx)
        handler = _WRITES.get(message.command) if is_write(message) else None
        if handler is not None:
            handler(ctx)
        else:  # a query sent through the log: answer it in log order all the same
            for reply in queries.answer(self._world, user, message, "*"):
                out.send(user.session, reply)
        return None

    def _by_plugin(self, out: Outbox, event: ChatEvent, session: str) -> bool:
        """Let plugins refuse or handle a user command; returns whether they did."""
        plugins, world = self.plugins, self._world
        assert plugins is not None
        reason = plugins.check(world, out, event)
        if event.command == "NICK" and event.params and plugins.reserves(event.params[0]):
            text = "Nickname is reserved for a service"
            out.send(session, numeric(event.nick, N.ERR_NICKNAMEINUSE, event.params[0], text))
        elif reason is not None:
            out.send(session, Message("FAIL", (event.command, "PLUGIN_REFUSED", reason)))
        elif plugins.handles(event.command):
            plugins.command(world, out, event, session)
        elif (
            event.command == "PRIVMSG"
            and len(event.params) > 1
            and plugins.service_for(event.params[0])
        ):
            plugins.service(world, out, event, session)
        else:
            return False
        return True

    def _node_plugin_entry(self, out: Outbox, index: int, command: Command) -> ChatEvent | None:
        """``@TICK`` and ``@PLUGIN-SAY``, appended by the leader's node for plugins."""
        if self.plugins is None:
            return None
        message = command.message
        event = ChatEvent(
            index, command.time, command.node, "", None, message.command, message.params
        )
        if message.command == TICK:
            self.plugins.tick(self._world, out, event)
        elif len(message.params) == 3:
            self.plugins.say(self._world, out, event)
        return replace(event, messages=distinct_messages(out.deliveries))

    def _reserved(self, connect: Message) -> bool:
        plugins = self.plugins
        return plugins is not None and bool(connect.params) and plugins.reserves(connect.params[0])

    def _end(self, session: str, seq: int) -> None:
        """Remember the last ``seq`` of a session that is not (or no longer) a user."""
        self._ended.pop(session, None)
        self._ended[session] = seq
        while len(self._ended) > self.limits.session_records:
            del self._ended[next(iter(self._ended))]

    def last_applied_seq(self, session: str) -> int:
        """The ``seq`` of the session's last applied command; 0 if none is known."""
        user = self._world.users.get(session)
        return user.seq if user is not None else self._ended.get(session, 0)

    # -- reads -------------------------------------------------------------------------

    def query(self, session: str, message: Message, server_name: str) -> list[Message]:
        """Answer a read-only command (see :func:`is_write`) from this replica."""
        user = self._world.users.get(session)
        if user is None:
            return [numeric("*", N.ERR_NOTREGISTERED, "You have not registered")]
        return queries.answer(self._world, user, message, server_name)

    def password_hash(self, account: str) -> str | None:
        """The stored hash of ``account``, for the node to verify a login against."""
        record = self._world.accounts.get(casefold(account))
        return None if record is None else record.password_hash

    def is_resumable(self, session: str) -> bool:
        return self.resume_hash_of(session) is not None

    def resume_hash_of(self, session: str) -> str | None:
        user = self._world.users.get(session)
        return None if user is None else user.resume_hash

    def session_node(self, session: str) -> str | None:
        user = self._world.users.get(session)
        return None if user is None else user.node

    def nick_account(self, nick: str) -> str | None:
        """The account of the user holding ``nick`` (None: free, or not logged in)."""
        user = self._world.user_by_nick(nick)
        return None if user is None else user.account

    def user_mask(self, nick: str) -> str | None:
        """``nick!user@host`` of the user holding ``nick`` (None: nobody does)."""
        user = self._world.user_by_nick(nick)
        return None if user is None else user.prefix

    def nick_in_use(self, nick: str) -> bool:
        return self._world.user_by_nick(nick) is not None

    def session_nick(self, session: str) -> str | None:
        user = self._world.users.get(session)
        return None if user is None else user.nick

    def plugin_world(self) -> World:
        """The world, for the leader's read-only plugin questions (``chat_wants_tick``)."""
        return self._world

    def node_ids(self) -> list[str]:
        """The nodes the log has heard of (started, and not forgotten)."""
        return list(self._world.nodes)

    def sessions_of_node(self, node: str) -> list[str]:
        info = self._world.nodes.get(node)
        return [] if info is None else list(info.sessions)

    def node_addresses(self, node: str) -> list[str]:
        """The IRC addresses ``node`` announced when it last started."""
        info = self._world.nodes.get(node)
        return [] if info is None else list(info.addresses)

    def user_count(self) -> int:
        return len(self._world.users)

    def channel_count(self) -> int:
        return len(self._world.channels)

    def gap(self, earlier: ChatState, since: int) -> Gap:
        """What this state, installed from a snapshot over ``earlier`` (the state at log
        index ``since``), skipped: for the node to replay to its users."""
        return Gap(earlier._world, self._world, since)

    # -- snapshots ---------------------------------------------------------------------

    def snapshot(self) -> bytes:
        """Everything, per-session sequence numbers included, as deterministic JSON."""
        return snapshot.dump(self._world, self._ended)

    @classmethod
    def restore(
        cls, data: bytes, limits: ChatLimits, plugins: PluginRunner | None = None
    ) -> ChatState:
        """The state ``snapshot`` saved; :class:`~twistedchat.chat.snapshot.SnapshotError`
        if ``data`` is of a version this code does not know."""
        state = cls(limits, plugins)
        state._world, state._ended = snapshot.load(data, limits)
        return state
