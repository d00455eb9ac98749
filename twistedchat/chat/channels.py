"""Channel membership and topics: JOIN, PART, KICK, INVITE and TOPIC (set)."""

from __future__ import annotations

from twistedchat.chat.context import Context
from twistedchat.chat.delivery import without
from twistedchat.chat.limits import truncate
from twistedchat.chat.listings import names_replies, topic_replies
from twistedchat.chat.markstore import CAP as READ_MARKER
from twistedchat.chat.markstore import marker_message
from twistedchat.chat.model import Channel, Topic, User
from twistedchat.wire import numerics as N
from twistedchat.wire.casemap import casefold

CHANTYPES = "#&"
#: Characters never allowed in a channel name (modern.ircdocs.horse, "Channels").
_FORBIDDEN = frozenset(" ,\x07")


def channel_name_error(name: str, channellen: int) -> tuple[str, str] | None:
    """Why ``name`` cannot be a channel (numeric and text), or None if it can.

    A name without a channel prefix is no channel at all (403); one with the prefix but
    too long or with forbidden characters is an illegal channel name (479).
    """
    if not name or name[0] not in CHANTYPES:
        return N.ERR_NOSUCHCHANNEL, "No such channel"
    if len(name.encode()) > channellen or any(c in _FORBIDDEN or c < " " for c in name):
        return N.ERR_BADCHANNAME, "Illegal channel name"
    return None


#: The NAMES a JOIN sends the joiner go only to clients without draft/no-implicit-names.
IMPLICIT_NAMES = without("draft/no-implicit-names")


def join(ctx: Context) -> None:
    if ctx.params[0] == "0":
        for key in list(ctx.user.channels):
            _part(ctx, ctx.world.channels[key], None)
        return
    keys = ctx.params[1].split(",") if len(ctx.params) > 1 else []
    key_of: dict[str, str] = {}  # keys pair with names as written, before duplicates go
    for i, name in enumerate(ctx.params[0].split(",")):
        key_of.setdefault(casefold(name), keys[i] if i < len(keys) else "")
    for name in ctx.targets(ctx.params[0]):
        _join(ctx, name, key_of[casefold(name)])


def _join(ctx: Context, name: str, key: str) -> None:
    world, user = ctx.world, ctx.user
    error = channel_name_error(name, ctx.limits.channellen)
    if error is not None:
        ctx.reply(error[0], name, error[1])
        return
    channel = world.channel(name)
    if channel is not None and user.session in channel.members:
        return
    if len(user.channels) >= ctx.limits.chanlimit:
        ctx.reply(N.ERR_TOOMANYCHANNELS, name, "You have joined too many channels")
        return
    if channel is None:
        if len(world.channels) >= ctx.limits.max_channels:
            ctx.reply(
                N.ERR_UNAVAILRESOURCE, name, "Cannot create channel: server channel limit reached"
            )
            return
        channel = world.create_channel(name, ctx.time)
    else:
        refusal = _refusal(channel, user, key)
        if refusal is not None:
            ctx.reply(refusal[0], channel.name, refusal[1])
            return
    world.add_member(channel, user)
    message = ctx.out.user_message(user, "JOIN", *user.join_params(channel.name))
    world.remember_event(channel, ctx.time, message)
    ctx.out.send_all(channel.members, message)
    # draft/read-marker: the joiner's marker for the channel, after the JOIN, before NAMES
    marker = world.read_markers.get(user.account, channel.name)
    ctx.out.send(user.session, marker_message(channel.name, marker), needs=READ_MARKER)
    if user.away is not None:  # away-notify: members learn it with the JOIN
        away = ctx.out.user_message(user, "AWAY", user.away)
        ctx.out.send_all(channel.members, away, skip=user.session)
    if channel.topic is not None:
        for message in topic_replies(channel, user):
            ctx.out.send(user.session, message)
    for message in names_replies(world, channel, user):  # not asked for: implicit
        ctx.out.send(user.session, message, needs=IMPLICIT_NAMES)


def _refusal(channel: Channel, user: User, key: str) -> tuple[str, str] | None:
    """Why ``user`` may not join (numeric, text), or None.

    A ban keeps the user out unless a ban exception (+e) matches them; a mute (``+b
    $m:``) does not. An invitation lets the user past +i, +k and +l, but not past a
    ban: on a channel without +i any member may invite, and bans must stay the
    operators' decision. An invite exception (+I) lets them past +i only, as on Solanum.
    """
    if channel.is_banned(user):
        return N.ERR_BANNEDFROMCHAN, "Cannot join channel (+b)"
    if user.session in channel.invites:
        return None
    if channel.has_flag("i") and not channel.is_invite_excepted(user):
        return N.ERR_INVITEONLYCHAN, "Cannot join channel (+i)"
    if channel.key is not None and key != channel.key:
        return N.ERR_BADCHANNELKEY, "Cannot join channel (+k)"
    if channel.limit is not None and len(channel.members) >= channel.limit:
        return N.ERR_CHANNELISFULL, "Cannot join channel (+l)"
    return None


def part(ctx: Context) -> None:
    reason = ctx.params[1] if len(ctx.params) > 1 and ctx.params[1] else None
    for name in ctx.targets(ctx.params[0]):
        channel = ctx.world.channel(name)
        if channel is None:
            ctx.reply(N.ERR_NOSUCHCHANNEL, name, "No such channel")
        elif ctx.user.session not in channel.members:
            ctx.reply(N.ERR_NOTONCHANNEL, channel.name, "You're not on that channel")
        else:
            _part(ctx, channel, reason)


