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

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, replace

from twistedchat.chat import (
    alwayson,
    commands,
    identify,
    metadata,
    nickguard,
    operators,
    resume,
    snapshot,
    users,
)
from twistedchat.chat.command import (
    ADMIN,
    ALIVE,
    CONNECT,
    LOGIN,
    MOVE,
    NODE_DOWN,
    NODE_LOST,
    NODE_RESET,
    NODE_UP,
    ORPHAN_QUIT,
    PLUGIN_SAY,
    PROBE,
    RESUME,
    TICK,
    Command,
)
from twistedchat.chat.commands import Spec
from twistedchat.chat.context import Context
from twistedchat.chat.delivery import Sending
from twistedchat.chat.limits import ChatLimits
from twistedchat.chat.model import MetadataChange, User, UserChange, World
from twistedchat.chat.outbox import Outbox, numeric
from twistedchat.chat.plugin_api import ChatEvent, PluginRunner, distinct_messages, event_for
from twistedchat.chat.skipped import Gap
from twistedchat.wire import numerics as N
from twistedchat.wire.casemap import casefold
from twistedchat.wire.message import Message

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
    the nodes' MONITOR lists; ``changes`` the away, account and realname changes it told
    (:class:`~twistedchat.chat.model.UserChange`), for their extended-monitor watchers;
    ``metadata`` the metadata keys it changed, for the nodes' subscribers, and ``joins``
    each (session, channel) it joined, for the nodes to send joiners the channel's
    metadata (:class:`~twistedchat.chat.model.MetadataChange`, draft/metadata-3).
    ``attached`` is the user the entry's connection joined as a further client
    (multiclient, :mod:`~twistedchat.chat.multiclient`).
    """

    deliveries: Sequence[Sending]
    event: ChatEvent | None = None
    moved: str | None = None
    admin: tuple[str, str] | None = None
    presence: tuple[tuple[str, str | None], ...] = ()
    changes: tuple[UserChange, ...] = ()
    metadata: tuple[MetadataChange, ...] = ()
    joins: tuple[tuple[str, str], ...] = ()
    attached: str | None = None


NOTHING = Applied(())


class ChatState:
    """Users, channels and their history; see the module docstring for the guarantees."""

    def __init__(self, limits: ChatLimits = DEFAULT_LIMITS, plugins: PluginRunner | None = None):
        self.limits = limits
        self.plugins = plugins
        self._world = World(limits)
        self._ended: dict[str, int] = {}  # session -> last seq, least recently ended first

    def command(self, name: str) -> Spec | None:
        """The table's entry for ``name`` (:mod:`~twistedchat.chat.commands`), or a plugin's
        command (always a write); None if there is no such command."""
        spec = commands.lookup(name)
        if spec is None and self.plugins is not None and self.plugins.handles(name.upper()):
            return commands.plugin_command(name)
        return spec

    def is_write(self, message: Message) -> bool:
        """Whether ``message`` goes through the log rather than being answered here."""
        spec = self.command(message.command)
        return spec is not None and spec.is_write(message.params)

    # -- the log -----------------------------------------------------------------------

    def apply(self, index: int, command: Command) -> Applied:
        """Apply the log entry at ``index``; returns what it did (see :class:`Applied`)."""
        session, seq = command.session, command.seq
        world = self._world
        world.presence.clear()
        world.changes.clear()
        world.metadata_changes.clear()
        world.joins.clear()
        if command.time < world.log_time:  # a new leader's clock a little behind (0020)
            command = replace(command, time=world.log_time)
        world.log_time = command.time
        if seq != self.last_applied_seq(session) + 1:
            return NOTHING  # a duplicate, or an earlier command of this session is missing
        out = Outbox(index, command.time)
        found = world.user_of(session)
        user, client = (None, None) if found is None else found
        message = command.message
        name = message.command.upper()
        if user is not None and client is not None:
            if client.node != command.node:
                return NOTHING  # not the node that connection is on (cannot happen)
            client.seq = seq
        elif user is not None:
            if user.node != command.node or user.first_gone:
                return NOTHING  # from the node the session was resumed away from, or late
            if resume.seen_before(user, command.ref):
                user.seq = seq
                return NOTHING  # the client re-sent a write it had no acknowledgement for
            user.seq = seq
        if user is not None:
            if name != message.command:  # handlers relay the command name as they get it
                message = Message(name, message.params, message.source, message.tags)
            return self._apply_user_command(index, command, user, message, out)
        self._end(session, seq)
        moved: str | None = None
        attached: str | None = None
        admin: tuple[str, str] | None = None
        event: ChatEvent | None = None
        if name == CONNECT and self._reserved(message):
            text = "Nickname is reserved for a service"
            out.send(session, numeric("*", N.ERR_NICKNAMEINUSE, message.params[0], text))
        elif name == CONNECT:
            reclaimed = users.connect(world, out, command)
            if session in world.clients:  # it joined a user as a further client
                del self._ended[session]
                attached = world.clients[session]
            elif reclaimed is not None:
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
        elif name == NODE_DOWN:
            users.node_down(world, command)
        elif name == NODE_UP:
            users.node_up(world, command)
        elif name == RESUME:
            resumed = resume.resume(world, out, command)
            moved = None if resumed is None else resumed.session
        elif name == ORPHAN_QUIT:
            orphan = resume.orphan_quit(world, command)
            if orphan is not None:
                handed_out = out.index - 1  # unknown: what the old run handed is gone with it
                users.depart(world, out, orphan, users.NODE_RESTARTED, handed_out, command.time)
                if orphan.session not in world.users:
                    self._end(orphan.session, orphan.seq)
        elif name in (TICK, PLUGIN_SAY):
            event = self._node_plugin_entry(out, index, command)
        elif name in (MOVE, PROBE, ALIVE):
            pass  # for the nodes' hubs only: the chat does not change
        elif name == ADMIN and len(message.params) == 2:
            verb, node = message.params
            if verb in operators.ADMIN_VERBS and node in world.nodes:
                admin = (verb, node)
        elif name != "QUIT":
            out.send(session, numeric("*", N.ERR_NOTREGISTERED, "You have not registered"))
        return self._applied(out, event, moved, admin, attached)

    def _apply_user_command(
        self, index: int, command: Command, user: User, message: Message, out: Outbox
    ) -> Applied:
        """A registered user's command, through the plugins if there are any."""
        world, session = self._world, command.session
        event: ChatEvent | None = None
        identifies = message.command == LOGIN and user.account is None and session in world.users
        if self.plugins is None:  # no plugin to show the event to: skip building it
            admin = self._apply_core(out, user, message, command)
        else:
            event = event_for(user, world, index, command.time, command.node, message)
            admin = None
            if not self._by_plugin(out, event, session):
                admin = self._apply_core(out, user, message, command)
            self.plugins.applied(
                world, out, replace(event, messages=distinct_messages(out.deliveries))
            )
            event = replace(event, messages=distinct_messages(out.deliveries))
        moved = None
        if identifies and user.account is not None:  # NickServ IDENTIFY: the account's
            moved = identify.identify_into(world, out, user, command.time)  # session, if any
        if session not in world.users and session not in world.clients:
            self._end(session, command.seq)
        elif session in world.users:
            resume.remember(user, command.ref)
            nickguard.review(world, out, user, command.time)
        nickguard.enforce(world, out, command.time, index)
        return self._applied(out, event, moved, admin)

    def _applied(
        self,
        out: Outbox,
        event: ChatEvent | None,
        moved: str | None,
        admin: tuple[str, str] | None,
        attached: str | None = None,
    ) -> Applied:
        world = self._world
        for user in alwayson.expired(world, world.log_time):
            users.leave(world, out, user, alwayson.EXPIRED, world.log_time)
            self._end(user.session, user.seq)
        return Applied(
            out.deliveries, event, moved, admin, tuple(world.presence), tuple(world.changes),
            tuple(world.metadata_changes), tuple(world.joins), attached,
        )  # fmt: skip

    def _apply_core(
        self, out: Outbox, user: User, message: Message, command: Command
    ) -> tuple[str, str] | None:
        """Apply a user's write (or answer a query in log order); returns the operator
        request it accepted, if it was one."""
        origin = "" if command.session == user.session else command.session
        ctx = Context(self._world, out, user, message, command.time, origin)
        spec = commands.lookup(message.command)
        if spec is None or spec.apply is None or not spec.applies(message.params):
            # a query sent through the log: answer it in log order all the same
            for reply in commands.answer_query(self._world, user, message, "*"):
                out.send(user.session, reply)
        elif spec.operator and not user.oper:
            ctx.reply(N.ERR_NOPRIVILEGES, "Permission Denied- You're not an IRC operator")
        elif spec.lacks_params(message.params):
            ctx.reply(N.ERR_NEEDMOREPARAMS, spec.name, "Not enough parameters")
        else:
            return spec.apply(ctx)
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
        found = self._world.user_of(session)
        if found is None:
            return self._ended.get(session, 0)
        user, client = found
        return user.seq if client is None else client.seq

    def user_session_of(self, session: str) -> str:
        """The session of the user connection ``session`` is of: itself, unless it is a
        further client of a user (multiclient)."""
        return self._world.clients.get(session, session)

    # -- reads -------------------------------------------------------------------------

    def query(self, session: str, message: Message, server_name: str) -> list[Message]:
        """Answer a read-only command (see :func:`is_write`) from this replica."""
        user = self._user(session)
        if user is None:
            return [numeric("*", N.ERR_NOTREGISTERED, "You have not registered")]
        return commands.answer_query(self._world, user, message, server_name)

    def metadata_sync(
        self, session: str, target: str, subscribed: Collection[str], also: Iterable[str] = ()
    ) -> list[Message]:
        """``METADATA <target> SYNC`` for ``session`` subscribed to ``subscribed`` (the
        node keeps subscriptions); ``also``: nicks it monitors, for ``*ALL``."""
        user = self._user(session)
        if user is None:
            return [numeric("*", N.ERR_NOTREGISTERED, "You have not registered")]
        return metadata.sync(self._world, user, target, subscribed, also)

    def password_hash(self, account: str) -> str | None:
        """The stored hash of ``account``, for the node to verify a login against."""
        record = self._world.accounts.get(casefold(account))
        return None if record is None else record.password_hash

    def is_resumable(self, session: str) -> bool:
        return self.resume_hash_of(session) is not None

    def resume_hash_of(self, session: str) -> str | None:
        user = self._world.users.get(session)
        return None if user is None else user.resume_hash

    def reclaim_waits(self, login: Message, node: str) -> str | None:
        """The session the login ``login`` from ``node`` (a CONNECT, or the ``@LOGIN`` of
        NickServ IDENTIFY) would take over or join, if its own connection is on another
        node that the leader has not marked down; else None. That node may be dead (then
        the client takes the session over, and is replayed what it missed from where the
        leader says the node stopped) or alive (then a CONNECT joins it, multiclient; an
        IDENTIFY is a login only): the hub holds such a login until the leader marks the
        node down, that node answers a probe, or a few seconds pass."""
        params = login.params
        if login.command == LOGIN:  # IDENTIFY: the session holding the account's name
            nick, account = (params[0], params[0]) if params else ("", None)
        else:
            nick, account = (params[0] if params else ""), (params[4] if len(params) > 4 else None)
        holder = users.reclaimed_by(self._world, nick, account)
        if holder is None or holder.node == node or holder.detached_at or holder.first_gone:
            return None
        return holder.session if self._world.node(holder.node).down_at == 0 else None

    def node_down_at(self, node: str) -> int | None:
        """Where the leader marked ``node`` down (the log index it had handed out); 0: up;
        None: the log knows no such node."""
        info = self._world.nodes.get(node)
        return None if info is None else info.down_at

    def session_node(self, session: str) -> str | None:
        """The node the connection ``session`` is on, as the log says."""
        found = self._world.user_of(session)
        if found is None:
            return None
        user, client = found
        return user.node if client is None else client.node

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
        user = self._user(session)
        return None if user is None else user.nick

    def _user(self, session: str) -> User | None:
        """The user of the connection ``session`` (one of its clients, multiclient)."""
        found = self._world.user_of(session)
        return None if found is None else found[0]

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

    def node_web(self, node: str) -> str:
        """The URL of ``node``'s IRC over WebSocket, as it announced at its last start."""
        info = self._world.nodes.get(node)
        return "" if info is None else info.web

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
