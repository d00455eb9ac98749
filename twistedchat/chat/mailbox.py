"""Private messages kept for registered accounts while nobody is logged in to them.

A PRIVMSG to a nick nobody holds that is the name of a registered account is kept here,
in the replicated state, so its owner gets it on whichever node they log in to next and
it survives snapshots; it is handed over, in order and with its original tags, when a
session logs in to the account (see :func:`twistedchat.chat.accounts.deliver_mail`).

Bounded on log time only, so every replica keeps and drops the same messages. Mail
already accepted is never dropped to make room (its sender was told it would be
delivered): a full mailbox refuses more. An account holds at most ``per_account``
messages, at most ``per_sender`` of them from one sender (so one sender cannot fill
everyone else's share of a mailbox), one sender has at most ``per_sender_total`` waiting
in all mailboxes (so it cannot take every mailbox), at most ``max_accounts`` accounts hold
messages at once, and messages older than ``days`` are dropped. A sender is known by
account; everyone not logged in counts as one sender (:data:`GUESTS`), since a nick costs
nothing to change.
"""

from __future__ import annotations

from collections import Counter, OrderedDict, deque
from collections.abc import Iterable

from twistedchat.chat.history import DAY_MS, Stored, account_party
from twistedchat.wire.casemap import casefold
from twistedchat.wire.message import Message

#: The one sender that everyone not logged in counts as.
GUESTS = "*guests"


def sender_of(message: Message) -> str:
    """Who sent a kept message, for the caps: its account, or :data:`GUESTS`."""
    account = message.tags.get("account")
    return GUESTS if account is None else account_party(account)


class Mailboxes:
    """Every account's waiting messages, the least recently written mailbox first."""

    def __init__(
        self, per_account: int, per_sender: int, per_sender_total: int, max_accounts: int,
        days: int,
    ) -> None:  # fmt: skip
        self.per_account = per_account
        self.per_sender = per_sender
        self.per_sender_total = per_sender_total
        self.max_accounts = max_accounts
        self.days = days
        self.boxes: OrderedDict[str, deque[Stored]] = OrderedDict()  # folded account -> mail
        self._waiting: Counter[str] = Counter()  # sender -> kept in all mailboxes (derived)

    def store(self, account: str, time: int, message: Message) -> str | None:
        """Keep ``message`` for ``account``; returns why it cannot be kept, or None."""
        key = casefold(account)
        box = self.boxes.get(key)
        if box is not None:
            self._expire(box, time)
        refusal = self._refusal(box or deque(), sender_of(message))
        if refusal is not None:
            return refusal
        if box is None:
            if not self._make_room(time):
                return "no more messages can be kept for offline users right now"
            box = deque()
        box.append(Stored(time, message))
        self._waiting[sender_of(message)] += 1
        self.boxes[key] = box
        self.boxes.move_to_end(key)
        return None

    def restore(self, account_key: str, kept: list[Stored]) -> None:
        """Put back a mailbox from a snapshot, counting its senders again."""
        self.boxes[account_key] = deque(kept)
        self._waiting.update(sender_of(item.message) for item in kept)

    def take(self, account: str, time: int) -> list[Stored]:
        """Empty ``account``'s mailbox; returns what had not expired by ``time``, oldest first."""
        box = self.boxes.pop(casefold(account), deque())
        self._expire(box, time)
        self._forget(box)
        return list(box)

    def withdraw(self, account: str, msgid: str) -> None:
        """Drop the message ``msgid`` from ``account``'s mailbox, if it still waits there
        (its sender redacted it before the account's owner logged in)."""
        key = casefold(account)
        box = self.boxes.get(key, deque())
        for place, kept in enumerate(box):
            if kept.msgid == msgid:
                del box[place]
                self._forget([kept])
                if not box:
                    del self.boxes[key]
                return

    def _refusal(self, box: deque[Stored], sender: str) -> str | None:
        who = "senders who are not logged in" if sender == GUESTS else "you"
        if len(box) >= self.per_account:
            return f"already has {self.per_account} messages waiting"
        if sum(1 for kept in box if sender_of(kept.message) == sender) >= self.per_sender:
            return f"already has {self.per_sender} messages from {who} waiting"
        if self._waiting[sender] >= self.per_sender_total:
            return f"{self.per_sender_total} messages from {who} already wait for offline users"
        return None

    def _expire(self, box: deque[Stored], time: int) -> None:
        horizon = time - self.days * DAY_MS
        while box and box[0].time < horizon:
            self._forget([box.popleft()])

    def _forget(self, gone: Iterable[Stored]) -> None:
        for kept in gone:
            sender = sender_of(kept.message)
            self._waiting[sender] -= 1
            if self._waiting[sender] <= 0:
                del self._waiting[sender]

    def _make_room(self, time: int) -> bool:
        """Whether one more account may hold mail. Mailboxes whose newest message expired
        are dropped to make room; live mail never is (its sender was told it is kept)."""
        horizon = time - self.days * DAY_MS
        while self.boxes and len(self.boxes) >= self.max_accounts:
            oldest = next(iter(self.boxes.values()))
            if oldest and oldest[-1].time >= horizon:
                return False
            self._forget(self.boxes.popitem(last=False)[1])
        return len(self.boxes) < self.max_accounts
