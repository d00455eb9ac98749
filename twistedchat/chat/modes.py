"""MODE: user modes +i +B, channel modes (CHANMODES=beI,k,l,Cimnst, PREFIX=(ov)@+) and mode queries.

A MODE command is applied mode by mode, left to right; the changes that took effect are
announced in one MODE message with a normalised mode string, and nothing is announced
when nothing changed.

The list modes +b, +e and +I hold masks (hostmasks and extbans, see
:mod:`~twistedchat.chat.extbans`), at most MAXLIST in the three together. Anyone may see
the bans; only the channel's operators see the exceptions (+e, +I), as on Solanum and Ergo.
"""

from __future__ import annotations

from twistedchat.chat.channels import CHANTYPES
from twistedchat.chat.context import Context
from twistedchat.chat.extbans import LIST_MODES, InvalidMask, normalize_list_mask
from twistedchat.chat.listings import channel_mode_replies, mask_list_replies
from twistedchat.chat.masks import MAX_MASK_LENGTH
from twistedchat.chat.model import Ban, Channel, User, World
from twistedchat.chat.outbox import numeric
from twistedchat.wire import numerics as N
from twistedchat.wire.casemap import casefold
from twistedchat.wire.message import Message

FLAG_MODES = "Cimnst"  # C: no CTCP but ACTION (see chat.messaging)
#: Modes that take a parameter whenever they are given with a sign (lists, key, prefixes).
ALWAYS_PARAM = LIST_MODES + "kov"
#: The lists only a channel's operators may see.
OPERATOR_LISTS = "eI"
#: What a full list is called in 478, per list mode.
_LIST_NAMES = {"b": "ban", "e": "exception", "I": "invite exception"}
_NOT_OP = "You're not channel operator"
KNOWN_MODES = FLAG_MODES + ALWAYS_PARAM + "l"
#: Largest +l accepted (a signed 32-bit int, which every client parses).
MAX_LIMIT = 2**31 - 1

Change = tuple[str, str, str | None]  # sign, mode letter, parameter


def render(changes: list[Change]) -> tuple[str, ...]:
    """The mode string and parameters announcing ``changes``, e.g. ``("+ov-b", "a", "b", "m")``."""
    text, args, sign = "", [], ""
    for change_sign, letter, arg in changes:
        if change_sign != sign:
            text += change_sign
            sign = change_sign
        text += letter
        if arg is not None:
            args.append(arg)
    return (text, *args)


def mode(ctx: Context) -> None:
    """MODE with a mode string (a write, see :mod:`~twistedchat.chat.commands`)."""
    target = ctx.params[0]
    if target[0] in CHANTYPES:
        _channel_mode(ctx, target)
    else:
        _user_mode(ctx, target)


def mode_query(world: World, viewer: User, params: tuple[str, ...]) -> list[Message]:
    """MODE without changes: 324/329 for a channel, a list for ``b``, ``e`` or ``I`` (with
    or without ``+``; see :func:`~twistedchat.chat.commands.is_write`), 221 for oneself."""
    target = params[0]
    if target[0] in CHANTYPES:
        channel = world.channel(target)
        if channel is None:
            return [numeric(viewer.nick, N.ERR_NOSUCHCHANNEL, target, "No such channel")]
        if len(params) > 1 and params[1]:
            letter = params[1].removeprefix("+")
            if not may_see_list(channel, viewer, letter):
                return [numeric(viewer.nick, N.ERR_CHANOPRIVSNEEDED, channel.name, _NOT_OP)]
            return mask_list_replies(channel, viewer, letter)
        return channel_mode_replies(channel, viewer)
    if casefold(target) == casefold(viewer.nick):
        flags = ("B" if viewer.bot else "") + ("i" if viewer.invisible else "")
        flags += ("o" if viewer.oper else "") + ("w" if viewer.wallops else "")
        return [numeric(viewer.nick, N.RPL_UMODEIS, "+" + flags)]
    if world.user_by_nick(target) is None:
        return [numeric(viewer.nick, N.ERR_NOSUCHNICK, target, "No such nick/channel")]
    return [numeric(viewer.nick, N.ERR_USERSDONTMATCH, "Can't view modes for other users")]


