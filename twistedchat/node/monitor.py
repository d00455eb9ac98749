"""IRCv3 MONITOR: which of this node's sessions watch which nicks, and what they are told.

A MONITOR list belongs to a connection, so it is kept by the node the client is on, not
replicated; it dies with the session. Who comes online or goes offline is decided by the
log: every applied entry says which nicks it brought online or took offline
(:attr:`~twistedchat.chat.state.Applied.presence`), and the node tells the local
sessions watching them with 730 (online, ``nick!user@host``) and 731 (offline).

With ``extended-monitor`` a watcher also hears a watched user's AWAY, ACCOUNT and SETNAME
changes when they share no channel (each only with its own capability too, as for a
channel peer): :attr:`~twistedchat.chat.state.Applied.changes`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from twistedchat.chat.model import UserChange
from twistedchat.irc.isupport import MONITOR_TARGETS
from twistedchat.wire import numerics as N
from twistedchat.wire.casemap import casefold
from twistedchat.wire.message import Message

#: The mask of an online nick (``nick!user@host``), or None if it is offline.
Lookup = Callable[[str], str | None]


class Monitors:
    """Every local session's MONITOR list, with the reverse index presence needs."""

    def __init__(self, limit: int = MONITOR_TARGETS):
        self.limit = limit
        self._lists: dict[str, dict[str, str]] = {}  # session -> folded nick -> as given
        self._watchers: dict[str, dict[str, None]] = {}  # folded nick -> sessions

    def command(
        self, session: str, me: str, params: tuple[str, ...], lookup: Lookup
    ) -> list[Message]:
        """The answer to ``MONITOR params`` from ``session`` (its nick ``me``)."""
        sub = params[0].upper() if params else ""
        targets = [t for t in params[1].split(",") if t] if len(params) > 1 else []
        if sub == "+":
            return self._add(session, me, targets, lookup)
        if sub == "-":
            for nick in targets:
                self._remove(session, casefold(nick))
            return []
        if sub == "C":
            self.forget(session)
            return []
        if sub == "L":
            watched = self._lists.get(session, {}).values()
            lines = [Message(N.RPL_MONLIST, (me, line)) for line in comma_lines(watched)]
            return [*lines, Message(N.RPL_ENDOFMONLIST, (me, "End of MONITOR list"))]
        if sub == "S":
            return status(me, self._lists.get(session, {}).values(), lookup)
        return [Message(N.ERR_NEEDMOREPARAMS, (me, "MONITOR", "MONITOR +, -, C, L or S"))]

    def _add(self, session: str, me: str, nicks: list[str], lookup: Lookup) -> list[Message]:
        watched = self._lists.setdefault(session, {})
        added: list[str] = []
        for i, nick in enumerate(nicks):
            key = casefold(nick)
            if key in watched:
                continue
            if len(watched) >= self.limit:
                rest = ",".join(nicks[i:])
                full = Message(
                    N.ERR_MONLISTFULL, (me, str(self.limit), rest, "Monitor list is full")
                )
                return [*status(me, added, lookup), full]
            watched[key] = nick
            self._watchers.setdefault(key, {})[session] = None
            added.append(nick)
        return status(me, added, lookup)

    def watched(self, session: str) -> list[str]:
        """The nicks ``session`` watches, as given."""
        return list(self._lists.get(session, {}).values())

    def watchers(self, nick: str) -> list[str]:
        """The sessions watching ``nick``."""
        return list(self._watchers.get(casefold(nick), ()))

    def _remove(self, session: str, key: str) -> None:
        self._lists.get(session, {}).pop(key, None)
        self._unwatch(session, key)

    def move(self, old: str, new: str) -> None:
        """The connection of session ``old`` now holds session ``new`` (a resume)."""
        watched = self._lists.pop(old, {})
        for key in watched:
            self._unwatch(old, key)
            self._watchers.setdefault(key, {})[new] = None
        if watched:
            self._lists[new] = watched

    def forget(self, session: str) -> None:
        """The session is gone (or cleared its list)."""
        for key in self._lists.pop(session, {}):
            self._unwatch(session, key)

    def _unwatch(self, session: str, key: str) -> None:
        watchers = self._watchers.get(key)
        if watchers is not None:
            watchers.pop(session, None)
            if not watchers:
                del self._watchers[key]

    def notices(
        self, presence: Iterable[tuple[str, str | None]], nick_of: Callable[[str], str | None]
    ) -> list[tuple[str, Message]]:
        """What to tell which local session of the presence changes an entry made."""
        told: list[tuple[str, Message]] = []
        for nick, mask in presence:
            for session in self._watchers.get(casefold(nick), ()):
                me = nick_of(session) or "*"
                if mask is None:
                    told.append((session, Message(N.RPL_MONOFFLINE, (me, nick))))
                else:
                    told.append((session, Message(N.RPL_MONONLINE, (me, mask))))
        return told

    def extended(self, changes: Iterable[UserChange]) -> list[tuple[str, Message]]:
        """extended-monitor: who of the local watchers of each changed user to tell, who
        were not told already (by sharing a channel) and are not that user."""
        told: list[tuple[str, Message]] = []
        for change in changes:
            for session in self._watchers.get(casefold(change.nick), ()):
                if session != change.session and session not in change.told:
                    told.append((session, change.message))
        return told


def status(me: str, nicks: Iterable[str], lookup: Lookup) -> list[Message]:
    """730 for the online ones of ``nicks``, 731 for the others (each one line)."""
    online, offline = [], []
    for nick in nicks:
        mask = lookup(nick)
        if mask is None:
            offline.append(nick)
        else:
            online.append(mask)
    return [
        *(Message(N.RPL_MONONLINE, (me, line)) for line in comma_lines(online)),
        *(Message(N.RPL_MONOFFLINE, (me, line)) for line in comma_lines(offline)),
    ]


def comma_lines(items: Iterable[str], width: int = 400) -> list[str]:
    """``items`` joined by commas into lines of at most ``width`` bytes (a line fits 512)."""
    lines: list[str] = []
    for item in items:
        if lines and len(lines[-1].encode()) + 1 + len(item.encode()) <= width:
            lines[-1] += "," + item
        else:
            lines.append(item)
    return lines
