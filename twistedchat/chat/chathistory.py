"""IRCv3 ``draft/chathistory``: LATEST, BEFORE, AFTER, AROUND, BETWEEN and TARGETS.

Answered from the local replica like any query. Messages come back in a ``chathistory``
batch with their original ``time`` and ``msgid`` tags, oldest first, so a client can tell
exactly what it missed. Errors are ``FAIL CHATHISTORY <code>`` as the spec asks.

A private target names the other side of a conversation (see :mod:`.history`): the
current nick of someone online (their account if they are logged in), or else a
registered account's name, or else a nick as it was.

Channel events (JOIN, PART, KICK, TOPIC, MODE, QUIT, NICK) are replayed only to clients
with ``draft/event-playback``, which the connection tells us with :data:`EVENTS_TAG`.
The spec's ``limit`` counts what the batch holds: for those clients events count, for
the others they are not there at all, so a window full of joins never looks to them like
the end of the history (an empty batch). Likewise TARGETS lists a conversation for its
events only to clients that would be shown them. A ``msgid=`` of an event is a valid
reference for everyone: clients with ``message-tags`` saw those msgids live.

A renamed channel's items come back under its current name, whatever it was called
when they were sent; the RENAME itself is an event.

A redacted message is shown to no one, operators included, and counts towards no limit;
its msgid stays a valid reference (see :mod:`.history`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from twistedchat.chat.channels import CHANTYPES
from twistedchat.chat.history import (
    ACCOUNT_MARK,
    Stored,
    account_party,
    channel_key,
    nick_party,
    parties,
    private_key,
)
from twistedchat.chat.model import User, World
from twistedchat.wire.casemap import casefold
from twistedchat.wire.message import Message

BATCH_REF = "history"
#: Put on a CHATHISTORY query by the connection, never taken from the client, when the
#: client negotiated ``draft/event-playback``: the chat state knows no capabilities.
EVENTS_TAG = "twistedchat.org/event-playback"


class _Invalid(Exception):
    def __init__(self, code: str, *context: str) -> None:
        super().__init__(code)
        self.code = code
        self.context = context


def chathistory(
    world: World, viewer: User, params: tuple[str, ...], *, events: bool
) -> list[Message]:
    """The reply to ``CHATHISTORY params``; ``events``: the client has event-playback."""
    try:
        return _answer(world, viewer, params, events)
    except _Invalid as invalid:
        reason = {
            "INVALID_PARAMS": "Invalid parameters",
            "INVALID_TARGET": "No such target, or you may not read its history",
            "UNKNOWN_COMMAND": "Unknown CHATHISTORY subcommand",
            "NEED_MORE_PARAMS": "Missing parameters",
        }[invalid.code]
        return [Message("FAIL", ("CHATHISTORY", invalid.code, *invalid.context, reason))]


def _answer(world: World, viewer: User, params: tuple[str, ...], events: bool) -> list[Message]:
    if not params:
        raise _Invalid("NEED_MORE_PARAMS")
    sub = params[0].upper()
    if sub == "TARGETS":
        return _targets(world, viewer, params[1:], events)
    select = _SELECTORS.get(sub)
    if select is None:
        raise _Invalid("UNKNOWN_COMMAND", params[0])
    needed = 5 if sub == "BETWEEN" else 4
    if len(params) < needed:
        raise _Invalid("NEED_MORE_PARAMS", sub)
    target = params[1]
    stored = world.history.messages(_key(world, viewer, sub, target))
    limit = _limit(world, params[needed - 1])
    cuts = [_reference(stored, ref, allow_star=sub == "LATEST") for ref in params[2 : needed - 1]]
    chosen = select(_shown(stored, events), cuts, limit)
    messages = [s.message for s in chosen]
    channel = world.channel(target) if target[:1] in CHANTYPES else None
    if channel is not None:
        messages = [_as_named(m, channel.name) for m in messages]
    return _batch(target, messages)


#: Kept channel items whose first parameter is the channel.
_TO_CHANNEL = frozenset({"PRIVMSG", "NOTICE", "JOIN", "PART", "KICK", "TOPIC", "MODE"})


def _as_named(message: Message, name: str) -> Message:
    """A kept item of a channel as sent to it under the name it has now: a channel that
    was renamed (:mod:`.rename`) keeps its history, which a client files under one name."""
    params = message.params
    if message.command not in _TO_CHANNEL or not params or params[0] == name:
        return message
    return Message(message.command, (name, *params[1:]), message.source, message.tags)


def _shown(stored: list[Stored], events: bool) -> list[tuple[int, Stored]]:
    """What the client may be replayed, with each item's place in the whole history (which
    ``msgid=`` references count in, whether the item they name is shown or not)."""
    return [(i, s) for i, s in enumerate(stored) if s.is_message or (events and s.is_event)]


def _key(world: World, viewer: User, sub: str, target: str) -> str:
    """The history key of ``target``; FAIL CHATHISTORY INVALID_TARGET <sub> <target> for a
    channel the viewer is not in (or that does not exist)."""
    if target[:1] in CHANTYPES:
        channel = world.channel(target)
        if channel is None or viewer.session not in channel.members:
            raise _Invalid("INVALID_TARGET", sub, target)
        return channel_key(channel.name)
    return private_key(party_named(world, target), world.party(viewer))


def party_named(world: World, name: str) -> str:
    """The side of a private conversation that ``name`` stands for (module docstring)."""
    user = world.user_by_nick(name)
    if user is not None:
        return world.party(user)
    if casefold(name) in world.accounts:
        return account_party(name)
    return nick_party(name)


def _name_of(world: World, party: str) -> str:
    """What to call ``party`` in TARGETS so that asking for it finds the conversation again:
    the nick of someone logged in to the account, else the account's name, else the nick."""
    if not party.startswith(ACCOUNT_MARK):
        return party
    account = party[len(ACCOUNT_MARK) :]
    owners = world.logged_in(account)
    return owners[0].nick if owners else world.accounts[account].name


