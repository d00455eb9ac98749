"""PRIVMSG, NOTICE and TAGMSG to channels and users.

NOTICE never gets an error reply (RFC 1459: automatic replies must not loop), but is
otherwise checked exactly like PRIVMSG. Client-only tags (``+name``) are relayed; every
other tag a client sent (``label``, ...) is the connection's and is not.

A target ``@#chan`` or ``+#chan`` (STATUSMSG) reaches only the members with at least that
status (operators; voiced users and operators); such messages are not kept in the
channel's history, which every member may read.

A PRIVMSG or NOTICE whose text holds line breaks is a multiline message (IRCv3
``draft/multiline``, gathered from a batch by the connection and cut into lines again
for each client by :mod:`twistedchat.irc.multiline`): it is checked, delivered and kept
in history whole, as one message with one msgid.

A PRIVMSG to a nick nobody holds that names a registered account is for that account: it
goes to the sessions logged in to it under other nicks, or, with nobody logged in, is
kept for its next login (:mod:`twistedchat.chat.mailbox`) and the sender told so with
RPL_AWAY. Either way the sender gets the usual echo, as for any delivered PRIVMSG.
"""

from __future__ import annotations

from twistedchat.chat.accounts import Account
from twistedchat.chat.channels import CHANTYPES
from twistedchat.chat.context import Context
from twistedchat.chat.history import account_party, channel_key, private_key
from twistedchat.chat.limits import MULTILINE_MAX_BYTES, MULTILINE_MAX_LINES
from twistedchat.wire import numerics as N
from twistedchat.wire.casemap import casefold
from twistedchat.wire.message import Message

#: Status prefixes a channel target may carry (ISUPPORT STATUSMSG), highest first.
STATUSMSG = "@+"


def send_message(ctx: Context) -> None:
    command = ctx.message.command
    quiet = command == "NOTICE"
    if not ctx.params or not ctx.params[0]:
        if not quiet:
            ctx.reply(N.ERR_NORECIPIENT, f"No recipient given ({command})")
        return
    has_text = len(ctx.params) > 1 and ctx.params[1] != ""
    if command != "TAGMSG" and not has_text:
        if not quiet:
            ctx.reply(N.ERR_NOTEXTTOSEND, "No text to send")
        return
    if has_text and "\n" in ctx.params[1] and not _multiline_fits(ctx.params[1]):
        text = "Message too long"  # the connection refuses such a batch first
        ctx.out.send(ctx.user.session, Message("FAIL", ("BATCH", "MULTILINE_MAX_BYTES", text)))
        return
    for target in ctx.targets(ctx.params[0], quiet=quiet):
        if target[0] in CHANTYPES:
            _to_channel(ctx, target, quiet)
        elif target[0] in STATUSMSG and target[1:2] in CHANTYPES:
            _to_channel(ctx, target[1:], quiet, status=target[0])
        else:
            _to_user(ctx, target, quiet)


def _multiline_fits(text: str) -> bool:
    """Whether a multiline message's text is within the draft/multiline limits (its
    lines' bytes, the breaks not counted)."""
    lines = text.split("\n")
    size = len(text.encode()) - (len(lines) - 1)
    return len(lines) <= MULTILINE_MAX_LINES and size <= MULTILINE_MAX_BYTES


def _build(ctx: Context, target: str) -> Message:
    """One message (its own msgid) from the sender to ``target``."""
    body = () if ctx.message.command == "TAGMSG" else (ctx.params[1],)
    client_tags = {k: v for k, v in ctx.message.tags.items() if k.startswith("+")}
    return ctx.out.user_message(
        ctx.user, ctx.message.command, target, *body, client_tags=client_tags
    )


def _to_channel(ctx: Context, name: str, quiet: bool, status: str = "") -> None:
    """To a channel's members; with ``status`` (``@`` or ``+``) only to those holding it
    or a higher one (STATUSMSG)."""
    user = ctx.user
    channel = ctx.world.channel(name)
    if channel is None:
        if not quiet:
            ctx.reply(N.ERR_NOSUCHNICK, status + name, "No such nick/channel")
        return
    if not channel.can_speak(user):
        if not quiet:
            ctx.reply(N.ERR_CANNOTSENDTOCHAN, channel.name, "Cannot send to channel")
        return
    if channel.has_flag("C") and _is_ctcp(ctx):
        if not quiet:
            ctx.reply(N.ERR_CANNOTSENDTOCHAN, channel.name, "Cannot send CTCP to channel (+C)")
        return
    message = _build(ctx, status + channel.name)
    if status:
        audience = [s for s, m in channel.members.items() if m.op or (status == "+" and m.voice)]
    else:
        _remember(ctx, channel_key(channel.name), message)
        audience = list(channel.members)
    ctx.out.send_all(audience, message, skip=user.session)
    ctx.out.send(user.session, message, echo=True)


def _is_ctcp(ctx: Context) -> bool:
    """A CTCP request or reply other than ACTION (``/me``), which +C channels refuse."""
    text = ctx.params[1] if len(ctx.params) > 1 else ""
    return text.startswith("\x01") and not text[1:].upper().startswith("ACTION")


def _to_user(ctx: Context, nick: str, quiet: bool) -> None:
    user = ctx.user
    target = ctx.world.user_by_nick(nick)
    if target is None:
        account = ctx.world.accounts.get(casefold(nick))
        if account is not None and ctx.message.command == "PRIVMSG":
            _to_account(ctx, account)
        elif not quiet:
            ctx.reply(N.ERR_NOSUCHNICK, nick, "No such nick/channel")
        return
    message = _build(ctx, target.nick)
    _remember(ctx, private_key(ctx.world.party(target), ctx.world.party(user)), message)
    if target is user:  # to oneself: the echo answers the command, the copy comes after it
        ctx.out.send(user.session, message, echo=True)
        ctx.out.send(user.session, message, separate=True)
    else:
        ctx.out.send(target.session, message)
        ctx.out.send(user.session, message, echo=True)
    if ctx.message.command == "PRIVMSG" and target.away is not None:
        ctx.reply(N.RPL_AWAY, target.nick, target.away)


def _to_account(ctx: Context, account: Account) -> None:
    """A PRIVMSG to ``account``'s name, which no one holds as a nick (see the module
    docstring); when it can be neither delivered nor kept, the sender gets 401 saying why."""
    user = ctx.user
    owners = ctx.world.logged_in(account.name)
    message = _build(ctx, account.name)
    if not owners:
        refusal = ctx.world.mail.store(account.name, ctx.time, message)
        if refusal is not None:
            ctx.reply(N.ERR_NOSUCHNICK, account.name, f"{account.name} is offline and {refusal}")
            return
    _remember(ctx, private_key(account_party(account.name), ctx.world.party(user)), message)
    ctx.out.send_all((owner.session for owner in owners), message)
    if all(owner is not user for owner in owners):
        ctx.out.send(user.session, message, echo=True)
    if not owners:
        text = f"{account.name} is offline; your message will be delivered when they log in"
        ctx.reply(N.RPL_AWAY, account.name, text)


def _remember(ctx: Context, key: str, message: Message) -> None:
    """Keep PRIVMSG and NOTICE for CHATHISTORY (TAGMSG carries no text worth replaying),
    with the sender's session, for REDACT to know its sender by."""
    if message.command != "TAGMSG":
        ctx.world.history.record(key, ctx.time, message, ctx.user.session)
