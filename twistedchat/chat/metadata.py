"""IRCv3 ``draft/metadata-3``: keys and values on users and channels (decision 0030).

``METADATA <target> SET <key> [:<value>]`` and ``METADATA <target> CLEAR`` are writes,
applied in log order on every node, so every replica holds the same keys; ``GET`` and
``LIST`` are answered from the local replica. Subscriptions (``SUB``, ``UNSUB``,
``SUBS``) belong to a connection and are kept by its node (:mod:`twistedchat.node.
metadata`), which also answers ``SYNC`` from the replica with :func:`sync`.

- A target is a nick, a channel, or ``*`` (oneself).
- Who may set: a user their own keys, a channel's operators its keys, IRC operators any
  key of anyone (``KEY_NO_PERMISSION`` otherwise). Who may read: anyone a user's keys; a
  channel's members (and IRC operators) a channel's keys.
- A key is 1 to ``metadata_key_bytes`` of ``a-z0-9_./-`` (``INVALID_KEY``); a value is not
  empty (an empty one removes the key) and at most ``metadata_value_bytes`` of UTF-8
  (``INVALID_VALUE``); a target holds at most ``metadata_keys`` keys (``LIMIT_REACHED``).
- A user's keys go with their session (QUIT); a channel's stay while the channel does, and
  like a topic they keep an empty channel.
- Each change that changed something is recorded (:class:`~twistedchat.chat.model.
  MetadataChange`) with who may hear of it; nodes tell those of them connected there who
  subscribed to the key, with the cap, as ``761`` (set) or ``766`` (removed).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable

from twistedchat.chat.context import Context
from twistedchat.chat.model import Channel, MetadataChange, User, World
from twistedchat.wire import numerics as N
from twistedchat.wire.message import Message

#: The capability; its CAP value is in :mod:`twistedchat.irc.capabilities`.
CAP = "draft/metadata-3"
#: Keys one connection may subscribe to (kept by its node).
MAX_SUBS = 50
#: ``METADATA *ALL SYNC``: every visible target.
ALL = "*ALL"
#: The ref of the ``metadata`` batches (one is open at a time in a reply).
BATCH_REF = "metadata"
#: Subcommands the node answers (subscriptions are per connection).
NODE_SUBCOMMANDS = frozenset({"SUB", "UNSUB", "SUBS", "SYNC"})
WRITE_SUBCOMMANDS = frozenset({"SET", "CLEAR"})

_KEY = re.compile(r"[a-z0-9_./-]+")

Target = User | Channel


def writes(params: tuple[str, ...]) -> bool:
    """Whether ``METADATA params`` goes through the log (SET and CLEAR)."""
    return len(params) >= 2 and params[1].upper() in WRITE_SUBCOMMANDS


def valid_key(key: str, max_bytes: int) -> bool:
    return len(key.encode()) <= max_bytes and _KEY.fullmatch(key) is not None


def fail(code: str, *params: str) -> Message:
    return Message("FAIL", ("METADATA", code, *params))


def warn(code: str, *params: str) -> Message:
    return Message("WARN", ("METADATA", code, *params))


def batch(target: str, messages: list[Message]) -> list[Message]:
    """``messages`` in a ``metadata`` batch about ``target`` (plain lines for a client
    without ``batch``: the connection drops BATCH and the tag)."""
    inside = [m.with_tags(batch=BATCH_REF) for m in messages]
    return [
        Message("BATCH", (f"+{BATCH_REF}", "metadata", target)),
        *inside,
        Message("BATCH", (f"-{BATCH_REF}",)),
    ]


def key_value(me: str, target: str, key: str, value: str) -> Message:
    return Message(N.RPL_KEYVALUE, (me, target, key, "*", value))


def key_not_set(me: str, target: str, key: str, text: str = "Key not set") -> Message:
    return Message(N.RPL_KEYNOTSET, (me, target, key, text))


def resolve(world: World, viewer: User, name: str) -> Target | None:
    """The user or channel ``name`` names (``*``: the viewer), or None."""
    if name == "*":
        return viewer
    if name[:1] in "#&":
        return world.channel(name)
    return world.user_by_nick(name)


def name_of(target: Target) -> str:
    return target.nick if isinstance(target, User) else target.name


def may_edit(user: User, target: Target) -> bool:
    if user.oper:
        return True
    if isinstance(target, User):
        return target is user
    member = target.members.get(user.session)
    return member is not None and member.op


def may_see(user: User, target: Target) -> bool:
    if isinstance(target, User) or user.oper:
        return True
    return user.session in target.members


def _audience(world: World, target: Target) -> tuple[str, ...]:
    if isinstance(target, User):
        return (target.session, *(peer.session for peer in world.peers(target)))
    return tuple(target.members)


def _changed(ctx: Context, target: Target, key: str, value: str | None) -> None:
    world = ctx.world
    change = MetadataChange(
        name_of(target), key, value, ctx.user.session, _audience(world, target),
        isinstance(target, User),
    )  # fmt: skip
    world.metadata_changes.append(change)


# -- writes ------------------------------------------------------------------------------


def write(ctx: Context) -> None:
    """``METADATA <target> SET <key> [:<value>]`` and ``METADATA <target> CLEAR``."""
    user, params = ctx.user, ctx.params
    sub = params[1].upper()
    target = resolve(ctx.world, user, params[0])
    if target is None:
        ctx.out.send(user.session, fail("INVALID_TARGET", params[0], "Invalid metadata target"))
        return
    if sub == "SET":
        _set(ctx, target)
    else:
        _clear(ctx, target)


def _set(ctx: Context, target: Target) -> None:
    user, params, limits, out = ctx.user, ctx.params, ctx.limits, ctx.out
    name = name_of(target)
    if len(params) < 3 or not params[2]:
        out.send(user.session, fail("INVALID_PARAMS", "SET", "Not enough parameters"))
        return
    key = params[2]
    if not valid_key(key, limits.metadata_key_bytes):
        out.send(user.session, fail("INVALID_KEY", key, "Invalid key"))
        return
    if not may_edit(user, target):
        out.send(user.session, fail("KEY_NO_PERMISSION", name, key, "Permission denied"))
        return
    value = params[3] if len(params) > 3 else ""
    store = target.metadata
    if not value:
        ctx.reply(N.RPL_KEYNOTSET, name, key, "Key deleted")
        if store.pop(key, None) is not None:
            _changed(ctx, target, key, None)
        return
    if len(value.encode()) > limits.metadata_value_bytes:
        text = f"Value is too long (at most {limits.metadata_value_bytes} bytes)"
        out.send(user.session, fail("INVALID_VALUE", key, text))
        return
    if key not in store and len(store) >= limits.metadata_keys:
        text = f"Too many metadata keys (at most {limits.metadata_keys})"
        out.send(user.session, fail("LIMIT_REACHED", "SET", name, str(limits.metadata_keys), text))
        return
    ctx.reply(N.RPL_KEYVALUE, name, key, "*", value)
    if store.get(key) != value:
        store[key] = value
        _changed(ctx, target, key, value)


def _clear(ctx: Context, target: Target) -> None:
    user, name = ctx.user, name_of(target)
    if not may_edit(user, target):
        ctx.out.send(user.session, fail("KEY_NO_PERMISSION", name, "*", "Permission denied"))
        return
    cleared = list(target.metadata)
    target.metadata.clear()
    replies = [key_not_set(user.nick, name, key, "Key deleted") for key in cleared]
    for message in batch(name, replies):
        ctx.out.send(user.session, message)
    for key in cleared:
        _changed(ctx, target, key, None)


# -- queries -----------------------------------------------------------------------------


def query(world: World, viewer: User, message: Message, server: str) -> list[Message]:
    """``METADATA <target> GET <key>...`` and ``METADATA <target> LIST``."""
    params = message.params
    sub = params[1].upper()
    if sub not in ("GET", "LIST"):
        word = sub if sub and " " not in sub and not sub.startswith(":") else "*"
        return [fail("INVALID_PARAMS", word, f"Unknown subcommand {params[1]!r}")]
    target = resolve(world, viewer, params[0])
    if target is None:
        return [fail("INVALID_TARGET", params[0], "Invalid metadata target")]
    name = name_of(target)
    if not may_see(viewer, target):
        return [fail("KEY_NO_PERMISSION", name, "*", "Permission denied")]
    me = viewer.nick
    if sub == "LIST":
        return batch(name, [key_value(me, name, k, v) for k, v in target.metadata.items()])
    keys = params[2:]
    if not keys:
        return [fail("INVALID_PARAMS", "GET", "Not enough parameters")]
    replies: list[Message] = []
    for key in keys:
        if not valid_key(key, world.limits.metadata_key_bytes):
            replies.append(warn("INVALID_KEY", key, "Invalid key"))
        elif key in target.metadata:
            replies.append(key_value(me, name, key, target.metadata[key]))
        else:
            replies.append(key_not_set(me, name, key))
    return batch(name, replies)


def sync(
    world: World,
    viewer: User,
    name: str,
    subscribed: Collection[str],
    also: Iterable[str] = (),
) -> list[Message]:
    """``METADATA <name> SYNC``: the subscribed keys of the target, and of a channel's
    members too; ``*ALL``: of the viewer, their channels and everyone in them, and the
    nicks ``also`` names (those they MONITOR). One ``metadata`` batch."""
    if name.upper() == ALL:
        channels = [world.channels[key] for key in viewer.channels]
        users: dict[str, User] = {viewer.session: viewer}
        for channel in channels:
            for session in channel.members:
                users.setdefault(session, world.users[session])
        for nick in also:
            watched = world.user_by_nick(nick)
            if watched is not None:
                users.setdefault(watched.session, watched)
        return batch(ALL, _values(viewer.nick, [*channels, *users.values()], subscribed))
    target = resolve(world, viewer, name)
    if target is None:
        return [fail("INVALID_TARGET", name, "Invalid metadata target")]
    if not may_see(viewer, target):
        return [fail("KEY_NO_PERMISSION", name_of(target), "*", "Permission denied")]
    targets: list[Target] = [target]
    if isinstance(target, Channel):
        targets += [world.users[session] for session in target.members]
    return batch(name_of(target), _values(viewer.nick, targets, subscribed))


def _values(me: str, targets: Iterable[Target], subscribed: Collection[str]) -> list[Message]:
    return [
        key_value(me, name_of(target), key, value)
        for target in targets
        for key, value in target.metadata.items()
        if key in subscribed
    ]
