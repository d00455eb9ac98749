"""IRCv3 capabilities this server offers, and which message tags each one unlocks.

Deliveries from the chat core always carry every tag (``time``, ``msgid``, ``account``,
client-only ``+tags``); a connection strips what its client did not negotiate, so the
replicated core never depends on per-connection state. The one exception is CHATHISTORY,
whose selection depends on ``draft/event-playback`` (the ``limit`` counts only what the
client is shown), so the connection marks the query instead (:func:`history_query`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence, Set

from twistedchat.chat.chathistory import EVENTS_TAG
from twistedchat.chat.history import MESSAGE_COMMANDS
from twistedchat.chat.limits import ChatLimits
from twistedchat.chat.markstore import CAP as READ_MARKER_CAP
from twistedchat.chat.metadata import CAP as METADATA_CAP
from twistedchat.chat.metadata import MAX_SUBS
from twistedchat.irc.multiline import CAP_VALUE as MULTILINE_VALUE
from twistedchat.irc.multiline import CONCAT_TAG, MULTILINE_CAP, is_multiline, lines_for
from twistedchat.wire import numerics as N
from twistedchat.wire.message import EMPTY_TAGS, Message

_LIMITS = ChatLimits()
#: draft/metadata-3's CAP value: the limits a client must know (decision 0030).
METADATA_VALUE = (
    f"max-subs={MAX_SUBS},max-keys={_LIMITS.metadata_keys},"
    f"max-key-bytes={_LIMITS.metadata_key_bytes},max-value-bytes={_LIMITS.metadata_value_bytes}"
)

#: Capabilities offered in ``CAP LS``; a value is advertised as ``name=value`` with CAP 302.
SUPPORTED: Mapping[str, str] = {
    "account-notify": "",
    "account-tag": "",
    "away-notify": "",
    "batch": "",
    "cap-notify": "",
    "chghost": "",
    "draft/account-registration": "custom-account-name",  # REGISTER <account> <email> <pw>
    "draft/channel-rename": "",
    "draft/chathistory": "",
    "draft/event-playback": "",
    "draft/message-redaction": "",
    MULTILINE_CAP: MULTILINE_VALUE,
    METADATA_CAP: METADATA_VALUE,
    "draft/no-implicit-names": "",
    READ_MARKER_CAP: "",
    "echo-message": "",
    "extended-join": "",
    "extended-monitor": "",
    "invite-notify": "",
    "labeled-response": "",
    "message-tags": "",
    "multi-prefix": "",
    "sasl": "PLAIN",
    "server-time": "",
    "setname": "",
    "twistedchat.org/resume": "",
    "userhost-in-names": "",
}
#: Our own capability: the server hands out resume tokens (see ``chat.resume``).
RESUME_CAP = "twistedchat.org/resume"
#: MONITOR watchers hear a watched user's changes too (AWAY, ACCOUNT, SETNAME).
EXTENDED_MONITOR = "extended-monitor"
#: Channel events (JOIN, PART, QUIT, ...) in chathistory batches (IRCv3 chathistory).
EVENT_PLAYBACK_CAP = "draft/event-playback"

#: Messages only clients with a capability receive: (command, the capability).
CAP_ONLY_COMMANDS: Mapping[str, str] = {
    "TAGMSG": "message-tags",
    "ACCOUNT": "account-notify",
    "AWAY": "away-notify",  # a server sends AWAY only to tell of someone's away change
    "SETNAME": "setname",
    "CHGHOST": "chghost",
    "BATCH": "batch",  # without it the messages still come, just not grouped
    "RENAME": "draft/channel-rename",  # the others get a PART and a JOIN instead
}
#: The capabilities :func:`for_client` (and echo-message) read: the only ones that change
#: the bytes a client receives for a message (see :mod:`twistedchat.irc.rendering`); also
#: those a record's ``needs`` names (invite-notify, draft/message-redaction, chghost,
#: extended-monitor, draft/no-implicit-names, draft/metadata-3, draft/channel-rename,
#: draft/read-marker),
#: since a rendering checks ``needs`` against the client's view.
OUTPUT_CAPS = frozenset(
    {"server-time", "message-tags", "account-tag", "batch", "labeled-response",
     "account-notify", "echo-message", "away-notify", "setname", "extended-join",
     "multi-prefix", "userhost-in-names", "invite-notify", "draft/no-implicit-names",
     "extended-monitor", "chghost", "draft/message-redaction", "draft/channel-rename",
     MULTILINE_CAP, METADATA_CAP, READ_MARKER_CAP}
)  # fmt: skip
#: Channel status prefixes, highest first: the chat state lists them all (multi-prefix).
STATUS_PREFIXES = "@+"


def tag_allowed(tag: str, caps: Set[str]) -> bool:
    """Whether a client with capabilities ``caps`` may see message tag ``tag``."""
    if tag == "time":
        return "server-time" in caps or "message-tags" in caps
    if tag == "account":
        return "account-tag" in caps or "message-tags" in caps
    if tag == "batch":
        return "batch" in caps
    if tag == "label":
        return "labeled-response" in caps
    if tag == CONCAT_TAG:
        return MULTILINE_CAP in caps
    # msgid and client-only (+) tags travel with message-tags.
    return "message-tags" in caps


def for_client(message: Message, caps: Set[str]) -> Message | None:
    """Return ``message`` as a client with ``caps`` may see it, or None if it must not.

    The chat state writes each message in its richest form (a JOIN with account and
    realname, every status prefix and the full ``nick!user@host`` in NAMES): here it is cut
    down to what the client asked for, the way the IRCv3 specifications describe the
    message without the capability.
    """
    command = message.command
    needed = CAP_ONLY_COMMANDS.get(command)
    if needed is not None and needed not in caps:
        return None
    if command in _REDUCERS:
        message = _REDUCERS[command](message, caps)
    if not message.tags:
        return message
    kept = {k: v for k, v in message.tags.items() if tag_allowed(k, caps)}
    if len(kept) == len(message.tags):
        return message
    return Message(message.command, message.params, message.source, kept or EMPTY_TAGS)


def shown(message: Message, caps: Set[str]) -> list[Message]:
    """The lines a client with ``caps`` receives for ``message``: :func:`for_client`'s
    form of it, and of each line of a multiline message (:mod:`~twistedchat.irc.multiline`)."""
    if is_multiline(message):
        parts = lines_for(message, caps)
        return [m for m in (for_client(part, caps) for part in parts) if m is not None]
    only = for_client(message, caps)
    return [] if only is None else [only]


def _join(message: Message, caps: Set[str]) -> Message:
    """extended-join: ``JOIN #chan account :realname``; plain: ``JOIN #chan``."""
    if len(message.params) < 2 or "extended-join" in caps:
        return message
    return Message("JOIN", message.params[:1], message.source, message.tags)


