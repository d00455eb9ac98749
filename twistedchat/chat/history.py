"""Message history per channel and per private conversation, for IRCv3 chathistory.

Part of the replicated state, so every node can serve any user's history from its own
replica. Bounded twice: each conversation keeps its latest ``history_max`` messages, and
the number of conversations is capped (the one written to least recently goes first).
Messages older than ``history_days`` are dropped as new ones arrive. A private
conversation is keyed by the two nicks at the time, so it is not found under a new nick
(accounts will key it better). All of it depends
only on the log (the entry's time, never a clock), so replicas stay identical.
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


def conversation_key(target: str, sender: str | None = None) -> str:
    """A channel's key is its folded name; a private talk's is both folded nicks, sorted."""
    if sender is None:
        return casefold(target)
    return "\0".join(sorted((casefold(target), casefold(sender))))


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
