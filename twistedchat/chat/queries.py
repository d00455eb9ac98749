"""Read-only commands, answered from the local replica without going through the log.

Nothing here changes the world. A user's server (312, 352) is their node's name as its
NODE-RESET gave it; the caller passes in the answering node's, for what the log does not
name (and for WHOWAS, which does not keep the node).
"""

from __future__ import annotations

from collections.abc import Callable

from twistedchat.chat.channels import CHANTYPES
from twistedchat.chat.chathistory import EVENTS_TAG
from twistedchat.chat.chathistory import chathistory as history
from twistedchat.chat.listings import (
    LIST_WIDTH,
    can_see_channel,
    chunk_words,
    names_replies,
    topic_replies,
    visible_members,
)
from twistedchat.chat.masks import glob_match
from twistedchat.chat.model import Channel, User, World
from twistedchat.chat.modes import mode_query
from twistedchat.chat.operators import cluster_status
from twistedchat.chat.outbox import numeric, server_time
from twistedchat.wire import numerics as N
from twistedchat.wire.casemap import casefold
from twistedchat.wire.message import Message

SERVER_INFO = "twistedchat, a Raft-replicated IRC server"
USERHOST_MAX = 5


def unknown(viewer: User, message: Message) -> list[Message]:
    """421 for a command nobody answers."""
    return [numeric(viewer.nick, N.ERR_UNKNOWNCOMMAND, message.command, "Unknown command")]


def need_more_params(viewer: User, command: str) -> list[Message]:
    """461 for a command given too few parameters."""
    return [numeric(viewer.nick, N.ERR_NEEDMOREPARAMS, command, "Not enough parameters")]


def names(world: World, viewer: User, message: Message, _server: str) -> list[Message]:
    """NAMES for each listed channel; without a channel only the end marker (modern docs
    allow that, and listing every channel of a large network in one reply helps nobody)."""
    params = message.params
    if not params or not params[0]:
        return [numeric(viewer.nick, N.RPL_ENDOFNAMES, "*", "End of /NAMES list")]
    replies: list[Message] = []
    for name in params[0].split(",")[: world.limits.targmax]:
        channel = world.channel(name)
        if channel is not None and can_see_channel(channel, viewer):
            replies += names_replies(world, channel, viewer)
        else:
            replies.append(numeric(viewer.nick, N.RPL_ENDOFNAMES, name, "End of /NAMES list"))
    return replies


def list_(world: World, viewer: User, message: Message, _server: str) -> list[Message]:
    """LIST, of named channels or all, filtered as ELIST=CMNTU allows: ``>n`` / ``<n``
    users, ``C>n`` / ``C<n`` created more / less than n minutes ago, ``T>n`` / ``T<n``
    topic set more / less than n minutes ago, a mask (``*chat*``) or a mask not to match
    (``!*test*``). Minutes count back from the log's clock (its latest entry's time)."""
    params = message.params
    names: list[str] = []
    keep: list[Callable[[Channel], bool]] = []
    for token in params[0].split(",") if params and params[0] else []:
        condition = _list_condition(token, world.log_time)
        if condition is not None:
            keep.append(condition)
        elif token:
            names.append(token)
    if names:
        found = (world.channel(name) for name in names)
        channels = list({casefold(c.name): c for c in found if c is not None}.values())
    else:
        channels = list(world.channels.values())
    rows = [
        numeric(
            viewer.nick, N.RPL_LIST, c.name, str(len(c.members)), c.topic.text if c.topic else ""
        )
        for c in channels
        if can_see_channel(c, viewer) and all(condition(c) for condition in keep)
    ]
    return [
        numeric(viewer.nick, N.RPL_LISTSTART, "Channel", "Users  Name"),
        *rows,
        numeric(viewer.nick, N.RPL_LISTEND, "End of /LIST"),
    ]


def _list_condition(token: str, now: int) -> Callable[[Channel], bool] | None:
    """The ELIST filter ``token`` stands for, or None if it is a channel name."""
    kind, rest = (token[0], token[1:]) if token[:1] in "CT" and token[1:2] in "<>" else ("", token)
    bound = rest[1:]
    if rest[:1] in "<>" and bound.isascii() and bound.isdigit():
        more, limit = rest[0] == ">", int(bound)
        if kind == "":
            return lambda c: len(c.members) > limit if more else len(c.members) < limit

        def minutes_ago(c: Channel) -> float | None:
            if kind == "C":
                return (now - c.created) / 60_000
            return None if c.topic is None else (now - c.topic.time) / 60_000

        def test(c: Channel) -> bool:
            age = minutes_ago(c)
            return age is not None and (age > limit if more else age < limit)

        return test
    if token.startswith("!") and len(token) > 1:
        return lambda c: not glob_match(token[1:], c.name)
    if "*" in token or "?" in token:
        return lambda c: glob_match(token, c.name)
    return None


