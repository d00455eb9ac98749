"""IRCv3 ``draft/channel-rename``: ``RENAME <old> <new> [:<reason>]`` (decision 0029).

A write, applied in log order on every node. A channel operator of ``<old>`` (or an IRC
operator, member or not) gives the channel a new name with the same prefix, one no other
channel has; a new name that differs only in case renames the channel's display name.
Everything stays with the channel: members and their status, modes, lists, topic,
invitations, plugin policy, and its history, which ``CHATHISTORY`` for the new name
returns (each kept item under the name the channel has now). The old name is free at
once: no redirection (the spec's optional ``FAIL JOIN CHANNEL_RENAMED``) is kept.

Members with the capability are sent ``RENAME <old> <new> :<reason>``; the others the
spec's fallback: their own ``PART <old> :<reason>``, their own ``JOIN <new>`` and what a
join shows (the topic, NAMES). A rename that only changes case sends them nothing, as
the spec says. The RENAME is kept in the channel's history as an event (event-playback).
"""

from __future__ import annotations

from twistedchat.chat.channels import CHANTYPES, channel_name_error
from twistedchat.chat.context import Context
from twistedchat.chat.delivery import without
from twistedchat.chat.limits import truncate
from twistedchat.chat.listings import names_replies, topic_replies
from twistedchat.chat.model import Channel, User
from twistedchat.chat.plugin_api import POLICY_STORE
from twistedchat.wire import numerics as N
from twistedchat.wire.casemap import casefold
from twistedchat.wire.message import Message

#: The capability that shows a rename as such, not as a part and a join.
CAPABILITY = "draft/channel-rename"
#: Who gets the fallback: members without the capability.
FALLBACK = without(CAPABILITY)


def rename(ctx: Context) -> None:
    old_name, new_name = ctx.params[0], ctx.params[1]
    given = ctx.params[2] if len(ctx.params) > 2 else ""
    reason = truncate(given, ctx.limits.kicklen)
    channel = _renamable(ctx, old_name, new_name)
    if channel is None:
        return
    world, out, user = ctx.world, ctx.out, ctx.user
    old_name = channel.name
    if new_name == old_name:
        return  # nothing to change
    case_only = casefold(new_name) == casefold(old_name)
    message = out.user_message(user, "RENAME", old_name, new_name, reason)
    policies = world.plugin_data.get(POLICY_STORE, {})
    if not case_only and casefold(old_name) in policies:
        policies[casefold(new_name)] = policies.pop(casefold(old_name))
    world.rename_channel(channel, new_name)
    world.read_markers.rename(old_name, new_name)  # draft/read-marker: markers follow
    world.remember_event(channel, ctx.time, message)
    out.send_all(channel.members, message, needs=CAPABILITY)
    if user.session not in channel.members:  # an IRC operator from outside
        out.send(user.session, message)
    if case_only:
        return
    for session in channel.members:
        _fallback(ctx, channel, world.users[session], old_name, reason)


def _renamable(ctx: Context, old_name: str, new_name: str) -> Channel | None:
    """The channel ``old_name`` if the sender may call it ``new_name``; else says why not."""
    user = ctx.user
    channel = ctx.world.channel(old_name)
    if channel is None:
        ctx.reply(N.ERR_NOSUCHCHANNEL, old_name, "No such channel")
        return None
    member = channel.members.get(user.session)
    if not user.oper:
        if member is None:
            ctx.reply(N.ERR_NOTONCHANNEL, channel.name, "You're not on that channel")
            return None
        if not member.op:
            ctx.reply(N.ERR_CHANOPRIVSNEEDED, channel.name, "You're not channel operator")
            return None
    if new_name[:1] != channel.name[:1] and new_name[:1] in CHANTYPES:
        _fail(
            ctx, "CANNOT_RENAME", channel.name, new_name, "You cannot change a channel prefix type"
        )
        return None
    if channel_name_error(new_name, ctx.limits.channellen) is not None:
        ctx.reply(N.ERR_BADCHANNAME, new_name, "Illegal channel name")
        return None
    other = ctx.world.channel(new_name)
    if other is not None and other is not channel:
        _fail(ctx, "CHANNEL_NAME_IN_USE", channel.name, new_name, "Channel already exists")
        return None
    return channel


def _fallback(ctx: Context, channel: Channel, member: User, old_name: str, reason: str) -> None:
    """What a member without the capability sees: they left the old name and joined the
    new one (their own PART and JOIN), then the topic and NAMES of a join."""
    out, session = ctx.out, member.session
    part = (old_name, reason) if reason else (old_name,)
    out.send(session, out.user_message(member, "PART", *part), needs=FALLBACK)
    join = out.user_message(member, "JOIN", *member.join_params(channel.name))
    out.send(session, join, needs=FALLBACK)
    if channel.topic is not None:
        for line in topic_replies(channel, member):
            out.send(session, line, needs=FALLBACK)
    for line in names_replies(ctx.world, channel, member):
        out.send(session, line, needs=FALLBACK)


def _fail(ctx: Context, code: str, old_name: str, new_name: str, text: str) -> None:
    ctx.out.send(ctx.user.session, Message("FAIL", ("RENAME", code, old_name, new_name, text)))
