"""HELP (and HELPOP): short help on the commands this server knows, answered by the
connection (RPL_HELPSTART 704, RPL_HELPTXT 705, RPL_ENDOFHELP 706; 524 for no such topic)."""

from __future__ import annotations

from collections.abc import Mapping

from twistedchat.chat.commands import COMMANDS
from twistedchat.wire import numerics as N
from twistedchat.wire.message import Message


def _command_lines(width: int = 80) -> tuple[str, ...]:
    """The client commands of the command table, wrapped to ``width``."""
    lines = ["Commands:"]
    for name in sorted(name for name in COMMANDS if not name.startswith("@")):
        if len(lines[-1]) + 1 + len(name) > width:
            lines.append(name)
        else:
            lines[-1] += " " + name
    return tuple(lines)


TOPICS: Mapping[str, tuple[str, ...]] = {
    "*": (
        "twistedchat: IRC replicated over a cluster of nodes (Raft).",
        *_command_lines(),
        "Accounts: /msg NickServ HELP. HELP <command> for one of them.",
    ),
    "JOIN": ("JOIN <#channel>[,<#channel>...] [<key>,...]: join channels; JOIN 0 parts all.",),
    "PRIVMSG": (
        "PRIVMSG <target>[,<target>...] :<text>: to a nick, a #channel, or only a",
        "channel's operators (@#channel) or voiced users and operators (+#channel).",
    ),
    "KICK": ("KICK <#channel>[,<#channel>...] <nick>[,<nick>...] [:<reason>]",),
    "AWAY": ("AWAY [:<message>]: set, or without a message clear, your away message.",),
    "SETNAME": ("SETNAME :<realname>: change your realname (at most NAMELEN bytes).",),
    "REGISTER": (
        "REGISTER <account|*> <email|*> <password>: register an account and log in to it.",
    ),
    "CHATHISTORY": (
        "CHATHISTORY LATEST|BEFORE|AFTER|AROUND|BETWEEN|TARGETS ...: replay history",
        "(IRCv3 chathistory; any node serves it).",
    ),
    "CHGHOST": ("CHGHOST <nick> <user> <host>: operators, give a user a new user and host.",),
    "WALLOPS": ("WALLOPS :<text>: operators, to every user with mode +w (MODE <nick> +w).",),
    "REDACT": (
        "REDACT <target> <msgid> [:<reason>]: delete a message still in the history of a",
        "#channel or of your conversation with a nick: your own; channel operators any in",
        "their channel; IRC operators any (IRCv3 draft/message-redaction).",
    ),
    "METADATA": (
        "METADATA <target|*> SET <key> [:<value>] | CLEAR | GET <key>... | LIST | SYNC:",
        "keys on users (your own) and #channels (its operators set them); SUB, UNSUB and",
        "SUBS <key>...: keys you are told of when they change (IRCv3 draft/metadata-3).",
    ),
    "MARKREAD": (
        "MARKREAD <target> [timestamp=YYYY-MM-DDThh:mm:ss.sssZ]: for clients, not people:",
        "set (only forward) or ask the time of the last message read in a #channel or a",
        "conversation, shared by every client of your account (IRCv3 draft/read-marker).",
    ),
    "RENAME": (
        "RENAME <#channel> <#new-name> [:<reason>]: channel operators (or IRC operators)",
        "rename a channel, keeping its members, modes, topic and history; the prefix stays",
        "(IRCv3 draft/channel-rename).",
    ),
    "CLUSTER": (
        "CLUSTER: the nodes and their users. Operators: CLUSTER DRAIN|TRANSFER|REMOVE <node>.",
    ),
}


def help_lines(nick: str, subject: str) -> list[Message]:
    """The answer to ``HELP [subject]``."""
    key = subject.upper() or "*"
    lines = TOPICS.get(key)
    if lines is None:
        return [Message(N.ERR_HELPNOTFOUND, (nick, subject, "No help available on this topic"))]
    first, *rest = lines
    return [
        Message(N.RPL_HELPSTART, (nick, key, first)),
        *(Message(N.RPL_HELPTXT, (nick, key, line)) for line in rest),
        Message(N.RPL_ENDOFHELP, (nick, key, "End of /HELP")),
    ]