def who(world: World, viewer: User, message: Message, server: str) -> list[Message]:
    """WHO of a channel's members or of users matching a mask (nick, user, host, realname).

    Invisible users are listed only to people sharing a channel with them.
    """
    params = message.params
    mask = params[0] if params and params[0] else "*"
    rows: list[tuple[str, User, str]] = []
    if mask[0] in CHANTYPES:
        channel = world.channel(mask)
        if channel is not None:
            rows = [(channel.name, u, sym) for u, sym in visible_members(world, channel, viewer)]
    else:
        pattern = "*" if mask == "0" else mask
        exact = world.user_by_nick(mask)  # invisibility hides from masks, not from a nick
        rows = [
            ("*", u, "")
            for u in world.users.values()
            if (u is viewer or u is exact or not u.invisible or world.shares_channel(viewer, u))
            and any(glob_match(pattern, f) for f in (u.nick, u.username, u.host, u.realname))
        ]
    if len(params) > 1 and params[1].startswith("%"):
        fields, _, token = params[1][1:].partition(",")
        replies = [
            _whox_row(viewer, where, u, sym, world.server_of(u, server), fields, token)
            for where, u, sym in rows
        ]
    else:
        replies = [
            numeric(viewer.nick, N.RPL_WHOREPLY, where, u.username, u.host,
                    world.server_of(u, server), u.nick, _who_flags(u, sym), f"0 {u.realname}")
            for where, u, sym in rows
        ]  # fmt: skip
    return [*replies, numeric(viewer.nick, N.RPL_ENDOFWHO, mask, "End of WHO list")]


def _who_flags(user: User, prefixes: str) -> str:
    """WHO's flags: H (here) or G (gone), * for an operator, B for a bot, then the
    channel prefixes (all of them: connections cut them for clients without multi-prefix)."""
    away = "G" if user.away is not None else "H"
    return away + ("*" if user.oper else "") + ("B" if user.bot else "") + prefixes


#: WHOX fields in the order the reply gives them (ircv3.net whox), and what each shows.
WHOX_FIELDS = "tcuihsnfdlaor"


def _whox_row(
    viewer: User, where: str, user: User, prefixes: str, server: str, fields: str, token: str
) -> Message:
    """RPL_WHOSPCRPL (354): the requested ``fields`` of one row, in WHOX's order. The IP
    is never shown (255.255.255.255), idle time and oplevel are not kept (0 and n/a), and
    the flags carry the highest channel prefix only: which parameter is the flags field
    depends on the request, which the connection that cuts prefixes down does not see."""
    values = {
        "t": token or "0",
        "c": where,
        "u": user.username,
        "i": "255.255.255.255",
        "h": user.host,
        "s": server,
        "n": user.nick,
        "f": _who_flags(user, prefixes[:1]),
        "d": "0",
        "l": "0",
        "a": user.account or "0",
        "o": "n/a",
        "r": user.realname,
    }
    return numeric(viewer.nick, N.RPL_WHOSPCRPL, *(values[f] for f in WHOX_FIELDS if f in fields))


def whois(world: World, viewer: User, message: Message, server: str) -> list[Message]:
    params = message.params
    if not params or not params[-1]:
        return [numeric(viewer.nick, N.ERR_NONICKNAMEGIVEN, "No nickname given")]
    nick = params[-1].split(",")[0]  # WHOIS [server] nick; TARGMAX WHOIS:1
    user = world.user_by_nick(nick)
    if user is None:
        return [
            numeric(viewer.nick, N.ERR_NOSUCHNICK, nick, "No such nick/channel"),
            numeric(viewer.nick, N.RPL_ENDOFWHOIS, nick, "End of /WHOIS list"),
        ]
    me = viewer.nick
    replies = [
        numeric(me, N.RPL_WHOISUSER, user.nick, user.username, user.host, "*", user.realname)
    ]
    channels = [
        world.channels[key].members[user.session].prefixes + world.channels[key].name
        for key in user.channels
        if viewer is user or can_see_channel(world.channels[key], viewer)
    ]
    width = LIST_WIDTH - len(me) - len(user.nick)
    replies += [
        numeric(me, N.RPL_WHOISCHANNELS, user.nick, line) for line in chunk_words(channels, width)
    ]
    where = world.server_of(user, server)
    replies.append(numeric(me, N.RPL_WHOISSERVER, user.nick, where, SERVER_INFO))
    if user.away is not None:
        replies.append(numeric(me, N.RPL_AWAY, user.nick, user.away))
    if user.oper:
        replies.append(numeric(me, N.RPL_WHOISOPERATOR, user.nick, "is an IRC operator"))
    if user.bot:
        replies.append(numeric(me, N.RPL_WHOISBOT, user.nick, "is a bot"))
    if user.account is not None:
        replies.append(numeric(me, N.RPL_WHOISACCOUNT, user.nick, user.account, "is logged in as"))
    replies.append(numeric(me, N.RPL_ENDOFWHOIS, user.nick, "End of /WHOIS list"))
    return replies


