"""IRCv3 capabilities this server offers, and which message tags each one unlocks.

Deliveries from the chat core always carry every tag (``time``, ``msgid``, ``account``,
client-only ``+tags``); a connection strips what its client did not negotiate, so the
replicated core never depends on per-connection state.
"""

from __future__ import annotations

from collections.abc import Mapping, Set

from twistedchat.irc.message import EMPTY_TAGS, Message

#: Capabilities offered in ``CAP LS``; a value is advertised as ``name=value`` with CAP 302.
SUPPORTED: Mapping[str, str] = {
    "account-notify": "",
    "account-tag": "",
    "batch": "",
    "cap-notify": "",
    "draft/account-registration": "",
    "draft/chathistory": "",
    "echo-message": "",
    "labeled-response": "",
    "message-tags": "",
    "sasl": "PLAIN",
    "server-time": "",
    "twistedchat.org/resume": "",
}
#: Our own capability: the server hands out resume tokens (see ``chat.resume``).
RESUME_CAP = "twistedchat.org/resume"

#: Messages that only clients with ``message-tags`` may receive.
TAG_ONLY_COMMANDS = frozenset({"TAGMSG"})


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
