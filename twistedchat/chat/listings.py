"""Replies that list channel state, sent both on JOIN (applied) and on request (queries)."""

from __future__ import annotations

from twistedchat.chat.model import Channel, User, World
from twistedchat.chat.outbox import numeric
from twistedchat.wire import numerics as N
from twistedchat.wire.message import Message

#: Bytes for the list in a 353/319 line, less the nick and channel put before it: 512
#: less the source (a server name of up to 63 bytes), the numeric, separators and CRLF.
LIST_WIDTH = 400


def utf8_len(text: str) -> int:
    return len(text.encode())


def chunk_words(words: list[str], width: int) -> list[str]:
    """Join ``words`` into lines of at most ``width`` UTF-8 bytes (a longer word gets its own)."""
    lines: list[str] = []
    current = ""
    for word in words:
        if current and utf8_len(current) + 1 + utf8_len(word) > width:
            lines.append(current)
            current = word
        else:
            current = f"{current} {word}" if current else word
    if current:
        lines.append(current)
    return lines


def can_see_channel(channel: Channel, viewer: User) -> bool:
    """Secret (+s) channels are visible to their members only."""
    return not channel.has_flag("s") or viewer.session in channel.members


def visible_members(world: World, channel: Channel, viewer: User) -> list[tuple[User, str]]:
    """Members ``viewer`` may see, with their status symbol: invisible (+i) users hide
    from everyone outside the channel."""
    inside = viewer.session in channel.members
    if not inside and channel.has_flag("s"):
        return []
    return [
        (world.users[session], member.prefixes)
        for session, member in channel.members.items()
        if inside or not world.users[session].invisible
    ]


def names_replies(world: World, channel: Channel, viewer: User) -> list[Message]:
    """RPL_NAMREPLY lines (as many as needed) then RPL_ENDOFNAMES. Each name is in its
    richest form, ``@+nick!user@host`` (multi-prefix, userhost-in-names): connections cut
    it down for their clients, and the lines are split to fit the long form."""
    symbol = "@" if channel.has_flag("s") else "="
    names = [f"{sym}{user.prefix}" for user, sym in visible_members(world, channel, viewer)]
    width = LIST_WIDTH - len(viewer.nick) - utf8_len(channel.name)
    return [
        *(
            numeric(viewer.nick, N.RPL_NAMREPLY, symbol, channel.name, line)
            for line in chunk_words(names, width)
        ),
        numeric(viewer.nick, N.RPL_ENDOFNAMES, channel.name, "End of /NAMES list"),
    ]


def topic_replies(channel: Channel, viewer: User) -> list[Message]:
    """RPL_TOPIC and RPL_TOPICWHOTIME, or RPL_NOTOPIC."""
    topic = channel.topic
    if topic is None:
        return [numeric(viewer.nick, N.RPL_NOTOPIC, channel.name, "No topic is set")]
    return [
        numeric(viewer.nick, N.RPL_TOPIC, channel.name, topic.text),
        numeric(
            viewer.nick, N.RPL_TOPICWHOTIME, channel.name, topic.setter, str(topic.time // 1000)
        ),
    ]


#: Per list mode: its entry numeric, its end numeric and the end's text.
_LIST_REPLIES = {
    "b": (N.RPL_BANLIST, N.RPL_ENDOFBANLIST, "End of channel ban list"),
    "e": (N.RPL_EXCEPTLIST, N.RPL_ENDOFEXCEPTLIST, "End of channel exception list"),
    "I": (N.RPL_INVEXLIST, N.RPL_ENDOFINVEXLIST, "End of Channel Invite Exception List"),
}


def mask_list_replies(channel: Channel, viewer: User, letter: str) -> list[Message]:
    """The list of the list mode ``letter`` (``b``: 367/368, ``e``: 348/349, ``I``:
    346/347), one line per entry with its setter and time, then the end line."""
    entry, end, text = _LIST_REPLIES[letter]
    return [
        *(
            numeric(viewer.nick, entry, channel.name, e.mask, e.setter, str(e.time // 1000))
            for e in channel.mask_list(letter)
        ),
        numeric(viewer.nick, end, channel.name, text),
    ]


def channel_mode_replies(channel: Channel, viewer: User) -> list[Message]:
    """RPL_CHANNELMODEIS and RPL_CREATIONTIME; the key is shown to members only."""
    letters, args = channel.flags, []
    if channel.key is not None:
        letters += "k"
        args.append(channel.key if viewer.session in channel.members else "*")
    if channel.limit is not None:
        letters += "l"
        args.append(str(channel.limit))
    return [
        numeric(viewer.nick, N.RPL_CHANNELMODEIS, channel.name, "+" + letters, *args),
        numeric(viewer.nick, N.RPL_CREATIONTIME, channel.name, str(channel.created // 1000)),
    ]