def may_see_list(channel: Channel, viewer: User, letter: str) -> bool:
    """Whether ``viewer`` may see the list ``letter``: the exceptions are for operators."""
    if letter not in OPERATOR_LISTS:
        return True
    member = channel.members.get(viewer.session)
    return member is not None and member.op


def _user_mode(ctx: Context, target: str) -> None:
    user = ctx.user
    if casefold(target) != casefold(user.nick):
        if ctx.world.user_by_nick(target) is None:
            ctx.reply(N.ERR_NOSUCHNICK, target, "No such nick/channel")
        else:
            ctx.reply(N.ERR_USERSDONTMATCH, "Can't change mode for other users")
        return
    changes: list[Change] = []
    sign, unknown = "+", False
    for letter in ctx.params[1]:
        if letter in "+-":
            sign = letter
        elif letter == "i":
            if user.invisible != (sign == "+"):
                user.invisible = sign == "+"
                changes.append((sign, "i", None))
        elif letter == "B":  # IRCv3 bot-mode: WHOIS 335, WHO flag B, the bot tag
            if user.bot != (sign == "+"):
                user.bot = sign == "+"
                changes.append((sign, "B", None))
        elif letter == "w":  # WALLOPS reach the user
            if user.wallops != (sign == "+"):
                user.wallops = sign == "+"
                changes.append((sign, "w", None))
        elif letter == "o" and sign == "-" and user.oper:  # +o only through OPER
            user.oper = False
            changes.append(("-", "o", None))
        else:
            unknown = True
    if unknown:
        ctx.reply(N.ERR_UMODEUNKNOWNFLAG, "Unknown MODE flag")
    if changes:
        ctx.out.send(user.session, ctx.out.user_message(user, "MODE", user.nick, *render(changes)))


def _channel_mode(ctx: Context, name: str) -> None:
    """Apply a channel mode string.

    Unknown letters get one 472 each; a non-operator trying to change anything, or to
    list the exceptions, gets one 482 (listing bans needs no privilege). A list mode
    without a parameter lists (each list once). Parameter modes beyond MODES are
    ignored, as RPL_ISUPPORT MODES tells clients they will be.
    """
    channel = ctx.world.channel(name)
    if channel is None:
        ctx.reply(N.ERR_NOSUCHCHANNEL, name, "No such channel")
        return
    member = channel.members.get(ctx.user.session)
    is_op = member is not None and member.op
    args = list(ctx.params[2:])
    changes: list[Change] = []
    reported: dict[str, None] = {}
    sign, counted, denied = "+", 0, False
    listed: dict[str, None] = {}
    for letter in ctx.params[1]:
        if letter in "+-":
            sign = letter
            continue
        takes_param = letter in ALWAYS_PARAM or (letter == "l" and sign == "+")
        if letter not in KNOWN_MODES:
            if letter not in reported:
                reported[letter] = None
                ctx.reply(N.ERR_UNKNOWNMODE, letter, "is unknown mode char to me")
            continue
        if letter in LIST_MODES and not args:
            if not may_see_list(channel, ctx.user, letter):
                denied = True
            elif letter not in listed:
                listed[letter] = None
                for message in mask_list_replies(channel, ctx.user, letter):
                    ctx.out.send(ctx.user.session, message)
            continue
        arg = args.pop(0) if takes_param and args else None
        if takes_param and arg is not None:
            counted += 1
            if counted > ctx.limits.modes:
                continue
        if not is_op:
            denied = True
            continue
        change = _apply_one(ctx, channel, sign, letter, arg)
        if change is not None:
            changes.append(change)
    if denied:
        ctx.reply(N.ERR_CHANOPRIVSNEEDED, channel.name, _NOT_OP)
    if changes:
        message = ctx.out.user_message(ctx.user, "MODE", channel.name, *render(changes))
        ctx.world.remember_event(channel, ctx.time, message)
        ctx.out.send_all(channel.members, message)


