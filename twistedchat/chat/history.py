"""Message history per channel and per private conversation, for IRCv3 chathistory.

Part of the replicated state, so every node can serve any user's history from its own
replica. Bounded twice: each conversation keeps its latest ``history_max`` messages, and
the number of conversations is capped (the one written to least recently goes first).
Messages older than ``history_days`` are dropped as new ones arrive. A private
conversation is keyed by its two sides: a side logged in to an account by the account
(:func:`account_party`), so its owner finds it under any nick and while offline; a side
that is not by its nick at the time. All of it depends only on the log (the entry's time,
never a clock), so replicas stay identical.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from dataclasses import dataclass

from twistedchat.irc.casemap import casefold
from twistedchat.irc.message import Message

DAY_MS = 86_400_000


@dataclass(frozen=True, slots=True)
class Stored:
    """A delivered PRIVMSG or NOTICE, as its recipients saw it (with time and msgid)."""

    time: int  # ms since the epoch, from the log entry
    message: Message

    @property
    def msgid(self) -> str:
        return self.message.tags.get("msgid", "")


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

    def record(self, key: str, time: int, message: Message) -> None:
        if self.history_max == 0:
            return
        kept = self.conversations.pop(key, None)
        if kept is None:
            kept = deque(maxlen=self.history_max)
        kept.append(Stored(time, message))
        horizon = time - self.history_days * DAY_MS
        while kept and kept[0].time < horizon:
            kept.popleft()
        self.conversations[key] = kept  # most recently written last
        while len(self.conversations) > self.max_conversations:
            self.conversations.popitem(last=False)

    def messages(self, key: str) -> list[Stored]:
        return list(self.conversations.get(key, ()))
