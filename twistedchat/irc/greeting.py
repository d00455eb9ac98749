"""What the server says about itself: the registration burst, ISUPPORT, MOTD, VERSION, TIME.

Pure functions of the node's :class:`ConnectionSettings` and the client's nick, so the
connection only decides *when* to send them (modern.ircdocs.horse, "Connection
Registration": 001-005, then LUSERS and the MOTD).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from twistedchat.irc.settings import ConnectionSettings
from twistedchat.wire import numerics as N
from twistedchat.wire.message import Message

#: ISUPPORT tokens per 005 line, well inside the 512-byte line limit.
ISUPPORT_PER_LINE = 13
#: User and channel modes announced in 004; they must match what chat.modes implements.
USER_MODES, CHANNEL_MODES, CHANNEL_MODES_WITH_PARAM = "Biow", "CIbeiklmnostv", "Ibeklov"


def welcome_burst(
    welcome: Message, settings: ConnectionSettings, lusers: Sequence[Message]
) -> list[Message]:
    """001 (from the chat state, which knows the final nick), 002-005, LUSERS, MOTD."""
    nick = welcome.params[0]
    s = settings
    return [
        welcome,
        Message(
            N.RPL_YOURHOST, (nick, f"Your host is {s.server_name}, running version {s.version}")
        ),
        Message(N.RPL_CREATED, (nick, f"This server was created {s.created}")),
        Message(
            N.RPL_MYINFO,
            (nick, s.server_name, s.version, USER_MODES, CHANNEL_MODES, CHANNEL_MODES_WITH_PARAM),
        ),
        *isupport_lines(nick, settings),
        *lusers,
        *motd_lines(nick, settings),
    ]


def isupport_lines(nick: str, settings: ConnectionSettings) -> list[Message]:
    tokens = settings.isupport
    return [
        Message(
            N.RPL_ISUPPORT,
            (nick, *tokens[i : i + ISUPPORT_PER_LINE], "are supported by this server"),
        )
        for i in range(0, len(tokens), ISUPPORT_PER_LINE)
    ]


def motd_lines(nick: str, settings: ConnectionSettings) -> list[Message]:
    if settings.motd is None:
        return [Message(N.ERR_NOMOTD, (nick, "MOTD File is missing"))]
    return [
        Message(N.RPL_MOTDSTART, (nick, f"- {settings.server_name} Message of the day - ")),
        *(Message(N.RPL_MOTD, (nick, f"- {line}")) for line in settings.motd),
        Message(N.RPL_ENDOFMOTD, (nick, "End of /MOTD command.")),
    ]


def version_lines(nick: str, settings: ConnectionSettings) -> list[Message]:
    return [
        Message(
            N.RPL_VERSION, (nick, settings.version, settings.server_name, "Raft-replicated IRC")
        ),
        *isupport_lines(nick, settings),
    ]


INFO = (
    "twistedchat: IRC on a cluster of nodes that replicate every event through Raft,",
    "so every user sees one order and no acknowledged message is lost.",
    "Written in Python on Twisted; see the README and docs/decisions/ of the project.",
)


def info_lines(nick: str, settings: ConnectionSettings) -> list[Message]:
    """INFO: what this server is (RPL_INFO lines, then RPL_ENDOFINFO)."""
    lines = [*INFO, f"Version {settings.version}, server {settings.server_name}."]
    return [
        *(Message(N.RPL_INFO, (nick, line)) for line in lines),
        Message(N.RPL_ENDOFINFO, (nick, "End of INFO list")),
    ]


def time_line(nick: str, settings: ConnectionSettings, now: float) -> Message:
    """RPL_TIME for ``now`` (seconds since the epoch, from the connection's clock)."""
    stamp = datetime.fromtimestamp(now, UTC).strftime("%A %B %d %Y -- %H:%M:%S UTC")
    return Message(N.RPL_TIME, (nick, settings.server_name, stamp))
