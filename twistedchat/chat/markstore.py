"""The read markers of accounts (IRCv3 ``draft/read-marker``, decision 0034): the store.

A read marker is the time (ms since the epoch, UTC) of the last message a user has read
in one buffer: a channel or a private conversation with a nick. It belongs to the account
(every client logged in to it shares it, which is how a phone and a laptop stay in step)
and to the target's casefolded name, and it only moves forward. The markers are chat
state: set through the log by ``MARKREAD`` (:mod:`twistedchat.chat.readmarker`), kept in
snapshots, the same on every replica.

Bounded: an account holds at most ``per_account`` markers and all accounts together at
most ``total``; past either, the least recently set marker goes (of the least recently
active account, for the total). Both orders are the dicts' insertion orders, so every
replica evicts the same marker.

This module imports only the wire layer, so :mod:`~twistedchat.chat.model` can hold the
store and :mod:`~twistedchat.chat.channels` send a joiner the channel's marker.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from twistedchat.wire.casemap import casefold
from twistedchat.wire.message import Message

#: The capability.
CAP = "draft/read-marker"
#: The command, from clients and from the server.
COMMAND = "MARKREAD"
#: The parameter of a marker that is not set.
UNSET = "*"
#: What a timestamp parameter starts with (the spec's form; a bare timestamp is taken too).
PREFIX = "timestamp="

#: ``YYYY-MM-DDThh:mm:ss[.fraction]Z``, server-time's format; ASCII digits only (``\d``
#: would take any script's digits). The fraction is cut to milliseconds.
_TIMESTAMP = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]{1,9}))?Z"
)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def parse_timestamp(text: str) -> int | None:
    """The time ``text`` (``timestamp=2019-01-04T14:33:26.123Z``, or without the prefix)
    stands for, in ms since the epoch; None if it is no such time, or is before 1970."""
    match = _TIMESTAMP.fullmatch(text.removeprefix(PREFIX))
    if match is None:
        return None
    year, month, day, hour, minute, second = (int(part) for part in match.groups()[:6])
    try:
        when = datetime(year, month, day, hour, minute, second, tzinfo=UTC)
    except ValueError:  # February 30th, hour 25, ...
        return None
    if when < _EPOCH:
        return None
    fraction = (match.group(7) or "0").ljust(3, "0")[:3]
    return (when - _EPOCH) // _MS + int(fraction)


_MS = datetime(1970, 1, 1, 0, 0, 0, 1000, tzinfo=UTC) - _EPOCH


def format_marker(ms: int | None) -> str:
    """The MARKREAD parameter of a marker: ``timestamp=<server-time>``, or ``*`` unset."""
    if ms is None:
        return UNSET
    when = datetime.fromtimestamp(ms // 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{PREFIX}{when}.{ms % 1000:03d}Z"


def marker_message(target: str, ms: int | None) -> Message:
    """``MARKREAD <target> <timestamp>|*``, from the server."""
    return Message(COMMAND, (target, format_marker(ms)))


class ReadMarkers:
    """Every account's markers: folded account -> folded target -> ms, both levels in the
    order last set (least recently first)."""

    def __init__(self, per_account: int, total: int) -> None:
        self.per_account = per_account
        self.total = total
        self._accounts: dict[str, dict[str, int]] = {}
        self._count = 0  # markers of all accounts together

    def __len__(self) -> int:
        return self._count

    def get(self, account: str | None, target: str) -> int | None:
        """The marker of ``account`` (None: not logged in, so none) for ``target``."""
        if account is None:
            return None
        markers = self._accounts.get(casefold(account))
        return None if markers is None else markers.get(casefold(target))

    def of(self, account: str) -> dict[str, int]:
        """A copy of ``account``'s markers, least recently set first (for tests)."""
        return dict(self._accounts.get(casefold(account), {}))

    def set(self, account: str, target: str, ms: int) -> bool:
        """Move ``account``'s marker for ``target`` to ``ms``; whether it moved (only
        forward: an earlier or equal time changes nothing)."""
        key, name = casefold(account), casefold(target)
        markers = self._accounts.get(key)
        current = None if markers is None else markers.get(name)
        if current is not None and ms <= current:
            return False
        if markers is None:
            markers = {}
        else:
            del self._accounts[key]
        self._accounts[key] = markers  # now the most recently active account
        if current is None:
            self._count += 1
        else:
            del markers[name]  # to the end: the most recently set
        markers[name] = ms
        self._evict(markers)
        return True

    def rename(self, old: str, new: str) -> None:
        """A channel ``old`` is now called ``new``: its markers follow it (a marker for a
        channel of the new name that is gone is dropped: its history went with it)."""
        old, new = casefold(old), casefold(new)
        if old == new:
            return
        for markers in self._accounts.values():
            if new in markers:
                del markers[new]
                self._count -= 1
            if old in markers:
                markers[new] = markers.pop(old)
        self._drop_empty()

    def rows(self) -> list[list[Any]]:
        """The snapshot form: ``[[account, [[target, ms], ...]], ...]`` in order."""
        return [
            [account, [[target, ms] for target, ms in markers.items()]]
            for account, markers in self._accounts.items()
        ]

    def restore(self, rows: Iterable[Sequence[Any]]) -> None:
        """Load :meth:`rows`' form (in its order, so evictions stay the same); limits lower
        than those it was saved with drop the least recently set markers."""
        for account, markers in rows:
            for target, ms in markers:
                self.set(str(account), str(target), int(ms))

    def _evict(self, markers: dict[str, int]) -> None:
        while len(markers) > self.per_account:
            del markers[next(iter(markers))]
            self._count -= 1
        while self._count > self.total:
            account, oldest = next(iter(self._accounts.items()))
            del oldest[next(iter(oldest))]
            self._count -= 1
            if not oldest:
                del self._accounts[account]

    def _drop_empty(self) -> None:
        for account in [a for a, markers in self._accounts.items() if not markers]:
            del self._accounts[account]
