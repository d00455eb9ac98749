"""What plugins see of the chat, and the few things they may do to it.

Deterministic hooks (see :mod:`twistedchat.hookspecs`) run while a log entry is applied,
on every node, and get a :class:`PluginContext`: read-only views of users and channels,
the plugin's own replicated store (JSON values, part of every snapshot), the entry's log
time as the only clock, and ways to speak and to op users that produce the same
deliveries, msgids included, on every node. Per-node hooks get a :class:`ChatEvent`, a
plain record of what was applied, and may do anything (write files, call a service).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from twistedchat.chat.channels import CHANTYPES
from twistedchat.chat.delivery import Sending
from twistedchat.chat.history import channel_key, nick_party, private_key
from twistedchat.chat.model import User, World
from twistedchat.chat.outbox import Outbox
from twistedchat.wire.casemap import casefold
from twistedchat.wire.message import Message

#: The host part of every plugin speaker's prefix, e.g. ``ChanServ!ChanServ@services.``
SERVICES_HOST = "services."
#: The replicated per-channel plugin policy (``PLUGIN #chan DISABLE ...``).
POLICY_STORE = "@policy"
RATE_STORE = "@rate"  # key of a plugin's store that holds its rate-limit windows
RATE_SLOTS = 5000  # (command, nick, channel) windows remembered per plugin at most


@dataclass(frozen=True, slots=True)
class ChatEvent:
    """One applied user command, as plugins see it.

    ``nick`` and ``channels`` are the sender's before the command (a QUIT's channels are
    where it is seen); ``messages`` are what the entry delivered, each once (by msgid):
    empty when the command was refused.
    """

    index: int
    time: int  # ms since the epoch, the log's time for this entry
    node: str
    nick: str
    account: str | None
    command: str
    params: tuple[str, ...]
    channels: tuple[str, ...] = ()
    messages: tuple[Message, ...] = field(default=())

    @property
    def target(self) -> str | None:
        """The first parameter (a channel or nick) of PRIVMSG, NOTICE, JOIN, TOPIC..."""
        return self.params[0] if self.params else None

    @property
    def text(self) -> str:
        """The trailing text of a PRIVMSG or NOTICE ('' otherwise)."""
        return (
            self.params[1] if self.command in ("PRIVMSG", "NOTICE") and len(self.params) > 1 else ""
        )


class PluginContext:
    """A deterministic hook's view of one applied entry (see the module docstring)."""

    def __init__(
        self, world: World, out: Outbox, plugin: str, event: ChatEvent, speaker: str
    ) -> None:
        self._world = world
        self._out = out
        self.plugin = plugin
        self.event = event
        self.speaker = speaker

    # -- reading -----------------------------------------------------------------------

    @property
    def now(self) -> int:
        """The entry's log time in ms: the same on every node, unlike any clock."""
        return self.event.time

    @property
    def store(self) -> dict[str, Any]:
        """This plugin's replicated state: JSON values only, snapshotted with the chat."""
        return self._world.plugin_data.setdefault(self.plugin, {})

    def store_of(self, plugin: str) -> dict[str, Any]:
        return self._world.plugin_data.setdefault(plugin, {})

    def user_exists(self, nick: str) -> bool:
        return self._world.user_by_nick(nick) is not None

    def account_of(self, nick: str) -> str | None:
        user = self._world.user_by_nick(nick)
        return None if user is None else user.account

    def channel_exists(self, name: str) -> bool:
        return self._world.channel(name) is not None

    def members(self, name: str) -> list[str]:
        channel = self._world.channel(name)
        if channel is None:
            return []
        return [self._world.users[session].nick for session in channel.members]

    def is_op(self, name: str, nick: str) -> bool:
        channel, user = self._world.channel(name), self._world.user_by_nick(nick)
        if channel is None or user is None:
            return False
        member = channel.members.get(user.session)
        return member is not None and member.op

    def allowed(self, command: str) -> bool:
        """Whether the event's channel left ``<plugin>/<command>`` enabled."""
        target = self.event.target or ""
        if target[:1] not in CHANTYPES:
            return True
        disabled = self._world.plugin_data.get(POLICY_STORE, {}).get(casefold(target), [])
        return f"{self.plugin}/{command}" not in disabled

    def rate_limited(self, command: str, count: int, per_ms: int) -> bool:
        """Whether the sender used ``command`` ``count`` times in this channel within the
        last ``per_ms`` of log time; if not, counts this use. The same on every node."""
        windows = self.store.setdefault(RATE_STORE, {})
        slot = f"{command}|{casefold(self.event.nick)}|{casefold(self.event.target or '')}"
        recent = [t for t in windows.pop(slot, []) if self.now - t < per_ms]
        limited = len(recent) >= count
        if not limited:
            recent.append(self.now)
        windows[slot] = recent  # most recently used last: the oldest go first
        while len(windows) > RATE_SLOTS:
            del windows[next(iter(windows))]
        return limited

    # -- acting ------------------------------------------------------------------------

    def say(self, target: str, text: str, command: str = "PRIVMSG") -> None:
        """Speak as this plugin's speaker to a channel or a nick (kept in history)."""
        message = self._out.service_message(self._prefix, command, target, text)
        if target[:1] in CHANTYPES:
            channel = self._world.channel(target)
            if channel is None:
                return
            self._world.history.record(channel_key(channel.name), self.now, message)
            self._out.send_all(channel.members, message)
            return
        user = self._world.user_by_nick(target)
        if user is not None:
            key = private_key(self._world.party(user), nick_party(self.speaker))
            self._world.history.record(key, self.now, message)
            self._out.send(user.session, message)

    def reply(self, text: str) -> None:
        """Answer the event: in its channel, or privately to its sender."""
        target = self.event.target or ""
        private = target[:1] not in CHANTYPES
        self.say(self.event.nick if private else target, text, "NOTICE" if private else "PRIVMSG")

    def notice(self, nick: str, text: str) -> None:
        self.say(nick, text, "NOTICE")

    def set_op(self, name: str, nick: str, on: bool = True) -> bool:
        """Give or take channel operator status, announced as a MODE from the speaker."""
        channel, user = self._world.channel(name), self._world.user_by_nick(nick)
        if channel is None or user is None or user.session not in channel.members:
            return False
        member = channel.members[user.session]
        if member.op == on:
            return False
        member.op = on
        flag = "+o" if on else "-o"
        mode = self._out.service_message(self._prefix, "MODE", channel.name, flag, user.nick)
        self._world.remember_event(channel, self.now, mode)
        self._out.send_all(channel.members, mode)
        return True

    @property
    def _prefix(self) -> str:
        return f"{self.speaker}!{self.speaker}@{SERVICES_HOST}"