def _apply_one(
    ctx: Context, channel: Channel, sign: str, letter: str, arg: str | None
) -> Change | None:
    """Apply one mode change; returns it if it changed something, else replies why not."""
    on = sign == "+"
    if letter in FLAG_MODES:
        return (sign, letter, None) if channel.set_flag(letter, on) else None
    if arg is None:
        if on or letter in "ov":
            ctx.reply(N.ERR_INVALIDMODEPARAM, channel.name, letter, "*", "Mode needs a parameter")
            return None
        return _unset(channel, letter)
    if letter in "ov":
        return _prefix_mode(ctx, channel, sign, letter, arg)
    if letter in LIST_MODES:
        return _list_entry(ctx, channel, letter, on, arg)
    if letter == "k":
        return _key(ctx, channel, arg) if on else _unset(channel, "k")
    return _limit(ctx, channel, arg)


def _prefix_mode(
    ctx: Context, channel: Channel, sign: str, letter: str, nick: str
) -> Change | None:
    target = ctx.world.user_by_nick(nick)
    if target is None:
        ctx.reply(N.ERR_NOSUCHNICK, nick, "No such nick/channel")
        return None
    member = channel.members.get(target.session)
    if member is None:
        ctx.reply(N.ERR_USERNOTINCHANNEL, target.nick, channel.name, "They aren't on that channel")
        return None
    on = sign == "+"
    if letter == "o":
        if member.op == on:
            return None
        member.op = on
    else:
        if member.voice == on:
            return None
        member.voice = on
    return (sign, letter, target.nick)


def _list_entry(ctx: Context, channel: Channel, letter: str, on: bool, arg: str) -> Change | None:
    """Add (or remove) ``arg`` to (from) the list ``letter``, normalised; masks compare
    case-insensitively, so a list holds each once. An invalid mask is a 696 when added;
    removing one finds nothing unless it is stored as given."""
    entries = channel.mask_list(letter)
    try:
        mask = normalize_list_mask(letter, arg)
    except InvalidMask as invalid:
        if on:
            ctx.reply(N.ERR_INVALIDMODEPARAM, channel.name, letter, arg, str(invalid))
            return None
        mask = arg
    existing = next((e for e in entries if casefold(e.mask) == casefold(mask)), None)
    if not on:
        if existing is None:
            return None
        entries.remove(existing)
        return ("-", letter, existing.mask)
    if len(mask) > MAX_MASK_LENGTH or " " in mask:
        ctx.reply(N.ERR_INVALIDMODEPARAM, channel.name, letter, arg, "Invalid ban mask")
        return None
    if existing is not None:
        return None
    if channel.list_entries() >= ctx.limits.maxlist:
        text = f"Channel {_LIST_NAMES[letter]} list is full"
        ctx.reply(N.ERR_BANLISTFULL, channel.name, letter, text)
        return None
    entries.append(Ban(mask, ctx.user.prefix, ctx.time))
    return ("+", letter, mask)


def _key(ctx: Context, channel: Channel, key: str) -> Change | None:
    """+k needs a well-formed key and no key set yet (467).

    A key may not start with ``:``: it could not be shown as a middle parameter (324).
    """
    if channel.key is not None:
        ctx.reply(N.ERR_KEYSET, channel.name, "Channel key already set")
        return None
    malformed = key.startswith(":") or any(c in " ," or c < " " for c in key)
    if not 0 < len(key) <= ctx.limits.keylen or malformed:
        ctx.reply(N.ERR_INVALIDMODEPARAM, channel.name, "k", key, "Invalid key")
        return None
    channel.key = key
    return ("+", "k", key)


def _limit(ctx: Context, channel: Channel, arg: str) -> Change | None:
    if not (arg.isascii() and arg.isdigit() and len(arg) <= 10 and 0 < int(arg) <= MAX_LIMIT):
        ctx.reply(N.ERR_INVALIDMODEPARAM, channel.name, "l", arg, "Invalid limit")
        return None
    if channel.limit == int(arg):
        return None
    channel.limit = int(arg)
    return ("+", "l", str(channel.limit))


def _unset(channel: Channel, letter: str) -> Change | None:
    """-k (whatever key is given: members know it anyway) or -l."""
    if letter == "k":
        if channel.key is None:
            return None
        channel.key = None
        return ("-", "k", "*")
    if channel.limit is None:
        return None
    channel.limit = None
    return ("-", "l", None)
