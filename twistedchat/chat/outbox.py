"""What applying one log entry delivers, with the tags every node must attach identically."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from functools import lru_cache

from twistedchat.chat.delivery import Broadcast, Delivery, Sending
from twistedchat.chat.model import User
from twistedchat.wire.message import EMPTY_TAGS, Message


def server_time(ms: int) -> str:
    """The IRCv3 ``time`` tag value for ``ms`` milliseconds since the epoch (UTC)."""
    return f"{_utc_second(ms // 1000)}.{ms % 1000:03d}Z"


@lru_cache(maxsize=16)
def _utc_second(seconds: int) -> str:
    """Formatting a date is the dearest part of a tag every entry carries; entries of
    one second share it (profile: 3 us of the 40 us of a channel message)."""
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S")


def numeric(nick: str, code: str, *params: str) -> Message:
    """A numeric reply: from this server (source None), addressed to ``nick`` first."""
    return Message(code, (nick, *params))


def log_position(msgid: str) -> tuple[int, int]:
    """Where an :class:`Outbox` made ``msgid``: (log index, message within the entry), so
    msgids sort in log order; (0, 0) for a string it did not make."""
    index, _, count = msgid.partition("-")
    try:
        return int(index, 16), int(count or 0)
    except ValueError:
        return 0, 0


class Outbox:
    """Collects the deliveries of the log entry at ``index`` applied at ``time`` (ms).

    Each distinct user message gets ``msgid`` ``<index hex>-<n>``: the log index makes it
    unique in the cluster and identical on every node without any coordination.
    """

    def __init__(self, index: int, time: int):
        self.deliveries: list[Sending] = []
        self.index = index  # of the entry being applied
        self._time = server_time(time)
        self._count = 0

    def user_message(
        self,
        user: User,
        command: str,
        *params: str,
        client_tags: Mapping[str, str] = EMPTY_TAGS,
    ) -> Message:
        """A new message from ``user`` carrying time, msgid and (if logged in) account tags."""
        self._count += 1
        tags = dict(client_tags)
        tags["time"] = self._time
        tags["msgid"] = f"{self.index:x}-{self._count}"
        if user.account is not None:
            tags["account"] = user.account
        if user.bot:
            tags["bot"] = ""  # IRCv3 bot-mode, for clients with message-tags
        return Message(command, params, user.prefix, tags)

    def service_message(self, prefix: str, command: str, *params: str) -> Message:
        """A new message from a service (a plugin's speaker) with time and msgid tags."""
        self._count += 1
        tags = {"time": self._time, "msgid": f"{self.index:x}-{self._count}"}
        return Message(command, params, prefix, tags)

    def send(
        self,
        session: str,
        message: Message,
        *,
        echo: bool = False,
        separate: bool = False,
        needs: str | None = None,
    ) -> None:
        self.deliveries.append(Delivery(session, message, echo, separate, needs))

    def send_all(
        self,
        sessions: Iterable[str],
        message: Message,
        *,
        skip: str | None = None,
        needs: str | None = None,
    ) -> None:
        """Send ``message`` to each of ``sessions`` but ``skip`` (those with capability
        ``needs`` only, if given), as one :class:`Broadcast`."""
        audience = tuple(sessions)
        if audience and audience != (skip,):
            self.deliveries.append(Broadcast(audience, message, skip, needs))

    def reply(self, user: User, code: str, *params: str) -> None:
        """Send a numeric to ``user``'s session, addressed to their current nick."""
        self.deliveries.append(Delivery(user.session, numeric(user.nick, code, *params)))
