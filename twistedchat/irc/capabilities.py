"""IRCv3 capabilities this server offers, and which message tags each one unlocks.

Deliveries from the chat core always carry every tag (``time``, ``msgid``, ``account``,
client-only ``+tags``); a connection strips what its client did not negotiate, so the
replicated core never depends on per-connection state. The one exception is CHATHISTORY,
whose selection depends on ``draft/event-playback`` (the ``limit`` counts only what the
client is shown), so the connection marks the query instead (:func:`history_query`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence, Set

from twistedchat.chat.chathistory import EVENTS_TAG
from twistedchat.chat.history import MESSAGE_COMMANDS
from twistedchat.irc.message import EMPTY_TAGS, Message

#: Capabilities offered in ``CAP LS``; a value is advertised as ``name=value`` with CAP 302.
SUPPORTED: Mapping[str, str] = {
    "account-notify": "",
    "account-tag": "",
    "batch": "",
    "cap-notify": "",
    "draft/account-registration": "",
    "draft/chathistory": "",
    "draft/event-playback": "",
    "echo-message": "",
    "labeled-response": "",
    "message-tags": "",
    "sasl": "PLAIN",
    "server-time": "",
    "twistedchat.org/resume": "",
}
#: Our own capability: the server hands out resume tokens (see ``chat.resume``).
RESUME_CAP = "twistedchat.org/resume"
#: Channel events (JOIN, PART, QUIT, ...) in chathistory batches (IRCv3 chathistory).
EVENT_PLAYBACK_CAP = "draft/event-playback"

#: Messages that only clients with ``message-tags`` may receive.
TAG_ONLY_COMMANDS = frozenset({"TAGMSG"})
#: The capabilities :func:`for_client` (and echo-message) read: the only ones that change
#: the bytes a client receives for a message (see :mod:`twistedchat.irc.rendering`).
OUTPUT_CAPS = frozenset(
    {"server-time", "message-tags", "account-tag", "batch", "labeled-response",
     "account-notify", "echo-message"}
)  # fmt: skip


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
    # msgid and client-only (+) tags travel with message-tags.
    return "message-tags" in caps


def for_client(message: Message, caps: Set[str]) -> Message | None:
    """Return ``message`` as a client with ``caps`` may see it, or None if it must not."""
    if message.command in TAG_ONLY_COMMANDS and "message-tags" not in caps:
        return None
    if message.command == "ACCOUNT" and "account-notify" not in caps:
        return None
    if message.command == "BATCH" and "batch" not in caps:
        return None  # the messages still come, just not grouped
    if not message.tags:
        return message
    kept = {k: v for k, v in message.tags.items() if tag_allowed(k, caps)}
    if len(kept) == len(message.tags):
        return message
    return Message(message.command, message.params, message.source, kept or EMPTY_TAGS)


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
