"""IRCv3 ``draft/read-marker``: ``MARKREAD <target> [timestamp=...]`` (decision 0034).

``MARKREAD <target> timestamp=YYYY-MM-DDThh:mm:ss.sssZ`` sets the sender's account's read
marker for a buffer (a channel or a nick): a write, applied in log order on every node,
so every replica holds the same markers (:class:`~twistedchat.chat.markstore.ReadMarkers`).
``MARKREAD <target>`` asks for it and is answered from the local replica.

- A marker only moves forward: a time at or before the stored one changes nothing, and
  the answer carries the stored one. A time after the entry's (the log's clock) is cut to
  it, as the spec's notes suggest: no message can be from the future, and a marker set
  there would stop every later one.
- Each answer is ``MARKREAD <target> timestamp=...`` (``*``: no marker), the target as the
  channel or the nick is written now if it exists. When a marker moved, every other
  session logged in to the account that negotiated the capability is told too; a join
  sends the channel's marker to the joiner (:func:`~twistedchat.chat.channels.join`).
- Markers belong to accounts: a client not logged in has none (``MARKREAD <target>``
  answers ``*``) and setting one is ``FAIL MARKREAD ACCOUNT_REQUIRED``.
- Errors: ``FAIL MARKREAD NEED_MORE_PARAMS`` without a target, ``INVALID_PARAMS`` for a
  target that is neither a channel name nor a nick, or a timestamp that is not one (``*``
  included: a client may not unset a marker).
"""

from __future__ import annotations

from twistedchat.chat.channels import CHANTYPES, channel_name_error
from twistedchat.chat.context import Context
from twistedchat.chat.markstore import CAP, COMMAND, marker_message, parse_timestamp
from twistedchat.chat.model import User, World
from twistedchat.wire.message import Message
from twistedchat.wire.names import valid_nick

#: A parameter a FAIL repeats back is at most this long (else ``*``): the reply must fit
#: a line whatever the client sent.
_ECHOED_BYTES = 64


def sets(params: tuple[str, ...]) -> bool:
    """Whether ``MARKREAD params`` goes through the log: it carries a timestamp."""
    return len(params) >= 2


def fail(code: str, *params: str) -> Message:
    return Message("FAIL", (COMMAND, code, *params))


def _echoed(param: str) -> str:
    """``param`` as a FAIL may carry it in a middle parameter, or ``*``."""
    unsafe = not param or param[0] == ":" or " " in param
    return "*" if unsafe or len(param.encode()) > _ECHOED_BYTES else param


def valid_target(world: World, target: str) -> bool:
    """Whether ``target`` names a buffer: a channel name or a nick (existing or not)."""
    if target[:1] in CHANTYPES:
        return channel_name_error(target, world.limits.channellen) is None
    return valid_nick(target, world.limits.nicklen)


def shown_name(world: World, target: str) -> str:
    """``target`` as the channel or the user of that name writes it now (else as given)."""
    if target[:1] in CHANTYPES:
        channel = world.channel(target)
        return target if channel is None else channel.name
    user = world.user_by_nick(target)
    return target if user is None else user.nick


def _refusal(world: World, params: tuple[str, ...]) -> Message | None:
    """The FAIL for a MARKREAD without a valid target, or None."""
    if not params or not params[0]:
        return fail("NEED_MORE_PARAMS", "Missing parameters")
    if not valid_target(world, params[0]):
        return fail("INVALID_PARAMS", _echoed(params[0]), "Invalid target")
    return None


def write(ctx: Context) -> None:
    """``MARKREAD <target> <timestamp>``: move the account's marker forward."""
    world, user, params = ctx.world, ctx.user, ctx.params
    refusal = _refusal(world, params)
    if refusal is None:
        refusal = _set(ctx, params[0], params[1])
    if refusal is not None:
        ctx.out.send(user.session, refusal)


def _set(ctx: Context, target: str, timestamp: str) -> Message | None:
    world, user = ctx.world, ctx.user
    ms = parse_timestamp(timestamp)
    if ms is None:
        return fail("INVALID_PARAMS", _echoed(timestamp), "Invalid timestamp")
    if user.account is None:
        return fail("ACCOUNT_REQUIRED", target, "Log in to an account to keep read markers")
    markers = world.read_markers
    moved = markers.set(user.account, target, min(ms, ctx.time))
    answer = marker_message(shown_name(world, target), markers.get(user.account, target))
    ctx.out.send(user.session, answer)
    if moved:
        for other in world.logged_in(user.account):
            if other.session != user.session:
                ctx.out.send(other.session, answer, needs=CAP)
    return None


def query(world: World, viewer: User, message: Message, server: str) -> list[Message]:
    """``MARKREAD <target>``: the account's marker, ``*`` if none."""
    refusal = _refusal(world, message.params)
    if refusal is not None:
        return [refusal]
    target = message.params[0]
    ms = world.read_markers.get(viewer.account, target)
    return [marker_message(shown_name(world, target), ms)]
