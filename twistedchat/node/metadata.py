"""draft/metadata-3 subscriptions: which keys each of this node's sessions wants to hear of.

A subscription list belongs to a connection, like a MONITOR list (decision 0025), so the
node the client is on keeps it, and it is not replicated (decision 0030): ``METADATA *
SUB``, ``UNSUB`` and ``SUBS`` are answered here, and ``SYNC`` from the local replica with
the list. Which keys changed, and who may hear of it, comes from the log
(:attr:`~twistedchat.chat.state.Applied.metadata`); the node tells its local subscribers
of each key (:meth:`Subscriptions.notices`), and sends a joiner the channel's subscribed
keys (:attr:`~twistedchat.chat.state.Applied.joins`).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable

from twistedchat.chat.limits import ChatLimits
from twistedchat.chat.metadata import (
    ALL,
    MAX_SUBS,
    NODE_SUBCOMMANDS,
    fail,
    key_not_set,
    key_value,
    valid_key,
    warn,
)
from twistedchat.chat.model import MetadataChange
from twistedchat.chat.state import ChatState
from twistedchat.wire import numerics as N
from twistedchat.wire.casemap import casefold
from twistedchat.wire.message import Message

#: ``METADATA <target> SYNC`` from the replica: (target, subscribed keys) -> replies.
Sync = Callable[[str, Collection[str]], list[Message]]


def answers(message: Message) -> bool:
    """Whether the node answers ``message`` itself (METADATA SUB, UNSUB, SUBS, SYNC)."""
    params = message.params
    return (
        message.command.upper() == "METADATA"
        and len(params) >= 2
        and params[1].upper() in NODE_SUBCOMMANDS
    )


class Subscriptions:
    """Every local session's subscribed keys, in the order subscribed."""

    def __init__(self, limit: int = MAX_SUBS, key_bytes: int = ChatLimits().metadata_key_bytes):
        self.limit = limit
        self.key_bytes = key_bytes
        self._subs: dict[str, dict[str, None]] = {}  # session -> keys

    def keys(self, session: str) -> Collection[str]:
        return self._subs.get(session, {})

    def answer(
        self, session: str, params: tuple[str, ...], state: ChatState, watched: Iterable[str]
    ) -> list[Message]:
        """:meth:`command` for ``session``, synced from ``state`` (``watched``: the nicks
        it MONITORs)."""
        me = state.session_nick(session) or "*"
        nicks = list(watched)

        def sync(target: str, keys: Collection[str]) -> list[Message]:
            return state.metadata_sync(session, target, keys, nicks)

        return self.command(session, me, params, sync)

    def command(self, session: str, me: str, params: tuple[str, ...], sync: Sync) -> list[Message]:
        """The answer to ``METADATA params`` (SUB, UNSUB, SUBS or SYNC) from ``session``
        (its nick ``me``)."""
        target, sub = params[0], params[1].upper()
        if sub == "SYNC":
            return sync(target, self.keys(session))
        if target != "*" and casefold(target) != casefold(me):
            return [fail("INVALID_TARGET", target, "Invalid metadata target")]
        if sub == "SUBS":
            lines = [
                Message(N.RPL_METADATASUBS, (me, *keys)) for keys in _chunks(self.keys(session))
            ]
            inside = [m.with_tags(batch="metadata-subs") for m in lines]
            return [
                Message("BATCH", ("+metadata-subs", "metadata-subs")),
                *inside,
                Message("BATCH", ("-metadata-subs",)),
            ]
        keys = params[2:]
        if not keys:
            return [fail("INVALID_PARAMS", sub, "Not enough parameters")]
        if sub == "SUB":
            return self._subscribe(session, me, keys, sync)
        return self._unsubscribe(session, me, keys)

    def _subscribe(self, session: str, me: str, keys: tuple[str, ...], sync: Sync) -> list[Message]:
        subs = self._subs.setdefault(session, {})
        ok: list[str] = []
        added: list[str] = []
        other: list[Message] = []
        for key in keys:
            if not valid_key(key, self.key_bytes):
                other.append(warn("INVALID_KEY", key, "Invalid key"))
                continue
            if key not in subs:
                if len(subs) >= self.limit:
                    text = f"Too many subscriptions (at most {self.limit})"
                    other.append(fail("LIMIT_REACHED", "SUB", key, str(self.limit), text))
                    break
                subs[key] = None
                added.append(key)
            ok.append(key)
        if not subs:
            del self._subs[session]
        replies = [Message(N.RPL_METADATASUBOK, (me, *chunk)) for chunk in _chunks(ok)]
        replies += other
        if added:  # the current values of what is new to it, of every visible target
            replies += sync(ALL, added)
        return replies

    def _unsubscribe(self, session: str, me: str, keys: tuple[str, ...]) -> list[Message]:
        subs = self._subs.get(session, {})
        done: list[str] = []
        other: list[Message] = []
        for key in keys:
            if not valid_key(key, self.key_bytes):
                other.append(warn("INVALID_KEY", key, "Invalid key"))
                continue
            subs.pop(key, None)
            done.append(key)
        if not subs:
            self._subs.pop(session, None)
        return [Message(N.RPL_METADATAUNSUBOK, (me, *chunk)) for chunk in _chunks(done)] + other

    def move(self, old: str, new: str) -> None:
        """The connection of session ``old`` now holds session ``new`` (a resume)."""
        subs = self._subs.pop(old, None)
        if subs:
            self._subs[new] = subs

    def forget(self, session: str) -> None:
        self._subs.pop(session, None)

    def notices(
        self,
        changes: Iterable[MetadataChange],
        nick_of: Callable[[str], str | None],
        watchers_of: Callable[[str], Iterable[str]] = lambda nick: (),
    ) -> list[tuple[str, Message]]:
        """What to tell which local session of the metadata changes an entry made: its
        subscribers of the key among those who may hear of it (and, for a user, those who
        MONITOR them), but not the session that made the change."""
        told: list[tuple[str, Message]] = []
        subs = self._subs
        for change in changes:
            key = change.key
            recipients = dict.fromkeys(change.audience)
            if change.user:
                recipients.update(dict.fromkeys(watchers_of(change.target)))
            for session in recipients:
                if session == change.origin or key not in subs.get(session, ()):
                    continue
                me = nick_of(session) or "*"
                if change.value is None:
                    message = key_not_set(me, change.target, key, "Key deleted")
                else:
                    message = key_value(me, change.target, key, change.value)
                told.append((session, message))
        return told

    def joined(
        self, joins: Iterable[tuple[str, str]], state: ChatState, local: Collection[str]
    ) -> list[tuple[str, Message]]:
        """The ``metadata`` batch of each channel a local session of ``local`` joined: its
        subscribed keys of the channel and its members (empty without subscriptions)."""
        told: list[tuple[str, Message]] = []
        for session, channel in joins:
            if session in local:
                lines = state.metadata_sync(session, channel, self.keys(session))
                told += [(session, line) for line in lines]
        return told


def _chunks(keys: Iterable[str], width: int = 350, most: int = 12) -> list[list[str]]:
    """``keys`` in groups that fit one line (at most ``width`` bytes, ``most`` keys)."""
    chunks: list[list[str]] = []
    size = 0
    for key in keys:
        if chunks and len(chunks[-1]) < most and size + 1 + len(key) <= width:
            chunks[-1].append(key)
            size += 1 + len(key)
        else:
            chunks.append([key])
            size = len(key)
    return chunks