def event_for(
    user: User, world: World, index: int, time: int, node: str, message: Message
) -> ChatEvent:
    """The :class:`ChatEvent` of ``message`` from ``user``, taken before it is applied."""
    channels = tuple(world.channels[key].name for key in user.channels)
    return ChatEvent(
        index,
        time,
        node,
        user.nick,
        user.account,
        message.command.upper(),
        message.params,
        channels,
    )


def distinct_messages(deliveries: list[Sending]) -> tuple[Message, ...]:
    """Each message the entry delivered, once (copies to many sessions share a msgid)."""
    seen: dict[str, Message] = {}
    for delivery in deliveries:
        message = delivery.message
        if message.source is not None:
            seen.setdefault(message.tags.get("msgid", str(len(seen))), message)
    return tuple(seen.values())


class PluginRunner(Protocol):
    """What the chat state calls while it applies an entry (``twistedchat.plugins``)."""

    def handles(self, command: str) -> bool: ...

    def reserves(self, nick: str) -> bool: ...

    def service_for(self, nick: str) -> bool: ...

    def check(self, world: World, out: Outbox, event: ChatEvent) -> str | None: ...

    def command(self, world: World, out: Outbox, event: ChatEvent, session: str) -> None: ...

    def service(self, world: World, out: Outbox, event: ChatEvent, session: str) -> None: ...

    def applied(self, world: World, out: Outbox, event: ChatEvent) -> None: ...

    def tick(self, world: World, out: Outbox, event: ChatEvent) -> None: ...

    def say(self, world: World, out: Outbox, event: ChatEvent) -> None: ...