def _names(message: Message, caps: Set[str]) -> Message:
    """RPL_NAMREPLY's list: all prefixes with multi-prefix (else the highest), and
    ``nick!user@host`` with userhost-in-names (else the nick)."""
    multi, userhost = "multi-prefix" in caps, "userhost-in-names" in caps
    if (multi and userhost) or len(message.params) < 4:
        return message
    names = " ".join(
        _status(word, multi) if userhost else _status(word.partition("!")[0], multi)
        for word in message.params[-1].split(" ")
    )
    return Message(message.command, (*message.params[:-1], names), message.source, message.tags)


def _who(message: Message, caps: Set[str]) -> Message:
    """RPL_WHOREPLY's flags (``H@+``): all prefixes with multi-prefix, else the highest."""
    params = message.params
    if "multi-prefix" in caps or len(params) < 7:
        return message
    flags = params[6]
    letters = flags.rstrip(STATUS_PREFIXES)  # H or G, then * (operator) and B (bot)
    flags = letters + flags[len(letters) : len(letters) + 1]
    return Message(message.command, (*params[:6], flags, *params[7:]), message.source, message.tags)


def _whois_channels(message: Message, caps: Set[str]) -> Message:
    """RPL_WHOISCHANNELS (``@+#chan``): all prefixes with multi-prefix, else the highest."""
    if "multi-prefix" in caps or len(message.params) < 3:
        return message
    channels = " ".join(_status(word, multi=False) for word in message.params[-1].split(" "))
    return Message(message.command, (*message.params[:-1], channels), message.source, message.tags)


def _status(word: str, multi: bool) -> str:
    """``word`` with its leading status prefixes, or only the highest of them."""
    name = word.lstrip(STATUS_PREFIXES)
    prefixes = word[: len(word) - len(name)]
    return word if multi else prefixes[:1] + name


_REDUCERS: Mapping[str, Callable[[Message, Set[str]], Message]] = {
    "JOIN": _join,
    N.RPL_NAMREPLY: _names,
    N.RPL_WHOREPLY: _who,
    N.RPL_WHOISCHANNELS: _whois_channels,
}


def history_query(message: Message, caps: Set[str]) -> Message:
    """A client's query as the chat state must answer it: a CHATHISTORY marked with
    :data:`EVENTS_TAG` exactly when the client negotiated event-playback (a client that
    sends the tag itself gains nothing by it)."""
    if message.command.upper() != "CHATHISTORY":
        return message
    tags = {k: v for k, v in message.tags.items() if k != EVENTS_TAG}
    if EVENT_PLAYBACK_CAP in caps:
        tags[EVENTS_TAG] = ""
    return Message(message.command, message.params, message.source, tags or EMPTY_TAGS)


def without_events(messages: Sequence[Message], caps: Set[str]) -> list[Message]:
    """``messages`` without the events inside their ``chathistory`` batches, unless the
    client negotiated event-playback; the BATCH lines stay, so every batch still opens and
    closes. For a relay (the gateway) whose upstream replays events to it either way."""
    if EVENT_PLAYBACK_CAP in caps:
        return list(messages)
    history = {
        m.params[0][1:]
        for m in messages
        if m.command == "BATCH" and m.params[1:2] == ("chathistory",) and m.params[0][:1] == "+"
    }
    return [
        m for m in messages if m.tags.get("batch") not in history or m.command in MESSAGE_COMMANDS
    ]