def _limit(world: World, text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise _Invalid("INVALID_PARAMS", text)
    return min(int(text), world.limits.history_batch)


@dataclass(frozen=True, slots=True)
class _Cut:
    """A point to select around: a stored message (by msgid) or a moment (timestamp).

    A msgid cuts the conversation at that message's place in the log. A timestamp cuts by
    the time each message was sent, which is not log order: a message retried across a
    leader change is committed after messages sent later. Clients catching up should
    therefore ask by msgid.
    """

    position: int | None  # index in the stored list, for msgid=
    time: int  # ms, for timestamp= (and * as -1)

    def before(self, index: int, stored: Stored) -> bool:
        return index < self.position if self.position is not None else stored.time < self.time

    def after(self, index: int, stored: Stored) -> bool:
        return index > self.position if self.position is not None else stored.time > self.time


def _reference(stored: list[Stored], ref: str, *, allow_star: bool) -> _Cut:
    """``timestamp=``, a ``msgid=`` we still keep, or ``*`` (before everything, LATEST)."""
    if ref == "*" and allow_star:
        return _Cut(None, -1)
    kind, _, value = ref.partition("=")
    if kind == "timestamp":
        try:
            moment = datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
        except ValueError:
            raise _Invalid("INVALID_PARAMS", ref) from None
        return _Cut(None, int(moment.timestamp() * 1000))
    if kind == "msgid":
        for index, entry in enumerate(stored):
            if entry.msgid == value:
                return _Cut(index, entry.time)
        raise _Invalid("INVALID_PARAMS", ref)
    raise _Invalid("INVALID_PARAMS", ref)


_Selector = Callable[[list[tuple[int, Stored]], list[_Cut], int], list[Stored]]


def _latest(shown: list[tuple[int, Stored]], cuts: list[_Cut], limit: int) -> list[Stored]:
    return [s for i, s in shown if cuts[0].after(i, s)][-limit:]


def _before(shown: list[tuple[int, Stored]], cuts: list[_Cut], limit: int) -> list[Stored]:
    return [s for i, s in shown if cuts[0].before(i, s)][-limit:]


def _after(shown: list[tuple[int, Stored]], cuts: list[_Cut], limit: int) -> list[Stored]:
    return [s for i, s in shown if cuts[0].after(i, s)][:limit]


def _around(shown: list[tuple[int, Stored]], cuts: list[_Cut], limit: int) -> list[Stored]:
    before = [s for i, s in shown if cuts[0].before(i, s)]
    rest = [s for i, s in shown if not cuts[0].before(i, s)]
    half = limit // 2
    return before[-half:] + rest[: limit - min(half, len(before))] if half else rest[:limit]


def _between(shown: list[tuple[int, Stored]], cuts: list[_Cut], limit: int) -> list[Stored]:
    """Messages between the bounds, in either order; the limit counts from the first bound
    (a later first bound gives the latest ones), and they come oldest first either way."""
    first, second = cuts
    inside = [s for i, s in shown if first.after(i, s) and second.before(i, s)]
    if inside:
        return inside[:limit]
    inside = [s for i, s in shown if second.after(i, s) and first.before(i, s)]
    return inside[-limit:]


_SELECTORS: dict[str, _Selector] = {
    "LATEST": _latest,
    "BEFORE": _before,
    "AFTER": _after,
    "AROUND": _around,
    "BETWEEN": _between,
}


def _targets(world: World, viewer: User, params: tuple[str, ...], events: bool) -> list[Message]:
    """Conversations of ``viewer`` with something to replay between two timestamps (with
    ``events``, a channel event counts), newest last."""
    if len(params) < 3:
        raise _Invalid("NEED_MORE_PARAMS", "TARGETS")
    low, high = sorted(_reference([], ref, allow_star=False).time for ref in params[:2])
    limit = _limit(world, params[2])
    found: list[tuple[int, str]] = []
    for key in viewer.channels:
        channel = world.channels[key]
        found += _last_in(world, channel_key(channel.name), channel.name, (low, high), events)
    me = world.party(viewer)
    for key in world.history.conversations:
        sides = parties(key)
        if sides is not None and me in sides:
            other = sides[1] if sides[0] == me else sides[0]
            found += _last_in(world, key, _name_of(world, other), (low, high), events)
    found.sort()
    messages = [
        Message("CHATHISTORY", ("TARGETS", name, _iso_time(time))) for time, name in found[-limit:]
    ]
    return _batch(None, messages, kind="draft/chathistory-targets")


def _last_in(
    world: World, key: str, name: str, window: tuple[int, int], events: bool
) -> list[tuple[int, str]]:
    low, high = window
    shown = _shown(world.history.messages(key), events)
    times = [s.time for _, s in shown if low < s.time < high]
    return [(times[-1], name)] if times else []


def _iso_time(ms: int) -> str:
    """A bare timestamp, as TARGETS replies carry it (not ``timestamp=...``)."""
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _batch(target: str | None, messages: list[Message], kind: str = "chathistory") -> list[Message]:
    params = (f"+{BATCH_REF}", kind) if target is None else (f"+{BATCH_REF}", kind, target)
    inside = [m.with_tags(batch=BATCH_REF) for m in messages]
    return [Message("BATCH", params), *inside, Message("BATCH", (f"-{BATCH_REF}",))]
