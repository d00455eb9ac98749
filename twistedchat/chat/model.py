"""The chat's data (users, channels, history) and the mutations that keep it consistent.

Every collection that is ever iterated to produce output is a ``dict`` (insertion order),
never a ``set``: string hashing is randomised per process, so iterating a set would give
different nodes different delivery orders for the same log.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from twistedchat.chat.history import History, account_party, nick_party

if TYPE_CHECKING:
    from twistedchat.chat.accounts import Account
    from twistedchat.chat.outbox import Outbox
    from twistedchat.wire.message import Message
from twistedchat.chat.extbans import is_mute, matches
from twistedchat.chat.limits import ChatLimits
from twistedchat.chat.mailbox import Mailboxes
from twistedchat.chat.markstore import ReadMarkers
from twistedchat.wire.casemap import casefold

#: Channel modes a new channel starts with; a channel with only these is "default".
DEFAULT_FLAGS = "nt"
#: Resume tokens a session accepts at once: the current one and the last few before it.
RESUME_TOKENS_KEPT = 4
#: ``NodeInfo.down_at`` of a node marked down by a leader that cannot tell where it stopped.
DOWN_UNKNOWN = -1

_V = TypeVar("_V")


@dataclass(slots=True)
class Client:
    """A further connection of a user logged in from several clients (multiclient): the
    node it is on, and its own last applied ``seq`` (its writes are numbered apart)."""

    node: str
    seq: int


@dataclass(slots=True)
class User:
    """A registered session. ``seq`` is the last command of the session applied.

    ``resume_hash`` is set for a session that may be resumed (see ``chat.resume``), and
    ``refs`` then holds the client references of its recent writes, oldest first.
    """

    session: str
    node: str
    seq: int
    nick: str
    username: str
    host: str
    realname: str
    away: str | None = None
    invisible: bool = False
    account: str | None = None
    channels: dict[str, None] = field(default_factory=dict)
    resume_hash: str | None = None
    refs: dict[str, None] = field(default_factory=dict)
    oper: bool = False
    resume_older: tuple[str, ...] = ()  # earlier tokens still accepted, latest issued first
    bot: bool = False  # user mode +B (IRCv3 bot-mode)
    wallops: bool = False  # user mode +w: receives WALLOPS
    metadata: dict[str, str] = field(default_factory=dict)  # draft/metadata-3, in order set
    #: An always-on session with no client (see :mod:`~twistedchat.chat.alwayson`): the
    #: last log index its client was handed (0: it has a client), and since when (ms).
    detached_at: int = 0
    detached_since: int = 0
    auto_away: bool = False  # its away message was set by detaching, and goes on return
    #: Further connections of the user (multiclient), by their session ids, in attach
    #: order; ``first_gone``: the connection ``session`` names left while they stayed.
    clients: dict[str, Client] = field(default_factory=dict)
    first_gone: bool = False

    @property
    def prefix(self) -> str:
        return f"{self.nick}!{self.username}@{self.host}"

    def join_params(self, channel: str) -> tuple[str, str, str]:
        """A JOIN of ``channel`` in its extended-join form (account ``*`` when logged
        out); connections cut it to the channel for clients without the capability."""
        return channel, self.account or "*", self.realname

    def resume_hashes(self) -> tuple[str, ...]:
        """Every token hash that resumes this session now."""
        current = () if self.resume_hash is None else (self.resume_hash,)
        return (*current, *self.resume_older)


@dataclass(slots=True)
class Member:
    op: bool = False
    voice: bool = False

    @property
    def prefixes(self) -> str:
        """The NAMES/WHO/WHOIS prefixes of every status held, highest first (the
        multi-prefix form; connections keep the first for clients without it)."""
        return ("@" if self.op else "") + ("+" if self.voice else "")


@dataclass(frozen=True, slots=True)
class Topic:
    text: str
    setter: str
    time: int


@dataclass(frozen=True, slots=True)
class Ban:
    """An entry of one of a channel's lists: a ban (+b), exception (+e) or invite
    exception (+I), with who set it and when (see :mod:`~twistedchat.chat.extbans`)."""

    mask: str
    setter: str
    time: int


@dataclass(slots=True)
class Channel:
    """A channel; ``flags`` is the sorted string of its set flag modes (of ``Cimnst``).

    ``invites`` are sessions invited and not yet joined; it is capped (oldest dropped) and
    may hold sessions that have since quit, which is harmless as session ids never recur.
    ``bans``, ``excepts`` (+e) and ``invexes`` (+I) keep their entries in the order set;
    together they hold at most MAXLIST.
    """

    name: str
    created: int
    members: dict[str, Member] = field(default_factory=dict)
    flags: str = DEFAULT_FLAGS
    key: str | None = None
    limit: int | None = None
    topic: Topic | None = None
    bans: list[Ban] = field(default_factory=list)
    invites: dict[str, None] = field(default_factory=dict)
    excepts: list[Ban] = field(default_factory=list)
    invexes: list[Ban] = field(default_factory=list)
    metadata: dict[str, str] = field(default_factory=dict)  # draft/metadata-3, in order set

    def is_default(self) -> bool:
        """Whether nobody set anything on this channel worth keeping once it is empty."""
        return (
            self.flags == DEFAULT_FLAGS
            and self.key is None
            and self.limit is None
            and self.topic is None
            and not self.bans
            and not self.excepts
            and not self.invexes
            and not self.metadata
        )

    def has_flag(self, flag: str) -> bool:
        return flag in self.flags

    def set_flag(self, flag: str, on: bool) -> bool:
        """Set or clear a flag mode; returns whether anything changed."""
        if (flag in self.flags) == on:
            return False
        flags = self.flags + flag if on else self.flags.replace(flag, "")
        self.flags = "".join(sorted(flags))
        return True

    def mask_list(self, letter: str) -> list[Ban]:
        """The list of the list mode ``letter``: ``b``, ``e`` or ``I``."""
        return self.bans if letter == "b" else self.excepts if letter == "e" else self.invexes

    def list_entries(self) -> int:
        """Entries in all three lists, which MAXLIST caps together."""
        return len(self.bans) + len(self.excepts) + len(self.invexes)

    def is_banned(self, user: User) -> bool:
        """Whether a ban (+b, mutes aside) matches ``user`` and no exception (+e, mute
        exceptions aside) lifts it."""
        who = user.prefix, user.account
        return _any(self.bans, who, mutes=False) and not _any(self.excepts, who, mutes=False)

    def is_muted(self, user: User) -> bool:
        """Whether ``user`` may not speak for a ban or a mute (``$m:``); any exception
        matching ``user`` lifts a mute, a mute exception (``+e $m:``) only a mute."""
        if self.is_banned(user):
            return True
        who = user.prefix, user.account
        return _any(self.bans, who, mutes=True) and not _any(self.excepts, who, mutes=None)

    def is_invite_excepted(self, user: User) -> bool:
        """Whether an invite exception (+I) lets ``user`` past +i."""
        return _any(self.invexes, (user.prefix, user.account), mutes=None)

    def can_speak(self, user: User) -> bool:
        """+n keeps outsiders out, +m, bans and mutes silence members without op or voice."""
        member = self.members.get(user.session)
        if member is None:
            return not self.has_flag("n") and not self.has_flag("m") and not self.is_muted(user)
        if member.op or member.voice:
            return True
        return not self.has_flag("m") and not self.is_muted(user)


def _rekeyed(items: dict[str, _V], old: str, new: str) -> dict[str, _V]:
    """``items`` with the key ``old`` replaced by ``new``, in the same place."""
    return {new if key == old else key: value for key, value in items.items()}


def _any(entries: list[Ban], who: tuple[str, str | None], *, mutes: bool | None) -> bool:
    """Whether an entry of ``entries`` matches ``who`` (prefix, account): among the mutes
    only (``mutes=True``), the other entries only (False), or all of them (None)."""
    prefix, account = who
    return any(
        (mutes is None or is_mute(entry.mask) == mutes) and matches(entry.mask, prefix, account)
        for entry in entries
    )


@dataclass(frozen=True, slots=True)
class WhowasEntry:
    nick: str
    username: str
    host: str
    realname: str
    time: int


def run_of(session: str) -> str:
    """The run of its node a hub's session id names: ``NODE/BOOT/N`` -> ``NODE/BOOT``
    (``BOOT`` is random per process); "" for ids of another shape."""
    parts = session.split("/")
    return f"{parts[0]}/{parts[1]}" if len(parts) == 3 else ""


@dataclass(slots=True)
class NodeInfo:
    """What the log says about a node: its IRC addresses and server name, current run,
    peak and current users, and whether the leader hears from it.

    ``run`` names the node's process since its last restart (``NODE/BOOT``, see
    :func:`run_of`). ``sessions`` (its users, in connect order) is derived from the users
    and not snapshotted.
    """

    addresses: list[str] = field(default_factory=list)
    run: str = ""
    max_users: int = 0
    sessions: dict[str, None] = field(default_factory=dict)
    server: str = ""  # its IRC server name ("" until a NODE-RESET of this version named it)
    web: str = ""  # the ws:// or wss:// URL of its IRC over WebSocket ("" if it has none)
    #: While the leader hears nothing from the node: the last log index the node is known
    #: to have handed out (see :mod:`~twistedchat.chat.replay`), or :data:`DOWN_UNKNOWN`;
    #: 0 while it is up.
    down_at: int = 0


@dataclass(frozen=True, slots=True)
class UserChange:
    """``message`` (AWAY, ACCOUNT or SETNAME from ``nick``, of session ``session``) told to
    the sessions ``told``; watchers of ``nick`` elsewhere may hear it too (extended-monitor)."""

    nick: str
    session: str
    message: Message
    told: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class MetadataChange:
    """Key ``key`` of ``target`` (a nick, or a channel's name) set to ``value`` (None:
    removed) by session ``origin``; ``audience`` are those who may hear of it (the
    channel's members, or the user and everyone sharing a channel with them), for each
    node to tell those of them connected there who subscribed to the key (draft/metadata-3,
    see :mod:`~twistedchat.chat.metadata`)."""

    target: str
    key: str
    value: str | None
    origin: str
    audience: tuple[str, ...]
    user: bool  # the target is a user (else a channel)


class World:
    """Users, channels and history, with the mutations that keep their indexes in step."""

    def __init__(self, limits: ChatLimits):
        self.limits = limits
        self.users: dict[str, User] = {}
        self.nicks: dict[str, str] = {}
        self.channels: dict[str, Channel] = {}
        self.whowas: deque[WhowasEntry] = deque(maxlen=limits.whowas)
        self.nodes: dict[str, NodeInfo] = {}
        self.max_users = 0
        #: The time of the last entry applied (ms): the log's clock never runs back here.
        self.log_time = 0
        self.accounts: dict[str, Account] = {}  # by folded name
        self.logins: dict[str, dict[str, None]] = {}  # folded account -> its sessions (derived)
        self.nick_guard: dict[str, int] = {}  # session -> since when it holds another's nick
        self.resumable: dict[str, str] = {}  # resume token hash -> session
        self.detached: dict[str, None] = {}  # detached always-on sessions, oldest first (derived)
        self.clients: dict[str, str] = {}  # further connection -> its user's session (derived)
        self.plugin_data: dict[str, dict[str, Any]] = {}  # plugin name -> its JSON store
        self.history = History(
            limits.history_max, limits.history_days, limits.history_conversations
        )
        #: Nicks the entry being applied brought online (with ``nick!user@host``) or took
        #: offline (None), in order: for the nodes' MONITOR lists. Cleared per entry.
        self.presence: list[tuple[str, str | None]] = []
        #: Changes in users that those sharing a channel were told of (away, account,
        #: realname), in order: for the nodes' extended-monitor watchers. Cleared per entry.
        self.changes: list[UserChange] = []
        #: Metadata keys the entry being applied changed, in order: for the nodes'
        #: subscribers. Cleared per entry.
        self.metadata_changes: list[MetadataChange] = []
        #: (session, channel name) of each join the entry made, in order: for the nodes to
        #: send a joiner the channel's metadata. Cleared per entry.
        self.joins: list[tuple[str, str]] = []
        self.mail = Mailboxes(
            limits.mail_per_account, limits.mail_per_sender, limits.mail_from_sender,
            limits.mail_accounts, limits.history_days,
        )  # fmt: skip
        self.read_markers = ReadMarkers(limits.read_markers, limits.read_markers_total)

    # -- lookups -----------------------------------------------------------------------

    def user_by_nick(self, nick: str) -> User | None:
        session = self.nicks.get(casefold(nick))
        return None if session is None else self.users[session]

    def channel(self, name: str) -> Channel | None:
        return self.channels.get(casefold(name))

    def node(self, node_id: str) -> NodeInfo:
        return self.nodes.setdefault(node_id, NodeInfo())

    def tell_peers(
        self, out: Outbox, user: User, message: Message, needs: str | None = None
    ) -> None:
        """Send ``message``, a change in ``user``, to everyone sharing a channel with them
        (with capability ``needs``), and record it for their MONITOR watchers
        (:class:`UserChange`)."""
        told = tuple(peer.session for peer in self.peers(user))
        out.send_all(told, message, needs=needs)
        self.changes.append(UserChange(user.nick, user.session, message, told))

    def server_of(self, user: User, default: str) -> str:
        """The server name of the node ``user`` is on (``default`` if the log has none)."""
        info = self.nodes.get(user.node)
        return info.server if info is not None and info.server else default

    def peers(self, user: User) -> list[User]:
        """Everyone sharing a channel with ``user`` (not ``user``), each once, in a fixed order."""
        seen: dict[str, None] = {}
        for key in user.channels:
            for session in self.channels[key].members:
                if session != user.session:
                    seen[session] = None
        return [self.users[session] for session in seen]

    def shares_channel(self, a: User, b: User) -> bool:
        return any(b.session in self.channels[key].members for key in a.channels)

    def logged_in(self, account: str) -> list[User]:
        """The users logged in to ``account``, by session id: an order every replica
        agrees on, also one restored from a snapshot (which rebuilds the index)."""
        return [self.users[session] for session in sorted(self.logins.get(casefold(account), ()))]

    def party(self, user: User) -> str:
        """``user``'s side of a private conversation: their account, else their nick."""
        return nick_party(user.nick) if user.account is None else account_party(user.account)

    # -- users -------------------------------------------------------------------------

    def add_user(self, user: User) -> None:
        self.presence.append((user.nick, user.prefix))
        self.users[user.session] = user
        self.nicks[casefold(user.nick)] = user.session
        self.max_users = max(self.max_users, len(self.users))
        for token_hash in user.resume_hashes():
            self.resumable[token_hash] = user.session
        self._place(user)
        if user.account is not None:
            self.logins.setdefault(casefold(user.account), {})[user.session] = None
        if user.detached_at:
            self.detached[user.session] = None
        for client in user.clients:
            self.clients[client] = user.session

    def user_of(self, session: str) -> tuple[User, Client | None] | None:
        """The user a connection's session id is of, with its :class:`Client` record if it
        is a further connection of that user (multiclient); None if it is of no one."""
        user = self.users.get(session)
        if user is not None:
            return user, None
        owner = self.clients.get(session)
        if owner is None:
            return None
        user = self.users[owner]
        return user, user.clients[session]

    def attach_client(self, user: User, session: str, node: str, seq: int) -> None:
        """Connection ``session`` (on ``node``) is now a further client of ``user``."""
        user.clients[session] = Client(node, seq)
        self.clients[session] = user.session

    def drop_client(self, user: User, session: str) -> Client:
        """Connection ``session`` of ``user`` went; returns its record."""
        del self.clients[session]
        return user.clients.pop(session)

    def log_in(self, user: User, account: str) -> None:
        """``user`` (not logged in yet) is now logged in to ``account``."""
        user.account = account
        self.logins.setdefault(casefold(account), {})[user.session] = None

    def _place(self, user: User) -> None:
        info = self.node(user.node)
        info.sessions[user.session] = None
        info.max_users = max(info.max_users, len(info.sessions))

    def move_user(self, user: User, node: str) -> None:
        """Carry ``user``'s session over to ``node`` (a resume)."""
        del self.nodes[user.node].sessions[user.session]
        user.node = node
        self._place(user)

    def set_resume_hash(
        self, user: User, resume_hash: str | None, presented: str | None = None
    ) -> None:
        """Replace the user's resume token (None: not resumable).

        After a resume (``presented`` is the token it used) the last few tokens stay
        good too: a new token only reaches the client in a line a dying connection may
        lose, and two resumes of one client can race (a RESUME held by a partitioned
        node commits after the client already resumed elsewhere, and hands out a token
        the client never sees). Without ``presented`` (a reclaim by login) every older
        token dies.
        """
        for old in user.resume_hashes():
            self.resumable.pop(old, None)
        older: tuple[str, ...] = ()
        if presented is not None:  # it is one of these: keep them in the order issued
            issued = (user.resume_hash, *user.resume_older)
            older = tuple(h for h in issued if h is not None)[: RESUME_TOKENS_KEPT - 1]
        user.resume_hash, user.resume_older = resume_hash, older
        for token_hash in user.resume_hashes():
            self.resumable[token_hash] = user.session

    def rename(self, user: User, nick: str, time: int) -> None:
        self.record_whowas(user, time)
        del self.nicks[casefold(user.nick)]
        if casefold(user.nick) != casefold(nick):
            self.presence.append((user.nick, None))
        user.nick = nick
        self.nicks[casefold(nick)] = user.session
        self.presence.append((nick, user.prefix))

    def remove_user(self, user: User, time: int) -> None:
        """Forget ``user``: their channels (maybe dropping them), nick and session."""
        self.record_whowas(user, time)
        for key in list(user.channels):
            self.remove_member(self.channels[key], user)
        del self.nicks[casefold(user.nick)]
        self.presence.append((user.nick, None))
        del self.users[user.session]
        del self.nodes[user.node].sessions[user.session]
        self.detached.pop(user.session, None)
        for client in user.clients:
            del self.clients[client]
        self._forget_login(user)
        for token_hash in user.resume_hashes():
            self.resumable.pop(token_hash, None)

    def _forget_login(self, user: User) -> None:
        if user.account is None:
            return
        key = casefold(user.account)
        del self.logins[key][user.session]
        if not self.logins[key]:
            del self.logins[key]

    def record_whowas(self, user: User, time: int) -> None:
        self.whowas.append(WhowasEntry(user.nick, user.username, user.host, user.realname, time))

    # -- channels ----------------------------------------------------------------------

    def remember_event(self, channel: Channel, time: int, message: Message) -> None:
        """Keep a channel event its members were sent in the channel's history, for
        clients catching up with ``draft/event-playback``."""
        self.history.record(casefold(channel.name), time, message)

    def remember_everywhere(self, user: User, time: int, message: Message) -> None:
        """Keep ``user``'s QUIT or NICK in each of their channels, where it was seen (one
        msgid in all: it is one event, which a client catching up shows once)."""
        for key in user.channels:
            self.remember_event(self.channels[key], time, message)

    def create_channel(self, name: str, time: int) -> Channel:
        channel = Channel(name=name, created=time)
        self.channels[casefold(name)] = channel
        return channel

    def add_member(self, channel: Channel, user: User) -> None:
        """Join ``user``; the first member of an empty channel becomes its operator."""
        channel.members[user.session] = Member(op=not channel.members)
        channel.invites.pop(user.session, None)
        user.channels[casefold(channel.name)] = None
        self.joins.append((user.session, channel.name))

    def rename_channel(self, channel: Channel, name: str) -> None:
        """Give ``channel`` the name ``name`` (free, or the same in another case): its
        place among the channels, in its members' channel lists and its history stay."""
        old, new = casefold(channel.name), casefold(name)
        channel.name = name
        if old == new:
            return
        self.channels = _rekeyed(self.channels, old, new)
        for session in channel.members:
            user = self.users[session]
            user.channels = _rekeyed(user.channels, old, new)
        self.history.rename(old, new)

    def remove_member(self, channel: Channel, user: User) -> None:
        """Part ``user``; an empty channel is dropped unless it carries state someone set."""
        key = casefold(channel.name)
        del channel.members[user.session]
        del user.channels[key]
        if not channel.members and channel.is_default():
            del self.channels[key]