def whowas(world: World, viewer: User, message: Message, server: str) -> list[Message]:
    """WHOWAS, newest first, at most ``count`` entries if a positive count is given."""
    params = message.params
    if not params or not params[0]:
        return [numeric(viewer.nick, N.ERR_NONICKNAMEGIVEN, "No nickname given")]
    nick = params[0]
    wanted = casefold(nick)
    entries = [e for e in reversed(world.whowas) if casefold(e.nick) == wanted]
    count = params[1] if len(params) > 1 else ""
    if count.isascii() and count.isdigit() and int(count) > 0:
        entries = entries[: int(count)]
    me = viewer.nick
    replies: list[Message] = []
    for e in entries:
        replies.append(numeric(me, N.RPL_WHOWASUSER, e.nick, e.username, e.host, "*", e.realname))
        replies.append(numeric(me, N.RPL_WHOISSERVER, e.nick, server, server_time(e.time)))
    if not entries:
        replies.append(numeric(me, N.ERR_WASNOSUCHNICK, nick, "There was no such nickname"))
    replies.append(numeric(me, N.RPL_ENDOFWHOWAS, nick, "End of WHOWAS"))
    return replies


def ison(world: World, viewer: User, message: Message, _server: str) -> list[Message]:
    params = message.params
    online = [
        user.nick
        for nick in " ".join(params).split()
        if (user := world.user_by_nick(nick)) is not None
    ]
    return [numeric(viewer.nick, N.RPL_ISON, " ".join(online))]


def userhost(world: World, viewer: User, message: Message, _server: str) -> list[Message]:
    params = message.params
    found = [
        f"{user.nick}={'-' if user.away is not None else '+'}{user.username}@{user.host}"
        for nick in " ".join(params).split()[:USERHOST_MAX]
        if (user := world.user_by_nick(nick)) is not None
    ]
    return [numeric(viewer.nick, N.RPL_USERHOST, " ".join(found))]


def mode(world: World, viewer: User, message: Message, _server: str) -> list[Message]:
    return mode_query(world, viewer, message.params)


def topic(world: World, viewer: User, message: Message, _server: str) -> list[Message]:
    """TOPIC without a text. A secret channel answers non-members as if it did not exist."""
    params = message.params
    channel = world.channel(params[0])
    if channel is None or not can_see_channel(channel, viewer):
        return [numeric(viewer.nick, N.ERR_NOSUCHCHANNEL, params[0], "No such channel")]
    return topic_replies(channel, viewer)


def links(world: World, viewer: User, _message: Message, server: str) -> list[Message]:
    """LINKS: the cluster's nodes, each by its server name (its id until the log names
    it) as a server one hop from the one answering (the answering one at hop 0)."""
    me = viewer.nick
    return [
        *(
            numeric(
                me,
                N.RPL_LINKS,
                info.server or node,
                server,
                f"{0 if info.server == server else 1} twistedchat node {node}, "
                f"{len(info.sessions)} users",
            )
            for node, info in sorted(world.nodes.items())
        ),
        numeric(me, N.RPL_ENDOFLINKS, "*", "End of /LINKS list"),
    ]


def lusers(world: World, viewer: User, _message: Message, _server: str) -> list[Message]:
    """LUSERS; each node of the cluster counts as a server, "local" means the viewer's node."""
    me = viewer.nick
    total = len(world.users)
    invisible = sum(1 for user in world.users.values() if user.invisible)
    servers = max(len(world.nodes), 1)
    node = world.nodes.get(viewer.node)
    local, local_max = (len(node.sessions), node.max_users) if node is not None else (0, 0)
    peak = world.max_users
    return [
        numeric(
            me,
            N.RPL_LUSERCLIENT,
            f"There are {total - invisible} users and {invisible} invisible on {servers} servers",
        ),
        numeric(me, N.RPL_LUSERCHANNELS, str(len(world.channels)), "channels formed"),
        numeric(me, N.RPL_LUSERME, f"I have {local} clients and {servers - 1} servers"),
        numeric(
            me,
            N.RPL_LOCALUSERS,
            str(local),
            str(local_max),
            f"Current local users {local}, max {local_max}",
        ),
        numeric(
            me,
            N.RPL_GLOBALUSERS,
            str(total),
            str(peak),
            f"Current global users {total}, max {peak}",
        ),
    ]


#: A query's handler: the replies to ``message`` from ``viewer``; ``server`` is the
#: answering node's name.
Handler = Callable[[World, User, Message, str], list[Message]]


def cluster(world: World, viewer: User, _message: Message, _server: str) -> list[Message]:
    return cluster_status(world, viewer)


def chathistory(world: World, viewer: User, message: Message, _server: str) -> list[Message]:
    """CHATHISTORY is the one reply that depends on a capability of the client, which
    its connection marks on the query (see :data:`EVENTS_TAG`)."""
    return history(world, viewer, message.params, events=EVENTS_TAG in message.tags)
