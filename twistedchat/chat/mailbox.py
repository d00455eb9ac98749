"""Private messages kept for registered accounts while nobody is logged in to them.

A PRIVMSG to a nick nobody holds that is the name of a registered account is kept here,
in the replicated state, so its owner gets it on whichever node they log in to next and
it survives snapshots; it is handed over, in order and with its original tags, when a
session logs in to the account (see :func:`twistedchat.chat.accounts.deliver_mail`).

Bounded on log time only, so every replica keeps and drops the same messages: an account
holds at most ``per_account`` messages (the oldest go first), at most ``per_sender`` of
them from one sender (so one sender cannot push everyone else's out of a mailbox), at
most ``max_accounts`` accounts hold messages at once, and messages older than ``days``
are dropped. A sender is known by account when logged in, else by nick (see
:func:`sender_of`).
"""

from __future__ import annotations

from collections import OrderedDict, deque

from twistedchat.chat.history import DAY_MS, Stored, account_party, nick_party
from twistedchat.irc.casemap import casefold
from twistedchat.irc.message import Message


def sender_of(message: Message) -> str:
    """Who sent a kept message, as a side of a conversation: account if logged in, else nick."""
    account = message.tags.get("account")
    if account is not None:
        return account_party(account)
    return nick_party((message.source or "").partition("!")[0])


class Mailboxes:
    """Every account's waiting messages, the least recently written mailbox first."""

    def __init__(self, per_account: int, per_sender: int, max_accounts: int, days: int) -> None:
        self.per_account = per_account
        self.per_sender = per_sender
        self.max_accounts = max_accounts
        self.days = days
        self.boxes: OrderedDict[str, deque[Stored]] = OrderedDict()  # folded account -> mail

    def store(self, account: str, time: int, message: Message) -> str | None:
        """Keep ``message`` for ``account``; returns why it cannot be kept, or None."""
        key = casefold(account)
        box = self.boxes.get(key)
        if box is None and not self._make_room(time):
            return "no more messages can be kept for offline users right now"
        box = deque() if box is None else box
        self._expire(box, time)
        sender = sender_of(message)
        if sum(1 for kept in box if sender_of(kept.message) == sender) >= self.per_sender:
            return f"already has {self.per_sender} messages from you waiting"
        box.append(Stored(time, message))
        if len(box) > self.per_account:
            box.popleft()
        self.boxes[key] = box
        self.boxes.move_to_end(key)
        return None

    def take(self, account: str, time: int) -> list[Stored]:
        """Empty ``account``'s mailbox; returns what had not expired by ``time``, oldest first."""
        box = self.boxes.pop(casefold(account), deque())
        self._expire(box, time)
        return list(box)

    def _expire(self, box: deque[Stored], time: int) -> None:
        horizon = time - self.days * DAY_MS
        while box and box[0].time < horizon:
            box.popleft()

    def _make_room(self, time: int) -> bool:
        """Whether one more account may hold mail. Mailboxes whose newest message expired
        are dropped to make room; live mail never is (its sender was told it is kept)."""
        horizon = time - self.days * DAY_MS
        while self.boxes and len(self.boxes) >= self.max_accounts:
            oldest = next(iter(self.boxes.values()))
            if oldest and oldest[-1].time >= horizon:
                return False
            self.boxes.popitem(last=False)
        return len(self.boxes) < self.max_accounts
