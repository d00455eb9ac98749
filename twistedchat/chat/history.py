"""Message history per channel and per private conversation, for IRCv3 chathistory.

Part of the replicated state, so every node can serve any user's history from its own
replica. A channel's history also keeps its events (JOIN, PART, KICK, TOPIC, MODE, and
the QUIT and NICK of its members), for clients with ``draft/event-playback``. Bounded
twice: each conversation keeps its latest ``history_max`` items, messages and events
alike, and the number of conversations is capped (the one a message was written to least
recently goes first; see :meth:`History.record` for why events do not count there).
Items older than ``history_days`` are dropped as new ones arrive. A private
conversation is keyed by its two sides: a side logged in to an account by the account
(:func:`account_party`), so its owner finds it under any nick and while offline; a side
that is not by its nick at the time. All of it depends only on the log (the entry's time,
never a clock), so replicas stay identical.

A redacted message (``REDACT``, :mod:`twistedchat.chat.redaction`) is replaced in place
by a tombstone: its time and msgid without its text, sender or tags, which no
CHATHISTORY reply shows but which stays a valid ``msgid=`` reference, so a client that
last saw the redacted message can still ask for what came after it.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from dataclasses import dataclass

from twistedchat.wire.casemap import casefold
from twistedchat.wire.message import Message

DAY_MS = 86_400_000


#: What every CHATHISTORY reply may hold; anything else stored is a channel event.
MESSAGE_COMMANDS = frozenset({"PRIVMSG", "NOTICE"})
#: The command of a redacted message's tombstone: never sent, never replayed. No client
#: can send it (``@`` starts a line's tags), so no stored message can look like one.
REDACTED = "@REDACTED"


@dataclass(frozen=True, slots=True)
class Stored:
    """A delivered message or channel event, as its recipients saw it (time, msgid).

    A msgid is unique within its conversation. A QUIT or NICK is kept in each channel of
    its user with the one msgid its recipients saw, so a client catching up on several
    channels shows it once. ``sender`` is the session that sent a message, for REDACT to
    know its sender by (empty for events, services' messages and mail).
    """

    time: int  # ms since the epoch, from the log entry
    message: Message
    sender: str = ""

    @property
    def msgid(self) -> str:
        return self.message.tags.get("msgid", "")

    @property
    def is_message(self) -> bool:
        """A PRIVMSG or NOTICE, which every client may be replayed; else an event."""
        return self.message.command in MESSAGE_COMMANDS

    @property
    def is_event(self) -> bool:
        """A channel event, replayed only with event-playback (see the module docstring)."""
        return self.message.command not in MESSAGE_COMMANDS and not self.is_redacted

    @property
    def is_redacted(self) -> bool:
        """The tombstone of a redacted message: shown to no one."""
        return self.message.command == REDACTED


#: Starts an account's side of a private conversation. No nick or channel starts with it,
#: so an account and an unrelated nick of the same name never share a conversation.
ACCOUNT_MARK = "@"


def channel_key(name: str) -> str:
    """A channel's conversation is keyed by its folded name."""
    return casefold(name)


def nick_party(nick: str) -> str:
    """The side of a private conversation of someone not logged in: the folded nick."""
    return casefold(nick)


def account_party(account: str) -> str:
    """The side of a private conversation of someone logged in: the marked, folded account."""
    return ACCOUNT_MARK + casefold(account)


def private_key(a: str, b: str) -> str:
    """A private conversation's key: both parties, sorted, so either side finds it."""
    return "\0".join(sorted((a, b)))


def parties(key: str) -> tuple[str, str] | None:
    """The two parties of a private conversation's key; None for a channel's key."""
    a, sep, b = key.partition("\0")
    return (a, b) if sep else None


class History:
    def __init__(self, history_max: int, history_days: int, max_conversations: int) -> None:
        self.history_max = history_max
        self.history_days = history_days
        self.max_conversations = max_conversations
        self.conversations: OrderedDict[str, deque[Stored]] = OrderedDict()

    def record(self, key: str, time: int, message: Message, sender: str = "") -> None:
        """Keep ``message`` (a PRIVMSG, NOTICE or channel event) at the end of ``key``.

        Only a message makes its conversation the most recently written. An event leaves
        the order alone, and one that starts a conversation puts it first in line to go:
        joins and parts across many channels, which need no message at all, must never
        push out a conversation that has messages (a flood of those already needs a line
        per channel and message).
        """
        if self.history_max == 0:
            return
        stored = Stored(time, message, sender)
        kept = self.conversations.get(key)
        if kept is None:
            kept = self.conversations[key] = deque(maxlen=self.history_max)
            if not stored.is_message:
                self.conversations.move_to_end(key, last=False)
        kept.append(stored)
        horizon = time - self.history_days * DAY_MS
        while kept and kept[0].time < horizon:
            kept.popleft()
        if stored.is_message:
            self.conversations.move_to_end(key)  # most recently written last
        while len(self.conversations) > self.max_conversations:
            self.conversations.popitem(last=False)

    def restore(self, key: str, items: list[Stored]) -> None:
        """Put back a conversation from a snapshot, after those restored before it: the
        order of conversations (which goes first) must be the one every replica has."""
        if self.history_max > 0:
            self.conversations[key] = deque(items, maxlen=self.history_max)

    def rename(self, old: str, new: str) -> None:
        """Keep the conversation ``old`` under the key ``new`` (a renamed channel), in its
        place among the others. Whatever ``new`` kept before (a channel of that name that
        is gone) goes: it was another channel's."""
        self.conversations.pop(new, None)
        if old not in self.conversations:
            return
        self.conversations = OrderedDict(
            (new if key == old else key, kept) for key, kept in self.conversations.items()
        )

    def messages(self, key: str) -> list[Stored]:
        return list(self.conversations.get(key, ()))

    def find(self, key: str, msgid: str) -> Stored | None:
        """The item of conversation ``key`` with ``msgid``, if it is still kept."""
        for stored in self.conversations.get(key, ()):
            if stored.msgid == msgid:
                return stored
        return None

    def redact(self, key: str, msgid: str) -> None:
        """Replace the item with ``msgid`` by its tombstone (see the module docstring);
        the conversation's order and its place among the others do not change."""
        kept = self.conversations.get(key)
        if kept is None:
            return
        for place, stored in enumerate(kept):
            if stored.msgid == msgid:
                kept[place] = Stored(stored.time, Message(REDACTED, (), None, {"msgid": msgid}))
                return