def _part(ctx: Context, channel: Channel, reason: str | None) -> None:
    params = (channel.name,) if reason is None else (channel.name, reason)
    message = ctx.out.user_message(ctx.user, "PART", *params)
    ctx.world.remember_event(channel, ctx.time, message)
    ctx.out.send_all(channel.members, message)
    ctx.world.remove_member(channel, ctx.user)


def _operator_channel(ctx: Context, name: str) -> Channel | None:
    """The channel named ``name`` if the sender is an operator in it; else replies why not."""
    channel = ctx.world.channel(name)
    if channel is None:
        ctx.reply(N.ERR_NOSUCHCHANNEL, name, "No such channel")
        return None
    member = channel.members.get(ctx.user.session)
    if member is None:
        ctx.reply(N.ERR_NOTONCHANNEL, channel.name, "You're not on that channel")
        return None
    if not member.op:
        ctx.reply(N.ERR_CHANOPRIVSNEEDED, channel.name, "You're not channel operator")
        return None
    return channel


def kick(ctx: Context) -> None:
    """KICK one channel's users (``KICK #c a,b``) or channel and user pairs (``KICK #c,#d
    a,b``: a from #c, b from #d), at most TARGMAX kicks; other counts are a 461."""
    names = ctx.params[0].split(",")
    if len(names) == 1:
        pairs = [(names[0], nick) for nick in ctx.targets(ctx.params[1])]
    else:
        nicks = ctx.params[1].split(",")
        if len(nicks) != len(names):
            ctx.reply(N.ERR_NEEDMOREPARAMS, "KICK", "Give one channel, or one for each nick")
            return
        pairs = list(zip(names, nicks, strict=True))[: len(ctx.at_most_targmax(nicks))]
    given = ctx.params[2] if len(ctx.params) > 2 else ""
    reason = truncate(given or ctx.user.nick, ctx.limits.kicklen)
    left: set[str] = set()  # channels the operator kicked themselves out of: the rest stops
    for name, nick in pairs:
        if casefold(name) not in left and _kick(ctx, name, nick, reason):
            left.add(casefold(name))


def _kick(ctx: Context, name: str, nick: str, reason: str) -> bool:
    """Kick ``nick`` from channel ``name`` (or say why not); whether the operator kicked
    themselves."""
    user = ctx.user
    channel = _operator_channel(ctx, name)
    if channel is None:
        return False
    target = ctx.world.user_by_nick(nick)
    if target is None:
        ctx.reply(N.ERR_NOSUCHNICK, nick, "No such nick/channel")
    elif target.session not in channel.members:
        ctx.reply(N.ERR_USERNOTINCHANNEL, target.nick, channel.name, "They aren't on that channel")
    else:
        message = ctx.out.user_message(user, "KICK", channel.name, target.nick, reason)
        ctx.world.remember_event(channel, ctx.time, message)
        ctx.out.send_all(channel.members, message)
        ctx.world.remove_member(channel, target)
        return target is user
    return False


def invite(ctx: Context) -> None:
    """Invite a user into a channel the sender is on; on +i only operators may.

    The invitation is remembered on the channel until used (capped at MAXLIST entries,
    oldest dropped, so a channel's invite list cannot grow without bound).
    """
    user, (nick, name) = ctx.user, ctx.params[:2]
    target = ctx.world.user_by_nick(nick)
    if target is None:
        ctx.reply(N.ERR_NOSUCHNICK, nick, "No such nick/channel")
        return
    channel = ctx.world.channel(name)
    if channel is None:
        ctx.reply(N.ERR_NOSUCHCHANNEL, name, "No such channel")
        return
    member = channel.members.get(user.session)
    if member is None:
        ctx.reply(N.ERR_NOTONCHANNEL, channel.name, "You're not on that channel")
        return
    if target.session in channel.members:
        ctx.reply(N.ERR_USERONCHANNEL, target.nick, channel.name, "is already on channel")
        return
    if channel.has_flag("i") and not member.op:
        ctx.reply(N.ERR_CHANOPRIVSNEEDED, channel.name, "You're not channel operator")
        return
    channel.invites.pop(target.session, None)
    channel.invites[target.session] = None
    while len(channel.invites) > ctx.limits.maxlist:
        del channel.invites[next(iter(channel.invites))]
    ctx.reply(N.RPL_INVITING, target.nick, channel.name)
    if target.away is not None:
        ctx.reply(N.RPL_AWAY, target.nick, target.away)
    invite = ctx.out.user_message(user, "INVITE", target.nick, channel.name)
    ctx.out.send(target.session, invite)
    ctx.out.send_all(channel.members, invite, skip=user.session, needs="invite-notify")


def set_topic(ctx: Context) -> None:
    """TOPIC with a text: set it (cut to TOPICLEN), or clear it with an empty text."""
    name, text = ctx.params[0], truncate(ctx.params[1], ctx.limits.topiclen)
    channel = ctx.world.channel(name)
    if channel is None:
        ctx.reply(N.ERR_NOSUCHCHANNEL, name, "No such channel")
        return
    member = channel.members.get(ctx.user.session)
    if member is None:
        ctx.reply(N.ERR_NOTONCHANNEL, channel.name, "You're not on that channel")
        return
    if channel.has_flag("t") and not member.op:
        ctx.reply(N.ERR_CHANOPRIVSNEEDED, channel.name, "You're not channel operator")
        return
    channel.topic = Topic(text, ctx.user.prefix, ctx.time) if text else None
    message = ctx.out.user_message(ctx.user, "TOPIC", channel.name, text)
    ctx.world.remember_event(channel, ctx.time, message)
    ctx.out.send_all(channel.members, message)
