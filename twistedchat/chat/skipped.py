"""What a node's users missed when their node skipped part of the log by a snapshot.

A follower that falls behind the leader's compacted log does not apply the entries it
missed: it installs the leader's snapshot instead (Raft section 7), and the deliveries
those entries would have made to its own users never happen. Their clients cannot tell
(nothing failed over), so the node replays the gap itself, from the history the
snapshot carries, as live lines: a channel's messages and events from the point the user
was in it, up to where it left, and the user's private conversations. Each item once
(a QUIT or NICK is kept in every channel of its user under one msgid), in log order.

A channel renamed in the gap (:mod:`~twistedchat.chat.rename`) keeps its history under
its new name, RENAME included: the user is replayed the channel's items from where they
were in it under the old name, and the RENAME as members were sent it (a RENAME with
the capability, their own PART and JOIN without; the topic and NAMES a live rename
sends are not replayed). An old name taken again in the gap is another channel.

What history does not keep is not replayed (a user mode, an INVITE, a server notice, a
REDACT; a message redacted in the gap is not replayed either); that is also all a
resuming client could fetch with ``CHATHISTORY``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from functools import cached_property

from twistedchat.chat.delivery import Delivery
from twistedchat.chat.history import MESSAGE_COMMANDS, Stored, parties
from twistedchat.chat.model import World
from twistedchat.chat.outbox import log_position
from twistedchat.chat.rename import CAPABILITY, FALLBACK
from twistedchat.wire.casemap import casefold
from twistedchat.wire.message import EMPTY_TAGS, Message


class Gap:
    """The entries after log index ``since`` that a node skipped, ``before`` being its
    state at ``since`` and ``after`` the snapshot's; built once for all its users."""

    def __init__(self, before: World, after: World, since: int) -> None:
        self.before, self.after, self.since = before, after, since
        self._recent: dict[str, list[Stored]] = {}  # conversation -> its items in the gap

    @cached_property
    def _private(self) -> dict[str, list[str]]:
        """Each side of a private conversation -> its conversations (built on first use:
        a node starting from a snapshot has nobody to replay to)."""
        sides: dict[str, list[str]] = {}
        for key in self.after.history.conversations:
            for side in parties(key) or ():
                sides.setdefault(side, []).append(key)
        return sides

    def had_user(self, session: str) -> bool:
        """Whether ``session`` was a registered user's connection before the gap (its
        own, or one of its further clients)."""
        return session in self.before.users or session in self.before.clients

    def missed(self, session: str) -> list[Delivery]:
        """What the skipped entries would have sent the connection ``session`` (a user's
        own, or a further client of it), in log order. Nothing for a connection that is
        not of the same user both before and after."""
        owner = self.before.clients.get(session, session)
        if self.after.clients.get(session, session) != owner:
            return []
        earlier, now = self.before.users.get(owner), self.after.users.get(owner)
        if earlier is None or now is None:
            return []
        nicks = {casefold(earlier.nick), casefold(now.nick)}
        found: dict[str, Stored] = {}
        member: dict[str, bool] = {}  # conversation -> whether the user was in it at the start
        for key in earlier.channels:
            final = self._renamed.get(key, key)
            member[final] = True
            if final != key:
                member.setdefault(key, False)  # the old name, if taken again, is another's
        for key in now.channels:
            member.setdefault(key, False)
        for key, was_in in member.items():
            for item in _while_member(self._in_gap(key), nicks, member=was_in):
                found.setdefault(item.msgid, item)
        for side in {self.before.party(earlier), self.after.party(now)}:
            for key in self._private.get(side, ()):
                for item in self._in_gap(key):
                    found.setdefault(item.msgid, item)
        ordered = sorted(found.values(), key=lambda item: log_position(item.msgid))
        missed: list[Delivery] = []
        for item in ordered:
            if item.message.command == "RENAME":
                missed += _rename_seen(session, item, now.prefix)
            else:
                missed.append(Delivery(session, item.message, echo=_is_own(item, nicks)))
        return missed

    @cached_property
    def _renamed(self) -> dict[str, str]:
        """Each channel renamed in the gap (its folded old names) -> where its history is
        now; a channel's RENAMEs are all kept in the conversation it has at the end."""
        moves: dict[str, str] = {}
        for key, kept in self.after.history.conversations.items():
            if parties(key) is not None:
                continue
            for item in kept:
                message = item.message
                if message.command != "RENAME" or log_position(item.msgid)[0] <= self.since:
                    continue
                if message.params and casefold(message.params[0]) != key:
                    moves[casefold(message.params[0])] = key
        return moves

    def _in_gap(self, key: str) -> list[Stored]:
        items = self._recent.get(key)
        if items is None:
            kept = self.after.history.messages(key)
            items = [
                item
                for item in kept
                if log_position(item.msgid)[0] > self.since and not item.is_redacted
            ]
            self._recent[key] = items
        return items


def _while_member(items: Iterable[Stored], nicks: set[str], *, member: bool) -> Iterator[Stored]:
    """The items of a channel the user saw: from its own JOIN (or from the start, if it
    was in the channel already) to its own PART or KICK, both included."""
    for item in items:
        message = item.message
        command, params = message.command, message.params
        if command == "JOIN" and _nick(message.source) in nicks:
            member = True
        if member:
            yield item
        own_part = command == "PART" and _nick(message.source) in nicks
        if own_part or (command == "KICK" and len(params) > 1 and casefold(params[1]) in nicks):
            member = False


def _rename_seen(session: str, item: Stored, prefix: str) -> list[Delivery]:
    """A RENAME as a member was sent it: as itself with the capability, else as their own
    PART and JOIN (nothing for a change of case alone)."""
    message = item.message
    shown = [Delivery(session, message, needs=CAPABILITY)]
    if len(message.params) < 2 or casefold(message.params[0]) == casefold(message.params[1]):
        return shown
    old, new, *reason = message.params
    time = message.tags.get("time")
    tags = EMPTY_TAGS if time is None else {"time": time}
    part = Message("PART", (old, *[r for r in reason if r]), prefix, tags)
    join = Message("JOIN", (new,), prefix, tags)
    return [
        *shown,
        Delivery(session, part, needs=FALLBACK),
        Delivery(session, join, needs=FALLBACK),
    ]


def _is_own(item: Stored, nicks: set[str]) -> bool:
    """The user's own message comes back only to a client with ``echo-message``."""
    return item.message.command in MESSAGE_COMMANDS and _nick(item.message.source) in nicks


def _nick(source: str | None) -> str:
    return casefold((source or "").partition("!")[0])
