"""IRCv3 ``draft/message-redaction``: ``REDACT <target> <msgid> [:<reason>]``.

A write through the log like any message, so every replica removes the same message at
the same point and sends the same records (decision 0028).

Who may redact a message:

- its sender: the same session (a session id is never reused, and a resumed session
  keeps its id), or the same account if the message was sent logged in;
- in a channel, its operators, whoever sent it; anywhere, IRC operators.

A channel's history may be redacted only by its members and by IRC operators; anyone
else is told ``INVALID_TARGET`` as CHATHISTORY would tell them, so a REDACT cannot probe
for msgids of a channel they cannot read. A private target names the other side of one's
own conversation, as for CHATHISTORY (:func:`~twistedchat.chat.chathistory.party_named`),
so it can only reach conversations its sender was part of.

Only messages still in history can be redacted: history is the window (``--history-max``,
``--history-days``). An unknown msgid, one already redacted, and one whose message has
left history (a TAGMSG never enters it) are all ``UNKNOWN_MSGID``. A redacted message
becomes a tombstone in history, which no CHATHISTORY reply shows (:mod:`.history`); a
private message still waiting in an offline account's mailbox is withdrawn from it.

The REDACT itself goes, like the message did, to the channel's members or to both sides
of the conversation, but only to clients that negotiated the capability (a record with
``needs``); clients without it get nothing, and see the redaction only in history. Its
sender gets it as an echo (with ``echo-message``), which is what the label of a labelled
REDACT goes on.
"""

from __future__ import annotations

from twistedchat.chat.channels import CHANTYPES
from twistedchat.chat.chathistory import party_named
from twistedchat.chat.context import Context
from twistedchat.chat.history import ACCOUNT_MARK, Stored, channel_key, parties, private_key
from twistedchat.chat.messaging import STATUSMSG
from twistedchat.chat.model import User, World
from twistedchat.wire.casemap import casefold
from twistedchat.wire.message import Message

#: The capability a client needs to be sent REDACT (offered in CAP LS).
CAPABILITY = "draft/message-redaction"


def redact(ctx: Context) -> None:
    """REDACT (the command table gives it at least two parameters)."""
    target, msgid = ctx.params[0], ctx.params[1]
    reason = ctx.params[2:3] if len(ctx.params) > 2 and ctx.params[2] else ()
    user, world = ctx.user, ctx.world
    if target[0] in CHANTYPES:
        channel = world.channel(target)
        member = None if channel is None else channel.members.get(user.session)
        if channel is None or (member is None and not user.oper):
            _fail(ctx, "INVALID_TARGET", target, text=f"You cannot delete messages from {target}")
            return
        target, key = channel.name, channel_key(channel.name)
        moderator = user.oper or (member is not None and member.op)
        audience = list(channel.members)
    elif target[0] in STATUSMSG and target[1:2] in CHANTYPES:
        # messages to a channel's operators or voiced users are not kept in history
        _fail(ctx, "INVALID_TARGET", target, text=f"You cannot delete messages from {target}")
        return
    else:
        key = private_key(party_named(world, target), world.party(user))
        moderator = user.oper
        audience = _sessions_of(world, key)
    stored = world.history.find(key, msgid)
    if stored is None or stored.is_redacted:
        _fail(ctx, "UNKNOWN_MSGID", target, msgid, text="This message does not exist or is too old")
        return
    if not stored.is_message:
        _fail(ctx, "REDACT_FORBIDDEN", target, msgid, text="Only messages can be deleted")
        return
    if not (moderator or _is_senders(stored, user)):
        text = "You are not authorised to delete this message"
        _fail(ctx, "REDACT_FORBIDDEN", target, msgid, text=text)
        return
    world.history.redact(key, msgid)
    for side in parties(key) or ():
        if side.startswith(ACCOUNT_MARK):
            world.mail.withdraw(side[len(ACCOUNT_MARK) :], msgid)
    redaction = ctx.out.user_message(user, "REDACT", target, msgid, *reason)
    ctx.out.send_all(audience, redaction, skip=user.session, needs=CAPABILITY)
    ctx.out.send(user.session, redaction, echo=True, needs=CAPABILITY)


def _is_senders(stored: Stored, user: User) -> bool:
    """Whether ``user`` sent ``stored``: its session, or its account (see module docstring)."""
    if stored.sender == user.session:
        return True
    account = stored.message.tags.get("account")
    if account is None or user.account is None:
        return False
    return casefold(account) == casefold(user.account)


def _sessions_of(world: World, key: str) -> list[str]:
    """The sessions of both sides of the private conversation ``key``, as they are now: the
    users logged in to a side's account, or the user holding a side's nick (if that nick
    is still their side, not an account they logged in to since)."""
    sessions: dict[str, None] = {}
    for side in parties(key) or ():
        if side.startswith(ACCOUNT_MARK):
            owners = world.logged_in(side[len(ACCOUNT_MARK) :])
            sessions.update(dict.fromkeys(owner.session for owner in owners))
            continue
        holder = world.user_by_nick(side)
        if holder is not None and world.party(holder) == side:
            sessions[holder.session] = None
    return list(sessions)


def _fail(ctx: Context, code: str, *context: str, text: str) -> None:
    ctx.out.send(ctx.user.session, Message("FAIL", ("REDACT", code, *context, text)))
